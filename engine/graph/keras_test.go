package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"atelier/engine/graph/kerasref"
	"atelier/engine/model"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// kl describes one Keras layer of a test topology.
type kl struct {
	name, class string
	config      map[string]any
	inbound     []string
}

// topology builds a Keras functional topology from layers; the first layer
// is the input.
func topology(t testing.TB, layers ...kl) *model.Topology {
	t.Helper()
	var js []map[string]any
	for _, l := range layers {
		cfg := map[string]any{"name": l.name}
		for k, v := range l.config {
			cfg[k] = v
		}
		var in []any
		for _, n := range l.inbound {
			in = append(in, []any{n, 0, 0, map[string]any{}})
		}
		nodes := []any{}
		if len(in) > 0 {
			nodes = append(nodes, in)
		}
		js = append(js, map[string]any{"name": l.name, "class_name": l.class, "config": cfg, "inbound_nodes": nodes})
	}
	last := layers[len(layers)-1].name
	doc := map[string]any{"modelTopology": map[string]any{"model_config": map[string]any{
		"class_name": "Model",
		"config": map[string]any{"name": "test", "layers": js,
			"input_layers": []any{[]any{layers[0].name, 0, 0}}, "output_layers": []any{[]any{last, 0, 0}}},
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.ParseLayersModel(b)
	if err != nil {
		t.Fatal(err)
	}
	return m.Topology
}

// memWeights is an in-memory WeightSource; names in missing report
// model.ErrUnavailable like a missing shard.
type memWeights struct {
	w       map[string]*tensor.Tensor
	missing map[string]bool
	rng     *rand.Rand
}

func newMemWeights(seed int64) *memWeights {
	return &memWeights{w: map[string]*tensor.Tensor{}, missing: map[string]bool{}, rng: rand.New(rand.NewSource(seed))}
}

func (m *memWeights) Weight(name string) (*tensor.Tensor, error) {
	if m.missing[name] {
		return nil, fmt.Errorf("model: weight %q: group9-shard1of2: file is missing: %w", name, model.ErrUnavailable)
	}
	w, ok := m.w[name]
	if !ok {
		return nil, fmt.Errorf("model: weight %q: %w", name, model.ErrNoWeight)
	}
	return w.Clone(), nil // builders may modify what they read (folding)
}

// add registers a random weight; lo..hi is the value range.
func (m *memWeights) add(name string, lo, hi float64, shape ...int) {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*m.rng.Float64())
	}
	m.w[name] = t
}

func (m *memWeights) conv(name string, kh, kw, in, out int) {
	m.add(name+"/kernel", -0.5, 0.5, kh, kw, in, out)
	m.add(name+"/bias", -0.2, 0.2, out)
}

func (m *memWeights) bn(name string, c int) {
	m.add(name+"/gamma", 0.5, 1.5, c)
	m.add(name+"/beta", -0.3, 0.3, c)
	m.add(name+"/moving_mean", -0.3, 0.3, c)
	m.add(name+"/moving_variance", 0.5, 1.5, c)
}

func conv2d(filters, k, stride int, padding, act string) map[string]any {
	return map[string]any{"filters": filters, "kernel_size": []int{k, k}, "strides": []int{stride, stride},
		"padding": padding, "activation": act, "use_bias": true, "dilation_rate": []int{1, 1}, "data_format": "channels_last"}
}

func bnConfig() map[string]any {
	return map[string]any{"axis": []int{3}, "epsilon": 0.001, "center": true, "scale": true}
}

var inputLayer = kl{"in", "InputLayer", map[string]any{"batch_input_shape": []any{nil, nil, nil, 3}}, nil}

// vggLike: convolutions with fused ReLU, max pooling, a foldable batch norm,
// a ZeroPadding2D folded into a strided convolution, global average pooling
// and a softmax classifier.
func vggLike(t testing.TB) (*model.Topology, *memWeights) {
	top := topology(t, inputLayer,
		kl{"conv_a", "Conv2D", conv2d(4, 3, 1, "same", "relu"), []string{"in"}},
		kl{"pool", "MaxPooling2D", map[string]any{"pool_size": []int{2, 2}, "strides": []int{2, 2}, "padding": "valid"}, []string{"conv_a"}},
		kl{"conv_b", "Conv2D", conv2d(5, 3, 1, "valid", "linear"), []string{"pool"}},
		kl{"bn_b", "BatchNormalization", bnConfig(), []string{"conv_b"}},
		kl{"act_b", "Activation", map[string]any{"activation": "relu"}, []string{"bn_b"}},
		kl{"pad", "ZeroPadding2D", map[string]any{"padding": [][]int{{1, 2}, {0, 1}}}, []string{"act_b"}},
		kl{"conv_c", "Conv2D", conv2d(6, 3, 2, "valid", "tanh"), []string{"pad"}},
		kl{"gap", "GlobalAveragePooling2D", nil, []string{"conv_c"}},
		kl{"fc", "Dense", map[string]any{"units": 4, "activation": "softmax", "use_bias": true}, []string{"gap"}},
	)
	w := newMemWeights(1)
	w.conv("conv_a", 3, 3, 3, 4)
	w.conv("conv_b", 3, 3, 4, 5)
	w.bn("bn_b", 5)
	w.conv("conv_c", 3, 3, 5, 6)
	w.add("fc/kernel", -1, 1, 6, 4)
	w.add("fc/bias", -0.2, 0.2, 4)
	return top, w
}

// resLike: a residual block with batch norms folded into its convolutions
// and one after an Add (not foldable), Concatenate, "same" average pooling,
// LeakyReLU, the ReLU layer class, Dropout, Flatten and Dense.
func resLike(t testing.TB) (*model.Topology, *memWeights) {
	top := topology(t, inputLayer,
		kl{"conv1", "Conv2D", conv2d(4, 3, 1, "same", "linear"), []string{"in"}},
		kl{"bn1", "BatchNormalization", bnConfig(), []string{"conv1"}},
		kl{"act1", "Activation", map[string]any{"activation": "relu"}, []string{"bn1"}},
		kl{"b2a", "Conv2D", conv2d(3, 1, 1, "valid", "linear"), []string{"act1"}},
		kl{"bn2a", "BatchNormalization", bnConfig(), []string{"b2a"}},
		kl{"act2a", "ReLU", map[string]any{}, []string{"bn2a"}},
		kl{"b2b", "Conv2D", conv2d(4, 3, 1, "same", "linear"), []string{"act2a"}},
		kl{"add", "Add", nil, []string{"b2b", "act1"}},
		kl{"bn_add", "BatchNormalization", bnConfig(), []string{"add"}},
		kl{"lrelu", "LeakyReLU", map[string]any{"alpha": 0.2}, []string{"bn_add"}},
		kl{"cat", "Concatenate", map[string]any{"axis": -1}, []string{"lrelu", "act1", "bn2a"}},
		kl{"avg", "AveragePooling2D", map[string]any{"pool_size": []int{3, 3}, "strides": []int{2, 2}, "padding": "same"}, []string{"cat"}},
		kl{"drop", "Dropout", map[string]any{"rate": 0.5}, []string{"avg"}},
		kl{"flat", "Flatten", nil, []string{"drop"}},
		kl{"fc", "Dense", map[string]any{"units": 3, "activation": "linear", "use_bias": true}, []string{"flat"}},
	)
	w := newMemWeights(2)
	w.conv("conv1", 3, 3, 3, 4)
	w.bn("bn1", 4)
	w.conv("b2a", 1, 1, 4, 3)
	w.bn("bn2a", 3)
	w.conv("b2b", 3, 3, 3, 4)
	w.bn("bn_add", 4)
	// cat has 4+4+3 channels; the 7x7 input pools to 4x4.
	w.add("fc/kernel", -0.3, 0.3, 4*4*11, 3)
	w.add("fc/bias", -0.2, 0.2, 3)
	return top, w
}

// upscalerLike: the layer classes of the UpscalerJS RDN models: dense
// connections (Concatenate), a 1x1 fusion convolution, a global residual
// Add, nearest UpSampling2D and a Sequential-free functional layout.
func upscalerLike(t testing.TB) (*model.Topology, *memWeights) {
	top := topology(t, inputLayer,
		kl{"f1", "Conv2D", conv2d(4, 3, 1, "same", "linear"), []string{"in"}},
		kl{"c1", "Conv2D", conv2d(3, 3, 1, "same", "linear"), []string{"f1"}},
		kl{"c1_relu", "Activation", map[string]any{"activation": "relu"}, []string{"c1"}},
		kl{"cat1", "Concatenate", map[string]any{"axis": 3}, []string{"f1", "c1_relu"}},
		kl{"c2", "Conv2D", conv2d(3, 3, 1, "same", "relu"), []string{"cat1"}},
		kl{"cat2", "Concatenate", map[string]any{"axis": 3}, []string{"f1", "c1_relu", "c2"}},
		kl{"lff", "Conv2D", conv2d(4, 1, 1, "valid", "linear"), []string{"cat2"}},
		kl{"res", "Add", nil, []string{"lff", "f1"}},
		kl{"up", "UpSampling2D", map[string]any{"size": []int{3, 3}, "interpolation": "nearest"}, []string{"res"}},
		kl{"out", "Conv2D", conv2d(3, 3, 1, "same", "linear"), []string{"up"}},
	)
	w := newMemWeights(3)
	w.conv("f1", 3, 3, 3, 4)
	w.conv("c1", 3, 3, 4, 3)
	w.conv("c2", 3, 3, 7, 3)
	w.conv("lff", 1, 1, 10, 4)
	w.conv("out", 3, 3, 4, 3)
	return top, w
}

// imageTensor returns a reproducible input in [-1, 1).
func imageTensor(seed int64, shape ...int) *tensor.Tensor { return randTensor(seed, shape...) }

func TestFromKerasMatchesReference(t *testing.T) {
	cases := []struct {
		name  string
		build func(testing.TB) (*model.Topology, *memWeights)
		shape []int
		taps  []string
	}{
		{"vgg-like", vggLike, []int{2, 3, 11, 10},
			[]string{"conv_a", "conv_a/preact", "pool", "bn_b", "act_b", "pad", "conv_c/preact", "conv_c", "gap", "fc/preact", "fc"}},
		{"residual", resLike, []int{1, 3, 7, 7},
			[]string{"bn1", "act1", "bn2a", "act2a", "b2b", "add", "bn_add", "lrelu", "cat", "avg", "drop", "flat", "fc"}},
		{"upscaler-like", upscalerLike, []int{1, 3, 5, 6}, []string{"cat1", "cat2", "res", "up", "out"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top, w := tc.build(t)
			g, err := FromKeras(top, w, KerasOptions{})
			if err != nil {
				t.Fatal(err)
			}
			x := imageTensor(3, tc.shape...)
			outs, err := g.Forward(x, tc.taps)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := kerasref.Run(top, w, kerasref.FromNCHW(x), tc.taps)
			if err != nil {
				t.Fatal(err)
			}
			for i, tap := range tc.taps {
				want, ok := ref[tap]
				if !ok {
					t.Fatalf("reference has no %q", tap)
				}
				d, err := want.RelDiff(outs[i])
				if err != nil {
					t.Errorf("%s: %v", tap, err)
					continue
				}
				if d > 1e-5 {
					t.Errorf("%s: relative difference %.3g from the float64 reference", tap, d)
				}
			}
		})
	}
}

func TestFromKerasFolds(t *testing.T) {
	top, w := resLike(t)
	g, err := FromKeras(top, w, KerasOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bn := range []string{"bn1", "bn2a"} {
		if _, ok := g.Layer(bn).(*nn.Conv2D); !ok {
			t.Errorf("%s was not folded into its convolution: %T", bn, g.Layer(bn))
		}
	}
	if _, ok := g.Layer("bn_add").(*channelAffine); !ok {
		t.Errorf("bn_add after an Add should stay a standalone batch norm, got %T", g.Layer("bn_add"))
	}
	err = g.Check("conv1")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "folded") {
		t.Errorf("the folded convolution's own output: %v", err)
	}

	vtop, vw := vggLike(t)
	vg, err := FromKeras(vtop, vw, KerasOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := vg.Layer("conv_c/preact").(*nn.Conv2D)
	if !ok {
		t.Fatalf("conv_c/preact is %T", vg.Layer("conv_c/preact"))
	}
	if o := c.Opts(); o.Pad != nn.PadExplicit || o.PadTop != 1 || o.PadBottom != 2 || o.PadLeft != 0 || o.PadRight != 1 {
		t.Errorf("ZeroPadding2D not folded into conv_c: %+v", o)
	}
}

// TestFromKerasGradient checks dL/dx of L = sum_tap sum(r*tap) against
// central differences of the same loss computed in float64 by the reference
// interpreter (so float32 rounding in the forward pass, e.g. from Winograd
// convolutions, does not blur the numeric side).
func TestFromKerasGradient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(testing.TB) (*model.Topology, *memWeights)
		shape []int
		taps  []string
	}{
		{"vgg-like", vggLike, []int{1, 3, 8, 9}, []string{"fc", "act_b"}},
		{"residual", resLike, []int{1, 3, 7, 7}, []string{"fc", "add", "bn2a"}},
		{"upscaler-like", upscalerLike, []int{1, 3, 5, 6}, []string{"out", "cat2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, w := tc.build(t)
			g, err := FromKeras(top, w, KerasOptions{})
			if err != nil {
				t.Fatal(err)
			}
			x := imageTensor(5, tc.shape...)
			outs, err := g.Forward(x, tc.taps)
			if err != nil {
				t.Fatal(err)
			}
			seeds := map[string]*tensor.Tensor{}
			for i, tap := range tc.taps {
				seeds[tap] = randTensor(int64(20+i), outs[i].Shape...)
			}
			dx, err := g.Backward(seeds)
			if err != nil {
				t.Fatal(err)
			}
			loss := func(in *kerasref.Tensor) float64 {
				ref, err := kerasref.Run(top, w, in, tc.taps)
				if err != nil {
					t.Fatal(err)
				}
				s := 0.0
				for tap, r := range seeds {
					o := ref[tap]
					for i := range r.Data {
						// r is NCHW (or [N, F]); walk o in the same order.
						var n, c, y, xx int
						if len(r.Shape) == 4 {
							_, cc, hh, ww := r.Dims()
							n, c, y, xx = i/(cc*hh*ww), i/(hh*ww)%cc, i/ww%hh, i%ww
						} else {
							n, c = i/r.Shape[1], i%r.Shape[1]
						}
						s += float64(r.Data[i]) * o.NCHWValue(n, c, y, xx)
					}
				}
				return s
			}
			in := kerasref.FromNCHW(x)
			scale := 0.0
			for _, v := range dx.Data {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			_, c, h, wd := x.Dims()
			const step = 1e-6
			for i, a := range dx.Data {
				// NCHW index i is NHWC element (y, x, ch) of the reference.
				ch, y, xx := i/(h*wd)%c, i/wd%h, i%wd
				k := (y*wd+xx)*c + ch
				orig := in.D[k]
				in.D[k] = orig + step
				lp := loss(in)
				in.D[k] = orig - step
				lm := loss(in)
				in.D[k] = orig
				num := (lp - lm) / (2 * step)
				if math.Abs(float64(a)-num) > 1e-3*math.Max(math.Max(math.Abs(float64(a)), math.Abs(num)), 0.05*scale) {
					t.Errorf("dL/dx[%d]: analytic %.6g, numeric %.6g", i, a, num)
				}
			}
		})
	}
}

func TestFromKerasMissingWeights(t *testing.T) {
	top, w := vggLike(t)
	w.missing["conv_c/kernel"] = true
	g, err := FromKeras(top, w, KerasOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := imageTensor(3, 1, 3, 10, 10)
	if _, err := g.Forward(x, []string{"act_b", "pad"}); err != nil {
		t.Errorf("taps before the missing weights: %v", err)
	}
	for _, tap := range []string{"conv_c", "conv_c/preact", "fc"} {
		_, err := g.Forward(x, []string{tap})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, model.ErrUnavailable) || !strings.Contains(err.Error(), "group9-shard1of2") {
			t.Errorf("tap %s: got %v, want an unavailable error naming the shard", tap, err)
		}
	}
}

func TestFromKerasErrors(t *testing.T) {
	lambda := kl{"lam", "Lambda", map[string]any{"function": "x*2"}, []string{"conv_a"}}
	convA := kl{"conv_a", "Conv2D", conv2d(4, 3, 1, "same", "relu"), []string{"in"}}
	weights := func() *memWeights {
		w := newMemWeights(1)
		w.conv("conv_a", 3, 3, 3, 4)
		return w
	}
	t.Run("unsupported class", func(t *testing.T) {
		_, err := FromKeras(topology(t, inputLayer, convA, lambda), weights(), KerasOptions{})
		if !errors.Is(err, ErrUnsupportedLayer) || !strings.Contains(err.Error(), `unsupported layer "lam" (class Lambda)`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("outputs leave it out", func(t *testing.T) {
		g, err := FromKeras(topology(t, inputLayer, convA, lambda), weights(), KerasOptions{Outputs: []string{"conv_a"}})
		if err != nil {
			t.Fatal(err)
		}
		if g.Has("lam") {
			t.Error("a layer after the outputs was built")
		}
	})
	t.Run("custom class", func(t *testing.T) {
		custom := map[string]LayerFactory{"Lambda": func(l *model.Layer, _ WeightSource) (nn.Layer, error) { return nn.NewTanh(), nil }}
		g, err := FromKeras(topology(t, inputLayer, convA, lambda), weights(), KerasOptions{Custom: custom})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := g.Layer("lam").(*nn.Tanh); !ok {
			t.Errorf("custom factory not used: %T", g.Layer("lam"))
		}
	})
	t.Run("kernel of the wrong shape", func(t *testing.T) {
		w := weights()
		w.add("conv_a/kernel", 0, 1, 3, 3, 3, 5)
		_, err := FromKeras(topology(t, inputLayer, convA), w, KerasOptions{})
		if err == nil || !strings.Contains(err.Error(), "conv_a") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("weight not listed", func(t *testing.T) {
		_, err := FromKeras(topology(t, inputLayer, convA), newMemWeights(1), KerasOptions{})
		if !errors.Is(err, model.ErrNoWeight) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("non-square pooling", func(t *testing.T) {
		p := kl{"p", "MaxPooling2D", map[string]any{"pool_size": []int{2, 3}, "padding": "valid"}, []string{"conv_a"}}
		_, err := FromKeras(topology(t, inputLayer, convA, p), weights(), KerasOptions{})
		if !errors.Is(err, ErrUnsupportedLayer) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("unknown output", func(t *testing.T) {
		_, err := FromKeras(topology(t, inputLayer, convA), weights(), KerasOptions{Outputs: []string{"nope"}})
		if err == nil {
			t.Error("unknown output accepted")
		}
	})
}

// TestFromKerasSequential builds a Sequential model without an InputLayer:
// its first layer reads the graph input.
func TestFromKerasSequential(t *testing.T) {
	doc := `{"modelTopology": {"model_config": {"class_name": "Sequential", "config": {"name": "seq", "layers": [
		{"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
			"activation": "relu", "use_bias": true, "batch_input_shape": [null, null, null, 3]}},
		{"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "padding": "valid"}}]}}}}`
	m, err := model.ParseLayersModel([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	w := newMemWeights(4)
	w.conv("c", 3, 3, 3, 2)
	g, err := FromKeras(m.Topology, w, KerasOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := imageTensor(1, 1, 3, 6, 6)
	outs, err := g.Forward(x, []string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.ShapeEqual(outs[0].Shape, []int{1, 2, 3, 3}) {
		t.Errorf("output shape %v", outs[0].Shape)
	}
}

func TestFromKerasNoAllocations(t *testing.T) {
	top, w := resLike(t)
	g, err := FromKeras(top, w, KerasOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g.SetWeightGrad(false)
	x := imageTensor(3, 1, 3, 7, 7)
	taps := []string{"fc", "add"}
	seeds := map[string]*tensor.Tensor{"fc": randTensor(1, 1, 3), "add": randTensor(2, 1, 4, 7, 7)}
	step := func() {
		if _, err := g.Forward(x, taps); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Backward(seeds); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Errorf("a Keras graph allocates %v times per iteration", n)
	}
}
