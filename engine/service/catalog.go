package service

import "atelier/engine/job"

// UpscaleLister is implemented by upscale runners that can describe their
// methods (runner.Upscale), so a chooser can offer only what exists.
type UpscaleLister interface {
	// UpscaleMethods lists the methods, their factors and whether each
	// factor's model is downloaded.
	UpscaleMethods() []job.UpscaleMethod
}

// UpscaleMethods lists the methods of the upscale runner, nil when there is
// none or it cannot list them. The listing looks at the disk each time, so
// a model fetched meanwhile shows up.
func (s *Service) UpscaleMethods() []job.UpscaleMethod {
	s.mu.Lock()
	r := s.runners[job.KindUpscale]
	s.mu.Unlock()
	if l, ok := r.(UpscaleLister); ok {
		return l.UpscaleMethods()
	}
	return nil
}
