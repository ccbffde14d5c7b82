// Package imageio is the one place images enter and leave the engine.
//
// Load and Decode read PNG, JPEG and GIF (first frame) into float32
// tensors: colour [1,3,H,W] and, for images with transparency, alpha
// [1,1,H,W], both in 0..255, colour not premultiplied. They apply the JPEG
// EXIF orientation, convert grayscale, palette, 16-bit and CMYK/YCCK images,
// refuse decompression bombs before allocating pixels, optionally scale
// huge images down, and explain anything they did in plain-sentence
// notices. Save writes PNG or JPEG atomically, carrying key/value metadata
// (a run's settings and seed) that ReadMetadata gives back. Resize and
// ResizeLong resample tensors with a Lanczos3 filter.
package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nfnt/resize"

	"atelier/engine/tensor"
)

// Format identifies an image file format.
type Format int

// The formats this package knows.
const (
	FormatUnknown Format = iota
	PNG
	JPEG
	GIF
)

// String returns the format's usual name ("PNG", "JPEG", "GIF").
func (f Format) String() string {
	switch f {
	case PNG:
		return "PNG"
	case JPEG:
		return "JPEG"
	case GIF:
		return "GIF"
	}
	return "unknown"
}

// Image is a decoded picture, ready for the engine.
type Image struct {
	// RGB is the colour, [1,3,H,W] float32 in 0..255, not premultiplied.
	// Grayscale images have three equal channels.
	RGB *tensor.Tensor
	// Alpha is the opacity, [1,1,H,W] float32 in 0..255 (255 = opaque), or
	// nil when every pixel is opaque.
	Alpha *tensor.Tensor
	// OriginalWidth and OriginalHeight are the picture's size as it is
	// shown (after the EXIF orientation), before any scaling down.
	OriginalWidth, OriginalHeight int
	// Format is the file format that was read.
	Format Format
	// Gray reports a grayscale source (8- or 16-bit gray).
	Gray bool
	// Orientation is the EXIF orientation (1..8) that was applied; 1 when
	// the file had none or Options.IgnoreOrientation was set.
	Orientation int
	// Metadata holds the text key/value pairs found in the file (PNG tEXt,
	// zTXt and iTXt chunks, JPEG comments); nil when there were none.
	Metadata Metadata
	// Notices are plain sentences for the user about what was done to the
	// picture on the way in (scaled down, CMYK converted, ...).
	Notices []string
}

// Size returns the width and height of RGB.
func (m *Image) Size() (w, h int) {
	_, _, h, w = m.RGB.Dims()
	return w, h
}

// Load reads and decodes the image file at path; see Decode. Errors name
// the file by its base name.
func Load(path string, opt Options) (*Image, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(name, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, newError(ErrUnsupported, nil, "%s is a folder, not an image", name)
	}
	return Decode(f, name, opt)
}

// openError words a failure to open a file for the user.
func openError(name string, err error) error {
	r := reason(err)
	if errors.Is(err, fs.ErrNotExist) {
		r = "there is no such file"
	}
	return newError(nil, err, "cannot open %s: %s", name, r)
}

// Decode reads a PNG, JPEG or GIF image from r and converts it for the
// engine, applying opt's limits. name (a file name, or "" for "the image")
// is used in error messages and notices. Errors wrap ErrTooLarge,
// ErrTooSmall, ErrUnsupported or ErrCorrupt; Decode never panics on bad
// input.
func Decode(r io.Reader, name string, opt Options) (*Image, error) {
	if name == "" {
		name = "the image"
	}
	limit := opt.maxFileBytes()
	var buf bytes.Buffer
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok { // a file: read it in one go
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() && (limit < 0 || fi.Size() <= limit) {
			buf.Grow(int(fi.Size()) + bytes.MinRead)
		}
	}
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, newError(nil, err, "cannot read %s: %s", name, reason(err))
	}
	data := buf.Bytes()
	if limit >= 0 && int64(len(data)) > limit {
		return nil, newError(ErrTooLarge, nil, "%s is larger than %s, the limit for image files", name, byteSize(limit))
	}
	return decodeBytes(data, name, opt)
}

// DecodeBytes is Decode for an image already held in memory.
func DecodeBytes(data []byte, name string, opt Options) (*Image, error) {
	if name == "" {
		name = "the image"
	}
	return decodeBytes(data, name, opt)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// sniff identifies the format from the first bytes of a file.
func sniff(data []byte) Format {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		return JPEG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return GIF
	}
	return FormatUnknown
}

