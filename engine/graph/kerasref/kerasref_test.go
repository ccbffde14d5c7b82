package kerasref

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"atelier/engine/model"
	"atelier/engine/tensor"
)

type mapWeights map[string]*tensor.Tensor

func (m mapWeights) Weight(name string) (*tensor.Tensor, error) {
	if t, ok := m[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("no weight %q", name)
}

// oneLayer returns a topology input -> l (class, config).
func oneLayer(t *testing.T, class string, config map[string]any) *model.Topology {
	t.Helper()
	config["name"] = "l"
	doc := map[string]any{"modelTopology": map[string]any{"model_config": map[string]any{
		"class_name": "Model",
		"config": map[string]any{"name": "m", "layers": []any{
			map[string]any{"name": "in", "class_name": "InputLayer", "config": map[string]any{"name": "in"}, "inbound_nodes": []any{}},
			map[string]any{"name": "l", "class_name": class, "config": config, "inbound_nodes": []any{[]any{[]any{"in", 0, 0, map[string]any{}}}}},
		}, "input_layers": []any{[]any{"in", 0, 0}}, "output_layers": []any{[]any{"l", 0, 0}}},
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

// TestHandComputed checks the reference against values worked out by hand
// from the Keras/TensorFlow definitions, on x[r][c] = 4r + c + 1 (4x4).
func TestHandComputed(t *testing.T) {
	x := New(1, 4, 4, 1)
	for i := range x.D {
		x.D[i] = float64(i + 1)
	}
	ones := tensor.New(3, 3, 1, 1)
	for i := range ones.Data {
		ones.Data[i] = 1
	}
	same := map[string]any{"pool_size": []int{3, 3}, "strides": []int{2, 2}, "padding": "same"}
	cases := []struct {
		name   string
		class  string
		config map[string]any
		w      mapWeights
		want   []float64
	}{
		// "same" with stride 2: out 2x2, total padding 1, all of it after.
		{"conv same stride 2", "Conv2D", map[string]any{"filters": 1, "kernel_size": []int{3, 3}, "strides": []int{2, 2}, "padding": "same", "use_bias": false, "activation": "linear"},
			mapWeights{"l/kernel": ones}, []float64{54, 45, 72, 54}},
		{"conv valid", "Conv2D", map[string]any{"filters": 1, "kernel_size": []int{3, 3}, "padding": "valid", "use_bias": false, "activation": "linear"},
			mapWeights{"l/kernel": ones}, []float64{54, 63, 90, 99}},
		{"max pool same", "MaxPooling2D", same, nil, []float64{11, 12, 15, 16}},
		{"average pool same excludes padding", "AveragePooling2D", same, nil, []float64{6, 7.5, 12, 13.5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Run(oneLayer(t, tc.class, tc.config), tc.w, x, []string{"l"})
			if err != nil {
				t.Fatal(err)
			}
			y := out["l"]
			if len(y.D) != len(tc.want) {
				t.Fatalf("got %d values (%dx%d), want %d", len(y.D), y.H, y.W, len(tc.want))
			}
			for i, v := range y.D {
				if math.Abs(v-tc.want[i]) > 1e-12 {
					t.Errorf("y[%d] = %g, want %g", i, v, tc.want[i])
				}
			}
		})
	}
}
