package graph

import (
	"errors"
	"fmt"

	"atelier/engine/model"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// ErrUnsupportedLayer reports a Keras layer class (or a configuration of a
// known class) that FromKeras cannot build.
var ErrUnsupportedLayer = errors.New("graph: unsupported layer")

// WeightSource reads a weight by its Keras name ("block1_conv1/kernel") in
// its stored shape; *model.LayersModel implements it. Errors wrapping
// model.ErrUnavailable (a missing shard) make the layer, and everything that
// depends on it, unavailable instead of failing the build.
type WeightSource interface {
	Weight(name string) (*tensor.Tensor, error)
}

// LayerFactory builds the layer for one Keras layer with a single input. It
// returns an error wrapping model.ErrUnavailable when the layer's weights
// are missing.
type LayerFactory func(l *model.Layer, w WeightSource) (nn.Layer, error)

// KerasOptions configures FromKeras. The zero value builds every layer with
// the built-in classes.
type KerasOptions struct {
	// Outputs limits the graph to these layers and their ancestors, so a
	// feature extractor can leave out a classifier head (and never read
	// its weights). Empty means every layer.
	Outputs []string
	// Custom builds the layers of the named classes, taking precedence over
	// the built-in classes (for custom Keras layers, or to swap max pooling
	// for average pooling).
	Custom map[string]LayerFactory
	// FuseReLU builds a Conv2D followed by a ReLU (its own "relu"
	// activation, or an Activation("relu") layer that is its only consumer)
	// as one nn.Conv2DReLU, which saves a pass over the activations and,
	// in inference mode, a buffer. The convolution's output before the ReLU
	// then is unavailable as a tap (name+PreActSuffix, or the convolution's
	// name when the ReLU is a layer of its own).
	FuseReLU bool
}

// Node names that FromKeras adds besides the Keras layer names.
const (
	// PreActSuffix names the output of a Conv2D or Dense before its fused
	// activation: "block1_conv1" is after the ReLU, "block1_conv1/preact"
	// before it.
	PreActSuffix = "/preact"
)

// FromKeras builds a graph from a Keras functional (or Sequential) topology
// and its weights. Supported classes: InputLayer, Conv2D, Dense, Activation
// (linear, relu, tanh, sigmoid, softmax), ReLU, LeakyReLU,
// BatchNormalization (channel axis), Add, Concatenate (channel axis),
// ZeroPadding2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
// Flatten, UpSampling2D (nearest) and the inference-time identities
// (Dropout and friends); anything else needs KerasOptions.Custom.
//
// Every layer becomes a node named after it (Conv2D and
// Dense with an activation become two nodes, see PreActSuffix). A
// BatchNormalization directly after a Conv2D with no activation and no other
// consumer is folded into that convolution (the convolution's own name then
// is unavailable as a tap); a ZeroPadding2D feeding only a "valid"
// convolution is folded into the convolution's padding. Layers whose weights
// are missing (model.ErrUnavailable) are added as unavailable nodes. Other
// problems (an unsupported class, a malformed configuration, a weight of the
// wrong shape) fail the build; unsupported classes wrap ErrUnsupportedLayer.
func FromKeras(t *model.Topology, w WeightSource, opts KerasOptions) (*Graph, error) {
	b := &kerasBuilder{t: t, w: w, opts: opts, skip: map[string]bool{}}
	return b.build()
}

type kerasBuilder struct {
	t         *model.Topology
	w         WeightSource
	opts      KerasOptions
	g         *Graph
	consumers map[string][]string
	skip      map[string]bool // layers already built as part of another
}

func (b *kerasBuilder) build() (*Graph, error) {
	t := b.t
	if t == nil {
		return nil, errors.New("graph: nil topology")
	}
	needed, err := b.needed()
	if err != nil {
		return nil, err
	}
	var layers []*model.Layer
	for _, l := range t.Layers {
		if needed[l.Name] {
			layers = append(layers, l)
		}
	}
	// The input node.
	var inputs []*model.Layer
	for _, l := range layers {
		if l.ClassName == "InputLayer" {
			inputs = append(inputs, l)
		}
	}
	input := "input"
	switch {
	case len(inputs) == 1:
		input = inputs[0].Name
	case len(inputs) > 1:
		return nil, fmt.Errorf("%w: model has %d inputs, only one is supported", ErrUnsupportedLayer, len(inputs))
	case t.ClassName != "Sequential":
		return nil, fmt.Errorf("graph: model %q has no InputLayer", t.Name)
	}
	b.g = New(input)
	b.consumers = map[string][]string{}
	for _, l := range layers {
		for _, in := range b.inbound(l) {
			b.consumers[in] = append(b.consumers[in], l.Name)
		}
	}
	order, err := b.topoOrder(layers)
	if err != nil {
		return nil, err
	}
	for _, l := range order {
		if l.ClassName == "InputLayer" || b.skip[l.Name] {
			continue
		}
		if err := b.layer(l); err != nil {
			return nil, err
		}
	}
	return b.g, nil
}

// needed returns the set of layers to build.
func (b *kerasBuilder) needed() (map[string]bool, error) {
	needed := map[string]bool{}
	if len(b.opts.Outputs) == 0 {
		for _, l := range b.t.Layers {
			needed[l.Name] = true
		}
		return needed, nil
	}
	stack := append([]string(nil), b.opts.Outputs...)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if needed[name] {
			continue
		}
		l := b.t.Layer(name)
		if l == nil {
			return nil, fmt.Errorf("graph: output %q: the model has no such layer", name)
		}
		needed[name] = true
		stack = append(stack, b.inbound(l)...)
	}
	return needed, nil
}

