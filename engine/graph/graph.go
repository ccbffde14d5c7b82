// Package graph runs directed acyclic graphs of nn layers, such as Keras
// functional models: nodes with one input (any nn.Layer) or several (Add,
// Concat), named taps whose outputs can be read, and a backward pass to the
// graph input that sums the gradients arriving from several consumers and can
// be seeded at several taps at once.
//
// Only the part of the graph needed for the requested taps runs, and the
// buffers of every node are reused across iterations: once a graph has seen
// an input size and a set of taps, Forward and Backward do not allocate.
//
// In inference mode (SetInference) a graph runs forward only and plans its
// memory: layers that let the caller place their output (nn.OutputSetter)
// share a few buffers, each node's output living from its computation to
// its last consumer, so a deep network needs little more memory than its
// widest few activations.
//
// A Graph is not safe for concurrent use.
package graph

import (
	"errors"
	"fmt"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrUnknownTap reports a tap name that names no node or alias.
	ErrUnknownTap = errors.New("graph: unknown tap")
	// ErrUnavailable reports a node that exists in the model but cannot be
	// computed, typically because its weights are missing. The error that
	// made it unavailable is wrapped too.
	ErrUnavailable = errors.New("graph: node unavailable")
	// ErrNoForward reports a Backward that does not follow a successful
	// Forward computing the seeded taps, or a Backward in inference mode.
	ErrNoForward = errors.New("graph: backward without a matching forward")
)

// Multi is a differentiable operation with several inputs and one output
// (sum, concatenation). Like nn.Layer, it owns the tensors it returns.
type Multi interface {
	// ForwardMulti computes the output for the inputs xs (xs is owned by
	// the graph and must not be kept).
	ForwardMulti(xs []*tensor.Tensor) *tensor.Tensor
	// BackwardMulti takes dL/dy for the last ForwardMulti and returns dL/dx
	// for each input, in order. The returned tensors may alias dy or each
	// other: the graph never writes into them.
	BackwardMulti(dy *tensor.Tensor) []*tensor.Tensor
}

// node is one operation of the graph; exactly one of layer and multi is set,
// except for the input node and unavailable nodes, which have neither.
type node struct {
	name   string
	inputs []int
	layer  nn.Layer
	multi  Multi
	cause  error // non-nil for an unavailable node
	xs     []*tensor.Tensor

	out *tensor.Tensor // output of the last forward (owned by the layer)

	// Backward state: grad is the summed dL/d(out) of the current backward
	// pass. It points at a tensor owned by someone else (a seed, a
	// consumer's dx) until a second contribution arrives; then it is copied
	// into gradBuf, which the graph owns, and owned becomes true.
	grad    *tensor.Tensor
	gradBuf *tensor.Tensor
	owned   bool

	// Inference mode: setter is the op as an nn.OutputSetter (nil when it
	// places its own output), buf the output header handed to it, ratio its
	// output's size over the graph input's in the last Forward (0:
	// unknown).
	setter nn.OutputSetter
	buf    *tensor.Tensor
	ratio  float64
}

// plan is the part of the graph needed for one list of taps.
type plan struct {
	taps  []string
	tapID []int
	order []int // nodes to run, in topological order
	outs  []*tensor.Tensor
	ran   []bool // indexed by node: computed by this plan
	// frees[k] lists the nodes whose output is dead once step k of order
	// has run (inference mode only).
	frees [][]int
	// Inference mode: offset[k] is where step k's output starts in the
	// arena, planned for an input of planVol values (0: no plan yet, or
	// the last Forward showed it wrong).
	offset  []int
	planVol int
}

// maxPlans bounds the number of cached plans.
const maxPlans = 8

// Graph is a DAG of layers with one input node. Nodes are added in
// topological order: every input of a node exists before the node.
type Graph struct {
	nodes  []*node
	index  map[string]int // node names and aliases
	plans  []*plan
	last   *plan // plan of the last successful Forward, nil if none
	inGrad *tensor.Tensor

	inference bool
	arena     []float32 // inference mode: the storage the planned outputs share
	fused     bool      // rewritten by Fuse: forward only
}

// New returns a graph whose input node is called input.
func New(input string) *Graph {
	g := &Graph{index: map[string]int{}}
	g.nodes = append(g.nodes, &node{name: input})
	g.index[input] = 0
	return g
}

// InputName is the name of the graph's input node.
func (g *Graph) InputName() string { return g.nodes[0].name }

func (g *Graph) addNode(n *node, inputs []string) error {
	if n.name == "" {
		return errors.New("graph: empty node name")
	}
	if _, dup := g.index[n.name]; dup {
		return fmt.Errorf("graph: duplicate node name %q", n.name)
	}
	for _, in := range inputs {
		id, ok := g.index[in]
		if !ok {
			return fmt.Errorf("graph: node %q: unknown input %q", n.name, in)
		}
		n.inputs = append(n.inputs, id)
	}
	n.xs = make([]*tensor.Tensor, len(n.inputs))
	var op any = n.layer
	if n.multi != nil {
		op = n.multi
	}
	n.setter, _ = op.(nn.OutputSetter)
	if g.inference && n.setter != nil {
		n.setter.SetOutput(nil)
	}
	g.index[n.name] = len(g.nodes)
	g.nodes = append(g.nodes, n)
	g.plans, g.last = nil, nil
	return nil
}

