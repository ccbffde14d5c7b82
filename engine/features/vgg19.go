package features

import (
	"fmt"

	"atelier/engine/graph"
	"atelier/engine/model"
	"atelier/engine/nn"
)

// VGG19Options configures LoadVGG19. The zero value is the original
// network with max pooling.
type VGG19Options struct {
	// AvgPool replaces the max pooling between blocks by 2x2 average
	// pooling, which Gatys et al. (2016) found to give slightly smoother
	// results for image synthesis. Default false.
	AvgPool bool
	// FuseReLU builds every convolution and its ReLU as one layer
	// (nn.Conv2DReLU, graph.KerasOptions.FuseReLU): a pass over the
	// activations less each way and half the activation memory (a forward
	// and backward pass to relu3_2 at 1024x768 keeps 1.3 GB less). The
	// pre-activation taps conv{b}_{i} do not exist then (ErrUnknownTap).
	// Default false.
	FuseReLU bool
}

// vgg19Blocks is the number of convolutions in each block of VGG19.
var vgg19Blocks = [5]int{2, 2, 4, 4, 4}

// VGG19FetchHint tells the user how to get the weights a partial VGG19
// lacks.
const VGG19FetchHint = "fetch the full model with `atelier models fetch vgg19-full`"

// VGG19 is the VGG19 feature network (Simonyan and Zisserman 2014) with the
// original Caffe ImageNet weights in their Keras port, the usual network for
// Gatys-style transfer. Its input is the RGB image converted to BGR minus the
// ImageNet mean [103.939, 116.779, 123.68].
//
// Taps, in order: conv{b}_{i} (a convolution's output before its ReLU;
// not with VGG19Options.FuseReLU), relu{b}_{i} (after it) for block b = 1..5 and i = 1..2 (blocks 1-2) or
// 1..4 (blocks 3-5), and pool{b} after each block's pooling. Only the taps
// the weights on disk reach are available: the partial model in
// ../shared/models/vgg19-tfjs stops at relu3_4 (and pool3).
type VGG19 struct {
	*network
	opts VGG19Options
}

var _ Extractor = (*VGG19)(nil)

// LoadVGG19 loads VGG19 from a TF.js layers model folder (model.json and its
// shards) holding the Keras VGG19 topology. Missing shards only make the
// deeper taps unavailable; the classifier head is never read.
func LoadVGG19(dir string, opts VGG19Options) (*VGG19, error) {
	m, err := model.OpenLayersModel(dir)
	if err != nil {
		return nil, fmt.Errorf("features: VGG19: %w", err)
	}
	return NewVGG19(m, opts)
}

// NewVGG19 builds VGG19 from an opened layers model.
func NewVGG19(m *model.LayersModel, opts VGG19Options) (*VGG19, error) {
	kopts := graph.KerasOptions{Outputs: []string{"block5_pool"}, FuseReLU: opts.FuseReLU}
	if opts.AvgPool {
		kopts.Custom = map[string]graph.LayerFactory{"MaxPooling2D": avgPoolFactory}
	}
	if m.Topology.Layer("block5_pool") == nil {
		return nil, fmt.Errorf("features: VGG19: %s has no layer block5_pool: not a Keras VGG19", m.Path)
	}
	g, err := graph.FromKeras(m.Topology, m, kopts)
	if err != nil {
		return nil, fmt.Errorf("features: VGG19: %w", err)
	}
	var taps []tapSpec
	for b, convs := range vgg19Blocks {
		size := 1 << b // b pools before this block, each halving (floor) the size
		for i := 1; i <= convs; i++ {
			layer := fmt.Sprintf("block%d_conv%d", b+1, i)
			if !opts.FuseReLU {
				taps = append(taps, tapSpec{name: fmt.Sprintf("conv%d_%d", b+1, i), node: layer + graph.PreActSuffix, minSize: size})
			}
			taps = append(taps, tapSpec{name: fmt.Sprintf("relu%d_%d", b+1, i), node: layer, minSize: size})
		}
		taps = append(taps, tapSpec{name: fmt.Sprintf("pool%d", b+1), node: fmt.Sprintf("block%d_pool", b+1), minSize: 2 * size})
	}
	n, err := newNetwork("VGG19", VGG19FetchHint, g, taps)
	if err != nil {
		return nil, err
	}
	return &VGG19{network: n, opts: opts}, nil
}

// avgPoolFactory builds a Keras MaxPooling2D as average pooling.
func avgPoolFactory(l *model.Layer, _ graph.WeightSource) (nn.Layer, error) {
	k, stride := 2, 2
	if len(l.PoolSize) > 0 {
		k = l.PoolSize[0]
	}
	if len(l.Strides) > 0 {
		stride = l.Strides[0]
	} else {
		stride = k
	}
	if l.Padding == "same" {
		return nn.NewAvgPool2DSame(k, stride), nil
	}
	return nn.NewAvgPool2D(k, stride, 0), nil
}

// DefaultStyleTaps returns relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1
// (Gatys et al.), keeping those the loaded weights reach.
func (v *VGG19) DefaultStyleTaps() []string {
	var out []string
	for _, t := range []string{"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"} {
		if v.available(t) {
			out = append(out, t)
		}
	}
	return out
}

// DefaultContentTap returns relu4_2 (Gatys et al.), or relu3_2 when the
// loaded weights stop before block 4.
func (v *VGG19) DefaultContentTap() string {
	if v.available("relu4_2") {
		return "relu4_2"
	}
	return "relu3_2"
}
