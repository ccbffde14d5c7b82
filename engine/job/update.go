package job

import (
	"image"
	"strings"
	"time"
)

// UpdateKind says what an Update reports.
type UpdateKind int

// The kinds of update. Frame and Progress may be dropped in favour of a
// later one; exactly one of Done, Cancelled and Error ends every job and is
// always delivered.
const (
	Progress  UpdateKind = iota // an iteration finished (or a setup stage began)
	Frame                       // Progress with a new preview frame
	Done                        // the job finished; Image and Metadata hold the result
	Cancelled                   // the job was stopped before it finished
	Error                       // the job failed; Err says why
)

var kindNames = [...]string{"progress", "frame", "done", "cancelled", "error"}

// String returns "progress", "frame", "done", "cancelled" or "error".
func (k UpdateKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Final reports whether k ends a job.
func (k UpdateKind) Final() bool { return k == Done || k == Cancelled || k == Error }

// Losses are the terms of the objective at the last iteration, as the
// optimiser sees them (weighted).
type Losses struct {
	Total   float64 `json:"total"`
	Content float64 `json:"content"`
	Style   float64 `json:"style"`
	TV      float64 `json:"tv"`
}

// Update reports a job's progress. Updates are values; the images they
// point to are never mutated by the engine after sending, so the receiver
// may keep and display them.
type Update struct {
	Kind UpdateKind
	// Stage describes what the job is doing in a few words ("loading the
	// feature network", "optimising", ...).
	Stage string
	// Iteration is the number of iterations finished so far, over all
	// scales; Total is how many the job will run in all.
	Iteration, Total int
	// Scale is the current scale (1-based, coarse to fine) out of Scales.
	Scale, Scales int
	// Losses at the last iteration.
	Losses Losses
	// Elapsed is the time since the job started; ETA estimates the time
	// left (0 when unknown).
	Elapsed, ETA time.Duration
	// Frame is a preview of the current image, its longer side at most
	// Request.PreviewSide. Set on Frame updates and, when a frame was
	// pending or the result exists, on the final one.
	Frame *image.RGBA
	// Image is the final image at full size (Done only).
	Image *image.RGBA
	// Metadata is what the engine records in saved files (Done only):
	// among others the settings and seed as JSON under MetadataSettingsKey.
	Metadata map[string]string
	// Out is the file the final image was written to (Done only, when the
	// request named one).
	Out string
	// Notices are plain sentences about what the job did on its own (an
	// image scaled down, a steering refused); each is sent once.
	Notices []string
	// Err says why the job failed, as a plain sentence (Error only).
	Err error
}

// MetadataSettingsKey is the metadata key holding the job's settings as
// JSON (the same value as imageio.SettingsKey, repeated here so that the UI
// needs no image code).
const MetadataSettingsKey = "atelier:settings"

// Fraction is how much of the job is done, 0..1, from Iteration and Total.
func (u Update) Fraction() float64 {
	if u.Total <= 0 {
		return 0
	}
	f := float64(u.Iteration) / float64(u.Total)
	return min(max(f, 0), 1)
}

// enginePackages are the prefixes Plain removes from error messages.
var enginePackages = []string{"job", "service", "runner", "style", "texture", "sr", "fastnet",
	"imageio", "features", "model", "graph", "nn", "tensor"}

// Plain returns err with a message fit for the user: the engine's package
// prefixes ("style: ", "imageio: ") are removed wherever they start a
// clause, and the message carries no trailing full stop. The result wraps
// err, so errors.Is still sees its sentinels. Plain(nil) is nil.
func Plain(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(plainError); ok {
		return err
	}
	msg := err.Error()
	for {
		changed := false
		for _, p := range enginePackages {
			if s, ok := strings.CutPrefix(msg, p+": "); ok {
				msg, changed = s, true
			}
			if strings.Contains(msg, ": "+p+": ") {
				msg, changed = strings.ReplaceAll(msg, ": "+p+": ", ": "), true
			}
		}
		if !changed {
			break
		}
	}
	msg = strings.TrimRight(strings.TrimSpace(msg), ".")
	return plainError{msg: msg, err: err}
}

type plainError struct {
	msg string
	err error
}

func (e plainError) Error() string { return e.msg }
func (e plainError) Unwrap() error { return e.err }
