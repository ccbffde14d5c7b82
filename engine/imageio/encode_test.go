package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"atelier/engine/tensor"
)

func TestFormatFromPath(t *testing.T) {
	cases := []struct {
		path string
		want Format
	}{
		{"out.png", PNG}, {"OUT.PNG", PNG}, {"a/b.c/out.jpg", JPEG}, {"x.JPEG", JPEG}, {"x.jpeg", JPEG},
		{"x.gif", FormatUnknown}, {"x.webp", FormatUnknown}, {"png", FormatUnknown}, {"x.png.tmp", FormatUnknown},
	}
	for _, c := range cases {
		got, err := FormatFromPath(c.path)
		if got != c.want || (c.want == FormatUnknown) != errors.Is(err, ErrUnsupported) {
			t.Errorf("FormatFromPath(%q) = %v, %v; want %v", c.path, got, err, c.want)
		}
	}
}

func TestToImageRoundingAndClamping(t *testing.T) {
	vals := []float32{-5, 0, 0.49, 0.5, 1.5, 127.5, 254.49, 254.5, 255, 300, float32(math.NaN()), float32(math.Inf(1))}
	want := []uint8{0, 0, 0, 1, 2, 128, 254, 255, 255, 255, 0, 255}
	n := len(vals)
	rgb := tensor.New(1, 3, 1, n)
	for i, v := range vals {
		rgb.Data[i], rgb.Data[n+i], rgb.Data[2*n+i] = v, 255-v, v
	}
	img, err := ToNRGBA(rgb, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		c := img.NRGBAAt(i, 0)
		if c.R != want[i] || c.B != want[i] || c.A != 255 {
			t.Errorf("value %v -> %v, want R=B=%d A=255", vals[i], c, want[i])
		}
	}
	// Premultiplied: colour 200 at alpha 127.5 (rounds to 128) is 200*128/255 = 100.39 -> 100.
	alpha := tensor.New(1, 1, 1, 2)
	alpha.Data[0], alpha.Data[1] = 127.5, -3
	rgb2 := tensor.New(1, 3, 1, 2)
	for i := range rgb2.Data {
		rgb2.Data[i] = 200
	}
	rgba, err := ToRGBA(rgb2, alpha)
	if err != nil {
		t.Fatal(err)
	}
	if c := rgba.RGBAAt(0, 0); c != (color.RGBA{100, 100, 100, 128}) {
		t.Errorf("premultiplied pixel %v, want {100 100 100 128}", c)
	}
	if c := rgba.RGBAAt(1, 0); c != (color.RGBA{}) {
		t.Errorf("alpha -3 pixel %v, want transparent black", c)
	}
	nrgba, _ := ToNRGBA(rgb2, alpha)
	if c := nrgba.NRGBAAt(0, 0); c != (color.NRGBA{200, 200, 200, 128}) {
		t.Errorf("straight pixel %v, want {200 200 200 128}", c)
	}
}

func TestToImageShapes(t *testing.T) {
	good := tensor.New(1, 3, 4, 5)
	cases := []struct {
		name       string
		rgb, alpha *tensor.Tensor
		ok         bool
	}{
		{"rgb", good, nil, true},
		{"gray", tensor.New(1, 1, 4, 5), nil, true},
		{"with alpha", good, tensor.New(1, 1, 4, 5), true},
		{"nil", nil, nil, false},
		{"two channels", tensor.New(1, 2, 4, 5), nil, false},
		{"batch of two", tensor.New(2, 3, 4, 5), nil, false},
		{"3-D", tensor.New(3, 4, 5), nil, false},
		{"alpha wrong size", good, tensor.New(1, 1, 5, 4), false},
		{"alpha three channels", good, tensor.New(1, 3, 4, 5), false},
	}
	for _, c := range cases {
		_, err1 := ToNRGBA(c.rgb, c.alpha)
		_, err2 := ToRGBA(c.rgb, c.alpha)
		if (err1 == nil) != c.ok || (err2 == nil) != c.ok {
			t.Errorf("%s: errors %v / %v, want ok=%v", c.name, err1, err2, c.ok)
		}
	}
	if err := ToRGBAInto(image.NewRGBA(image.Rect(0, 0, 4, 5)), good, nil); err == nil {
		t.Error("ToRGBAInto accepted a 4x5 destination for a 5x4 tensor")
	}
	dst := image.NewRGBA(image.Rect(10, 10, 15, 14)) // origin not at zero
	good.Data[3*5+4] = 77                            // red of the bottom-right pixel
	if err := ToRGBAInto(dst, good, nil); err != nil {
		t.Fatal(err)
	}
	if c := dst.RGBAAt(14, 13); c.R != 77 || c.A != 255 {
		t.Errorf("bottom-right pixel %v, want R=77 opaque", c)
	}
}

