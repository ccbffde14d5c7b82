package imageio

import "atelier/engine/imageio/jpegmeta"

// JPEG markers this package looks at (see jpegmeta).
const (
	markerSOI   = jpegmeta.MarkerSOI
	markerEOI   = jpegmeta.MarkerEOI
	markerSOS   = jpegmeta.MarkerSOS
	markerAPP14 = jpegmeta.MarkerAPP14
	markerCOM   = jpegmeta.MarkerCOM
)

// exifHeader starts the payload of an APP1 segment that holds EXIF data.
var exifHeader = jpegmeta.ExifHeader

// The JPEG and EXIF parsing lives in jpegmeta, which the UI shares.
var (
	jpegSegments    = jpegmeta.Segments
	jpegOrientation = jpegmeta.Orientation
	tiffOrientation = jpegmeta.TIFFOrientation
	orientedSize    = jpegmeta.OrientedSize
)
