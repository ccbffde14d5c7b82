package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Topology is a Keras model configuration: a functional graph of layers
// ("Model"/"Functional") or a plain stack ("Sequential").
type Topology struct {
	ClassName string // "Model", "Functional" or "Sequential"
	Name      string
	Layers    []*Layer // in file order (Keras writes them topologically sorted)
	// InputLayers and OutputLayers are the graph's entry and exit points.
	// A Sequential model without an InputLayer has no InputLayers: its first
	// layer reads the model input (see that layer's BatchInputShape).
	InputLayers  []NodeRef
	OutputLayers []NodeRef

	byName map[string]*Layer
}

// Layer looks a layer up by name in this topology (not in nested ones).
func (t *Topology) Layer(name string) *Layer { return t.byName[name] }

// NodeRef names one output tensor of one call of a layer.
type NodeRef struct {
	Layer       string
	NodeIndex   int // which call of the layer (shared layers are called more than once)
	TensorIndex int // which output of that call
}

// Layer is one Keras layer with the configuration fields graph builders use
// most; anything else is in Config (decode it with DecodeConfig).
type Layer struct {
	Name      string
	ClassName string // "Conv2D", "BatchNormalization", "Add", custom classes as written
	Config    json.RawMessage
	// Inbound holds one list of inputs per call of the layer. For layers of
	// a Sequential model the loader fills in the previous layer.
	Inbound [][]NodeRef
	// Sub is the topology of a nested model (class Sequential, Model or
	// Functional used as a layer); nil for ordinary layers.
	Sub *Topology

	// Common configuration fields; zero when the layer does not have them.
	Filters         int
	Units           int
	KernelSize      []int
	Strides         []int
	DilationRate    []int
	PoolSize        []int
	Size            []int  // UpSampling2D
	Padding         string // "same" / "valid"; empty when padding is not a string (ZeroPadding2D: see ZeroPadding)
	Activation      string // "relu", "linear", ...
	UseBias         bool
	DataFormat      string // "channels_last" / "channels_first"
	Axis            []int  // Concatenate, BatchNormalization (a single axis is one element)
	Epsilon         float64
	Center, Scale   bool // BatchNormalization
	DType           string
	BatchInputShape []int // -1 for unknown dimensions; nil when absent
	Trainable       bool
}

// InboundNames returns the names of the layers feeding the layer's first
// call, in order.
func (l *Layer) InboundNames() []string {
	if len(l.Inbound) == 0 {
		return nil
	}
	out := make([]string, len(l.Inbound[0]))
	for i, r := range l.Inbound[0] {
		out[i] = r.Layer
	}
	return out
}

// DecodeConfig unmarshals the layer's raw configuration into v.
func (l *Layer) DecodeConfig(v any) error {
	if err := json.Unmarshal(l.Config, v); err != nil {
		return fmt.Errorf("model: layer %q config: %w (%v)", l.Name, ErrFormat, err)
	}
	return nil
}

// ZeroPadding returns the top, bottom, left and right padding of a
// ZeroPadding2D (or Cropping2D) layer, whose "padding"/"cropping" may be
// one int, [rows, cols] or [[top, bottom], [left, right]].
func (l *Layer) ZeroPadding() (top, bottom, left, right int, err error) {
	var c struct {
		Padding  json.RawMessage `json:"padding"`
		Cropping json.RawMessage `json:"cropping"`
	}
	if err = json.Unmarshal(l.Config, &c); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("model: layer %q config: %w (%v)", l.Name, ErrFormat, err)
	}
	raw := c.Padding
	if len(raw) == 0 {
		raw = c.Cropping
	}
	var one int
	if json.Unmarshal(raw, &one) == nil {
		return one, one, one, one, nil
	}
	var pair []int
	if json.Unmarshal(raw, &pair) == nil && len(pair) == 2 {
		return pair[0], pair[0], pair[1], pair[1], nil
	}
	var pairs [][]int
	if json.Unmarshal(raw, &pairs) == nil && len(pairs) == 2 && len(pairs[0]) == 2 && len(pairs[1]) == 2 {
		return pairs[0][0], pairs[0][1], pairs[1][0], pairs[1][1], nil
	}
	return 0, 0, 0, 0, fmt.Errorf("model: layer %q: padding %s: %w", l.Name, string(raw), ErrFormat)
}

// --- parsing ---

type jsonLayer struct {
	ClassName    string          `json:"class_name"`
	Name         string          `json:"name"`
	Config       json.RawMessage `json:"config"`
	InboundNodes json.RawMessage `json:"inbound_nodes"`
}

