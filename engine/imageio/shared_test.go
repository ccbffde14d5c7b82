package imageio

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestSharedImages decodes the real pictures in ../shared/images and checks
// their size and per-channel mean against ImageMagick's decoder
// (testdata/shared_reference.json, made by testdata/gen.sh). Different
// JPEG decoders differ in IDCT and chroma upsampling, so means may differ
// a little; a channel swap, an orientation or a colour-conversion bug moves
// them by tens of levels.
func TestSharedImages(t *testing.T) {
	shared := sharedDir(t)
	if shared == "" {
		t.Skip("shared folder absent (set ATELIER_SHARED)")
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "shared_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []struct {
		File          string
		Width, Height int
		Mean          [3]float64
	}
	if err := json.Unmarshal(raw, &refs); err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		t.Run(r.File, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(shared, "images", r.File)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s absent", r.File)
			}
			img, err := Load(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if w, h := img.Size(); w != r.Width || h != r.Height {
				t.Errorf("size %dx%d, want %dx%d", w, h, r.Width, r.Height)
			}
			if img.Alpha != nil || len(img.Notices) != 0 {
				t.Errorf("alpha %v notices %q, want opaque and no notices", img.Alpha, img.Notices)
			}
			n := r.Width * r.Height
			for c := 0; c < 3; c++ {
				s := 0.0
				for _, v := range img.RGB.Data[c*n : (c+1)*n] {
					s += float64(v)
				}
				// Measured: within 0.05 on every file.
				if m := s / float64(n); math.Abs(m-r.Mean[c]) > 0.1 {
					t.Errorf("channel %d mean %.3f, ImageMagick %.3f", c, m, r.Mean[c])
				}
			}
		})
	}
}

// TestSharedRoundTrip is the golden round trip on real pictures (scaled
// to 512 px): decode -> save -> decode is exact through PNG (to the
// rounding of the decoded values to whole levels). Through JPEG at quality
// 95 the mean luma error must stay within 2 levels (measured 1.2-1.6) and
// the mean RGB error within 7 (measured 1.6 on the gray Escher, 2.7 on
// Tübingen, 6.2 on the busy Starry Night crop: Go's encoder always
// subsamples chroma 4:2:0, which costs saturated fine texture most).
func TestSharedRoundTrip(t *testing.T) {
	shared := sharedDir(t)
	if shared == "" {
		t.Skip("shared folder absent (set ATELIER_SHARED)")
	}
	dir := t.TempDir()
	for _, f := range []string{"content/tubingen.jpg", "style/escher_sphere.jpg", "style/starry_night_crop.png"} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(shared, "images", f)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s absent", f)
			}
			a, err := Load(p, Options{MaxSide: 512})
			if err != nil {
				t.Fatal(err)
			}
			for _, ext := range []string{".png", ".jpg"} {
				out := filepath.Join(dir, filepath.Base(f)+ext)
				if err := SaveTensor(out, a.RGB, a.Alpha, SaveOptions{Quality: 95}); err != nil {
					t.Fatal(err)
				}
				b, err := Load(out, Options{})
				if err != nil {
					t.Fatal(err)
				}
				d := meanAbsDiff(a.RGB, b.RGB)
				t.Logf("%s mean error %.3f, luma %.3f", ext, d, lumaDiff(a, b))
				// Decoding rounds nothing (values keep fractions from the
				// YCbCr conversion and scaling), so PNG's exactness is to
				// the nearest level.
				if ext == ".png" && tensorRoundedDiff(a, b) != 0 {
					t.Errorf("PNG round trip is not exact")
				}
				if l := lumaDiff(a, b); ext == ".jpg" && (l > 2 || d > 7) {
					t.Errorf("JPEG q95 mean error %.3f (luma %.3f), want at most 7 (2)", d, l)
				}
			}
		})
	}
}

// tensorRoundedDiff is the largest difference between a's colour rounded
// to 0..255 integers and b's colour.
func tensorRoundedDiff(a, b *Image) float64 {
	m := 0.0
	for i, v := range a.RGB.Data {
		m = math.Max(m, math.Abs(float64(to8(v))-float64(b.RGB.Data[i])))
	}
	return m
}

// lumaDiff is the mean absolute difference of the Rec. 601 luma of two
// images' colour.
func lumaDiff(a, b *Image) float64 {
	w, h := a.Size()
	n := w * h
	s := 0.0
	for i := 0; i < n; i++ {
		ya := 0.299*float64(a.RGB.Data[i]) + 0.587*float64(a.RGB.Data[n+i]) + 0.114*float64(a.RGB.Data[2*n+i])
		yb := 0.299*float64(b.RGB.Data[i]) + 0.587*float64(b.RGB.Data[n+i]) + 0.114*float64(b.RGB.Data[2*n+i])
		s += math.Abs(ya - yb)
	}
	return s / float64(n)
}
