// Package train trains the project's own super-resolution networks with
// the engine's layers and Adam: SRCNN (9-1-5, Dong et al. 2014) on the luma
// of the bicubic-enlarged image, and a small residual network with pixel
// shuffle upsampling on RGB, with a pixel (MSE) or perceptual (VGG19
// relu2_2 feature reconstruction, Johnson et al. 2016) loss. Both predict a
// correction of bicubic interpolation (see engine/sr/own.go); the networks
// are Keras topologies built by engine/graph, trained in place and written
// as TF.js layers models (model.WriteLayersModel) that sr.OpenModelDir and
// the shipped methods load.
package train

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"atelier/engine/graph"
	"atelier/engine/model"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// Net is a network under training: its Keras configuration, the graph built
// from it and the convolutions whose weights it learns.
type Net struct {
	// Name is the Keras model name ("srcnn", "srnet").
	Name string
	// InChannels is 1 for luma networks, 3 for RGB ones.
	InChannels int
	// Scale is the factor the network itself enlarges by (1 for SRCNN).
	Scale int

	layers []map[string]any
	convs  []convSpec
	input  string
	output string

	g      *graph.Graph
	params []*nn.Param
}

// convSpec is one convolution of the topology.
type convSpec struct {
	name        string
	in, out, k  int
	relu        bool
	std         float64 // initial weight standard deviation
	kernel, bia *tensor.Tensor
}

// layer appends a Keras layer.
func (n *Net) layer(class, name string, cfg map[string]any, inputs ...string) {
	cfg["name"] = name
	cfg["trainable"] = true
	cfg["dtype"] = "float32"
	var inbound []any
	if len(inputs) > 0 {
		node := make([]any, len(inputs))
		for i, in := range inputs {
			node[i] = []any{in, 0, 0, map[string]any{}}
		}
		inbound = []any{node}
	} else {
		inbound = []any{}
	}
	n.layers = append(n.layers, map[string]any{"class_name": class, "name": name, "config": cfg, "inbound_nodes": inbound})
}

func (n *Net) inputLayer(name string, ch int) {
	n.input = name
	n.layer("InputLayer", name, map[string]any{"batch_input_shape": []any{nil, nil, nil, ch}, "sparse": false, "ragged": false})
}

// conv appends a "same" convolution with an optional fused ReLU; its
// weights start He-normal scaled by gain.
func (n *Net) conv(name, in string, cin, cout, k int, relu bool, gain float64) string {
	act := "linear"
	if relu {
		act = "relu"
	}
	n.layer("Conv2D", name, map[string]any{
		"filters": cout, "kernel_size": []int{k, k}, "strides": []int{1, 1}, "padding": "same",
		"data_format": "channels_last", "dilation_rate": []int{1, 1}, "groups": 1, "activation": act, "use_bias": true,
	}, in)
	n.convs = append(n.convs, convSpec{name: name, in: cin, out: cout, k: k, relu: relu, std: gain * math.Sqrt(2/float64(cin*k*k))})
	return name
}

func (n *Net) add(name string, ins ...string) string {
	n.layer("Add", name, map[string]any{}, ins...)
	return name
}

func (n *Net) shuffle(name, in string, r int) string {
	n.layer(fmt.Sprintf("PixelShuffle%dx", r), name, map[string]any{"scale": r}, in)
	return name
}

// config returns the Keras model configuration.
func (n *Net) config() json.RawMessage {
	cfg := map[string]any{
		"class_name": "Functional",
		"config": map[string]any{
			"name": n.Name, "layers": n.layers,
			"input_layers":  []any{[]any{n.input, 0, 0}},
			"output_layers": []any{[]any{n.output, 0, 0}},
		},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // plain maps of numbers and strings always marshal
	}
	return b
}

// NewSRCNN returns SRCNN 9-1-5 (conv 9x9 1->64, ReLU, 1x1 64->32, ReLU,
// 5x5 32->1) on Y/255 of the bicubic image, predicting the correction of
// Y/255. Its last layer starts at zero, so training starts from bicubic.
func NewSRCNN(rng *rand.Rand) (*Net, error) {
	n := &Net{Name: "srcnn", InChannels: 1, Scale: 1}
	n.inputLayer("y", 1)
	x := n.conv("conv1", "y", 1, 64, 9, true, 1)
	x = n.conv("conv2", x, 64, 32, 1, true, 1)
	n.output = n.conv("conv3", x, 32, 1, 5, false, 0)
	return n, n.build(rng)
}

// NewSRNet returns the residual network for RGB/255 at factor scale (2 or
// 4): a 3x3 head conv 3->feats, blocks residual blocks (conv, ReLU, conv,
// scaled by 0.1 through the initialisation, plus the skip), a conv and a
// skip over the body, then per factor 2 a conv feats->4*feats and a pixel
// shuffle, and a last conv feats->3 giving the correction of RGB/255.
func NewSRNet(rng *rand.Rand, scale, feats, blocks int) (*Net, error) {
	if scale != 2 && scale != 4 {
		return nil, fmt.Errorf("train: srnet upscales x2 or x4, not x%d", scale)
	}
	n := &Net{Name: "srnet", InChannels: 3, Scale: scale}
	n.inputLayer("lr", 3)
	head := n.conv("head", "lr", 3, feats, 3, false, 1)
	x := head
	for b := 1; b <= blocks; b++ {
		y := n.conv(fmt.Sprintf("res%d_a", b), x, feats, feats, 3, true, 1)
		y = n.conv(fmt.Sprintf("res%d_b", b), y, feats, feats, 3, false, 0.1)
		x = n.add(fmt.Sprintf("res%d_add", b), x, y)
	}
	x = n.conv("body_end", x, feats, feats, 3, false, 0.5)
	x = n.add("body_skip", head, x)
	for i := 1; scale>>(i-1) > 1; i++ {
		x = n.conv(fmt.Sprintf("up%d", i), x, feats, 4*feats, 3, true, 1)
		x = n.shuffle(fmt.Sprintf("shuffle%d", i), x, 2)
	}
	n.output = n.conv("tail", x, feats, 3, 3, false, 0)
	return n, n.build(rng)
}