// inbound returns the names of the layers feeding l (nil for a first layer
// of a Sequential model without InputLayer, which reads the graph input).
func (b *kerasBuilder) inbound(l *model.Layer) []string { return l.InboundNames() }

// inputsOf is inbound with the graph input filled in for first layers.
func (b *kerasBuilder) inputsOf(l *model.Layer) []string {
	ins := b.inbound(l)
	if len(ins) == 0 {
		return []string{b.g.InputName()}
	}
	return ins
}

// topoOrder sorts layers so that every layer follows its inputs; Keras
// writes them sorted already, so this is usually the identity.
func (b *kerasBuilder) topoOrder(layers []*model.Layer) ([]*model.Layer, error) {
	done := map[string]bool{}
	var order []*model.Layer
	for len(order) < len(layers) {
		progress := false
		for _, l := range layers {
			if done[l.Name] {
				continue
			}
			ready := true
			for _, in := range b.inbound(l) {
				if !done[in] {
					ready = false
					break
				}
			}
			if ready {
				done[l.Name] = true
				order = append(order, l)
				progress = true
			}
		}
		if !progress {
			return nil, errors.New("graph: the Keras topology has a cycle")
		}
	}
	return order, nil
}

// unsupported formats the error for a layer that cannot be built.
func unsupported(l *model.Layer, why string) error {
	if why != "" {
		why = ": " + why
	}
	return fmt.Errorf("%w %q (class %s)%s", ErrUnsupportedLayer, l.Name, l.ClassName, why)
}

