package features

import (
	"fmt"
	"image"
	_ "image/jpeg"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"atelier/engine/graph/kerasref"
	"atelier/engine/model"
	"atelier/engine/tensor"
)

// sharedDir returns the shared reference folder or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, err := model.SharedDir()
	if err != nil {
		t.Skipf("no shared reference folder (set ATELIER_SHARED): %v", err)
	}
	return d
}

// vggDir returns the partial VGG19 of the shared folder or skips the test.
func vggDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(sharedDir(t), "models", "vgg19-tfjs")
	if _, err := os.Stat(filepath.Join(d, "model.json")); err != nil {
		t.Skipf("VGG19 weights not found: %v", err)
	}
	return d
}

// resnetDir returns the ResNet-50 folder of the model cache or skips the
// test.
func resnetDir(t testing.TB) string {
	t.Helper()
	c, err := model.CacheDir()
	if err != nil {
		t.Skipf("no model cache: %v", err)
	}
	d := filepath.Join(c, "resnet50-imagenet")
	if _, err := os.Stat(filepath.Join(d, "model.json")); err != nil {
		t.Skipf("ResNet-50 is not in the model cache (%s); fetch it with `atelier models fetch resnet50-imagenet`: %v", d, err)
	}
	return d
}

// loadImage decodes a shared image and box-filters it to w x h, as RGB
// [1,3,h,w] with values 0..255.
func loadImage(t testing.TB, rel string, w, h int) *tensor.Tensor {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedDir(t), "images", rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := tensor.New(1, 3, h, w)
	for y := 0; y < h; y++ {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := 0; x < w; x++ {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var s [3]float64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					r, g, bl, _ := img.At(b.Min.X+xx, b.Min.Y+yy).RGBA()
					s[0] += float64(r >> 8)
					s[1] += float64(g >> 8)
					s[2] += float64(bl >> 8)
				}
			}
			n := float64((y1 - y0) * (x1 - x0))
			for c := 0; c < 3; c++ {
				out.Data[(c*h+y)*w+x] = float32(s[c] / n)
			}
		}
	}
	return out
}

// caffeReference converts RGB 0..255 to the BGR mean-subtracted NHWC float64
// input of the Keras reference, independently of caffeInput.
func caffeReference(img *tensor.Tensor) *kerasref.Tensor {
	n, _, h, w := img.Dims()
	t := kerasref.New(n, h, w, 3)
	mean := []float64{103.939, 116.779, 123.68} // B, G, R
	for b := 0; b < n; b++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for c := 0; c < 3; c++ { // c: BGR channel, 2-c: RGB channel
					v := float64(img.Data[((b*3+2-c)*h+y)*w+x])
					t.D[((b*h+y)*w+x)*3+c] = v - mean[c]
				}
			}
		}
	}
	return t
}

func randTensor(seed int64, shape ...int) *tensor.Tensor {
	rng := rand.New(rand.NewSource(seed))
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.Float64()*2 - 1)
	}
	return t
}

// pixel is one input element to check by central differences.
type pixel struct{ c, y, x int }

// refLoss is L = sum over taps of sum(r_tap * tap) evaluated by the float64
// reference: layers maps each tap to its reference output, and transform
// (may be nil) post-processes a tap's reference output.
type refLoss struct {
	top       *model.Topology
	w         kerasref.Weights
	opts      kerasref.Options
	layers    map[string]string
	transform func(*kerasref.Tensor) *kerasref.Tensor
}

func (l refLoss) eval(t *testing.T, in *kerasref.Tensor, rs map[string]*tensor.Tensor) float64 {
	t.Helper()
	var names []string
	for tap := range rs {
		names = append(names, l.layers[tap])
	}
	outs, err := kerasref.RunWith(l.top, l.w, in, names, l.opts)
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	for tap, r := range rs {
		o := outs[l.layers[tap]]
		if l.transform != nil {
			o = l.transform(o)
		}
		for n := 0; n < o.N; n++ {
			for c := 0; c < o.C; c++ {
				for y := 0; y < o.H; y++ {
					for x := 0; x < o.W; x++ {
						s += float64(r.Data[((n*o.C+c)*o.H+y)*o.W+x]) * o.NCHWValue(n, c, y, x)
					}
				}
			}
		}
	}
	return s
}

// gradCheck compares e's input gradient for L = sum over taps of
// sum(r_tap * tap) with float64 central differences (step h, in 0..255
// units) of the same loss computed by the float64 reference at the given
// pixels of img (batch item 0). It returns the mismatches beyond
// tol*max(|analytic|, |numeric|, 0.01*max|analytic|).
func gradCheck(t *testing.T, e Extractor, img *tensor.Tensor, taps []string, ref refLoss, pixels []pixel, h, tol float64) []string {
	t.Helper()
	outs, err := e.Extract(img, taps)
	if err != nil {
		t.Fatal(err)
	}
	rs := map[string]*tensor.Tensor{}
	for i, tap := range taps {
		rs[tap] = randTensor(int64(10+i), outs[tap].Shape...)
	}
	ana := e.Backward(rs).Clone()
	if !tensor.ShapeEqual(ana.Shape, img.Shape) {
		t.Fatalf("gradient shape %v, image %v", ana.Shape, img.Shape)
	}
	scale := 0.0
	for _, v := range ana.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	if scale == 0 {
		t.Fatal("the gradient is identically zero")
	}
	if raceEnabled && len(pixels) > 2 {
		pixels = pixels[:2]
	}
	in := caffeReference(img)
	_, _, hh, ww := img.Dims()
	var errs []string
	for _, p := range pixels {
		// RGB channel c is BGR channel 2-c of the reference input; the
		// mean subtraction has unit derivative.
		i := (p.y*ww+p.x)*3 + 2 - p.c
		orig := in.D[i]
		in.D[i] = orig + h
		lp := ref.eval(t, in, rs)
		in.D[i] = orig - h
		lm := ref.eval(t, in, rs)
		in.D[i] = orig
		num := (lp - lm) / (2 * h)
		a := float64(ana.Data[(p.c*hh+p.y)*ww+p.x])
		if math.Abs(a-num) > tol*math.Max(math.Max(math.Abs(a), math.Abs(num)), 0.01*scale) {
			errs = append(errs, fmt.Sprintf("dL/dimg[c%d y%d x%d]: analytic %.6g, numeric %.6g (max |grad| %.3g)", p.c, p.y, p.x, a, num, scale))
		}
	}
	return errs
}
