package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"strings"
)

// isMissingAdobe reports the image/jpeg error for a four-component JPEG
// without an Adobe APP14 segment, which the standard decoder refuses.
func isMissingAdobe(err error) bool {
	var ue jpeg.UnsupportedError
	return errors.As(err, &ue) && strings.Contains(string(ue), "Adobe APP14")
}

// adobeCMYK is an Adobe APP14 segment declaring colour transform 0 (CMYK
// stored as is, in Adobe's inverted convention).
var adobeCMYK = []byte{0xFF, markerAPP14, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}

// decodePlainCMYK decodes a four-component JPEG that lacks the Adobe APP14
// segment by inserting one that declares plain (transform 0) CMYK. Like
// libjpeg it then reads the channels as CMYK rather than YCCK and, like
// ImageMagick and Photoshop, as Adobe-inverted (255 = no ink), the
// convention virtually every CMYK JPEG in circulation follows.
func decodePlainCMYK(data []byte) (img image.Image, err error) {
	fixed := make([]byte, 0, len(data)+len(adobeCMYK))
	fixed = append(fixed, data[:2]...)
	fixed = append(fixed, adobeCMYK...)
	fixed = append(fixed, data[2:]...)
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, errors.New("jpeg: decoder failed")
		}
	}()
	return jpeg.Decode(bytes.NewReader(fixed))
}