// otherFormat names a few formats artists often have, so the refusal can
// say what the file is rather than only what it is not.
func otherFormat(data []byte) string {
	switch {
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "a WebP image"
	case len(data) >= 12 && string(data[4:8]) == "ftyp":
		switch string(data[8:12]) {
		case "heic", "heix", "hevc", "mif1", "msf1":
			return "a HEIC image"
		case "avif", "avis":
			return "an AVIF image"
		}
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return "a TIFF image"
	case bytes.HasPrefix(data, []byte("BM")):
		return "a BMP image"
	case bytes.HasPrefix(data, []byte("8BPS")):
		return "a Photoshop document"
	case bytes.HasPrefix(data, []byte("<svg")), bytes.HasPrefix(data, []byte("<?xml")):
		return "an SVG or XML file"
	}
	return ""
}

func decodeConfig(f Format, r io.Reader) (image.Config, error) {
	switch f {
	case PNG:
		return png.DecodeConfig(r)
	case JPEG:
		return jpeg.DecodeConfig(r)
	}
	return gif.DecodeConfig(r)
}

// decodeImage runs the standard library decoder for f, turning any panic
// inside it into an error.
func decodeImage(f Format, data []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	r := bytes.NewReader(data)
	switch f {
	case PNG:
		return png.Decode(r)
	case JPEG:
		return jpeg.Decode(r)
	}
	return gif.Decode(r)
}

// readError words a decoder error for the user. Whether a file is
// truncated is judged from its end marker (PNG IEND, JPEG EOI, GIF
// trailer) rather than from the decoder's error, which often cannot tell a
// file that stops early from one with a damaged length field.
func readError(name string, f Format, data []byte, err error) error {
	var pu png.UnsupportedError
	var ju jpeg.UnsupportedError
	switch {
	case errors.As(err, &pu), errors.As(err, &ju):
		return newError(ErrUnsupported, err, "%s uses a %s feature Atelier cannot read (%v)", name, f, err)
	case !hasEndMarker(f, data):
		return newError(ErrCorrupt, err, "%s is truncated (the file ends early)", name)
	}
	return newError(ErrCorrupt, err, "%s is a damaged %s file (%v)", name, f, err)
}

// hasEndMarker reports whether data ends (give or take a little trailing
// junk, which some writers add) with its format's end marker.
func hasEndMarker(f Format, data []byte) bool {
	tail := data[max(0, len(data)-256):]
	switch f {
	case PNG:
		return bytes.Contains(tail, []byte("IEND\xaeB`\x82"))
	case JPEG:
		return len(data) > 4 && bytes.Contains(tail, []byte{0xFF, markerEOI})
	case GIF:
		return len(data) > 13 && bytes.HasSuffix(bytes.TrimRight(tail, "\x00\n\r"), []byte{0x3B})
	}
	return false
}

