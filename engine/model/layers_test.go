package model

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestVGG19PartialFromShared(t *testing.T) {
	dir := filepath.Join(sharedModels(t), "vgg19-tfjs")
	m, err := OpenLayersModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	top := m.Topology
	if top.ClassName != "Model" || len(top.Layers) != 26 {
		t.Fatalf("topology %s with %d layers, want Model with 26", top.ClassName, len(top.Layers))
	}
	c := top.Layer("block2_conv1")
	if c == nil || c.ClassName != "Conv2D" || c.Filters != 128 || c.Padding != "same" || c.Activation != "relu" ||
		len(c.KernelSize) != 2 || c.KernelSize[0] != 3 || !c.UseBias {
		t.Fatalf("block2_conv1 = %+v", c)
	}
	if got := c.InboundNames(); len(got) != 1 || got[0] != "block1_pool" {
		t.Fatalf("block2_conv1 inbound %v, want [block1_pool]", got)
	}
	if in := top.Layer("input_1"); in == nil || len(in.BatchInputShape) != 4 || in.BatchInputShape[0] != -1 || in.BatchInputShape[3] != 3 {
		t.Fatalf("input_1 = %+v", in)
	}
	if len(top.InputLayers) != 1 || top.InputLayers[0].Layer != "input_1" || top.OutputLayers[0].Layer != "predictions" {
		t.Fatalf("inputs %v outputs %v", top.InputLayers, top.OutputLayers)
	}

	// Groups 1-8 load, with the file's values.
	for _, name := range []string{"block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4"} {
		k, err := m.Weight(name + "/kernel")
		if err != nil {
			t.Fatalf("%s/kernel: %v", name, err)
		}
		b, err := m.Weight(name + "/bias")
		if err != nil {
			t.Fatalf("%s/bias: %v", name, err)
		}
		if len(k.Shape) != 4 || k.Shape[0] != 3 || k.Shape[3] != b.Shape[0] || len(k.Data) != 9*k.Shape[2]*k.Shape[3] {
			t.Fatalf("%s: kernel %v bias %v", name, k.Shape, b.Shape)
		}
	}
	k, _ := m.Weight("block1_conv1/kernel")
	b, _ := m.Weight("block1_conv1/bias")
	// Reference values read with Python's struct module from group1-shard1of1.
	if !near(k.Data[0], 0.3411952257156372) || !near(k.Data[3], 0.28980752825737) || !near(b.Data[0], 0.7301775813102722) || !near(b.Data[63], 0.40721219778060913) {
		t.Fatalf("block1_conv1 values k[0]=%v k[3]=%v b[0]=%v b[63]=%v", k.Data[0], k.Data[3], b.Data[0], b.Data[63])
	}

	// Group 9 onwards is absent: the error names the first missing shard.
	_, err = m.Weight("block4_conv1/kernel")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("block4_conv1/kernel: %v, want ErrUnavailable", err)
	}
	wantErr(t, err, "group9-shard1of2", "missing")
	un := m.Weights.Unavailable()
	if len(un) != 11 || un[0].File != "group9-shard1of2" || un[0].Group != 8 || len(un[0].Names) != 2 {
		t.Fatalf("unavailable = %v", un)
	}
	if !m.Weights.Available("block3_conv4/bias") || m.Weights.Available("fc1/kernel") {
		t.Fatal("Available disagrees with the files on disk")
	}
	if _, err := m.Weight("block9_conv1/kernel"); !errors.Is(err, ErrNoWeight) {
		t.Fatalf("unknown weight: %v, want ErrNoWeight", err)
	}
}

// TestResNet50FromNpm loads the npm tarball's ResNet50 when `make models`
// (or ATELIER_MODELS) put it in the cache.
func TestResNet50FromCache(t *testing.T) {
	cache, err := CacheDir()
	if err != nil {
		t.Skip(err)
	}
	dir := filepath.Join(cache, "resnet50-imagenet")
	if _, err := os.Stat(filepath.Join(dir, "group1-shard25of25.bin")); err != nil {
		t.Skip("resnet50-imagenet not in the models cache (run make models)")
	}
	m, err := OpenLayersModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u := m.Weights.Unavailable(); len(u) != 0 {
		t.Fatalf("unavailable: %v", u)
	}
	if n := len(m.Topology.Layers); n != 177 {
		t.Fatalf("%d layers, want 177", n)
	}
	add := m.Topology.Layer("add_1")
	if add == nil {
		for _, l := range m.Topology.Layers {
			if l.ClassName == "Add" {
				add = l
				break
			}
		}
	}
	if add == nil || len(add.InboundNames()) != 2 {
		t.Fatalf("no residual Add with two inputs: %+v", add)
	}
	pad := m.Topology.Layer("conv1_pad")
	tp, bt, l, r, err := pad.ZeroPadding()
	if err != nil || tp != 3 || bt != 3 || l != 3 || r != 3 {
		t.Fatalf("conv1_pad padding %d %d %d %d, %v", tp, bt, l, r, err)
	}
	k, err := m.Weight("conv1/kernel")
	if err != nil || len(k.Shape) != 4 || k.Shape[0] != 7 || k.Shape[2] != 3 || k.Shape[3] != 64 {
		t.Fatalf("conv1/kernel %v, %v", k, err)
	}
	// The last weight spans the last shards: read it whole.
	names := m.Weights.Names()
	if _, err := m.Weight(names[len(names)-1]); err != nil {
		t.Fatal(err)
	}
}

