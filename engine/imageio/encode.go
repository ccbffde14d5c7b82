package imageio

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"atelier/engine/tensor"
)

// DefaultQuality is the JPEG quality used when SaveOptions.Quality is 0.
const DefaultQuality = 92

// SaveOptions control Save, SaveTensor and Encode. The zero value writes a
// JPEG at DefaultQuality, no metadata, and refuses to replace a file.
type SaveOptions struct {
	// Quality is the JPEG quality, 1 (smallest) to 100 (best). 0 means
	// DefaultQuality (92). PNG ignores it.
	Quality int
	// Overwrite lets Save replace an existing file. Without it Save returns
	// an error wrapping ErrExists and leaves the file alone.
	Overwrite bool
	// Metadata is written into the file: PNG tEXt/iTXt chunks right after
	// the IHDR chunk, or JPEG COM segments right after SOI. Keys are 1-79
	// printable ASCII characters; values are UTF-8.
	Metadata Metadata
}

// FormatFromPath chooses the output format from a file name's extension:
// .png gives PNG, .jpg/.jpeg gives JPEG (any letter case). Anything else
// is an error wrapping ErrUnsupported.
func FormatFromPath(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return PNG, nil
	case ".jpg", ".jpeg":
		return JPEG, nil
	}
	return FormatUnknown, newError(ErrUnsupported, nil, "cannot save %s: Atelier saves PNG or JPEG; use a .png or .jpg file name", filepath.Base(path))
}

// Encode writes img to w as a PNG or JPEG with opt's quality and metadata
// (opt.Overwrite does not apply). JPEG has no transparency: translucent
// pixels are flattened onto white.
func Encode(w io.Writer, img image.Image, f Format, opt SaveOptions) error {
	switch f {
	case PNG:
		text, err := pngTextChunks(opt.Metadata)
		if err != nil {
			return err
		}
		// IHDR is always the first chunk: 8 signature bytes + 25.
		iw := &insertWriter{w: w, at: 33, extra: text, check: func(head []byte) bool { return string(head[12:16]) == "IHDR" }}
		if err := png.Encode(iw, img); err != nil {
			return fmt.Errorf("imageio: encoding PNG: %w", err)
		}
		return iw.finish()
	case JPEG:
		q := opt.Quality
		if q == 0 {
			q = DefaultQuality
		}
		if q < 1 || q > 100 {
			return fmt.Errorf("imageio: JPEG quality %d is outside 1..100", q)
		}
		com, err := jpegComments(opt.Metadata)
		if err != nil {
			return err
		}
		iw := &insertWriter{w: w, at: 2, extra: com, check: func(head []byte) bool { return head[0] == 0xFF && head[1] == markerSOI }}
		if err := jpeg.Encode(iw, flatten(img), &jpeg.Options{Quality: q}); err != nil {
			return fmt.Errorf("imageio: encoding JPEG: %w", err)
		}
		return iw.finish()
	}
	return fmt.Errorf("%w: cannot encode format %v", ErrUnsupported, f)
}

// flatten composites a translucent image onto white for JPEG; opaque
// images pass through.
func flatten(img image.Image) image.Image {
	if isOpaque(img) {
		return img
	}
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, b, img, b.Min, draw.Over)
	return dst
}

// insertWriter passes bytes through to w, inserting extra after the first
// at bytes (once check has approved those bytes).
type insertWriter struct {
	w     io.Writer
	at    int
	extra []byte
	check func(head []byte) bool
	head  []byte
	done  bool
}