func decodeBytes(data []byte, name string, opt Options) (*Image, error) {
	if len(data) == 0 {
		return nil, newError(ErrCorrupt, nil, "%s is empty (0 bytes)", name)
	}
	f := sniff(data)
	if f == FormatUnknown {
		if what := otherFormat(data); what != "" {
			return nil, newError(ErrUnsupported, nil, "%s is %s; Atelier reads PNG, JPEG and GIF, so save it as PNG or JPEG first", name, what)
		}
		return nil, newError(ErrUnsupported, nil, "%s is not a PNG, JPEG or GIF image", name)
	}

	// The header alone tells the size: check it before anything allocates
	// pixel memory, so a decompression bomb costs nothing.
	cfg, err := decodeConfig(f, bytes.NewReader(data))
	if err != nil {
		if strings.Contains(err.Error(), "dimension overflow") { // PNG sizes near 2^31
			return nil, newError(ErrTooLarge, err, "%s declares a size too large for any computer to hold", name)
		}
		return nil, readError(name, f, data, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, newError(ErrCorrupt, nil, "%s declares an empty size (%dx%d)", name, cfg.Width, cfg.Height)
	}
	orientation := 1
	if f == JPEG && !opt.IgnoreOrientation {
		orientation = jpegOrientation(data)
	}
	ow, oh := orientedSize(cfg.Width, cfg.Height, orientation)
	if limit := opt.maxPixels(); limit >= 0 && int64(cfg.Width)*int64(cfg.Height) > limit {
		return nil, newError(ErrTooLarge, nil, "%s is %dx%d pixels (%s); the limit is %s. Scale it down in an image editor, or raise the limit",
			name, ow, oh, megapixels(int64(ow)*int64(oh)), megapixels(limit))
	}
	minSide := opt.minSide()
	if min(ow, oh) < minSide {
		return nil, newError(ErrTooSmall, nil, "%s is only %dx%d pixels; Atelier needs at least %d pixels on each side. Please use a larger picture",
			name, ow, oh, minSide)
	}
	tw, th := ow, oh
	if opt.MaxSide > 0 && max(ow, oh) > opt.MaxSide {
		tw, th = FitLongSide(ow, oh, opt.MaxSide)
		if min(tw, th) < minSide {
			return nil, newError(ErrTooSmall, nil, "%s is %dx%d pixels, too narrow to scale down to %d pixels on its long side and keep %d on its short side",
				name, ow, oh, opt.MaxSide, minSide)
		}
	}

	out := &Image{Format: f, Orientation: orientation, OriginalWidth: ow, OriginalHeight: oh}
	img, err := decodeImage(f, data)
	if f == JPEG && err != nil && isMissingAdobe(err) {
		img, err = decodePlainCMYK(data)
	}
	if f == PNG && err != nil && strings.Contains(err.Error(), "invalid checksum") {
		// image/png checks the CRC of every chunk; like libpng, forgive
		// damaged ancillary chunks (text, colour hints) and retry.
		if fixed, ok := dropBadAncillary(data); ok {
			if img2, err2 := decodeImage(f, fixed); err2 == nil {
				img, err = img2, nil
			}
		}
	}
	if err != nil {
		return nil, readError(name, f, data, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		if f != GIF || !b.In(image.Rect(0, 0, cfg.Width, cfg.Height)) {
			return nil, newError(ErrCorrupt, nil, "%s is a damaged %s file (its size changes while reading)", name, f)
		}
		// A GIF's first frame may cover only part of its screen; the rest
		// is transparent.
		canvas := image.NewNRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
		draw.Draw(canvas, b, img, b.Min, draw.Src)
		img = canvas
	}
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		out.Gray = true
	case *image.CMYK:
		out.Notices = append(out.Notices, "The image uses CMYK (print) colours; it was converted to RGB without its colour profile, so colours may look slightly different.")
	}
	if f == GIF && gifFrames(data, 2) > 1 {
		out.Notices = append(out.Notices, "The GIF is animated; only its first frame is used.")
	}
	if tw != ow || th != oh {
		sw, sh := orientedSize(tw, th, orientation) // stored orientation
		img = resize.Resize(uint(sw), uint(sh), prepareForResize(img), resize.Lanczos3)
		out.Notices = append(out.Notices, fmt.Sprintf("The image was %dx%d; scaled down to %dx%d to fit in memory.", ow, oh, tw, th))
	}
	out.RGB, out.Alpha = fromImageOriented(img, orientation)
	out.Metadata = readMetadataBytes(f, data)
	return out, nil
}

func megapixels(n int64) string {
	if n < 1_000_000 {
		return fmt.Sprintf("%d pixels", n)
	}
	return fmt.Sprintf("%.4g megapixels", float64(n)/1e6)
}

// prepareForResize returns img in a 16-bit type that nfnt/resize filters
// without bias: its 8-bit paths truncate twice and darken the result by
// almost one level on average. 16-bit inputs pass through; gray becomes
// Gray16; everything else becomes premultiplied RGBA64, so transparent
// pixels do not bleed their colour into the result.
func prepareForResize(img image.Image) image.Image {
	switch img.(type) {
	case *image.RGBA64, *image.NRGBA64, *image.Gray16:
		return img
	case *image.Gray:
		return toGray16(img)
	}
	return toRGBA64(img)
}

// dropBadAncillary returns the PNG in data without the ancillary chunks
// (type starting with a lower-case letter) whose CRC is wrong, and whether
// there were any.
func dropBadAncillary(data []byte) ([]byte, bool) {
	out := append([]byte(nil), data[:8]...)
	dropped := false
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		if n < 0 || n > len(data)-i-12 {
			out = append(out, data[i:]...)
			break
		}
		chunk := data[i : i+12+n]
		if chunk[4]&0x20 != 0 && crc32.ChecksumIEEE(chunk[4:8+n]) != binary.BigEndian.Uint32(chunk[8+n:]) {
			dropped = true
		} else {
			out = append(out, chunk...)
		}
		i += 12 + n
	}
	return out, dropped
}
