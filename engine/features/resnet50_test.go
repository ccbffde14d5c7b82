package features

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"atelier/engine/graph/kerasref"
	"atelier/engine/model"
	"atelier/engine/tensor"
)

var (
	resnetOnce  sync.Once
	resnetModel *model.LayersModel
	resnetErr   error
	rawOnce     sync.Once
	rawResNet   *ResNet50
	swagOnce    sync.Once
	swagResNet  *ResNet50
)

// swagTemperature is the softmax temperature of sharedSWAGResNet.
const swagTemperature = 4

// sharedSWAGResNet is one ResNet50 with the softmax transform shared by the
// tests.
func sharedSWAGResNet(t testing.TB) *ResNet50 {
	t.Helper()
	m := sharedResNet(t)
	swagOnce.Do(func() {
		swagResNet, resnetErr = NewResNet50(m, ResNet50Options{Softmax: true, Temperature: swagTemperature})
	})
	if resnetErr != nil {
		t.Fatal(resnetErr)
	}
	return swagResNet
}

// sharedResNet opens the ResNet-50 model files once (each extractor built
// from it reads its own copy of the weights).
func sharedResNet(t testing.TB) *model.LayersModel {
	t.Helper()
	dir := resnetDir(t)
	resnetOnce.Do(func() { resnetModel, resnetErr = model.OpenLayersModel(dir) })
	if resnetErr != nil {
		t.Fatal(resnetErr)
	}
	return resnetModel
}

// sharedRawResNet is one ResNet50 without options shared by the tests.
func sharedRawResNet(t testing.TB) *ResNet50 {
	t.Helper()
	m := sharedResNet(t)
	rawOnce.Do(func() { rawResNet, resnetErr = NewResNet50(m, ResNet50Options{}) })
	if resnetErr != nil {
		t.Fatal(resnetErr)
	}
	return rawResNet
}

// resnetLayers maps the taps to the Keras layers of the npm model, for the
// reference interpreter (the extractor finds them from the structure).
var resnetLayers = map[string]string{
	"conv1": "activation", "pool1": "max_pooling2d", "stage2": "activation_9", "stage3": "activation_21",
	"stage4": "activation_39", "stage5": "activation_48", "avg_pool": "avg_pool", "logits": "fc1000/preact", "probs": "fc1000",
}

