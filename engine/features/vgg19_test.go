package features

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"atelier/engine/graph/kerasref"
	"atelier/engine/model"
	"atelier/engine/tensor"
)

var (
	vggOnce sync.Once
	vggNet  *VGG19
	vggErr  error
)

// sharedVGG loads the partial VGG19 once for the package's tests.
func sharedVGG(t testing.TB) *VGG19 {
	t.Helper()
	dir := vggDir(t)
	vggOnce.Do(func() { vggNet, vggErr = LoadVGG19(dir, VGG19Options{}) })
	if vggErr != nil {
		t.Fatal(vggErr)
	}
	return vggNet
}

// TestVGG19MatchesReference compares the taps on a real image with the
// float64 NHWC reference interpreter reading the same weight files.
func TestVGG19MatchesReference(t *testing.T) {
	v := sharedVGG(t)
	w, h := 72, 54
	if raceEnabled {
		w, h = 24, 18
	}
	img := loadImage(t, "content/tubingen.jpg", w, h)
	taps := []string{"relu1_1", "relu2_1", "relu3_1", "conv3_1", "pool2"}
	outs, err := v.Extract(img, taps)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.OpenLayersModel(vggDir(t))
	if err != nil {
		t.Fatal(err)
	}
	layer := map[string]string{"relu1_1": "block1_conv1", "relu2_1": "block2_conv1", "relu3_1": "block3_conv1",
		"conv3_1": "block3_conv1/preact", "pool2": "block2_pool"}
	var names []string
	for _, tap := range taps {
		names = append(names, layer[tap])
	}
	ref, err := kerasref.Run(m.Topology, m, caffeReference(img), names)
	if err != nil {
		t.Fatal(err)
	}
	for _, tap := range taps {
		d, err := ref[layer[tap]].RelDiff(outs[tap])
		if err != nil {
			t.Fatalf("%s: %v", tap, err)
		}
		t.Logf("%s %v: relative difference %.2g", tap, outs[tap].Shape, d)
		if d > 1e-4 {
			t.Errorf("%s: relative difference %.3g from the float64 reference, want <= 1e-4", tap, d)
		}
	}
}

// TestVGG19Batch checks that a batch of two images gives each image's own
// features and that the gradient of each comes back in its own slot.
func TestVGG19Batch(t *testing.T) {
	v := sharedVGG(t)
	a := loadImage(t, "content/tubingen.jpg", 20, 16)
	b := loadImage(t, "content/golden_gate.jpg", 20, 16)
	batch := tensor.New(2, 3, 16, 20)
	copy(batch.Data, a.Data)
	copy(batch.Data[len(a.Data):], b.Data)
	taps := []string{"relu2_1"}
	single := func(img *tensor.Tensor) (f, g *tensor.Tensor) {
		outs, err := v.Extract(img, taps)
		if err != nil {
			t.Fatal(err)
		}
		f = outs["relu2_1"].Clone()
		return f, v.Backward(map[string]*tensor.Tensor{"relu2_1": f}).Clone()
	}
	fa, ga := single(a)
	fb, gb := single(b)
	fab, gab := single(batch)
	half := len(fab.Data) / 2
	for _, c := range []struct {
		name      string
		got, want []float32
	}{
		{"features of image 0", fab.Data[:half], fa.Data}, {"features of image 1", fab.Data[half:], fb.Data},
		{"gradient of image 0", gab.Data[:len(ga.Data)], ga.Data}, {"gradient of image 1", gab.Data[len(ga.Data):], gb.Data},
	} {
		d := tensor.MaxAbsDiff(tensor.FromData(c.got, len(c.got)), tensor.FromData(c.want, len(c.want)))
		if scale := tensor.FromData(c.want, len(c.want)).Norm(); d > 1e-4*scale {
			t.Errorf("%s differs from the single-image run by %g", c.name, d)
		}
	}
}

func TestVGG19Taps(t *testing.T) {
	v := sharedVGG(t)
	taps := v.Taps()
	want := []string{"conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1", "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
		"conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3"}
	if strings.Join(taps, ",") != strings.Join(want, ",") {
		t.Errorf("Taps() = %v\nwant %v", taps, want)
	}
	if got := strings.Join(v.DefaultStyleTaps(), ","); got != "relu1_1,relu2_1,relu3_1" {
		t.Errorf("DefaultStyleTaps() = %s", got)
	}
	if got := v.DefaultContentTap(); got != "relu3_2" {
		t.Errorf("DefaultContentTap() = %s", got)
	}
}

func TestVGG19Errors(t *testing.T) {
	v := sharedVGG(t)
	img := loadImage(t, "content/tubingen.jpg", 32, 24)
	cases := []struct {
		name     string
		img      *tensor.Tensor
		taps     []string
		sentinel error
		mention  []string
	}{
		{"deeper than the weights", img, []string{"relu1_1", "relu4_1"}, ErrMissingWeights,
			[]string{"relu4_1", "group9-shard1of2", "atelier models fetch vgg19-full"}},
		{"pre-activation of a missing layer", img, []string{"conv5_4"}, ErrMissingWeights, []string{"conv5_4", "atelier models fetch vgg19-full"}},
		{"unknown tap", img, []string{"relu9_9"}, ErrUnknownTap, []string{"relu9_9", "relu3_1"}},
		{"gray image", tensor.New(1, 1, 32, 32), []string{"relu1_1"}, ErrInput, nil},
		{"too small for the tap", tensor.New(1, 3, 3, 30), []string{"relu3_1"}, ErrInput, []string{"4x4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Extract(tc.img, tc.taps)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("got %v, want %v", err, tc.sentinel)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := v.Extract(img, []string{"relu3_1"}); err != nil {
		t.Fatalf("a valid Extract after failed ones: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Backward for a tap the last Extract did not return did not panic")
			}
		}()
		v.Backward(map[string]*tensor.Tensor{"relu1_1": tensor.New(1, 64, 24, 32)})
	}()
}

