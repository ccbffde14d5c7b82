package jpegmeta

import (
	"encoding/binary"
	"testing"
)

// app1 builds an APP1 EXIF segment whose IFD0 holds orientation o, in the
// byte order bo ("II" or "MM").
func app1(bo string, o uint16) []byte {
	var order binary.ByteOrder = binary.LittleEndian
	if bo == "MM" {
		order = binary.BigEndian
	}
	tiff := make([]byte, 8+2+12+4)
	copy(tiff, bo)
	order.PutUint16(tiff[2:], 42)
	order.PutUint32(tiff[4:], 8)
	order.PutUint16(tiff[8:], 1)
	order.PutUint16(tiff[10:], 0x0112)
	order.PutUint16(tiff[12:], 3)
	order.PutUint32(tiff[14:], 1)
	order.PutUint16(tiff[18:], o)
	payload := append(append([]byte(nil), ExifHeader...), tiff...)
	return append([]byte{0xFF, MarkerAPP1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
}

func TestOrientation(t *testing.T) {
	soi := []byte{0xFF, MarkerSOI}
	sos := []byte{0xFF, MarkerSOS, 0, 2}
	com := []byte{0xFF, MarkerCOM, 0, 4, 'h', 'i'}
	join := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"little endian 6", join(soi, app1("II", 6), sos), 6},
		{"big endian 8", join(soi, com, app1("MM", 8), sos), 8},
		{"first segment counts", join(soi, app1("II", 3), app1("II", 6), sos), 3},
		{"after SOS is image data", join(soi, sos, app1("II", 6)), 1},
		{"out of range value", join(soi, app1("II", 9), sos), 1},
		{"truncated segment", join(soi, app1("II", 6)[:12]), 1},
		{"not a JPEG", []byte("\x89PNG\r\n\x1a\n"), 1},
		{"empty", nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Orientation(c.data); got != c.want {
				t.Errorf("Orientation = %d, want %d", got, c.want)
			}
		})
	}
}

func TestOrientedSize(t *testing.T) {
	for o := 1; o <= 8; o++ {
		w, h := OrientedSize(3, 2, o)
		want := [2]int{3, 2}
		if o >= 5 {
			want = [2]int{2, 3}
		}
		if [2]int{w, h} != want {
			t.Errorf("orientation %d: %dx%d, want %dx%d", o, w, h, want[0], want[1])
		}
	}
}