func TestResNet50Classifies(t *testing.T) {
	if raceEnabled {
		t.Skip("a 224x224 ResNet-50 pass is slow under -race; the other tests cover its code")
	}
	r := sharedRawResNet(t)
	img := loadImage(t, "content/golden_gate.jpg", 224, 224)
	preds, err := r.Classify(img, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 1 || len(preds[0]) != 5 {
		t.Fatalf("got %d x %d predictions", len(preds), len(preds[0]))
	}
	var desc []string
	bridge := false
	for _, p := range preds[0] {
		desc = append(desc, fmt.Sprintf("%d %s %.3f", p.Class, p.Name, p.Prob))
		bridge = bridge || slices.Contains(ImageNetBridges, p.Class)
	}
	t.Logf("top 5: %s", strings.Join(desc, "; "))
	if !bridge {
		t.Errorf("no bridge class (%v) in the top 5: %s", ImageNetBridges, strings.Join(desc, "; "))
	}
	sum := 0.0
	for _, v := range r.outs["probs"].Data {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Errorf("probabilities sum to %g", sum)
	}
}

// TestResNet50MatchesReference compares every tap with the float64 reference,
// which evaluates the batch normalisations unfolded, on a real image.
func TestResNet50MatchesReference(t *testing.T) {
	r := sharedRawResNet(t)
	w, h := 64, 48
	if raceEnabled {
		w, h = 32, 32
	}
	img := loadImage(t, "content/golden_gate.jpg", w, h)
	taps := []string{"conv1", "pool1", "stage2", "stage3", "stage4", "stage5", "avg_pool", "logits", "probs"}
	outs, err := r.Extract(img, taps)
	if err != nil {
		t.Fatal(err)
	}
	m := sharedResNet(t)
	var names []string
	for _, tap := range taps {
		names = append(names, resnetLayers[tap])
	}
	ref, err := kerasref.Run(m.Topology, m, caffeReference(img), names)
	if err != nil {
		t.Fatal(err)
	}
	for _, tap := range taps {
		d, err := ref[resnetLayers[tap]].RelDiff(outs[tap])
		if err != nil {
			t.Fatalf("%s: %v", tap, err)
		}
		t.Logf("%s %v: relative difference %.2g", tap, outs[tap].Shape, d)
		if d > 1e-4 {
			t.Errorf("%s: relative difference %.3g from the float64 reference, want <= 1e-4", tap, d)
		}
	}
}

// softmaxTransformRef is the SWAG transform in float64 on an NHWC tensor:
// per image, K times the softmax over all K activations.
func softmaxTransformRef(x *kerasref.Tensor, temp float64) *kerasref.Tensor {
	y := kerasref.New(x.N, x.H, x.W, x.C)
	copy(y.D, softmaxRef64(x.D, x.N, temp))
	return y
}

func TestResNet50Softmax(t *testing.T) {
	const temp = swagTemperature
	r := sharedSWAGResNet(t)
	size := 24
	if raceEnabled {
		size = 12
	}
	img := loadImage(t, "content/golden_gate.jpg", size, size)
	taps := []string{"conv1", "stage2", "stage3"}
	outs, err := r.Extract(img, taps)
	if err != nil {
		t.Fatal(err)
	}
	m := sharedResNet(t)
	var names []string
	for _, tap := range taps {
		names = append(names, resnetLayers[tap])
	}
	ref, err := kerasref.Run(m.Topology, m, caffeReference(img), names)
	if err != nil {
		t.Fatal(err)
	}
	for _, tap := range taps {
		o := outs[tap]
		s := 0.0
		for _, v := range o.Data {
			s += float64(v)
		}
		if k := float64(len(o.Data)); math.Abs(s-k) > 1e-4*k {
			t.Fatalf("%s sums to %g, want %g (the number of activations)", tap, s, k)
		}
		d, err := softmaxTransformRef(ref[resnetLayers[tap]], temp).RelDiff(o)
		if err != nil {
			t.Fatal(err)
		}
		if d > 1e-4 {
			t.Errorf("%s: relative difference %.3g from softmax of the reference", tap, d)
		}
	}
	// The gradient through the transform, against float64 central
	// differences of the reference forward followed by the transform.
	ref2 := refLoss{top: m.Topology, w: kerasref.Cached(m), layers: resnetLayers,
		transform: func(x *kerasref.Tensor) *kerasref.Tensor { return softmaxTransformRef(x, temp) }}
	pixels := []pixel{{0, 0, 0}, {1, 9, 11}, {2, 11, 5}, {0, size - 1, size - 1}}
	for _, e := range gradCheck(t, r, img, []string{"stage2", "stage3"}, ref2, pixels, 1e-3, 2e-3) {
		t.Error(e)
	}
}

// TestResNet50Gradient checks the input gradient on a landscape image,
// at the corners and along the right and bottom edges, which the network
// treats unlike the left and top: its 1x1 stride-2 convolutions read every
// other position from the first, and so skip the last row and column of
// an even-sized map.
func TestResNet50Gradient(t *testing.T) {
	r := sharedRawResNet(t)
	w, h := 24, 16
	if raceEnabled {
		w, h = 12, 8
	}
	img := loadImage(t, "content/golden_gate.jpg", w, h)
	m := sharedResNet(t)
	ref := refLoss{top: m.Topology, w: kerasref.Cached(m), layers: resnetLayers}
	pixels := []pixel{{0, 0, 0}, {0, h - 1, w - 1}, {1, h / 2, w - 1}, {2, h - 1, w / 2}, {1, 5, 7}, {2, 3, w - 2}}
	for _, e := range gradCheck(t, r, img, []string{"conv1", "stage3", "logits"}, ref, pixels, 1e-3, 1e-3) {
		t.Error(e)
	}
}

func TestResNet50Taps(t *testing.T) {
	r := sharedRawResNet(t)
	want := "conv1,pool1,stage2,stage3,stage4,stage5,avg_pool,logits,probs"
	if got := strings.Join(r.Taps(), ","); got != want {
		t.Errorf("Taps() = %s, want %s", got, want)
	}
	img := loadImage(t, "content/golden_gate.jpg", 64, 64)
	outs, err := r.Extract(img, ResNet50Taps)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{"conv1": {1, 64, 32, 32}, "pool1": {1, 64, 16, 16}, "stage2": {1, 256, 16, 16},
		"stage3": {1, 512, 8, 8}, "stage4": {1, 1024, 4, 4}, "stage5": {1, 2048, 2, 2}}
	for tap, s := range shapes {
		if !tensor.ShapeEqual(outs[tap].Shape, s) {
			t.Errorf("%s has shape %v, want %v", tap, outs[tap].Shape, s)
		}
	}
}

func TestResNet50NoAllocations(t *testing.T) {
	if tensor.Backend() != "openblas" {
		t.Skipf("the %s sgemm allocates internally", tensor.Backend())
	}
	r := sharedSWAGResNet(t)
	img := loadImage(t, "content/golden_gate.jpg", 32, 32)
	taps := r.DefaultStyleTaps()
	grads := map[string]*tensor.Tensor{}
	step := func() {
		outs, err := r.Extract(img, taps)
		if err != nil {
			t.Fatal(err)
		}
		for _, tap := range taps {
			if grads[tap] == nil {
				grads[tap] = outs[tap].Clone()
			}
		}
		r.Backward(grads)
	}
	step()
	if n := testing.AllocsPerRun(3, step); n != 0 {
		t.Errorf("Extract+Backward allocates %v times per iteration", n)
	}
}

func BenchmarkResNet50(b *testing.B) {
	r := sharedSWAGResNet(b)
	taps := r.DefaultStyleTaps()
	for _, size := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("%dx%d", size, size), func(b *testing.B) {
			img := loadImage(b, "content/golden_gate.jpg", size, size)
			outs, err := r.Extract(img, taps)
			if err != nil {
				b.Fatal(err)
			}
			grads := map[string]*tensor.Tensor{}
			for _, tap := range taps {
				grads[tap] = outs[tap].Clone()
			}
			r.Backward(grads) // warm up: the first backward makes the gradient buffers
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Extract(img, taps); err != nil {
					b.Fatal(err)
				}
				r.Backward(grads)
			}
		})
	}
}