// A synthetic layers model exercising quantisation, multi-shard groups,
// nested models and truncated or missing shards.
func writeSynthetic(t *testing.T, dir string) {
	t.Helper()
	// Group 1: float32 weight "a" [2,3] and int32 "n" [2] over 3 shards
	// (split at odd byte offsets).
	a := f32bytes(1, -2, 3.5, 4, 5, 6)
	n := make([]byte, 8)
	binary.LittleEndian.PutUint32(n, uint32(0xFFFFFFFF)) // -1
	binary.LittleEndian.PutUint32(n[4:], 7)
	g1 := append(append([]byte{}, a...), n...)
	writeFile(t, filepath.Join(dir, "g1-s1"), g1[:5])
	writeFile(t, filepath.Join(dir, "g1-s2"), g1[5:23])
	writeFile(t, filepath.Join(dir, "g1-s3"), g1[23:])
	// Group 2: uint8 [4] scale 0.5 min -1 -> -1, -0.5, 126.5, 0; uint16 [2] scale 0.25 min 10.
	g2 := []byte{0, 1, 255, 2}
	u16 := make([]byte, 4)
	binary.LittleEndian.PutUint16(u16, 0)
	binary.LittleEndian.PutUint16(u16[2:], 65535)
	g2 = append(g2, u16...)
	writeFile(t, filepath.Join(dir, "g2"), g2)
	// Group 3: float16 [6]: 1, -2, 65504, smallest subnormal, +Inf, -0.
	halves := []uint16{0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000}
	g3 := make([]byte, 2*len(halves))
	for i, h := range halves {
		binary.LittleEndian.PutUint16(g3[2*i:], h)
	}
	writeFile(t, filepath.Join(dir, "g3"), g3)
	// Group 4: truncated (needs 16 bytes, has 12). Group 5: second shard missing.
	writeFile(t, filepath.Join(dir, "g4"), f32bytes(1, 2, 3))
	writeFile(t, filepath.Join(dir, "g5-s1"), f32bytes(1))

	top := map[string]any{
		"keras_version": "2.10.0",
		"backend":       "tensorflow",
		"model_config": map[string]any{
			"class_name": "Functional",
			"config": map[string]any{
				"name": "synthetic",
				"layers": []any{
					map[string]any{"class_name": "InputLayer", "name": "in", "config": map[string]any{"name": "in", "batch_input_shape": []any{nil, nil, nil, 3}}, "inbound_nodes": []any{}},
					map[string]any{"class_name": "Sequential", "name": "stack", "config": map[string]any{"name": "stack", "layers": []any{
						map[string]any{"class_name": "Conv2D", "config": map[string]any{"name": "c1", "filters": 4, "kernel_size": 3, "strides": []int{1, 1}, "padding": "same", "activation": "relu", "use_bias": true}},
						map[string]any{"class_name": "MultiplyBeta", "config": map[string]any{"name": "beta", "beta": 0.2}},
						// A custom layer reusing a common field name with another type.
						map[string]any{"class_name": "PixelShuffle2x", "config": map[string]any{"name": "ps", "scale": 2}},
					}}, "inbound_nodes": []any{[]any{[]any{"in", 0, 0, map[string]any{}}}}},
					map[string]any{"class_name": "Add", "name": "sum", "config": map[string]any{"name": "sum"},
						"inbound_nodes": []any{map[string]any{"args": []any{[]any{
							map[string]any{"class_name": "__keras_tensor__", "config": map[string]any{"keras_history": []any{"stack", 0, 0}}},
							map[string]any{"class_name": "__keras_tensor__", "config": map[string]any{"keras_history": []any{"in", 0, 0}}},
						}}, "kwargs": map[string]any{}}}},
				},
				"input_layers":  []any{[]any{"in", 0, 0}},
				"output_layers": []any{"sum", 0, 0},
			},
		},
	}
	wm := []any{
		map[string]any{"paths": []string{"g1-s1", "g1-s2", "g1-s3"}, "weights": []any{
			map[string]any{"name": "a", "shape": []int{2, 3}, "dtype": "float32"},
			map[string]any{"name": "n", "shape": []int{2}, "dtype": "int32"},
		}},
		map[string]any{"paths": []string{"g2"}, "weights": []any{
			map[string]any{"name": "q8", "shape": []int{4}, "dtype": "float32", "quantization": map[string]any{"dtype": "uint8", "scale": 0.5, "min": -1}},
			map[string]any{"name": "q16", "shape": []int{2}, "dtype": "float32", "quantization": map[string]any{"dtype": "uint16", "scale": 0.25, "min": 10}},
		}},
		map[string]any{"paths": []string{"g3"}, "weights": []any{
			map[string]any{"name": "h", "shape": []int{6}, "dtype": "float32", "quantization": map[string]any{"dtype": "float16"}},
		}},
		map[string]any{"paths": []string{"g4"}, "weights": []any{
			map[string]any{"name": "short", "shape": []int{2, 2}, "dtype": "float32"},
		}},
		map[string]any{"paths": []string{"g5-s1", "g5-s2"}, "weights": []any{
			map[string]any{"name": "gone", "shape": []int{2}, "dtype": "float32"},
		}},
	}
	writeFile(t, filepath.Join(dir, "model.json"), mustJSON(t, map[string]any{
		"format": "layers-model", "generatedBy": "test", "convertedBy": nil,
		"modelTopology": top, "weightsManifest": wm,
	}))
}

