// Package features holds the feature networks that style transfer, texture
// synthesis and perceptual losses read activations from (VGG19, ResNet-50):
// their input normalisation, their named taps ("relu3_1", "stage3"), and the
// gradient of any loss on those taps back to the RGB image.
//
// Every extractor takes RGB images [N,3,H,W] with values 0..255 and handles
// its own normalisation. Extractors keep their buffers between calls, so
// iterating Extract and Backward on images of one size does not allocate;
// they are not safe for concurrent use.
package features

import (
	"errors"
	"fmt"
	"strings"

	"atelier/engine/graph"
	"atelier/engine/tensor"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrUnknownTap reports a tap name the network does not have.
	ErrUnknownTap = errors.New("features: unknown tap")
	// ErrMissingWeights reports a tap that needs weights whose files are
	// not on disk (a partial model); the message names the file and how to
	// fetch the full model.
	ErrMissingWeights = errors.New("features: weights missing for tap")
	// ErrInput reports an image that is not [N,3,H,W] or too small for
	// the requested taps.
	ErrInput = errors.New("features: bad input image")
)

// Extractor is a feature network with named taps.
type Extractor interface {
	// Extract runs the network on img, RGB [N,3,H,W] with values 0..255,
	// as far as the taps need, and returns each tap's activations. The map
	// and its tensors are owned by the extractor and overwritten by the
	// next Extract; img must stay unchanged until Backward.
	Extract(img *tensor.Tensor, taps []string) (map[string]*tensor.Tensor, error)
	// Backward takes dL/dtap for some of the taps of the last Extract (a
	// tap missing from grads, or a nil gradient, contributes nothing) and
	// returns dL/dimg for the RGB 0..255 input, owned by the extractor.
	// It panics on a tap the last Extract did not return or a gradient of
	// the wrong shape: both are programming errors.
	Backward(grads map[string]*tensor.Tensor) *tensor.Tensor
	// Taps lists, shallow to deep, the taps the loaded weights can compute.
	Taps() []string
	// DefaultStyleTaps is the usual set of style layers among Taps.
	DefaultStyleTaps() []string
	// DefaultContentTap is the usual content layer among Taps.
	DefaultContentTap() string
}

// caffeMeanBGR is the ImageNet mean that the Caffe-trained VGG and ResNet
// weights subtract from BGR 0..255 images.
var caffeMeanBGR = [3]float32{103.939, 116.779, 123.68}

// tapSpec maps one public tap to a graph node.
type tapSpec struct {
	name, node string
	// minSize is the smallest height and width for which the tap's
	// activations are not empty.
	minSize int
}

// network is the machinery shared by the extractors: caffe-style input
// normalisation, the tap table and the buffers.
type network struct {
	name      string // "VGG19"
	fetchHint string // how to get the full weights, for ErrMissingWeights
	g         *graph.Graph
	taps      []tapSpec // every tap of the architecture, shallow to deep
	byName    map[string]int

	x, dimg  *tensor.Tensor // preprocessed input, RGB gradient
	outs     map[string]*tensor.Tensor
	seeds    map[string]*tensor.Tensor
	lastTaps []string // taps of the last successful Extract...
	nodes    []string // ...and their graph nodes
	minSize  int      // ...and the smallest input they accept
}

func newNetwork(name, fetchHint string, g *graph.Graph, taps []tapSpec) (*network, error) {
	n := &network{name: name, fetchHint: fetchHint, g: g, taps: taps, byName: map[string]int{},
		outs: map[string]*tensor.Tensor{}, seeds: map[string]*tensor.Tensor{}}
	for i, t := range taps {
		if !g.Has(t.node) {
			return nil, fmt.Errorf("features: %s: tap %q: the model has no node %q", name, t.name, t.node)
		}
		n.byName[t.name] = i
	}
	g.SetWeightGrad(false)
	return n, nil
}

// Taps lists the taps the loaded weights can compute, shallow to deep.
func (n *network) Taps() []string {
	var out []string
	for _, t := range n.taps {
		if n.g.Check(t.node) == nil {
			out = append(out, t.name)
		}
	}
	return out
}

// available reports whether the weights for tap are loaded.
func (n *network) available(tap string) bool {
	i, ok := n.byName[tap]
	return ok && n.g.Check(n.taps[i].node) == nil
}

