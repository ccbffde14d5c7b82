package model

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseLayersModel checks that no model.json content panics the parser
// and that every failure is an ErrFormat or ErrUnsupported.
func FuzzParseLayersModel(f *testing.F) {
	f.Add([]byte(`{"modelTopology":{"class_name":"Sequential","config":[{"class_name":"Dense","config":{"name":"d","units":2,"kernel_size":3}}]},"weightsManifest":[{"paths":["a"],"weights":[{"name":"d/kernel","shape":[2,2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.1,"min":0}}]}]}`))
	f.Add([]byte(`{"modelTopology":{"model_config":{"class_name":"Functional","config":{"layers":[{"class_name":"InputLayer","name":"i","config":{"batch_shape":[null,3]}},{"class_name":"Add","name":"a","config":{},"inbound_nodes":[{"args":[[{"config":{"keras_history":["i",0,0]}}]]}]}],"input_layers":["i",0,0],"output_layers":[["a",0,0]]}}}}`))
	f.Add([]byte(`{"modelTopology":{"class_name":"Model","config":{"layers":[{"class_name":"Sequential","name":"s","config":{"layers":[{"class_name":"ZeroPadding2D","config":{"name":"z","padding":[[1,2],[3,4]]}}]}}]}}}`))
	if dir, err := SharedDir(); err == nil {
		if b, err := os.ReadFile(filepath.Join(dir, "models", "vgg19-tfjs", "model.json")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseLayersModel(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrUnsupported", err)
			}
			return
		}
		var walk func(*Topology)
		walk = func(top *Topology) {
			for _, l := range top.Layers {
				_ = l.InboundNames()
				_, _, _, _, _ = l.ZeroPadding()
				if l.Sub != nil {
					walk(l.Sub)
				}
			}
		}
		walk(m.Topology)
		for _, n := range m.Weights.Names() {
			if _, err := m.Weight(n); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("weight %q of a model without shards: %v", n, err)
			}
		}
	})
}

// FuzzParseGraphModel does the same for graph models.
func FuzzParseGraphModel(f *testing.F) {
	f.Add([]byte(`{"modelTopology":{"node":[{"name":"a","op":"Const","attr":{"value":{"tensor":{"dtype":1,"tensorShape":{"dim":[{"size":"3"}]},"floatVal":[1]}},"s":{"s":[65]}}},{"name":"b","op":"Relu","input":["a:0","^a"],"attr":{"l":{"list":{"i":["1"]}}}}]}}`))
	f.Add([]byte(`{"modelTopology":{"node":[{"name":"c","op":"Const","attr":{"value":{"tensor":{"dtype":"DT_INT32","tensorShape":{"dim":[{"size":"1"}]},"tensorContent":"AQAAAA=="}}}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGraphModel(data)
		if err != nil {
			return
		}
		for _, n := range g.Nodes {
			if n.Op == "Const" {
				_, _ = g.Const(n.Name)
			}
		}
	})
}