// AddLayer adds a node called name applying l to the output of input.
func (g *Graph) AddLayer(name string, l nn.Layer, input string) error {
	if l == nil {
		return fmt.Errorf("graph: node %q: nil layer", name)
	}
	return g.addNode(&node{name: name, layer: l}, []string{input})
}

// AddMulti adds a node called name applying m to the outputs of inputs.
func (g *Graph) AddMulti(name string, m Multi, inputs ...string) error {
	if m == nil {
		return fmt.Errorf("graph: node %q: nil operation", name)
	}
	if len(inputs) == 0 {
		return fmt.Errorf("graph: node %q: no inputs", name)
	}
	return g.addNode(&node{name: name, multi: m}, inputs)
}

// AddUnavailable adds a placeholder for a node that cannot be computed;
// asking for it (or anything that depends on it) fails with ErrUnavailable
// wrapping cause. Its inputs are only recorded for the dependency analysis.
func (g *Graph) AddUnavailable(name string, cause error, inputs ...string) error {
	if cause == nil {
		return fmt.Errorf("graph: node %q: unavailable without a cause", name)
	}
	return g.addNode(&node{name: name, cause: cause}, inputs)
}

// Alias makes alias another name for the node (or alias) target.
func (g *Graph) Alias(alias, target string) error {
	id, ok := g.index[target]
	if !ok {
		return fmt.Errorf("graph: alias %q: %w %q", alias, ErrUnknownTap, target)
	}
	if old, dup := g.index[alias]; dup && old != id {
		return fmt.Errorf("graph: alias %q already names node %q", alias, g.nodes[old].name)
	}
	g.index[alias] = id
	return nil
}

// Has reports whether name is a node or an alias of the graph.
func (g *Graph) Has(name string) bool {
	_, ok := g.index[name]
	return ok
}

// Check returns nil when the tap name can be computed, an error wrapping
// ErrUnknownTap or ErrUnavailable otherwise.
func (g *Graph) Check(name string) error {
	id, ok := g.index[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownTap, name)
	}
	return g.available(id, name)
}

// available walks the ancestors of id looking for an unavailable node.
func (g *Graph) available(id int, tap string) error {
	seen := map[int]bool{}
	stack := []int{id}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[i] {
			continue
		}
		seen[i] = true
		n := g.nodes[i]
		if n.cause != nil {
			if n.name == tap || i == id {
				return fmt.Errorf("%w: %q: %w", ErrUnavailable, tap, n.cause)
			}
			return fmt.Errorf("%w: %q needs %q: %w", ErrUnavailable, tap, n.name, n.cause)
		}
		stack = append(stack, n.inputs...)
	}
	return nil
}

// Names lists the node names in topological order (aliases excluded).
func (g *Graph) Names() []string {
	names := make([]string, len(g.nodes))
	for i, n := range g.nodes {
		names[i] = n.name
	}
	return names
}

// Layer returns the layer of the single-input node name, or nil.
func (g *Graph) Layer(name string) nn.Layer {
	if id, ok := g.index[name]; ok {
		return g.nodes[id].layer
	}
	return nil
}

// Params gathers the parameters of every parametrised layer.
func (g *Graph) Params() []*nn.Param {
	var ps []*nn.Param
	for _, n := range g.nodes {
		var op any = n.layer
		if n.multi != nil {
			op = n.multi
		}
		if p, ok := op.(nn.Parametrised); ok {
			ps = append(ps, p.Params()...)
		}
	}
	return ps
}

// SetWeightGrad turns weight gradients on or off for every layer that
// supports it. Feature extractors keep them off: they only need dL/dinput.
func (g *Graph) SetWeightGrad(on bool) {
	for _, n := range g.nodes {
		var op any = n.layer
		if n.multi != nil {
			op = n.multi
		}
		if w, ok := op.(nn.WeightGradSetter); ok {
			w.SetWeightGrad(on)
		}
	}
}

// planFor returns the cached plan for taps or builds one.
func (g *Graph) planFor(taps []string) (*plan, error) {
	for _, p := range g.plans {
		if equalStrings(p.taps, taps) {
			return p, nil
		}
	}
	p := &plan{taps: append([]string(nil), taps...), ran: make([]bool, len(g.nodes))}
	for _, t := range taps {
		if err := g.Check(t); err != nil {
			return nil, err
		}
		p.tapID = append(p.tapID, g.index[t])
	}
	// Mark the ancestors of the taps; node ids are a topological order.
	stack := append([]int(nil), p.tapID...)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p.ran[i] {
			continue
		}
		p.ran[i] = true
		stack = append(stack, g.nodes[i].inputs...)
	}
	for i, r := range p.ran {
		if r && i != 0 {
			p.order = append(p.order, i)
		}
	}
	p.outs = make([]*tensor.Tensor, len(taps))
	p.frees = g.liveness(p)
	if len(g.plans) == maxPlans {
		g.plans = append(g.plans[:0], g.plans[1:]...)
	}
	g.plans = append(g.plans, p)
	return p, nil
}

