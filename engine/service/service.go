// Package service runs engine jobs, one at a time, each on its own
// goroutine, and reports on them through Updates.
//
// The service knows nothing about numbers: the work is done by Runners
// (one per job kind) that the composition root registers, so the UI can
// hold a Service while importing only this package and engine/job.
//
// Updates travel through a one-slot, latest-wins channel: progress and
// frames replace each other while the reader is busy (a pending frame is
// carried over into the update that replaces it), so a slow reader never
// piles frames up and never blocks the engine. The final update (done,
// cancelled or error) is always delivered, after which the channel is
// closed.
//
// Start refuses (ErrBusy) while a job runs: the studio's "Stop then Start"
// is Stop (or Handle.Cancel and Handle.Wait) followed by Start.
package service

import (
	"context"
	"errors"
	"fmt"
	"image"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"atelier/engine/job"
)

// Sentinel errors of Start.
var (
	// ErrBusy: a job is running; stop it (and wait) before starting another.
	ErrBusy = errors.New("service: a job is already running")
	// ErrNoRunner: no runner is registered for the request's kind.
	ErrNoRunner = errors.New("service: this kind of job is not available")
)

// Runner does the work of one kind of job. Run checks ctx at every
// iteration and returns promptly once it is done (ctx.Err(), possibly
// wrapped); it reports each iteration through rep and takes steering from
// rep.Steering. Its error should be a plain sentence: the UI shows it.
type Runner interface {
	Run(ctx context.Context, req job.Request, rep *Reporter) (Result, error)
}

// Result is what a runner hands back when its job has finished.
type Result struct {
	// Image is the final image at full size.
	Image *image.RGBA
	// Frame is a preview of Image sized like the frames (nil: the service
	// keeps the last frame sent).
	Frame *image.RGBA
	// Metadata is what was (or would be) recorded in a saved file.
	Metadata map[string]string
	// Out is the file written, if the request named one.
	Out string
	// Iterations is the number of iterations run (0: the last reported).
	Iterations int
	// Losses at the end (zero: the last reported).
	Losses job.Losses
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, req job.Request, rep *Reporter) (Result, error)

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, req job.Request, rep *Reporter) (Result, error) {
	return f(ctx, req, rep)
}

// Service runs one job at a time. The zero value has no runners; use New.
type Service struct {
	mu      sync.Mutex
	runners map[job.Kind]Runner
	current *Handle
	now     func() time.Time // time.Now outside tests
}

// New returns a service with a runner per job kind.
func New(runners map[job.Kind]Runner) *Service {
	m := make(map[job.Kind]Runner, len(runners))
	for k, r := range runners {
		if r != nil {
			m[k] = r
		}
	}
	return &Service{runners: m, now: time.Now}
}

// Available reports whether the service can run jobs of kind k.
func (s *Service) Available(k job.Kind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.runners[k]
	return ok
}

// Start validates req and starts it on a new goroutine. It returns ErrBusy
// while another job runs (Stop it first), ErrNoRunner for a kind without
// a runner, and an error wrapping job.ErrInvalid for a malformed request.
// Cancelling ctx cancels the job.
func (s *Service) Start(ctx context.Context, req job.Request) (*Handle, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		select {
		case <-s.current.ended:
		default:
			return nil, ErrBusy
		}
	}
	r, ok := s.runners[req.Kind]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoRunner, req.Kind)
	}
	now := s.now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &Handle{
		updates: make(chan job.Update, 1),
		ended:   make(chan struct{}),
		done:    make(chan struct{}),
		cancel:  cancel,
	}
	rep := newReporter(h, req, now)
	s.current = h
	go h.run(ctx, r, req, rep)
	return h, nil
}

// Running returns the running job's handle, or nil when none runs.
func (s *Service) Running() *Handle {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	select {
	case <-s.current.ended:
		return nil
	default:
		return s.current
	}
}

// Stop cancels the running job, if any, and waits until its goroutine has
// finished, so that Start can follow at once.
func (s *Service) Stop() {
	if h := s.Running(); h != nil {
		h.Cancel()
		h.Wait()
	}
}

