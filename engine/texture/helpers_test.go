package texture

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/model"
	"atelier/engine/tensor"
)

var (
	vggOnce sync.Once
	vggNet  *features.VGG19
	vggErr  error
)

// testVGG returns the partial VGG19 of the shared folder, loaded once with
// average pooling, or skips the test. Tests that use it must not run in
// parallel (extractors are not safe for concurrent use).
func testVGG(t testing.TB) *features.VGG19 {
	t.Helper()
	shared, err := model.SharedDir()
	if err != nil {
		t.Skipf("no shared reference folder (set ATELIER_SHARED): %v", err)
	}
	dir := filepath.Join(shared, "models", "vgg19-tfjs")
	if _, err := os.Stat(filepath.Join(dir, "model.json")); err != nil {
		t.Skipf("VGG19 weights not found: %v", err)
	}
	vggOnce.Do(func() { vggNet, vggErr = features.LoadVGG19(dir, features.VGG19Options{AvgPool: true}) })
	if vggErr != nil {
		t.Fatal(vggErr)
	}
	return vggNet
}

// sharedSample loads a shared style image scaled to a longer side of side
// pixels, or skips the test.
func sharedSample(t testing.TB, name string, side int) *tensor.Tensor {
	t.Helper()
	shared, err := model.SharedDir()
	if err != nil {
		t.Skipf("no shared reference folder (set ATELIER_SHARED): %v", err)
	}
	img, err := imageio.Load(filepath.Join(shared, "images", "style", name), imageio.Options{MaxSide: side})
	if err != nil {
		t.Skipf("sample %s: %v", name, err)
	}
	return img.RGB
}

// syntheticSample draws a structured test texture of w x h pixels without
// any file: coloured discs of random sizes on a gradient with mild noise.
func syntheticSample(seed int64, w, h int) *tensor.Tensor {
	rng := rand.New(rand.NewSource(seed))
	t := tensor.New(1, 3, h, w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				t.Data[(c*h+y)*w+x] = float32(40+60*c) + float32(y)*40/float32(h) + float32(rng.NormFloat64()*6)
			}
		}
	}
	for n := 0; n < w*h/120; n++ {
		cx, cy, r := rng.Float64()*float64(w), rng.Float64()*float64(h), 2+rng.Float64()*5
		col := [3]float32{float32(rng.Intn(256)), float32(rng.Intn(256)), float32(rng.Intn(256))}
		for y := int(cy - r); y <= int(cy+r); y++ {
			for x := int(cx - r); x <= int(cx+r); x++ {
				if x < 0 || y < 0 || x >= w || y >= h || math.Hypot(float64(x)-cx, float64(y)-cy) > r {
					continue
				}
				for c := 0; c < 3; c++ {
					t.Data[(c*h+y)*w+x] = col[c]
				}
			}
		}
	}
	for i, v := range t.Data {
		t.Data[i] = min(max(v, 0), 255)
	}
	return t
}

// randImage returns uniform noise in 0..255.
func randImage(seed int64, shape ...int) *tensor.Tensor {
	rng := rand.New(rand.NewSource(seed))
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.Float64() * 255)
	}
	return t
}

// roll shifts t [N,C,H,W] circularly by dy rows and dx columns:
// out[y][x] = t[y−dy][x−dx].
func roll(t *tensor.Tensor, dy, dx int) *tensor.Tensor {
	n, c, h, w := t.Dims()
	out := tensor.New(n, c, h, w)
	for p := 0; p < n*c; p++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Data[(p*h+mod(y+dy, h))*w+mod(x+dx, w)] = t.Data[(p*h+y)*w+x]
			}
		}
	}
	return out
}

// maxRel is the largest absolute difference between a and b relative to
// the largest magnitude in b.
func maxRel(a, b *tensor.Tensor) float64 {
	var scale float64
	for _, v := range b.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	return tensor.MaxAbsDiff(a, b) / math.Max(scale, 1e-30)
}

// seamRatio measures how visible the wrap-around edges of img are: the
// mean absolute difference across the right-to-left and bottom-to-top
// edges divided by the mean absolute difference between neighbouring
// pixels inside the image. About 1 for an image that tiles; clearly more
// for one that does not.
func seamRatio(img *tensor.Tensor) float64 {
	_, c, h, w := img.Dims()
	var seam, inner float64
	var ns, ni int
	for ch := 0; ch < c; ch++ {
		p := img.Data[ch*h*w : (ch+1)*h*w]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				d := math.Abs(float64(p[y*w+x] - p[y*w+(x+1)%w]))
				e := math.Abs(float64(p[y*w+x] - p[((y+1)%h)*w+x]))
				if x == w-1 {
					seam += d
					ns++
				} else {
					inner += d
					ni++
				}
				if y == h-1 {
					seam += e
					ns++
				} else {
					inner += e
					ni++
				}
			}
		}
	}
	return (seam / float64(ns)) / (inner / float64(ni))
}

// boxBlur returns img averaged over 3x3 neighbourhoods on the torus.
func boxBlur(img *tensor.Tensor) *tensor.Tensor {
	_, c, h, w := img.Dims()
	out := tensor.New(img.Shape...)
	for ch := 0; ch < c; ch++ {
		p := img.Data[ch*h*w : (ch+1)*h*w]
		o := out.Data[ch*h*w : (ch+1)*h*w]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var s float32
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						s += p[mod(y+dy, h)*w+mod(x+dx, w)]
					}
				}
				o[y*w+x] = s / 9
			}
		}
	}
	return out
}