// TestRoundTrip: decode -> SaveTensor -> Load. PNG must be exact for 8-bit
// content (with and without alpha, colour and gray); JPEG at quality 95
// within a mean error of 1.5 levels (measured 1.22 on this picture; Go
// always subsamples chroma 4:2:0),
// and quality 50 must be worse and smaller.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	withAlpha := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	src := smoothImage(40, 30)
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			c := src.RGBAAt(x, y)
			withAlpha.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(x * 6)})
		}
	}
	gray := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 3)
	}
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"rgb", src}, {"alpha", withAlpha}, {"gray", gray}} {
		t.Run("PNG/"+c.name, func(t *testing.T) {
			a, err := DecodeBytes(encodePNG(t, c.img), "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			rgb := a.RGB
			if a.Gray {
				rgb = tensor.FromData(a.RGB.Data[:40*30], 1, 1, 30, 40) // save as a gray tensor
			}
			p := filepath.Join(dir, c.name+".png")
			if err := SaveTensor(p, rgb, a.Alpha, SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			b, err := Load(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := tensor.MaxAbsDiff(a.RGB, b.RGB); d != 0 {
				t.Errorf("colour changed by up to %g", d)
			}
			if (a.Alpha == nil) != (b.Alpha == nil) || (a.Alpha != nil && tensor.MaxAbsDiff(a.Alpha, b.Alpha) != 0) {
				t.Errorf("alpha changed")
			}
			if a.Gray != b.Gray {
				t.Errorf("gray %v became %v", a.Gray, b.Gray)
			}
		})
	}
	t.Run("JPEG", func(t *testing.T) {
		a, err := DecodeBytes(encodePNG(t, smoothImage(160, 120)), "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		errAt := func(q int) (float64, int64) {
			p := filepath.Join(dir, "q"+string(rune('0'+q/10))+".jpg")
			if err := SaveTensor(p, a.RGB, nil, SaveOptions{Quality: q}); err != nil {
				t.Fatal(err)
			}
			b, err := Load(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(p)
			return meanAbsDiff(a.RGB, b.RGB), st.Size()
		}
		e95, s95 := errAt(95)
		e50, s50 := errAt(50)
		t.Logf("mean error: q95 %.3f (%d bytes), q50 %.3f (%d bytes)", e95, s95, e50, s50)
		if e95 > 1.5 {
			t.Errorf("quality 95 mean error %.3f > 1.5", e95)
		}
		if e50 <= e95 || s50 >= s95 {
			t.Errorf("quality 50 (error %.3f, %d bytes) not worse and smaller than 95 (%.3f, %d bytes)", e50, s50, e95, s95)
		}
	})
	t.Run("JPEG flattens alpha onto white", func(t *testing.T) {
		rgb := tensor.New(1, 3, 16, 16)
		alpha := tensor.New(1, 1, 16, 16)
		for i := 0; i < 16*16; i++ {
			rgb.Data[i] = 255 // red
			if i%16 < 8 {
				alpha.Data[i] = 255
			}
		}
		p := filepath.Join(dir, "flat.jpg")
		if err := SaveTensor(p, rgb, alpha, SaveOptions{Quality: 100}); err != nil {
			t.Fatal(err)
		}
		b, err := Load(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkProbes(t, b, []probe{{2, 8, [3]float64{255, 0, 0}, -1, "opaque red"}, {13, 8, [3]float64{255, 255, 255}, -1, "transparent -> white"}}, 6)
	})
}

// failFile wraps a temporary file and fails like a full disk.
type failFile struct {
	*os.File
	budget   int   // bytes accepted before Write fails
	syncFail error // error from Sync, if any
}

func (f *failFile) Write(p []byte) (int, error) {
	if len(p) > f.budget {
		n, _ := f.File.Write(p[:f.budget])
		f.budget = 0
		return n, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.budget -= len(p)
	return f.File.Write(p)
}

func (f *failFile) Sync() error {
	if f.syncFail != nil {
		return f.syncFail
	}
	return f.File.Sync()
}

func TestSaveAtomic(t *testing.T) {
	img := smoothImage(64, 48)
	listDir := func(dir string) []string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	t.Run("refuses to overwrite", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "out.png")
		os.WriteFile(p, []byte("precious"), 0o644)
		err := Save(p, img, SaveOptions{})
		if !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "out.png already exists") {
			t.Fatalf("error %v, want ErrExists naming out.png", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "precious" {
			t.Error("existing file changed")
		}
		if names := listDir(dir); len(names) != 1 {
			t.Errorf("folder holds %v, want only out.png", names)
		}
	})
	t.Run("overwrites when allowed", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "out.jpg")
		os.WriteFile(p, []byte("old"), 0o644)
		if err := Save(p, img, SaveOptions{Overwrite: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p, Options{}); err != nil {
			t.Errorf("overwritten file does not load: %v", err)
		}
		if names := listDir(dir); len(names) != 1 {
			t.Errorf("folder holds %v, want only out.jpg", names)
		}
	})
	t.Run("new file", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "new.png")
		if err := Save(p, img, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("stat %v, %v; want a 0644 file", st, err)
		}
	})
	t.Run("missing folder", func(t *testing.T) {
		err := Save(filepath.Join(t.TempDir(), "no", "such", "x.png"), img, SaveOptions{})
		if err == nil || err.Error() != "imageio: cannot save x.png: no such file or directory" || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v, want a plain one naming x.png", err)
		}
	})
	failures := []struct {
		name    string
		budget  int
		syncErr error
		want    error
	}{
		{"disk full at once", 0, nil, syscall.ENOSPC},
		{"disk full mid-file", 3000, nil, syscall.ENOSPC},
		{"sync fails", 1 << 30, syscall.EIO, syscall.EIO},
	}
	orig := createTemp
	defer func() { createTemp = orig }()
	for _, f := range failures {
		for _, existing := range []bool{false, true} {
			name := f.name + map[bool]string{false: "/new", true: "/existing"}[existing]
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				p := filepath.Join(dir, "out.png")
				if existing {
					os.WriteFile(p, []byte("precious"), 0o644)
				}
				createTemp = func(dir, pattern string) (tempFile, error) {
					file, err := os.CreateTemp(dir, pattern)
					if err != nil {
						return nil, err
					}
					return &failFile{File: file, budget: f.budget, syncFail: f.syncErr}, nil
				}
				defer func() { createTemp = orig }()
				err := Save(p, img, SaveOptions{Overwrite: true})
				if !errors.Is(err, f.want) || !strings.HasPrefix(err.Error(), "imageio: cannot save out.png: ") || strings.Contains(err.Error(), ".tmp") {
					t.Fatalf("error %v, want one wrapping %v and naming out.png", err, f.want)
				}
				names := listDir(dir)
				if existing {
					if b, _ := os.ReadFile(p); string(b) != "precious" {
						t.Error("existing file was damaged")
					}
					if len(names) != 1 {
						t.Errorf("folder holds %v, want only the original file", names)
					}
				} else if len(names) != 0 {
					t.Errorf("folder holds %v, want nothing left behind", names)
				}
			})
		}
	}
}

func TestEncodeToWriter(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, smoothImage(20, 20), JPEG, SaveOptions{Quality: 101}); err == nil {
		t.Error("quality 101 accepted")
	}
	if err := Encode(&b, smoothImage(20, 20), GIF, SaveOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("GIF encode: %v, want ErrUnsupported", err)
	}
	b.Reset()
	if err := Encode(&b, smoothImage(20, 20), PNG, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBytes(b.Bytes(), "", Options{}); err != nil {
		t.Errorf("encoded PNG does not decode: %v", err)
	}
}