func TestLayersModelSynthetic(t *testing.T) {
	dir := t.TempDir()
	writeSynthetic(t, dir)
	m, err := OpenLayersModel(filepath.Join(dir, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name  string
		shape []int
		want  []float32
	}{
		{"a", []int{2, 3}, []float32{1, -2, 3.5, 4, 5, 6}},
		{"n", []int{2}, []float32{-1, 7}},
		{"q8", []int{4}, []float32{-1, -0.5, 126.5, 0}},
		{"q16", []int{2}, []float32{10, 10 + 65535*0.25}},
		{"h", []int{6}, []float32{1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(1)), 0}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			got, err := m.Weight(c.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Shape) != len(c.shape) || len(got.Data) != len(c.want) {
				t.Fatalf("shape %v data %d, want %v", got.Shape, len(got.Data), c.shape)
			}
			for i := range c.want {
				if got.Data[i] != c.want[i] {
					t.Fatalf("value %d = %v, want %v (all %v)", i, got.Data[i], c.want[i], got.Data)
				}
			}
		})
	}
	h, _ := m.Weight("h")
	if !math.Signbit(float64(h.Data[5])) {
		t.Fatal("float16 -0 lost its sign")
	}
	ints, err := m.Weights.Int32s("n")
	if err != nil || ints[0] != -1 || ints[1] != 7 {
		t.Fatalf("Int32s = %v, %v", ints, err)
	}
	if _, err := m.Weights.Int32s("a"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Int32s of a float32 weight: %v", err)
	}

	_, err = m.Weight("short")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("short: %v", err)
	}
	wantErr(t, err, "g4", "short", "12 bytes", "16")
	_, err = m.Weight("gone")
	wantErr(t, err, "g5-s2", "missing")

	// Topology: nested Sequential, custom class, Keras 3 inbound nodes, flat output_layers.
	top := m.Topology
	if top.ClassName != "Functional" || len(top.Layers) != 3 || top.OutputLayers[0].Layer != "sum" {
		t.Fatalf("topology %+v", top)
	}
	stack := top.Layer("stack")
	if stack.Sub == nil || len(stack.Sub.Layers) != 3 || stack.InboundNames()[0] != "in" {
		t.Fatalf("nested model %+v", stack)
	}
	c1 := stack.Sub.Layer("c1")
	if c1.Filters != 4 || len(c1.KernelSize) != 1 || c1.KernelSize[0] != 3 || c1.Activation != "relu" {
		t.Fatalf("c1 = %+v", c1)
	}
	beta := stack.Sub.Layer("beta")
	if got := beta.InboundNames(); len(got) != 1 || got[0] != "c1" {
		t.Fatalf("sequential inbound of beta = %v, want [c1]", got)
	}
	var bc struct{ Beta float64 }
	if err := beta.DecodeConfig(&bc); err != nil || bc.Beta != 0.2 {
		t.Fatalf("custom config %+v, %v", bc, err)
	}
	if got := top.Layer("sum").InboundNames(); len(got) != 2 || got[0] != "stack" || got[1] != "in" {
		t.Fatalf("keras 3 inbound = %v", got)
	}
}

func TestLayersModelBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := func(wm string) string {
		return `{"modelTopology":{"model_config":{"class_name":"Sequential","config":{"name":"s","layers":[{"class_name":"Dense","config":{"name":"d","units":2}}]}}},"weightsManifest":` + wm + `}`
	}
	cases := []struct {
		name, json string
		want       []string
		sentinel   error
	}{
		{"corrupt json", `{"modelTopology": {`, []string{"model.json", "malformed"}, ErrFormat},
		{"not an object", `[1,2]`, []string{"model.json"}, ErrFormat},
		{"no topology", `{"weightsManifest": []}`, []string{"no modelTopology"}, ErrFormat},
		{"graph model", `{"format":"graph-model","modelTopology":{}}`, []string{"not a layers model"}, ErrFormat},
		{"unknown class", `{"modelTopology":{"class_name":"Bogus","config":{}}}`, []string{"Bogus"}, ErrFormat},
		{"missing inbound layer", `{"modelTopology":{"class_name":"Model","config":{"layers":[{"class_name":"Dense","name":"d","config":{},"inbound_nodes":[[["nowhere",0,0,{}]]]}]}}}`, []string{"nowhere"}, ErrFormat},
		{"bad inbound", `{"modelTopology":{"class_name":"Model","config":{"layers":[{"class_name":"Dense","name":"d","config":{},"inbound_nodes":[[[1,2]]]}]}}}`, []string{"bad node reference"}, ErrFormat},
		{"duplicate layer", `{"modelTopology":{"class_name":"Model","config":{"layers":[{"class_name":"Dense","name":"d","config":{}},{"class_name":"Dense","name":"d","config":{}}]}}}`, []string{"twice"}, ErrFormat},
		{"bad dtype", good(`[{"paths":["x"],"weights":[{"name":"d/kernel","shape":[2],"dtype":"string"}]}]`), []string{"d/kernel", "string"}, ErrUnsupported},
		{"bad quantisation", good(`[{"paths":["x"],"weights":[{"name":"w","shape":[2],"dtype":"float32","quantization":{"dtype":"int4","scale":1}}]}]`), []string{"int4"}, ErrUnsupported},
		{"negative dim", good(`[{"paths":["x"],"weights":[{"name":"w","shape":[-2],"dtype":"float32"}]}]`), []string{"negative"}, ErrFormat},
		{"huge shape", good(`[{"paths":["x"],"weights":[{"name":"w","shape":[4000000000,4000000000,4000000000],"dtype":"float32"}]}]`), []string{"too large"}, ErrFormat},
		{"escaping path", good(`[{"paths":["../../etc/passwd"],"weights":[{"name":"w","shape":[2],"dtype":"float32"}]}]`), []string{"not inside"}, ErrFormat},
		{"duplicate weight", good(`[{"paths":["x"],"weights":[{"name":"w","shape":[1],"dtype":"float32"},{"name":"w","shape":[1],"dtype":"float32"}]}]`), []string{"twice"}, ErrFormat},
		{"manifest not a list", good(`{"paths":[]}`), []string{"weightsManifest"}, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name, "model.json")
			writeFile(t, p, []byte(c.json))
			_, err := OpenLayersModel(p)
			wantErr(t, err, c.want...)
			if !errors.Is(err, c.sentinel) {
				t.Fatalf("%v does not wrap %v", err, c.sentinel)
			}
		})
	}
	t.Run("missing model.json", func(t *testing.T) {
		_, err := OpenLayersModel(filepath.Join(dir, "nope", "model.json"))
		wantErr(t, err, "nope")
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v does not wrap os.ErrNotExist", err)
		}
	})
	t.Run("shape disagrees with data", func(t *testing.T) {
		p := filepath.Join(dir, "shape", "model.json")
		writeFile(t, p, []byte(good(`[{"paths":["w.bin"],"weights":[{"name":"w","shape":[3,3],"dtype":"float32"}]}]`)))
		writeFile(t, filepath.Join(dir, "shape", "w.bin"), f32bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)) // 10 values for 9
		m, err := OpenLayersModel(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Weight("w")
		wantErr(t, err, "w.bin", "too long", "40 bytes", "36")
	})
	t.Run("parsed without folder", func(t *testing.T) {
		m, err := ParseLayersModel([]byte(good(`[{"paths":["w.bin"],"weights":[{"name":"w","shape":[1],"dtype":"float32"}]}]`)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Weight("w"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%v, want ErrUnavailable", err)
		}
		if l := m.Topology.Layer("d"); l == nil || l.Units != 2 {
			t.Fatalf("Sequential layer d = %+v", l)
		}
	})
}

func TestHalfToFloat32(t *testing.T) {
	cases := []struct {
		h    uint16
		want float64
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xbc00, -1}, {0x3555, 0.333251953125}, {0x7bff, 65504},
		{0x0400, math.Ldexp(1, -14)}, {0x03ff, math.Ldexp(1023, -24)}, {0x8001, -math.Ldexp(1, -24)},
		{0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
	}
	for _, c := range cases {
		if got := HalfToFloat32(c.h); float64(got) != c.want {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if got := HalfToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("HalfToFloat32(NaN) = %v", got)
	}
}
