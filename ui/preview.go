package ui

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // register the formats the engine reads too
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nfnt/resize"

	"atelier/engine/imageio/jpegmeta"
)

const (
	// previewSide is the longest side, in pixels, of the copy of an image
	// kept for display: enough for a full-width pane on a HiDPI screen.
	previewSide = 1280
	// maxPixels refuses images whose header announces more pixels than
	// this, before any pixel data is decoded.
	maxPixels = 100 << 20
)

// preview is an image prepared for display, plus what the caption says.
type preview struct {
	img    *image.RGBA // tightly packed, origin at (0,0), longest side <= previewSide
	width  int         // original width in pixels, upright (EXIF orientation applied)
	height int         // original height in pixels, upright
	format string      // "png", "jpeg" or "gif"
}

// openError says in one plain sentence why an image could not be opened.
type openError struct {
	name   string // base name of the file
	reason string // lower-case clause, no full stop
	err    error  // underlying error, for errors.Is/As
}

func (e *openError) Error() string {
	return fmt.Sprintf("Could not open %q: %s.", e.name, e.reason)
}

func (e *openError) Unwrap() error { return e.err }

// loadPreview decodes the image at path and returns a display copy. Every
// error it returns is an *openError.
func loadPreview(path string) (*preview, error) {
	fail := func(reason string, err error) (*preview, error) {
		return nil, &openError{name: filepath.Base(path), reason: reason, err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(fileReason(err), err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fail("it is a folder, not an image", syscall.EISDIR)
	}
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return fail(decodeReason(err), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fail("the image has no pixels", image.ErrFormat)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return fail(fmt.Sprintf("it is too large (%d × %d pixels; the studio opens up to %d megapixels)",
			cfg.Width, cfg.Height, maxPixels>>20), image.ErrFormat)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fileReason(err), err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return fail(decodeReason(err), err)
	}
	o := fileOrientation(f, format)
	w, h := jpegmeta.OrientedSize(cfg.Width, cfg.Height, o)
	return &preview{img: orientRGBA(fitRGBA(img, previewSide), o), width: w, height: h, format: format}, nil
}

// exifHead is how much of a JPEG is searched for its EXIF orientation: the
// APP1 segment comes first and is at most 64 KiB.
const exifHead = 128 << 10

// fileOrientation is the EXIF orientation (1..8) of the JPEG open in f, as
// the engine applies it (jpegmeta); 1 for other formats or on any error.
func fileOrientation(f io.ReaderAt, format string) int {
	if format != "jpeg" {
		return 1
	}
	head := make([]byte, exifHead)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 1
	}
	return jpegmeta.Orientation(head[:n])
}

// orientRGBA returns src turned upright for the EXIF orientation o (1..8;
// other values leave it as it is): 2 mirror left-right, 3 rotate 180,
// 4 mirror top-bottom, 5 transpose, 6 rotate 90 CW, 7 transverse,
// 8 rotate 90 CCW.
func orientRGBA(src *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := jpegmeta.OrientedSize(w, h, o)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for sy := 0; sy < h; sy++ {
		for sx := 0; sx < w; sx++ {
			var ox, oy int
			switch o {
			case 2:
				ox, oy = w-1-sx, sy
			case 3:
				ox, oy = w-1-sx, h-1-sy
			case 4:
				ox, oy = sx, h-1-sy
			case 5:
				ox, oy = sy, sx
			case 6:
				ox, oy = h-1-sy, sx
			case 7:
				ox, oy = h-1-sy, w-1-sx
			case 8:
				ox, oy = sy, w-1-sx
			}
			si := src.PixOffset(b.Min.X+sx, b.Min.Y+sy)
			copy(dst.Pix[dst.PixOffset(ox, oy):][:4], src.Pix[si:si+4])
		}
	}
	return dst
}

// fitRGBA returns img as a tightly packed *image.RGBA whose longest side is
// at most side, downscaling with nfnt/resize when needed.
func fitRGBA(img image.Image, side int) *image.RGBA {
	b := img.Bounds()
	if b.Dx() > side || b.Dy() > side {
		img = resize.Thumbnail(uint(side), uint(side), img, resize.Bilinear)
		b = img.Bounds()
	}
	if rgba, ok := img.(*image.RGBA); ok && b.Min == (image.Point{}) && rgba.Stride == 4*b.Dx() {
		return rgba
	}
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out
}

func fileReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "the file does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "you do not have permission to read it"
	default:
		return "the file could not be read"
	}
}

func decodeReason(err error) string {
	switch {
	case errors.Is(err, image.ErrFormat):
		return "it is not a PNG, JPEG or GIF image"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the file ends too early (it may be incomplete)"
	case strings.Contains(err.Error(), "unsupported"):
		return "it uses a variant of its format that the studio cannot read"
	default:
		return "the image data is damaged"
	}
}