// layer adds the node(s) for one Keras layer.
func (b *kerasBuilder) layer(l *model.Layer) error {
	if len(l.Inbound) > 1 {
		return unsupported(l, "shared layers (called more than once) are not supported")
	}
	if l.Sub != nil {
		return unsupported(l, "nested models are not supported")
	}
	if l.DataFormat != "" && l.DataFormat != "channels_last" {
		return unsupported(l, "data_format "+l.DataFormat)
	}
	ins := b.inputsOf(l)
	if f, ok := b.opts.Custom[l.ClassName]; ok {
		if len(ins) != 1 {
			return unsupported(l, fmt.Sprintf("custom layer with %d inputs", len(ins)))
		}
		layer, err := f(l, b.w)
		if err != nil {
			return b.failed(l, ins, err)
		}
		return b.g.AddLayer(l.Name, layer, ins[0])
	}
	switch l.ClassName {
	case "Add":
		if len(ins) < 2 {
			return unsupported(l, fmt.Sprintf("Add with %d inputs", len(ins)))
		}
		return b.g.AddMulti(l.Name, newAddN(len(ins)), ins...)
	case "Concatenate":
		return b.concat(l, ins)
	}
	if len(ins) != 1 {
		return unsupported(l, fmt.Sprintf("%d inputs for a single-input layer", len(ins)))
	}
	in := ins[0]
	switch l.ClassName {
	case "Conv2D":
		return b.conv(l, in)
	case "Dense":
		return b.dense(l, in)
	case "Activation":
		return b.activation(l, l.Name, l.Activation, in)
	case "ReLU":
		return b.relu(l, in)
	case "LeakyReLU":
		var c struct {
			Alpha *float32 `json:"alpha"`
		}
		if err := l.DecodeConfig(&c); err != nil {
			return err
		}
		alpha := float32(0.3) // the Keras default
		if c.Alpha != nil {
			alpha = *c.Alpha
		}
		return b.g.AddLayer(l.Name, nn.NewLeakyReLU(alpha), in)
	case "BatchNormalization":
		return b.batchNorm(l, in)
	case "ZeroPadding2D":
		top, bottom, left, right, err := l.ZeroPadding()
		if err != nil {
			return err
		}
		pad := nn.NewPad2D(nn.PadExplicit, top, bottom, left, right)
		if _, err := pad.OutShape([]int{1, 1, 4096, 4096}); err != nil {
			return fmt.Errorf("graph: layer %q: %w", l.Name, err)
		}
		return b.g.AddLayer(l.Name, pad, in)
	case "MaxPooling2D", "AveragePooling2D":
		return b.pool(l, in)
	case "GlobalAveragePooling2D":
		return b.g.AddLayer(l.Name, &flatten{inner: nn.NewGlobalAvgPool()}, in)
	case "Flatten":
		return b.g.AddLayer(l.Name, &flatten{channelsLast: true}, in)
	case "UpSampling2D":
		return b.upsample(l, in)
	case "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout":
		// Identity at inference time.
		return b.g.Alias(l.Name, in)
	}
	return unsupported(l, "")
}

// failed records a layer whose weights are missing as unavailable and
// returns every other error.
func (b *kerasBuilder) failed(l *model.Layer, ins []string, err error) error {
	if errors.Is(err, model.ErrUnavailable) {
		if act := l.Activation; (l.ClassName == "Conv2D" || l.ClassName == "Dense") && act != "" && act != "linear" {
			// Keep the pre-activation tap name known, like a built layer.
			if err := b.g.AddUnavailable(l.Name+PreActSuffix, err, ins...); err != nil {
				return err
			}
			ins = []string{l.Name + PreActSuffix}
		}
		return b.g.AddUnavailable(l.Name, err, ins...)
	}
	return fmt.Errorf("graph: layer %q (class %s): %w", l.Name, l.ClassName, err)
}