// modelConfig is the structural part of a model's configuration.
type modelConfig struct {
	Name         string          `json:"name"`
	Layers       json.RawMessage `json:"layers"`
	InputLayers  json.RawMessage `json:"input_layers"`
	OutputLayers json.RawMessage `json:"output_layers"`
}

// fillCommon copies the common fields out of a layer config. Custom layers
// may reuse a name with another type (PixelShuffle's "scale" is a number),
// so a field that does not decode is left at its zero value.
func fillCommon(l *Layer, cfg map[string]json.RawMessage) {
	get := func(key string, dst any) {
		if raw, ok := cfg[key]; ok {
			_ = json.Unmarshal(raw, dst)
		}
	}
	var name string
	get("name", &name)
	if l.Name == "" {
		l.Name = name
	}
	get("filters", &l.Filters)
	get("units", &l.Units)
	var ks, st, dr, ps, sz, ax intList
	get("kernel_size", &ks)
	get("strides", &st)
	get("dilation_rate", &dr)
	get("pool_size", &ps)
	get("size", &sz)
	get("axis", &ax)
	l.KernelSize, l.Strides, l.DilationRate, l.PoolSize, l.Size, l.Axis = ks, st, dr, ps, sz, ax
	get("padding", &l.Padding) // not a string for ZeroPadding2D
	get("use_bias", &l.UseBias)
	get("data_format", &l.DataFormat)
	get("epsilon", &l.Epsilon)
	get("center", &l.Center)
	get("scale", &l.Scale)
	get("trainable", &l.Trainable)
	l.Activation = nameOf(cfg["activation"])
	l.DType = nameOf(cfg["dtype"])
	var shape []*int
	get("batch_input_shape", &shape)
	if shape == nil {
		get("batch_shape", &shape)
	}
	if shape != nil {
		l.BatchInputShape = make([]int, len(shape))
		for i, d := range shape {
			l.BatchInputShape[i] = -1
			if d != nil {
				l.BatchInputShape[i] = *d
			}
		}
	}
}

// intList accepts an int, a list of ints or null.
type intList []int

func (l *intList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*l = nil
		return nil
	}
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*l = intList{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// isModelClass reports whether a layer class is itself a model.
func isModelClass(c string) bool {
	return c == "Sequential" || c == "Model" || c == "Functional"
}

const maxNesting = 32

// parseTopology parses a {"class_name", "config"} model description.
func parseTopology(className string, config json.RawMessage, depth int) (*Topology, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("models nested more than %d deep", maxNesting)
	}
	t := &Topology{ClassName: className, byName: map[string]*Layer{}}
	var layersRaw json.RawMessage
	trimmed := bytes.TrimSpace(config)
	if className == "Sequential" && len(trimmed) > 0 && trimmed[0] == '[' {
		layersRaw = trimmed // old Keras: the config is the list of layers
	} else {
		var c modelConfig
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, fmt.Errorf("%s config: %v", className, err)
		}
		t.Name = c.Name
		layersRaw = c.Layers
		var err error
		if t.InputLayers, err = parseRefList(c.InputLayers); err != nil {
			return nil, fmt.Errorf("input_layers: %v", err)
		}
		if t.OutputLayers, err = parseRefList(c.OutputLayers); err != nil {
			return nil, fmt.Errorf("output_layers: %v", err)
		}
	}
	var jl []jsonLayer
	if len(layersRaw) > 0 {
		if err := json.Unmarshal(layersRaw, &jl); err != nil {
			return nil, fmt.Errorf("layers: %v", err)
		}
	}
	for i, j := range jl {
		l, err := parseLayer(j, depth)
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s %q): %v", i, j.ClassName, j.Name, err)
		}
		if _, dup := t.byName[l.Name]; dup {
			return nil, fmt.Errorf("layer name %q used twice", l.Name)
		}
		if className == "Sequential" && i > 0 && len(l.Inbound) == 0 {
			l.Inbound = [][]NodeRef{{{Layer: t.Layers[i-1].Name}}}
		}
		t.byName[l.Name] = l
		t.Layers = append(t.Layers, l)
	}
	// Every reference must name a layer of this topology.
	for _, l := range t.Layers {
		for _, node := range l.Inbound {
			for _, r := range node {
				if t.byName[r.Layer] == nil {
					return nil, fmt.Errorf("layer %q: inbound layer %q does not exist", l.Name, r.Layer)
				}
			}
		}
	}
	for _, r := range append(append([]NodeRef{}, t.InputLayers...), t.OutputLayers...) {
		if t.byName[r.Layer] == nil {
			return nil, fmt.Errorf("model input/output layer %q does not exist", r.Layer)
		}
	}
	return t, nil
}