func equalStrings(a, b []string) bool {
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

// Forward runs the nodes needed for taps on the input x and returns their
// outputs in the order of taps. The returned slice and tensors are owned by
// the graph and overwritten by the next Forward. x must stay unchanged until
// the matching Backward has run.
func (g *Graph) Forward(x *tensor.Tensor, taps []string) ([]*tensor.Tensor, error) {
	g.last = nil
	p, err := g.planFor(taps)
	if err != nil {
		return nil, err
	}
	g.nodes[0].out = x
	planned := g.inference && g.assign(p, len(x.Data))
	for k, i := range p.order {
		n := g.nodes[i]
		if planned && n.setter != nil {
			g.place(p, k, n, len(x.Data))
		}
		if n.layer != nil {
			n.out = n.layer.Forward(g.nodes[n.inputs[0]].out)
		} else {
			for j, in := range n.inputs {
				n.xs[j] = g.nodes[in].out
			}
			n.out = n.multi.ForwardMulti(n.xs)
			clear(n.xs)
		}
		if g.inference && n.setter != nil {
			g.settle(p, n, planned, len(x.Data))
		}
	}
	for k, id := range p.tapID {
		p.outs[k] = g.nodes[id].out
	}
	g.last = p
	return p.outs, nil
}

// Tap returns the output of name computed by the last Forward, or nil when
// that Forward did not compute it (in inference mode: when it was not one
// of the Forward's taps, since other outputs do not survive it).
func (g *Graph) Tap(name string) *tensor.Tensor {
	id, ok := g.index[name]
	if !ok || g.last == nil || !g.last.ran[id] {
		return nil
	}
	if g.inference {
		for k, t := range g.last.tapID {
			if t == id {
				return g.last.outs[k]
			}
		}
		return nil
	}
	return g.nodes[id].out
}

// Backward propagates gradients from the seeded taps back to the graph input
// and returns dL/dx for the x of the last Forward. seeds maps tap names
// (nodes or aliases computed by the last Forward) to dL/dtap, each of the
// tap's shape; nil seeds are ignored. The gradients of a node used by several
// consumers (and seeded too, possibly) are summed. The result is owned by the
// graph or by a layer and valid until the next Forward or Backward.
func (g *Graph) Backward(seeds map[string]*tensor.Tensor) (*tensor.Tensor, error) {
	if g.inference {
		return nil, fmt.Errorf("%w: the graph is in inference mode (SetInference), which keeps no activations", ErrNoForward)
	}
	if g.fused {
		return nil, fmt.Errorf("%w: the graph was fused for forward-only use (Fuse)", ErrNoForward)
	}
	p := g.last
	if p == nil {
		return nil, ErrNoForward
	}
	for _, i := range p.order {
		g.nodes[i].grad, g.nodes[i].owned = nil, false
	}
	in := g.nodes[0]
	in.grad, in.owned = nil, false
	for name, s := range seeds {
		if s == nil {
			continue
		}
		id, ok := g.index[name]
		if !ok {
			return nil, fmt.Errorf("graph: seed: %w %q", ErrUnknownTap, name)
		}
		if !p.ran[id] {
			return nil, fmt.Errorf("%w: tap %q was not computed", ErrNoForward, name)
		}
		if out := g.nodes[id].out; !tensor.ShapeEqual(out.Shape, s.Shape) {
			return nil, fmt.Errorf("graph: seed for %q has shape %v, tap has %v", name, s.Shape, out.Shape)
		}
		g.accumulate(g.nodes[id], s)
	}
	for k := len(p.order) - 1; k >= 0; k-- {
		n := g.nodes[p.order[k]]
		if n.grad == nil {
			continue
		}
		if n.layer != nil {
			g.accumulate(g.nodes[n.inputs[0]], n.layer.Backward(n.grad))
			continue
		}
		for j, dx := range n.multi.BackwardMulti(n.grad) {
			g.accumulate(g.nodes[n.inputs[j]], dx)
		}
	}
	if in.grad == nil {
		// No seed reaches the input: the gradient is zero.
		g.inGrad = tensor.EnsureZero(g.inGrad, in.out.Shape...)
		return g.inGrad, nil
	}
	return in.grad, nil
}

// accumulate adds the contribution d to n's gradient without ever writing
// into a tensor the graph does not own.
func (g *Graph) accumulate(n *node, d *tensor.Tensor) {
	if !tensor.ShapeEqual(d.Shape, n.out.Shape) {
		panic(fmt.Sprintf("graph: gradient for %q has shape %v, output has %v", n.name, d.Shape, n.out.Shape))
	}
	switch {
	case n.grad == nil:
		n.grad = d
	case !n.owned:
		n.gradBuf = tensor.Ensure(n.gradBuf, d.Shape...)
		a, b, dst := n.grad.Data, d.Data, n.gradBuf.Data
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
		n.grad, n.owned = n.gradBuf, true
	default:
		dst := n.grad.Data
		for i, v := range d.Data {
			dst[i] += v
		}
	}
}