// build initialises the weights and builds the graph.
func (n *Net) build(rng *rand.Rand) error {
	ws := model.MemWeights{}
	for i := range n.convs {
		c := &n.convs[i]
		c.kernel = tensor.New(c.k, c.k, c.in, c.out)
		for j := range c.kernel.Data {
			c.kernel.Data[j] = float32(rng.NormFloat64() * c.std)
		}
		c.bia = tensor.New(c.out)
		ws[c.name+"/kernel"] = c.kernel
		ws[c.name+"/bias"] = c.bia
	}
	return n.buildFrom(ws)
}

// buildFrom builds the graph with the given weights (HWIO kernels).
func (n *Net) buildFrom(ws graph.WeightSource) error {
	data, err := json.Marshal(map[string]any{"format": "layers-model", "modelTopology": map[string]any{"model_config": n.config()}})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	lm, err := model.ParseLayersModel(data)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	custom := map[string]graph.LayerFactory{}
	for _, l := range lm.Topology.Layers {
		if l.ClassName == "PixelShuffle2x" {
			custom[l.ClassName] = func(*model.Layer, graph.WeightSource) (nn.Layer, error) { return nn.NewDepthToSpaceTF(2), nil }
		}
	}
	g, err := graph.FromKeras(lm.Topology, ws, graph.KerasOptions{Custom: custom})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := g.Check(n.output); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	g.SetWeightGrad(true)
	n.g = g
	n.params = g.Params()
	for _, p := range n.params {
		if p.Grad == nil {
			p.Grad = tensor.New(p.Value.Shape...)
		}
	}
	return nil
}

// LoadInto replaces the network's weights with those of the layers model
// in dir (written by Save for the same architecture), for fine-tuning.
func (n *Net) LoadInto(dir string) error {
	lm, err := model.OpenLayersModel(dir)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, c := range n.convs {
		for _, suffix := range []string{"/kernel", "/bias"} {
			spec, ok := lm.Weights.Spec(c.name + suffix)
			want := []int{c.out}
			if suffix == "/kernel" {
				want = []int{c.k, c.k, c.in, c.out}
			}
			if !ok || !tensor.ShapeEqual(spec.Shape, want) {
				return fmt.Errorf("train: %s does not hold %s%s of shape %v; was it trained with the same architecture?", dir, c.name, suffix, want)
			}
		}
	}
	return n.buildFrom(lm)
}

// convLayer returns the graph's convolution for a Keras Conv2D.
func (n *Net) convLayer(c convSpec) (*nn.Conv2D, error) {
	name := c.name
	if c.relu {
		name += graph.PreActSuffix
	}
	conv, ok := n.g.Layer(name).(*nn.Conv2D)
	if !ok {
		return nil, fmt.Errorf("train: the graph has no convolution %q", name)
	}
	return conv, nil
}

// Save writes the network as a TF.js layers model into dir.
func (n *Net) Save(dir, generatedBy string) error {
	var ws []model.NamedWeight
	for _, c := range n.convs {
		conv, err := n.convLayer(c)
		if err != nil {
			return err
		}
		ps := conv.Params()
		if len(ps) != 2 {
			return fmt.Errorf("train: convolution %q has %d parameters, want weight and bias", c.name, len(ps))
		}
		ws = append(ws,
			model.NamedWeight{Name: c.name + "/kernel", Value: oihwToHWIO(ps[0].Value)},
			model.NamedWeight{Name: c.name + "/bias", Value: ps[1].Value.Clone()})
	}
	return model.WriteLayersModel(dir, n.config(), ws, "atelier engine/sr/train")
}

// oihwToHWIO converts an nn convolution weight [out,in,kh,kw] to a Keras
// kernel [kh,kw,in,out].
func oihwToHWIO(w *tensor.Tensor) *tensor.Tensor {
	o, i, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	out := tensor.New(kh, kw, i, o)
	for a := range o {
		for b := range i {
			for y := range kh {
				for x := range kw {
					out.Data[((y*kw+x)*i+b)*o+a] = w.Data[((a*i+b)*kh+y)*kw+x]
				}
			}
		}
	}
	return out
}

// Params returns the trainable parameters.
func (n *Net) Params() []*nn.Param { return n.params }

// NumParams is the number of trainable values.
func (n *Net) NumParams() int {
	s := 0
	for _, p := range n.params {
		s += len(p.Value.Data)
	}
	return s
}

// Forward runs the network on x ([N,C,H,W]); the result is owned by the
// graph.
func (n *Net) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	ys, err := n.g.Forward(x, []string{n.output})
	if err != nil {
		return nil, err
	}
	return ys[0], nil
}

// Backward accumulates the parameter gradients for dL/doutput.
func (n *Net) Backward(dy *tensor.Tensor) error {
	_, err := n.g.Backward(map[string]*tensor.Tensor{n.output: dy})
	return err
}