// resolve maps public taps to graph nodes, reusing the last mapping when the
// taps are the same.
func (n *network) resolve(taps []string) error {
	if sameStrings(taps, n.lastTaps) && n.lastTaps != nil {
		return nil
	}
	nodes := make([]string, len(taps))
	minSize := 1
	for i, name := range taps {
		k, ok := n.byName[name]
		if !ok {
			names := make([]string, len(n.taps))
			for j, t := range n.taps {
				names[j] = t.name
			}
			return fmt.Errorf("%w %q for %s (taps: %s)", ErrUnknownTap, name, n.name, strings.Join(names, ", "))
		}
		t := n.taps[k]
		if err := n.g.Check(t.node); err != nil {
			if errors.Is(err, graph.ErrUnavailable) {
				return fmt.Errorf("%w %s: the %s weights on disk stop before it (%w); %s",
					ErrMissingWeights, name, n.name, err, n.fetchHint)
			}
			return fmt.Errorf("features: %s tap %q: %w", n.name, name, err)
		}
		nodes[i] = t.node
		minSize = max(minSize, t.minSize)
	}
	n.lastTaps = append([]string(nil), taps...)
	n.nodes, n.minSize = nodes, minSize
	return nil
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Extract implements Extractor.
func (n *network) Extract(img *tensor.Tensor, taps []string) (map[string]*tensor.Tensor, error) {
	if img == nil || len(img.Shape) != 4 || img.Shape[1] != 3 || img.Shape[0] < 1 || len(img.Data) != tensor.Volume(img.Shape) {
		return nil, fmt.Errorf("%w: want RGB [N,3,H,W], got %v", ErrInput, img)
	}
	if err := n.resolve(taps); err != nil {
		n.lastTaps = nil
		return nil, err
	}
	if h, w := img.Shape[2], img.Shape[3]; h < n.minSize || w < n.minSize {
		return nil, fmt.Errorf("%w: %dx%d is smaller than the %dx%d the taps %v of %s need", ErrInput, w, h, n.minSize, n.minSize, taps, n.name)
	}
	n.x = caffeInput(n.x, img)
	outs, err := n.g.Forward(n.x, n.nodes)
	if err != nil {
		return nil, fmt.Errorf("features: %s: %w", n.name, err)
	}
	clear(n.outs)
	for i, name := range taps {
		n.outs[name] = outs[i]
	}
	return n.outs, nil
}

// Backward implements Extractor.
func (n *network) Backward(grads map[string]*tensor.Tensor) *tensor.Tensor {
	clear(n.seeds)
	for name, g := range grads {
		if g == nil {
			continue
		}
		k, ok := n.byName[name]
		if !ok {
			panic(fmt.Sprintf("features: %s: Backward for unknown tap %q", n.name, name))
		}
		if _, ok := n.outs[name]; !ok {
			panic(fmt.Sprintf("features: %s: Backward for tap %q, which the last Extract did not return", n.name, name))
		}
		n.seeds[n.taps[k].node] = g
	}
	dx, err := n.g.Backward(n.seeds)
	if err != nil {
		panic(fmt.Sprintf("features: %s: %v", n.name, err))
	}
	n.dimg = caffeGrad(n.dimg, dx)
	return n.dimg
}

// caffeInput converts RGB 0..255 to BGR minus the ImageNet mean, into buf.
func caffeInput(buf, img *tensor.Tensor) *tensor.Tensor {
	buf = tensor.Ensure(buf, img.Shape...)
	nb, _, h, w := img.Dims()
	hw := h * w
	for b := 0; b < nb; b++ {
		for c := 0; c < 3; c++ {
			src := img.Data[(b*3+2-c)*hw : (b*3+3-c)*hw]
			dst := buf.Data[(b*3+c)*hw : (b*3+c+1)*hw]
			m := caffeMeanBGR[c]
			for i, v := range src {
				dst[i] = v - m
			}
		}
	}
	return buf
}

// caffeGrad turns dL/d(BGR input) into dL/d(RGB image): the mean shift has
// unit derivative, so only the channel order changes.
func caffeGrad(buf, dx *tensor.Tensor) *tensor.Tensor {
	buf = tensor.Ensure(buf, dx.Shape...)
	nb, _, h, w := dx.Dims()
	hw := h * w
	for b := 0; b < nb; b++ {
		for c := 0; c < 3; c++ {
			copy(buf.Data[(b*3+c)*hw:(b*3+c+1)*hw], dx.Data[(b*3+2-c)*hw:(b*3+3-c)*hw])
		}
	}
	return buf
}
