package service

import (
	"image"
	"time"

	"atelier/engine/job"
)

// Step is what a runner reports after an iteration (or when it enters a
// setup stage).
type Step struct {
	// Stage describes what the job is doing ("loading images",
	// "optimising").
	Stage string
	// Iteration is the number of iterations finished, over all scales, out
	// of Total.
	Iteration, Total int
	// Scale (1-based) of Scales.
	Scale, Scales int
	// Losses at this iteration.
	Losses job.Losses
	// Work is the fraction of the whole job's work done, 0..1, for the
	// ETA when iterations differ in cost (coarse scales are cheaper).
	// 0 means Iteration/Total.
	Work float64
}

// Reporter is a runner's line to the job's reader: it sends progress and
// frames (deciding when a frame is due), times the job and hands over
// steering. It is used by the job's goroutine only.
type Reporter struct {
	h           *Handle
	now         func() time.Time
	start       time.Time
	every       int
	interval    time.Duration
	previewSide int

	frames        int
	lastFrameIter int
	lastFrameAt   time.Time
	lastFrame     *image.RGBA

	clockAt   time.Time // ETA baseline
	clockWork float64

	latest job.Update
}

func newReporter(h *Handle, req job.Request, now func() time.Time) *Reporter {
	r := &Reporter{
		h:           h,
		now:         now,
		start:       now(),
		every:       req.FrameEvery,
		interval:    req.FrameInterval,
		previewSide: req.PreviewSide,
	}
	if r.every <= 0 {
		r.every = job.DefaultFrameEvery
	}
	if r.interval <= 0 {
		r.interval = job.DefaultFrameInterval
	}
	if r.previewSide <= 0 {
		r.previewSide = job.DefaultPreviewSide
	}
	r.clockAt = r.start
	return r
}

// PreviewSide is the longest side a preview frame may have.
func (r *Reporter) PreviewSide() int { return r.previewSide }

// Steering returns the Params sent with Handle.Steer since the last call,
// merged, and whether there were any. Runners call it once per iteration.
func (r *Reporter) Steering() (job.Params, bool) { return r.h.takeSteering() }

// StartClock marks the end of the job's setup (loading networks and
// images): the ETA is estimated from the work done after this point.
func (r *Reporter) StartClock(s Step) {
	r.clockAt = r.now()
	r.clockWork = s.fraction()
}

// Stage reports that the job entered a stage without finishing an
// iteration ("loading the feature network").
func (r *Reporter) Stage(stage string) {
	u := r.latest
	u.Kind = job.Progress
	u.Stage = stage
	u.Frame = nil
	u.Elapsed = r.elapsed()
	r.latest = u
	r.h.offer(u)
}

// Notice sends a plain sentence for the user (an image scaled down, a
// steering refused). Notices are never dropped: one replaced before the
// reader took it travels on in the next update.
func (r *Reporter) Notice(msg string) {
	u := r.latest
	u.Kind = job.Progress
	u.Frame = nil
	u.Elapsed = r.elapsed()
	u.Notices = []string{msg}
	r.h.offer(u)
}

// FrameDue reports whether a preview frame is due after iteration iter:
// after the first iteration, then once both FrameEvery iterations and
// FrameInterval have passed since the previous frame.
func (r *Reporter) FrameDue(iter int) bool {
	if r.frames == 0 {
		return true
	}
	return iter-r.lastFrameIter >= r.every && r.now().Sub(r.lastFrameAt) >= r.interval
}

// Step reports a finished iteration. When a frame is due (FrameDue) and
// render is not nil, it calls render for a preview, which must be a new
// image the runner never touches again, and sends it with the progress.
// It reports whether a frame went out. It never blocks.
func (r *Reporter) Step(s Step, render func() *image.RGBA) bool {
	u := job.Update{
		Kind:      job.Progress,
		Stage:     s.Stage,
		Iteration: s.Iteration,
		Total:     s.Total,
		Scale:     s.Scale,
		Scales:    s.Scales,
		Losses:    s.Losses,
		Elapsed:   r.elapsed(),
		ETA:       r.eta(s),
	}
	sent := false
	if render != nil && r.FrameDue(s.Iteration) {
		if img := render(); img != nil {
			u.Kind, u.Frame = job.Frame, img
			r.frames++
			r.lastFrameIter, r.lastFrameAt, r.lastFrame = s.Iteration, r.now(), img
			sent = true
		}
	}
	r.latest = u
	r.h.offer(u)
	return sent
}

// last is the update the final one starts from: the latest progress with
// the latest frame.
func (r *Reporter) last() job.Update {
	u := r.latest
	u.Frame = r.lastFrame
	return u
}

func (r *Reporter) elapsed() time.Duration { return r.now().Sub(r.start) }

func (s Step) fraction() float64 {
	if s.Work > 0 {
		return min(s.Work, 1)
	}
	if s.Total <= 0 {
		return 0
	}
	return min(max(float64(s.Iteration)/float64(s.Total), 0), 1)
}

// eta extrapolates the rate of work since StartClock (or the job's start).
func (r *Reporter) eta(s Step) time.Duration {
	f := s.fraction()
	done := f - r.clockWork
	if done <= 0 || f >= 1 {
		return 0
	}
	spent := r.now().Sub(r.clockAt)
	if spent <= 0 {
		return 0
	}
	return time.Duration(float64(spent) * (1 - f) / done)
}
