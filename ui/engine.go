package ui

import (
	"context"
	"image"

	"atelier/engine/job"
	"atelier/engine/service"
)

// Engine starts jobs: the part of the engine service the studio uses.
// FromService adapts an *service.Service; tests use a fake.
type Engine interface {
	// Start starts req (see service.Service.Start); cancelling ctx
	// cancels the job.
	Start(ctx context.Context, req job.Request) (Job, error)
}

// Job is one started job, as the studio sees it.
type Job interface {
	// Updates delivers the latest progress or frame, then exactly one
	// final update, then closes (see service.Handle.Updates).
	Updates() <-chan job.Update
	// Steer changes the running job's settings at its next iteration.
	Steer(p job.Params)
	// Cancel asks the job to stop at its next iteration.
	Cancel()
}

// SaveFunc writes img with meta (the job's settings) to path, PNG or JPEG
// by extension. Without overwrite an existing file must be left alone
// and reported as an error. The composition root wraps the engine's
// atomic writer (runner.SaveImage).
type SaveFunc func(path string, img image.Image, meta map[string]string, overwrite bool) error

// FromService returns the Engine that runs jobs on s.
func FromService(s *service.Service) Engine { return serviceEngine{s} }

type serviceEngine struct{ s *service.Service }

func (e serviceEngine) Start(ctx context.Context, req job.Request) (Job, error) {
	h, err := e.s.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	return h, nil
}