// weights reads the named weights of l, stopping at the first error.
func (b *kerasBuilder) weights(l *model.Layer, names ...string) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(names))
	for i, n := range names {
		t, err := b.w.Weight(l.Name + "/" + n)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// square returns the single size of a square window or stride ([k], [k, k]).
func square(l *model.Layer, what string, v []int, def int) (int, error) {
	switch {
	case len(v) == 0:
		return def, nil
	case len(v) == 1 || (len(v) == 2 && v[0] == v[1]):
		if v[0] < 1 {
			return 0, unsupported(l, fmt.Sprintf("%s %v", what, v))
		}
		return v[0], nil
	}
	return 0, unsupported(l, fmt.Sprintf("non-square %s %v", what, v))
}

// foldablePad returns the ZeroPadding2D layer feeding l when l is a "valid"
// convolution, so its padding can become the convolution's own (the
// padding node stays in the graph as a tap, computed only when asked for).
func (b *kerasBuilder) foldablePad(l *model.Layer, in string) *model.Layer {
	p := b.t.Layer(in)
	if p == nil || p.ClassName != "ZeroPadding2D" || l.Padding != "valid" {
		return nil
	}
	if _, custom := b.opts.Custom[p.ClassName]; custom {
		return nil
	}
	return p
}

// foldableBN returns the BatchNormalization that follows conv l when it can
// be folded into it.
func (b *kerasBuilder) foldableBN(l *model.Layer) *model.Layer {
	if l.Activation != "" && l.Activation != "linear" {
		return nil
	}
	cs := b.consumers[l.Name]
	if len(cs) != 1 {
		return nil
	}
	bn := b.t.Layer(cs[0])
	if bn == nil || bn.ClassName != "BatchNormalization" || len(bn.Inbound) != 1 {
		return nil
	}
	if _, custom := b.opts.Custom[bn.ClassName]; custom {
		return nil
	}
	return bn
}

func (b *kerasBuilder) conv(l *model.Layer, in string) error {
	var c struct {
		Groups int `json:"groups"`
	}
	if err := l.DecodeConfig(&c); err != nil {
		return err
	}
	if c.Groups > 1 {
		return unsupported(l, fmt.Sprintf("grouped convolution (groups=%d)", c.Groups))
	}
	stride, err := square(l, "strides", l.Strides, 1)
	if err != nil {
		return err
	}
	dil, err := square(l, "dilation_rate", l.DilationRate, 1)
	if err != nil {
		return err
	}
	opt := nn.ConvOpts{Stride: stride, Dilation: dil}
	switch l.Padding {
	case "same":
		opt.Pad = nn.PadSame
	case "valid":
	default:
		return unsupported(l, "padding "+l.Padding)
	}
	src := in
	if p := b.foldablePad(l, in); p != nil {
		top, bottom, left, right, err := p.ZeroPadding()
		if err != nil {
			return err
		}
		opt.Pad = nn.PadExplicit
		opt.PadTop, opt.PadBottom, opt.PadLeft, opt.PadRight = top, bottom, left, right
		src = b.inputsOf(p)[0]
	}
	names := []string{"kernel"}
	if l.UseBias {
		names = append(names, "bias")
	}
	ws, err := b.weights(l, names...)
	if err != nil {
		return b.failed(l, []string{src}, err)
	}
	k := ws[0]
	if len(k.Shape) != 4 || (l.Filters > 0 && k.Shape[3] != l.Filters) {
		return fmt.Errorf("graph: layer %q: kernel shape %v, want [kh, kw, in, %d]: %w", l.Name, k.Shape, l.Filters, nn.ErrShape)
	}
	var bias *tensor.Tensor
	if l.UseBias {
		bias = ws[1]
	}
	conv := nn.NewConv2D(nn.HWIOToOIHW(k), bias, opt)
	if _, err := conv.OutShape([]int{1, k.Shape[2], 4096, 4096}); err != nil {
		return fmt.Errorf("graph: layer %q: %w", l.Name, err)
	}
	bn := b.foldableBN(l)
	if bn == nil {
		if b.opts.FuseReLU {
			if done, err := b.fuseReLU(l, conv, src); done || err != nil {
				return err
			}
		}
		return b.withActivation(l, l.Name, conv, src)
	}
	b.skip[bn.Name] = true
	if err := b.foldBN(conv, bn); err != nil {
		if !errors.Is(err, model.ErrUnavailable) {
			return err
		}
		if err := b.g.AddUnavailable(l.Name, err, src); err != nil {
			return err
		}
		return b.g.AddUnavailable(bn.Name, err, l.Name)
	}
	if err := b.g.AddLayer(bn.Name, conv, src); err != nil {
		return err
	}
	// The convolution's own output no longer exists.
	return b.g.AddUnavailable(l.Name, fmt.Errorf("graph: the output of %q was folded into batch normalization %q", l.Name, bn.Name), src)
}

// fuseReLU adds conv and the ReLU after it as one nn.Conv2DReLU when the
// ReLU is conv's own activation or its only consumer, and reports whether it
// did.
func (b *kerasBuilder) fuseReLU(l *model.Layer, conv *nn.Conv2D, src string) (bool, error) {
	if l.Activation == "relu" {
		if err := b.g.AddLayer(l.Name, nn.NewConv2DReLU(conv), src); err != nil {
			return true, err
		}
		return true, b.g.AddUnavailable(l.Name+PreActSuffix, fmt.Errorf("graph: the output of %q before its ReLU is not kept (KerasOptions.FuseReLU)", l.Name), src)
	}
	if l.Activation != "" && l.Activation != "linear" {
		return false, nil
	}
	cs := b.consumers[l.Name]
	if len(cs) != 1 {
		return false, nil
	}
	act := b.t.Layer(cs[0])
	if act == nil || act.ClassName != "Activation" || act.Activation != "relu" || len(act.Inbound) != 1 {
		return false, nil
	}
	if _, custom := b.opts.Custom[act.ClassName]; custom {
		return false, nil
	}
	b.skip[act.Name] = true
	if err := b.g.AddLayer(act.Name, nn.NewConv2DReLU(conv), src); err != nil {
		return true, err
	}
	return true, b.g.AddUnavailable(l.Name, fmt.Errorf("graph: the output of %q was fused into ReLU %q (KerasOptions.FuseReLU)", l.Name, act.Name), src)
}

// foldBN folds the BatchNormalization bn into conv.
func (b *kerasBuilder) foldBN(conv *nn.Conv2D, bn *model.Layer) error {
	gamma, beta, mean, variance, eps, err := b.bnParams(bn)
	if err != nil {
		return err
	}
	if err := nn.FoldBatchNorm(conv, gamma, beta, mean, variance, eps); err != nil {
		return fmt.Errorf("graph: folding %q: %w", bn.Name, err)
	}
	return nil
}

// bnParams reads the parameters of a BatchNormalization layer over the
// channel axis, filling in gamma=1 and beta=0 when the layer has none.
func (b *kerasBuilder) bnParams(bn *model.Layer) (gamma, beta, mean, variance []float32, eps float32, err error) {
	if len(bn.Axis) != 1 || (bn.Axis[0] != -1 && bn.Axis[0] != 3) {
		return nil, nil, nil, nil, 0, unsupported(bn, fmt.Sprintf("axis %v (only the channel axis is supported)", bn.Axis))
	}
	ws, err := b.weights(bn, "moving_mean", "moving_variance")
	if err != nil {
		return nil, nil, nil, nil, 0, err
	}
	mean, variance = ws[0].Data, ws[1].Data
	if len(mean) != len(variance) {
		return nil, nil, nil, nil, 0, fmt.Errorf("graph: layer %q: mean and variance lengths %d, %d: %w", bn.Name, len(mean), len(variance), nn.ErrShape)
	}
	fill := func(v float32) []float32 {
		s := make([]float32, len(mean))
		for i := range s {
			s[i] = v
		}
		return s
	}
	gamma, beta = fill(1), fill(0)
	if bn.Scale {
		g, err := b.weights(bn, "gamma")
		if err != nil {
			return nil, nil, nil, nil, 0, err
		}
		gamma = g[0].Data
	}
	if bn.Center {
		be, err := b.weights(bn, "beta")
		if err != nil {
			return nil, nil, nil, nil, 0, err
		}
		beta = be[0].Data
	}
	if len(gamma) != len(mean) || len(beta) != len(mean) {
		return nil, nil, nil, nil, 0, fmt.Errorf("graph: layer %q: parameter lengths differ: %w", bn.Name, nn.ErrShape)
	}
	eps = float32(bn.Epsilon)
	if bn.Epsilon == 0 {
		eps = 1e-3 // the Keras default
	}
	return gamma, beta, mean, variance, eps, nil
}

func (b *kerasBuilder) batchNorm(l *model.Layer, in string) error {
	gamma, beta, mean, variance, eps, err := b.bnParams(l)
	if err != nil {
		return b.failed(l, []string{in}, err)
	}
	return b.g.AddLayer(l.Name, newChannelAffine(gamma, beta, mean, variance, eps), in)
}

func (b *kerasBuilder) dense(l *model.Layer, in string) error {
	names := []string{"kernel"}
	if l.UseBias {
		names = append(names, "bias")
	}
	ws, err := b.weights(l, names...)
	if err != nil {
		return b.failed(l, []string{in}, err)
	}
	k := ws[0]
	if len(k.Shape) != 2 || (l.Units > 0 && k.Shape[1] != l.Units) {
		return fmt.Errorf("graph: layer %q: kernel shape %v, want [in, %d]: %w", l.Name, k.Shape, l.Units, nn.ErrShape)
	}
	var bias *tensor.Tensor
	if l.UseBias {
		bias = ws[1]
	}
	d, err := newDense(k, bias)
	if err != nil {
		return fmt.Errorf("graph: layer %q: %w", l.Name, err)
	}
	return b.withActivation(l, l.Name, d, in)
}

// withActivation adds layer under name, followed by l's fused activation
// when it has one (the layer then becomes name+PreActSuffix).
func (b *kerasBuilder) withActivation(l *model.Layer, name string, layer nn.Layer, in string) error {
	if l.Activation == "" || l.Activation == "linear" {
		return b.g.AddLayer(name, layer, in)
	}
	pre := name + PreActSuffix
	if err := b.g.AddLayer(pre, layer, in); err != nil {
		return err
	}
	return b.activation(l, name, l.Activation, pre)
}

// activation adds the named activation function as node name.
func (b *kerasBuilder) activation(l *model.Layer, name, act, in string) error {
	var layer nn.Layer
	switch act {
	case "linear", "":
		return b.g.Alias(name, in)
	case "relu":
		layer = nn.NewReLU()
	case "tanh":
		layer = nn.NewTanh()
	case "sigmoid":
		layer = nn.NewSigmoid()
	case "softmax":
		layer = nn.NewSoftmax()
	default:
		return unsupported(l, "activation "+act)
	}
	return b.g.AddLayer(name, layer, in)
}

func (b *kerasBuilder) relu(l *model.Layer, in string) error {
	var c struct {
		MaxValue      *float64 `json:"max_value"`
		NegativeSlope float32  `json:"negative_slope"`
		Threshold     float64  `json:"threshold"`
	}
	if err := l.DecodeConfig(&c); err != nil {
		return err
	}
	if c.MaxValue != nil || c.Threshold != 0 {
		return unsupported(l, "max_value and threshold are not supported")
	}
	if c.NegativeSlope != 0 {
		return b.g.AddLayer(l.Name, nn.NewLeakyReLU(c.NegativeSlope), in)
	}
	return b.g.AddLayer(l.Name, nn.NewReLU(), in)
}

func (b *kerasBuilder) pool(l *model.Layer, in string) error {
	k, err := square(l, "pool_size", l.PoolSize, 2)
	if err != nil {
		return err
	}
	stride, err := square(l, "strides", l.Strides, k)
	if err != nil {
		return err
	}
	var layer nn.Layer
	switch {
	case l.Padding != "same" && l.Padding != "valid":
		return unsupported(l, "padding "+l.Padding)
	case l.ClassName == "MaxPooling2D" && l.Padding == "same":
		layer = nn.NewMaxPool2DSame(k, stride)
	case l.ClassName == "MaxPooling2D":
		layer = nn.NewMaxPool2D(k, stride, 0)
	case l.Padding == "same":
		layer = nn.NewAvgPool2DSame(k, stride)
	default:
		layer = nn.NewAvgPool2D(k, stride, 0)
	}
	return b.g.AddLayer(l.Name, layer, in)
}

func (b *kerasBuilder) concat(l *model.Layer, ins []string) error {
	if len(l.Axis) == 1 && l.Axis[0] != -1 && l.Axis[0] != 3 {
		return unsupported(l, fmt.Sprintf("axis %v (only the channel axis is supported)", l.Axis))
	}
	if len(ins) < 2 {
		return unsupported(l, fmt.Sprintf("Concatenate with %d inputs", len(ins)))
	}
	return b.g.AddMulti(l.Name, newConcat(), ins...)
}

func (b *kerasBuilder) upsample(l *model.Layer, in string) error {
	var c struct {
		Interpolation string `json:"interpolation"`
	}
	if err := l.DecodeConfig(&c); err != nil {
		return err
	}
	if c.Interpolation != "" && c.Interpolation != "nearest" {
		// Keras' bilinear resize changed pixel centres between TF 1 and 2.
		return unsupported(l, "interpolation "+c.Interpolation)
	}
	f, err := square(l, "size", l.Size, 2)
	if err != nil {
		return err
	}
	return b.g.AddLayer(l.Name, nn.NewUpsample(f, nn.Nearest), in)
}