func (iw *insertWriter) Write(p []byte) (int, error) {
	n := len(p)
	if !iw.done {
		k := min(iw.at-len(iw.head), len(p))
		iw.head = append(iw.head, p[:k]...)
		p = p[k:]
		if len(iw.head) < iw.at {
			return n, nil
		}
		if err := iw.flushHead(); err != nil {
			return 0, err
		}
	}
	if len(p) > 0 {
		if _, err := iw.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (iw *insertWriter) flushHead() error {
	iw.done = true
	if len(iw.head) < iw.at || !iw.check(iw.head) {
		return errors.New("imageio: unexpected encoder output; cannot insert metadata")
	}
	if _, err := iw.w.Write(iw.head); err != nil {
		return err
	}
	_, err := iw.w.Write(iw.extra)
	return err
}

func (iw *insertWriter) finish() error {
	if !iw.done {
		return iw.flushHead()
	}
	return nil
}

// Save writes img to path as PNG or JPEG, chosen by the extension (see
// FormatFromPath). The write is atomic: the data goes to a temporary file
// in the same folder, is synced to disk and only then renamed over path, so
// a failure (a full disk, a crash) never leaves a partial file and never
// damages an existing one. Without opt.Overwrite an existing path is
// refused with an error wrapping ErrExists.
func Save(path string, img image.Image, opt SaveOptions) error {
	f, err := FormatFromPath(path)
	if err != nil {
		return err
	}
	return writeAtomic(path, opt.Overwrite, func(w io.Writer) error { return Encode(w, img, f, opt) })
}

// SaveTensor writes a colour tensor [1,3,H,W] (or gray [1,1,H,W]) in
// 0..255, with an optional alpha [1,1,H,W], to path like Save. Values are
// rounded and clamped to 0..255. PNG keeps alpha; JPEG flattens it onto
// white.
func SaveTensor(path string, rgb, alpha *tensor.Tensor, opt SaveOptions) error {
	if _, err := FormatFromPath(path); err != nil {
		return err
	}
	img, err := tensorImage(rgb, alpha)
	if err != nil {
		return err
	}
	return Save(path, img, opt)
}

// tensorImage converts tensors for encoding: gray stays gray (smaller
// files), colour becomes NRGBA (straight alpha, exact in PNG).
func tensorImage(rgb, alpha *tensor.Tensor) (image.Image, error) {
	c, h, w, err := checkPair(rgb, alpha)
	if err != nil {
		return nil, err
	}
	if c == 1 && alpha == nil {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i, v := range rgb.Data {
			g.Pix[i] = to8(v)
		}
		return g, nil
	}
	return ToNRGBA(rgb, alpha)
}

// createTemp is os.CreateTemp; tests replace it to simulate a failing disk.
var createTemp = func(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }

// tempFile is the part of *os.File that writeAtomic uses.
type tempFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

// writeAtomic writes what write produces to path through a synced
// temporary file in the same folder, then renames (or, without overwrite,
// hard-links) it into place. On any failure the temporary file is removed
// and path is untouched.
func writeAtomic(path string, overwrite bool, write func(io.Writer) error) (err error) {
	name := filepath.Base(path)
	dir := filepath.Dir(path)
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return newError(ErrExists, fs.ErrExist, "%s already exists; choose another name or allow overwriting", name)
		}
	}
	tmp, err := createTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return saveError(name, err)
	}
	tmpName := tmp.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				tmp.Close()
			}
			os.Remove(tmpName)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err = write(bw); err != nil {
		return saveError(name, err)
	}
	if err = bw.Flush(); err != nil {
		return saveError(name, err)
	}
	if err = tmp.Sync(); err != nil {
		return saveError(name, err)
	}
	closed = true
	if err = tmp.Close(); err != nil {
		return saveError(name, err)
	}
	if err = os.Chmod(tmpName, 0o644); err != nil {
		return saveError(name, err)
	}
	if overwrite {
		err = os.Rename(tmpName, path)
	} else {
		err = linkNoReplace(tmpName, path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return newError(ErrExists, err, "%s already exists; choose another name or allow overwriting", name)
		}
		return saveError(name, err)
	}
	syncDir(dir)
	return nil
}

// linkNoReplace moves tmp to path only if path does not exist, atomically
// where the file system supports hard links; tmp is gone afterwards.
func linkNoReplace(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil {
		os.Remove(tmp)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links here (FAT, some network shares): check, then rename.
	if _, serr := os.Lstat(path); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp, path)
}

// syncDir makes a rename durable; failure is harmless, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func saveError(name string, err error) error {
	if strings.HasPrefix(err.Error(), "imageio: ") {
		return err
	}
	return newError(nil, err, "cannot save %s: %s", name, reason(err))
}
