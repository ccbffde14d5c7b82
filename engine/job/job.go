// Package job holds the messages between the studio and the engine: a
// Request says what to make, Updates report how it goes (progress, preview
// frames, the final image), and Params steer a running job.
//
// The package has no numeric dependencies, so the UI can use it without
// pulling in the engine's tensors and layers.
package job

import (
	"errors"
	"fmt"
	"image"
	"time"
)

// Kind names what a job makes.
type Kind string

// The kinds of job.
const (
	KindStylize Kind = "stylize" // repaint a content image in the manner of style images (Gatys et al.)
	KindTexture Kind = "texture" // synthesise a texture from examples
	KindUpscale Kind = "upscale" // super-resolution
)

// Defaults of the frame cadence (see Request).
const (
	DefaultPreviewSide     = 512
	DefaultFrameEvery      = 2
	DefaultFrameInterval   = 150 * time.Millisecond
	DefaultOutputQuality   = 92 // JPEG quality when Out ends in .jpg or .jpeg
	maxPreviewSide         = 8192
	maxFrameEveryIteration = 1 << 20
)

// Request is one job for the engine.
type Request struct {
	// Kind selects the job and which of the option structs below is read.
	Kind Kind `json:"kind"`
	// Stylize holds the options of a KindStylize job.
	Stylize *StylizeOptions `json:"stylize,omitempty"`
	// Texture holds the options of a KindTexture job.
	Texture *TextureOptions `json:"texture,omitempty"`
	// Upscale holds the options of a KindUpscale job.
	Upscale *UpscaleOptions `json:"upscale,omitempty"`

	// Out, when set, is where the engine writes the final image (PNG or
	// JPEG by extension) with the job's settings in its metadata. Default
	// "": the image is only handed back in the done Update.
	Out string `json:"-"`
	// Overwrite lets the engine replace an existing Out (and the
	// intermediate files of SaveEvery). Default false: an existing file is
	// an error and is left alone.
	Overwrite bool `json:"-"`
	// SaveEvery, when positive and Out is set, also writes the image every
	// SaveEvery iterations to Out with "_iterNNNN" before the extension.
	// Default 0: only the final image.
	SaveEvery int `json:"-"`

	// PreviewSide is the longer side, in pixels, of the preview frames
	// (never larger than the image itself). Default 0 means
	// DefaultPreviewSide (512).
	PreviewSide int `json:"-"`
	// FrameEvery and FrameInterval set the frame cadence: a preview frame
	// follows at least FrameEvery iterations and at least FrameInterval
	// after the previous one, whichever is later; the first frame comes as
	// soon as the first iteration finishes. Defaults 0 mean
	// DefaultFrameEvery (2) and DefaultFrameInterval (150 ms).
	FrameEvery    int           `json:"-"`
	FrameInterval time.Duration `json:"-"`
}

// Validate checks the parts of the request that need no files: the kind,
// the presence of its options and their ranges. The error is a plain
// sentence prefixed with "job: " and wraps ErrInvalid.
func (r *Request) Validate() error {
	if r.PreviewSide < 0 || r.PreviewSide > maxPreviewSide {
		return invalidf("the preview side must be between 1 and %d pixels", maxPreviewSide)
	}
	if r.FrameEvery < 0 || r.FrameEvery > maxFrameEveryIteration || r.FrameInterval < 0 {
		return invalidf("the frame cadence cannot be negative")
	}
	if r.SaveEvery < 0 {
		return invalidf("save-every cannot be negative")
	}
	switch r.Kind {
	case KindStylize:
		if r.Stylize == nil {
			return invalidf("a stylize job needs its options")
		}
		return r.Stylize.Validate()
	case KindTexture:
		if r.Texture == nil {
			return invalidf("a texture job needs its options")
		}
		return r.Texture.Validate()
	case KindUpscale:
		if r.Upscale == nil {
			return invalidf("an upscale job needs its options")
		}
		return r.Upscale.Validate()
	case "":
		return invalidf("the request says no kind of job")
	}
	return invalidf("%q is not a kind of job (stylize, texture or upscale)", string(r.Kind))
}

// ErrInvalid marks a request that cannot run as given.
var ErrInvalid = errors.New("job: invalid request")

type invalidError struct{ msg string }

func (e invalidError) Error() string        { return "job: " + e.msg }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return invalidError{fmt.Sprintf(format, args...)}
}

// Source is an input image: a file, or a picture already in memory.
type Source struct {
	// Path is the image file (PNG, JPEG or GIF).
	Path string `json:"path,omitempty"`
	// Image, when not nil, is used instead of reading Path (Path then only
	// names it in messages and metadata).
	Image image.Image `json:"-"`
}

// IsZero reports a source with neither a path nor an image.
func (s Source) IsZero() bool { return s.Path == "" && s.Image == nil }

// String names the source for messages.
func (s Source) String() string {
	if s.Path != "" {
		return s.Path
	}
	if s.Image != nil {
		return "the image in memory"
	}
	return "no image"
}
