package model

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestMagentaGraphFromShared(t *testing.T) {
	g, err := OpenGraphModel(filepath.Join(sharedModels(t), "magenta-transformer"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 447 {
		t.Fatalf("%d nodes, want 447", len(g.Nodes))
	}
	ops := map[string]int{}
	for _, n := range g.Nodes {
		ops[n.Op]++
	}
	if ops["Conv2D"] != 42 || ops["DepthwiseConv2dNative"] != 13 || ops["Const"] != 102 || ops["FusedBatchNorm"] != 3 {
		t.Fatalf("op counts %v", ops)
	}
	ph := g.Placeholders()
	if len(ph) != 2 || ph[0].Name != "Placeholder" || ph[1].Name != "Placeholder_1" {
		t.Fatalf("placeholders %v", ph)
	}
	if s, ok := ph[0].Attrs["shape"]; !ok || s.Kind != AttrShape || len(s.Shape.Dims) != 4 || s.Shape.Dims[0] != -1 || s.Shape.Dims[3] != 3 {
		t.Fatalf("Placeholder shape %+v", s)
	}

	conv := g.Node("style_params/transformer/expand/conv3/conv/StyleNorm/Conv/Conv2D")
	if conv == nil || conv.Op != "Conv2D" || len(conv.Inputs) != 2 || conv.Inputs[0] != "Placeholder_1" {
		t.Fatalf("conv node %+v", conv)
	}
	if p, ok := conv.AttrString("padding"); !ok || p != "SAME" {
		t.Fatalf("padding %q %v", p, ok)
	}
	if f, _ := conv.AttrString("data_format"); f != "NHWC" {
		t.Fatalf("data_format %q", f)
	}
	if s, ok := conv.AttrInts("strides"); !ok || len(s) != 4 || s[1] != 1 {
		t.Fatalf("strides %v", s)
	}
	if dt, ok := conv.AttrType("T"); !ok || dt != DTFloat {
		t.Fatalf("T = %v", dt)
	}
	bn := g.Node("transformer/contract/conv1/BatchNorm/FusedBatchNorm")
	if eps, ok := bn.AttrFloat("epsilon"); !ok || eps < 0.000999 || eps > 0.001001 {
		t.Fatalf("epsilon %v", eps)
	}
	if tr, ok := bn.AttrBool("is_training"); !ok || tr {
		t.Fatalf("is_training %v %v", tr, ok)
	}
	ss := g.Node("transformer/expand/conv1/strided_slice")
	if m, ok := ss.AttrInt("shrink_axis_mask"); !ok || m != 1 {
		t.Fatalf("shrink_axis_mask %v", m)
	}

	// Const values come from the weights shard (checked against Python).
	w, err := g.Const("transformer/contract/conv1/weights")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Shape) != 4 || w.Shape[0] != 9 || w.Shape[3] != 32 || !near(w.Data[0], 0.009048687294125557) || !near(w.Data[3], -0.0501231886446476) {
		t.Fatalf("conv1 weights %v %v", w.Shape, w.Data[:4])
	}
	pads, err := g.Weights.Int32s("transformer/contract/Pad/paddings")
	if err != nil || len(pads) != 8 || pads[2] != 4 || pads[3] != 4 || pads[6] != 0 {
		t.Fatalf("paddings %v, %v", pads, err)
	}
	if _, err := g.Const("Placeholder"); !errors.Is(err, ErrFormat) {
		t.Fatalf("Const of a Placeholder: %v", err)
	}
}

func TestGraphModelSynthetic(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.bin"), f32bytes(0.5, 1.5))
	model := `{"format":"graph-model","modelTopology":{"node":[
	  {"name":"x","op":"Placeholder","attr":{"dtype":{"type":"DT_FLOAT"},"shape":{"shape":{"dim":[{"size":"-1"},{"size":"2"}]}}}},
	  {"name":"w","op":"Const","attr":{"value":{"tensor":{"dtype":"DT_FLOAT","tensorShape":{"dim":[{"size":"2"}]}}},"dtype":{"type":1}}},
	  {"name":"k","op":"Const","attr":{"value":{"tensor":{"dtype":"DT_FLOAT","tensorShape":{"dim":[{"size":"3"}]},"floatVal":[2.5]}}}},
	  {"name":"c","op":"Const","attr":{"value":{"tensor":{"dtype":"DT_INT32","tensorShape":{"dim":[{"size":"2"}]},"tensorContent":"AQAAAP7///8="}}}},
	  {"name":"inf","op":"Const","attr":{"value":{"tensor":{"dtype":1,"tensorShape":{},"floatVal":["-Infinity"]}}}},
	  {"name":"m","op":"Mul","input":["x","w:0","^k"],"attr":{"T":{"type":1},"padding":{"s":"U0FNRQ=="},"strides":{"list":{"i":["1",2]}},"alpha":{"f":0.25}}}
	]},"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"w","shape":[2],"dtype":"float32"}]}]}`
	p := filepath.Join(dir, "model.json")
	writeFile(t, p, []byte(model))
	g, err := OpenGraphModel(p)
	if err != nil {
		t.Fatal(err)
	}
	m := g.Node("m")
	if s, _ := m.AttrString("padding"); s != "SAME" {
		t.Fatalf("base64 bytes attr = %q", s)
	}
	if s, _ := m.AttrInts("strides"); len(s) != 2 || s[0] != 1 || s[1] != 2 {
		t.Fatalf("strides %v", s)
	}
	if f, _ := m.AttrFloat("alpha"); f != 0.25 {
		t.Fatalf("alpha %v", f)
	}
	if in := ParseInput(m.Inputs[1]); in.Node != "w" || in.Output != 0 || in.Control {
		t.Fatalf("input %+v", in)
	}
	if in := ParseInput(m.Inputs[2]); in.Node != "k" || !in.Control {
		t.Fatalf("control input %+v", in)
	}
	if dt, _ := g.Node("x").AttrType("dtype"); dt != DTFloat {
		t.Fatalf("named dtype = %v", dt)
	}
	for _, c := range []struct {
		name string
		want []float32
	}{
		{"w", []float32{0.5, 1.5}},      // from the shard
		{"k", []float32{2.5, 2.5, 2.5}}, // one inline value broadcast
		{"c", []float32{1, -2}},         // tensorContent
	} {
		v, err := g.Const(c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(v.Data) != len(c.want) {
			t.Fatalf("%s = %v", c.name, v.Data)
		}
		for i := range c.want {
			if v.Data[i] != c.want[i] {
				t.Fatalf("%s = %v, want %v", c.name, v.Data, c.want)
			}
		}
	}
	if v, err := g.Const("inf"); err != nil || len(v.Shape) != 0 || v.Data[0] > -1e38 {
		t.Fatalf("scalar -Infinity = %v, %v", v, err)
	}

	bad := []struct{ name, json, want string }{
		{"corrupt", `{"modelTopology":{"node":[`, "malformed"},
		{"layers model", `{"format":"layers-model","modelTopology":{}}`, "not a graph model"},
		{"unknown input", `{"modelTopology":{"node":[{"name":"a","op":"Relu","input":["b"]}]}}`, `input "b" does not exist`},
		{"duplicate node", `{"modelTopology":{"node":[{"name":"a","op":"Const"},{"name":"a","op":"Const"}]}}`, "twice"},
		{"no op", `{"modelTopology":{"node":[{"name":"a"}]}}`, "no name or op"},
		{"bad attr", `{"modelTopology":{"node":[{"name":"a","op":"Const","attr":{"x":{"i":"one"}}}]}}`, `attr "x"`},
		{"bad bytes", `{"modelTopology":{"node":[{"name":"a","op":"Const","attr":{"x":{"s":[300]}}}]}}`, "byte value"},
		{"bad dtype", `{"modelTopology":{"node":[{"name":"a","op":"Const","attr":{"x":{"type":"DT_NOPE"}}}]}}`, "DT_NOPE"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name, "model.json")
			writeFile(t, p, []byte(c.json))
			_, err := OpenGraphModel(p)
			wantErr(t, err, c.want, "model.json")
		})
	}
	t.Run("inline size mismatch", func(t *testing.T) {
		g, err := ParseGraphModel([]byte(`{"modelTopology":{"node":[{"name":"a","op":"Const","attr":{"value":{"tensor":{"dtype":1,"tensorShape":{"dim":[{"size":"2"}]},"tensorContent":"AAAAAA=="}}}}]}}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = g.Const("a")
		wantErr(t, err, `"a"`, "4 bytes")
	})
}
