package imageio

// Defaults used when the corresponding Options field is zero.
const (
	// DefaultMaxPixels is the largest pixel count (width x height, as the
	// file's header declares it) that Decode accepts: 100 megapixels. At
	// this size the float32 RGB tensor alone takes 1.2 GB.
	DefaultMaxPixels = 100_000_000
	// DefaultMinSide is the shortest side Decode accepts, in pixels. Below
	// it the deepest feature maps of the networks shrink to nothing.
	DefaultMinSide = 16
	// DefaultMaxFileBytes is the longest file Decode reads: 1 GiB.
	DefaultMaxFileBytes = 1 << 30
)

// Options are the limits Load and Decode apply. The zero value gives the
// documented defaults.
type Options struct {
	// MaxPixels refuses (ErrTooLarge) an image whose header declares more
	// than this many pixels, before any pixel memory is allocated, so a
	// decompression bomb costs nothing. 0 means DefaultMaxPixels (100
	// megapixels); a negative value means no limit.
	MaxPixels int64
	// MaxSide scales the image down (Lanczos3, keeping the aspect ratio) so
	// that its longer side is at most MaxSide pixels, and adds a notice
	// saying so. 0 or negative means no scaling.
	MaxSide int
	// MinSide refuses (ErrTooSmall) an image whose shorter side, after any
	// scaling, is below MinSide pixels. 0 means DefaultMinSide (16); a
	// negative value means no minimum.
	MinSide int
	// MaxFileBytes refuses (ErrTooLarge) a file or stream longer than this.
	// 0 means DefaultMaxFileBytes (1 GiB); a negative value means no limit.
	MaxFileBytes int64
	// IgnoreOrientation decodes JPEGs as stored, without applying the EXIF
	// orientation tag. The default (false) applies it, as photo viewers do.
	IgnoreOrientation bool
}

func (o Options) maxPixels() int64 {
	switch {
	case o.MaxPixels == 0:
		return DefaultMaxPixels
	case o.MaxPixels < 0:
		return -1
	}
	return o.MaxPixels
}

func (o Options) minSide() int {
	switch {
	case o.MinSide == 0:
		return DefaultMinSide
	case o.MinSide < 0:
		return 0
	}
	return o.MinSide
}

func (o Options) maxFileBytes() int64 {
	switch {
	case o.MaxFileBytes == 0:
		return DefaultMaxFileBytes
	case o.MaxFileBytes < 0:
		return -1
	}
	return o.MaxFileBytes
}
