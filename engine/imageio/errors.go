package imageio

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinel errors. Every error returned by this package that concerns an
// image file wraps one of these, so callers can tell the cases apart with
// errors.Is while showing the error's own plain-sentence message to the user.
var (
	// ErrTooLarge: the image declares more pixels than Options.MaxPixels, or
	// the file is longer than Options.MaxFileBytes.
	ErrTooLarge = errors.New("imageio: image too large")
	// ErrTooSmall: a side of the image is shorter than Options.MinSide.
	ErrTooSmall = errors.New("imageio: image too small")
	// ErrUnsupported: the file is not a PNG, JPEG or GIF, uses a feature the
	// decoders cannot read, or the output extension is not .png/.jpg/.jpeg.
	ErrUnsupported = errors.New("imageio: unsupported image")
	// ErrCorrupt: the file is empty, truncated or damaged.
	ErrCorrupt = errors.New("imageio: corrupt image")
	// ErrExists: Save refused to replace an existing file because
	// SaveOptions.Overwrite was not set.
	ErrExists = errors.New("imageio: file exists")
)

// fileError carries a complete, user-facing message together with the
// sentinel it belongs to and the underlying cause (if any), both reachable
// through errors.Is / errors.As.
type fileError struct {
	msg   string
	kind  error
	cause error
}

func (e *fileError) Error() string { return e.msg }

func (e *fileError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.kind, e.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// reason is the part of an operating-system error worth showing a user:
// without the (possibly temporary) path that *fs.PathError repeats.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// newError builds a fileError whose message is "imageio: " followed by the
// formatted text; kind and cause may be nil.
func newError(kind, cause error, format string, args ...any) error {
	return &fileError{msg: "imageio: " + fmt.Sprintf(format, args...), kind: kind, cause: cause}
}
