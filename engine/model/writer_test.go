package model

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"atelier/engine/tensor"
)

// tinyConfig is a Keras model: input -> conv "c" (3x3, 2 -> 3 channels).
const tinyConfig = `{"class_name": "Functional", "config": {"name": "tiny",
 "layers": [
  {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, null, null, 2], "name": "x"}, "inbound_nodes": []},
  {"class_name": "Conv2D", "name": "c", "config": {"name": "c", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "linear", "use_bias": true}, "inbound_nodes": [[["x", 0, 0, {}]]]}
 ],
 "input_layers": [["x", 0, 0]], "output_layers": [["c", 0, 0]]}}`

func tinyWeights() []NamedWeight {
	k := tensor.New(3, 3, 2, 3)
	for i := range k.Data {
		k.Data[i] = float32(i)*0.25 - 3
	}
	b := tensor.FromData([]float32{1.5, -2, 1e-7}, 3)
	return []NamedWeight{{"c/kernel", k}, {"c/bias", b}}
}

func TestWriteLayersModelRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	ws := tinyWeights()
	if err := WriteLayersModel(dir, json.RawMessage(tinyConfig), ws, "test"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, ShardName))
	if err != nil || st.Size() != 4*(54+3) {
		t.Fatalf("shard: %v, %v", st, err)
	}
	lm, err := OpenLayersModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if lm.Format != "layers-model" || lm.GeneratedBy != "test" || lm.Topology.Name != "tiny" || len(lm.Topology.Layers) != 2 {
		t.Fatalf("model: %+v", lm)
	}
	if c := lm.Topology.Layer("c"); c == nil || c.Filters != 3 || !slices.Equal(c.KernelSize, []int{3, 3}) || !c.UseBias {
		t.Fatalf("conv layer: %+v", c)
	}
	if got := lm.Weights.Names(); !slices.Equal(got, []string{"c/kernel", "c/bias"}) {
		t.Fatalf("weights %v", got)
	}
	// The same weights from disk and through an fs.FS.
	fsys := fstest.MapFS{}
	for _, name := range []string{"model.json", ShardName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		fsys["m/"+name] = &fstest.MapFile{Data: b}
	}
	_, mem, err := LoadLayersModelFS(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		disk, err := lm.Weight(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		inMem, err := mem.Weight(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []*tensor.Tensor{disk, inMem} {
			if !got.SameShape(w.Value) || tensor.MaxAbsDiff(got, w.Value) != 0 {
				t.Errorf("%s: got %v %v, want %v %v", w.Name, got.Shape, got.Data, w.Value.Shape, w.Value.Data)
			}
		}
	}
	if _, err := mem.Weight("c/gamma"); !errors.Is(err, ErrNoWeight) {
		t.Errorf("unknown weight: %v", err)
	}
}

func TestWriteLayersModelErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  string
		ws   []NamedWeight
	}{
		{"invalid json", `{"class_name": `, tinyWeights()},
		{"duplicate weight", tinyConfig, append(tinyWeights(), tinyWeights()[0])},
		{"unnamed weight", tinyConfig, []NamedWeight{{"", tensor.New(2)}}},
		{"short value", tinyConfig, []NamedWeight{{"a", &tensor.Tensor{Shape: []int{3}, Data: make([]float32, 2)}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := WriteLayersModel(filepath.Join(dir, c.name), json.RawMessage(c.cfg), c.ws, "")
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
			if _, err := os.Stat(filepath.Join(dir, c.name, "model.json")); err == nil {
				t.Error("a model.json was written")
			}
		})
	}
}

func TestLoadLayersModelFSErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if err := WriteLayersModel(dir, json.RawMessage(tinyConfig), tinyWeights(), ""); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join(dir, ShardName))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		fsys fstest.MapFS
		want error
	}{
		{"no model.json", fstest.MapFS{"m/" + ShardName: {Data: bin}}, ErrUnavailable},
		{"no shard", fstest.MapFS{"m/model.json": {Data: js}}, ErrUnavailable},
		{"short shard", fstest.MapFS{"m/model.json": {Data: js}, "m/" + ShardName: {Data: bin[:len(bin)-4]}}, ErrUnavailable},
		{"long shard", fstest.MapFS{"m/model.json": {Data: js}, "m/" + ShardName: {Data: append(slices.Clone(bin), 0)}}, ErrUnavailable},
		{"corrupt model.json", fstest.MapFS{"m/model.json": {Data: js[:len(js)/2]}, "m/" + ShardName: {Data: bin}}, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := LoadLayersModelFS(c.fsys, "m"); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}