func parseLayer(j jsonLayer, depth int) (*Layer, error) {
	if j.ClassName == "" {
		return nil, fmt.Errorf("no class_name")
	}
	l := &Layer{ClassName: j.ClassName, Config: j.Config, Name: j.Name}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(j.Config, &cfg); err == nil {
		fillCommon(l, cfg)
	} else if len(j.Config) > 0 && !(j.ClassName == "Sequential" && bytes.HasPrefix(bytes.TrimSpace(j.Config), []byte("["))) {
		return nil, fmt.Errorf("config: %v", err)
	}
	if l.Name == "" {
		return nil, fmt.Errorf("layer without a name")
	}
	var err error
	if l.Inbound, err = parseInbound(j.InboundNodes); err != nil {
		return nil, fmt.Errorf("inbound_nodes: %v", err)
	}
	if isModelClass(j.ClassName) {
		if l.Sub, err = parseTopology(j.ClassName, j.Config, depth+1); err != nil {
			return nil, fmt.Errorf("nested model: %v", err)
		}
	}
	return l, nil
}

// nameOf reads a string, or the class_name (or config.name) of an object,
// as Keras 3 writes activations and dtype policies.
func nameOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		ClassName string `json:"class_name"`
		Config    struct {
			Name string `json:"name"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &o) == nil {
		if o.Config.Name != "" {
			return o.Config.Name
		}
		return o.ClassName
	}
	return ""
}

// parseInbound reads Keras 2 inbound nodes ([[["name", 0, 0, {}], ...], ...])
// and Keras 3 ones ([{"args": [...keras_history...], "kwargs": {}}, ...]).
func parseInbound(raw json.RawMessage) ([][]NodeRef, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var nodes []json.RawMessage
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, err
	}
	out := make([][]NodeRef, 0, len(nodes))
	for _, n := range nodes {
		n = bytes.TrimSpace(n)
		if len(n) > 0 && n[0] == '{' {
			var refs []NodeRef
			if err := collectHistory(n, &refs, 0); err != nil {
				return nil, err
			}
			out = append(out, refs)
			continue
		}
		var items []json.RawMessage
		if err := json.Unmarshal(n, &items); err != nil {
			return nil, err
		}
		refs := make([]NodeRef, 0, len(items))
		for _, it := range items {
			r, err := parseRef(it)
			if err != nil {
				return nil, err
			}
			refs = append(refs, r)
		}
		out = append(out, refs)
	}
	return out, nil
}

// collectHistory walks a Keras 3 call description and collects the
// keras_history triples in order.
func collectHistory(raw json.RawMessage, refs *[]NodeRef, depth int) error {
	if depth > 64 {
		return fmt.Errorf("inbound node nested too deep")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '{':
		var o map[string]json.RawMessage
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		if h, ok := o["keras_history"]; ok {
			r, err := parseRef(h)
			if err != nil {
				return err
			}
			*refs = append(*refs, r)
			return nil
		}
		for _, k := range []string{"args", "config"} {
			if v, ok := o[k]; ok {
				if err := collectHistory(v, refs, depth+1); err != nil {
					return err
				}
			}
		}
	case '[':
		var a []json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		for _, v := range a {
			if err := collectHistory(v, refs, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseRef reads ["name", node, tensor(, kwargs)].
func parseRef(raw json.RawMessage) (NodeRef, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || len(items) < 1 {
		return NodeRef{}, fmt.Errorf("bad node reference %s", abbrev(raw))
	}
	var r NodeRef
	if err := json.Unmarshal(items[0], &r.Layer); err != nil || r.Layer == "" {
		return NodeRef{}, fmt.Errorf("bad node reference %s", abbrev(raw))
	}
	if len(items) > 1 {
		if err := json.Unmarshal(items[1], &r.NodeIndex); err != nil || r.NodeIndex < 0 {
			return NodeRef{}, fmt.Errorf("bad node index in %s", abbrev(raw))
		}
	}
	if len(items) > 2 {
		if err := json.Unmarshal(items[2], &r.TensorIndex); err != nil || r.TensorIndex < 0 {
			return NodeRef{}, fmt.Errorf("bad tensor index in %s", abbrev(raw))
		}
	}
	return r, nil
}

// parseRefList reads input_layers/output_layers: a list of references, or a
// single flat reference.
func parseRefList(raw json.RawMessage) ([]NodeRef, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	if len(items) > 0 {
		if first := bytes.TrimSpace(items[0]); len(first) > 0 && first[0] == '"' {
			r, err := parseRef(raw)
			if err != nil {
				return nil, err
			}
			return []NodeRef{r}, nil
		}
	}
	out := make([]NodeRef, 0, len(items))
	for _, it := range items {
		r, err := parseRef(it)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func abbrev(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}