// TestVGG19Gradient checks dL/dimg of L = sum_tap sum(r*tap) against float64
// central differences of the reference forward at a few pixels, with max and
// average pooling.
func TestVGG19Gradient(t *testing.T) {
	w, h := 20, 16
	if raceEnabled {
		w, h = 12, 12
	}
	img := loadImage(t, "content/tubingen.jpg", w, h)
	m, err := model.OpenLayersModel(vggDir(t))
	if err != nil {
		t.Fatal(err)
	}
	pixels := []pixel{{0, 0, 0}, {1, 5, 7}, {2, 8, 3}, {0, h - 1, w - 1}, {1, 11, 2}, {2, 3, 10}}
	taps := []string{"relu1_1", "relu2_1", "relu3_1", "conv3_2"}
	layers := map[string]string{"relu1_1": "block1_conv1", "relu2_1": "block2_conv1", "relu3_1": "block3_conv1", "conv3_2": "block3_conv2/preact"}
	for _, avg := range []bool{false, true} {
		t.Run(fmt.Sprintf("avgpool=%v", avg), func(t *testing.T) {
			v, err := LoadVGG19(vggDir(t), VGG19Options{AvgPool: avg})
			if err != nil {
				t.Fatal(err)
			}
			ref := refLoss{top: m.Topology, w: kerasref.Cached(m), layers: layers, opts: kerasref.Options{MaxPoolAsAvg: avg}}
			for _, e := range gradCheck(t, v, img, taps, ref, pixels, 1e-3, 1e-3) {
				t.Error(e)
			}
		})
	}
}

func TestVGG19AvgPool(t *testing.T) {
	v, err := LoadVGG19(vggDir(t), VGG19Options{AvgPool: true})
	if err != nil {
		t.Fatal(err)
	}
	img := loadImage(t, "content/tubingen.jpg", 16, 12)
	outs, err := v.Extract(img, []string{"relu1_2", "pool1"})
	if err != nil {
		t.Fatal(err)
	}
	r, p := outs["relu1_2"], outs["pool1"]
	_, c, h, w := r.Dims()
	if !tensor.ShapeEqual(p.Shape, []int{1, c, h / 2, w / 2}) {
		t.Fatalf("pool1 shape %v", p.Shape)
	}
	worst := 0.0
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h/2; y++ {
			for x := 0; x < w/2; x++ {
				at := func(yy, xx int) float64 { return float64(r.Data[(ch*h+yy)*w+xx]) }
				want := (at(2*y, 2*x) + at(2*y, 2*x+1) + at(2*y+1, 2*x) + at(2*y+1, 2*x+1)) / 4
				worst = math.Max(worst, math.Abs(float64(p.Data[(ch*(h/2)+y)*(w/2)+x])-want))
			}
		}
	}
	if worst > 1e-3 {
		t.Errorf("pool1 differs from the 2x2 average of relu1_2 by %g", worst)
	}
}

func TestVGG19NoAllocations(t *testing.T) {
	if tensor.Backend() != "openblas" {
		t.Skipf("the %s sgemm allocates internally", tensor.Backend())
	}
	v := sharedVGG(t)
	img := loadImage(t, "content/tubingen.jpg", 24, 24)
	taps := []string{"relu1_1", "relu2_1", "relu3_1"}
	grads := map[string]*tensor.Tensor{}
	step := func() {
		outs, err := v.Extract(img, taps)
		if err != nil {
			t.Fatal(err)
		}
		for _, tap := range taps {
			if grads[tap] == nil {
				grads[tap] = outs[tap].Clone()
			}
		}
		v.Backward(grads)
	}
	step()
	if n := testing.AllocsPerRun(3, step); n != 0 {
		t.Errorf("Extract+Backward allocates %v times per iteration", n)
	}
}

func BenchmarkVGG19(b *testing.B) {
	v := sharedVGG(b)
	taps := []string{"relu1_1", "relu2_1", "relu3_1", "relu3_2"}
	for _, size := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("%dx%d", size, size), func(b *testing.B) {
			img := loadImage(b, "content/tubingen.jpg", size, size)
			outs, err := v.Extract(img, taps)
			if err != nil {
				b.Fatal(err)
			}
			grads := map[string]*tensor.Tensor{}
			for _, tap := range taps {
				grads[tap] = outs[tap].Clone()
			}
			v.Backward(grads) // warm up: the first backward makes the gradient buffers
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Extract(img, taps); err != nil {
					b.Fatal(err)
				}
				v.Backward(grads)
			}
		})
	}
}