// Handle is one started job.
type Handle struct {
	updates chan job.Update
	ended   chan struct{} // closed when the runner has returned: the service is free
	done    chan struct{} // closed when the final update is in updates
	cancel  context.CancelFunc

	steerMu sync.Mutex
	steer   job.Params
	steered bool

	final job.Update // written before done is closed
}

// Updates delivers the job's updates: the latest progress or frame while
// the job runs, then exactly one final update (Done, Cancelled or Error),
// then the channel closes. Only one reader should receive from it.
func (h *Handle) Updates() <-chan job.Update { return h.updates }

// Steer changes the running job's settings at its next iteration. Calls
// in quick succession merge (later fields win). It does nothing once the
// job has finished.
func (h *Handle) Steer(p job.Params) {
	if p.IsZero() {
		return
	}
	h.steerMu.Lock()
	h.steer = h.steer.Merge(p)
	h.steered = true
	h.steerMu.Unlock()
}

// takeSteering returns the Params gathered since the last call.
func (h *Handle) takeSteering() (job.Params, bool) {
	h.steerMu.Lock()
	defer h.steerMu.Unlock()
	if !h.steered {
		return job.Params{}, false
	}
	p := h.steer
	h.steer, h.steered = job.Params{}, false
	return p, true
}

// Cancel asks the job to stop at its next iteration. It returns at once;
// the job ends with a Cancelled update (or Done, when it finished first).
func (h *Handle) Cancel() { h.cancel() }

// Done is closed once the job has finished and its final update is in
// the Updates channel.
func (h *Handle) Done() <-chan struct{} { return h.done }

// Wait blocks until the job has finished and returns its final update
// (the same one Updates delivers).
func (h *Handle) Wait() job.Update {
	<-h.done
	return h.final
}

func (h *Handle) run(ctx context.Context, r Runner, req job.Request, rep *Reporter) {
	defer h.cancel()
	res, err := runSafely(ctx, r, req, rep)
	final := rep.last()
	final.Elapsed = rep.elapsed()
	final.ETA = 0
	switch {
	case err == nil:
		final.Kind = job.Done
		final.Stage = "done"
		final.Image, final.Metadata, final.Out = res.Image, res.Metadata, res.Out
		if res.Frame != nil {
			final.Frame = res.Frame
		}
		if res.Iterations > 0 {
			final.Iteration = res.Iterations
		}
		if res.Losses != (job.Losses{}) {
			final.Losses = res.Losses
		}
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ctx.Err())):
		final.Kind = job.Cancelled
		final.Stage = "cancelled"
	default:
		final.Kind = job.Error
		final.Stage = "failed"
		final.Err = job.Plain(err)
	}
	h.final = final
	// The service is free before the final update is sent, so a reader
	// that has seen it can Start the next job at once.
	close(h.ended)
	h.deliverFinal(final)
	close(h.done)
}

// runSafely runs r, turning a panic into an error so that a bug in one job
// ends that job with an Error update instead of taking the studio down.
func runSafely(ctx context.Context, r Runner, req job.Request, rep *Reporter) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := string(debug.Stack())
			if i := strings.Index(stack, "panic("); i > 0 {
				stack = stack[i:]
			}
			err = fmt.Errorf("service: internal error in the %s job: %v\n%s", req.Kind, p, stack)
		}
	}()
	return r.Run(ctx, req, rep)
}

// offer puts u in the one-slot channel, replacing an update the reader has
// not taken yet. A frame in the replaced update is carried over into u when
// u has none, so the reader always gets the newest frame, and so are its
// notices, so none is lost. It never blocks:
// the engine's goroutine is the only sender.
func (h *Handle) offer(u job.Update) {
	for {
		select {
		case h.updates <- u:
			return
		default:
		}
		select {
		case old := <-h.updates:
			if u.Frame == nil && old.Frame != nil {
				u.Frame = old.Frame
				if u.Kind == job.Progress {
					u.Kind = job.Frame
				}
			}
			if len(old.Notices) > 0 {
				u.Notices = append(slices.Clip(old.Notices), u.Notices...)
			}
		default:
		}
	}
}

// deliverFinal puts the final update in the channel (replacing whatever the
// reader has not taken, so it never blocks) and closes the channel.
func (h *Handle) deliverFinal(u job.Update) {
	h.offer(u)
	close(h.updates)
}
