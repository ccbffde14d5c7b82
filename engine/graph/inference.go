package graph

import (
	"math"
	"slices"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// Inference mode: memory planning for forward-only use.
//
// Every node whose operation is an nn.OutputSetter writes its output into
// a region of one shared arena, reserved from its computation to its last
// consumer in the plan (taps: to the end of Forward). The sizes are
// predicted from the last Forward, in proportion to the input's size (exact
// for convolutional networks with "same" padding and integer resizing), and
// the regions are laid out before the Forward runs, largest first, each at
// the lowest offset where it overlaps no region alive at the same time
// (TensorFlow Lite's greedy-by-size arena), which packs them close to the
// largest total alive at once.
//
// The first Forward, whose sizes cannot be predicted, lets every layer
// allocate its own output, as outside inference mode; every later one runs
// planned, and plans again (allocating a new arena) only when the input
// size changes or a layer's output outgrew its prediction. So iterating at
// one input size does not allocate.
//
// Nodes whose operation places its own output keep their buffers, and
// their inputs stay alive to the end of the Forward, since such an output
// may alias its input.

// SetInference turns inference mode on or off. On, Forward keeps only the
// outputs it returns: the other activations share memory, Tap answers only
// for the Forward's taps and Backward fails with ErrNoForward. Off (the
// default), every layer keeps its own output, as Backward needs. Switching
// drops the arena and makes every layer allocate its own output again.
func (g *Graph) SetInference(on bool) {
	if on == g.inference {
		return
	}
	g.inference = on
	g.arena, g.last = nil, nil
	for _, p := range g.plans {
		p.planVol = 0
	}
	for _, n := range g.nodes {
		n.buf, n.ratio = nil, 0
		if n.setter != nil {
			n.setter.SetOutput(nil)
		}
	}
}

// Inference reports whether the graph is in inference mode.
func (g *Graph) Inference() bool { return g.inference }

// ArenaBytes is the size of the storage that the planned outputs share in
// inference mode (0 before the first planned Forward, and outside inference
// mode).
func (g *Graph) ArenaBytes() int64 { return int64(cap(g.arena)) * 4 }

// liveness returns, for each step of p.order, the nodes whose planned
// output is dead after that step.
func (g *Graph) liveness(p *plan) [][]int {
	last := make([]int, len(g.nodes))
	for i := range last {
		last[i] = -1
	}
	pinned := make([]bool, len(g.nodes))
	for _, id := range p.tapID {
		pinned[id] = true
	}
	for k, i := range p.order {
		n := g.nodes[i]
		for _, in := range n.inputs {
			last[in] = k
			if n.setter == nil {
				pinned[in] = true
			}
		}
	}
	frees := make([][]int, len(p.order))
	for i, k := range last {
		if k >= 0 && !pinned[i] && g.nodes[i].setter != nil {
			frees[k] = append(frees[k], i)
		}
	}
	return frees
}

// predict is the number of values of n's output for an input of vol
// values, from the last Forward (0: unknown).
func predict(n *node, vol int) int {
	return int(math.Ceil(n.ratio*float64(vol) - 1e-6))
}

// region is one planned output: steps [from, to] of the plan, size values.
type region struct {
	step, from, to, size, off int
}

// assign lays out p's outputs in the arena for an input of vol values when
// every planned output's size can be predicted, and reports whether it did;
// a layout made earlier for the same size is kept.
func (g *Graph) assign(p *plan, vol int) bool {
	if p.planVol == vol {
		return true
	}
	for _, i := range p.order {
		if n := g.nodes[i]; n.setter != nil && n.ratio == 0 {
			return false
		}
	}
	end := len(p.order) // taps and pinned outputs live to the end
	to := make([]int, len(g.nodes))
	for i := range to {
		to[i] = end
	}
	for k, fr := range p.frees {
		for _, j := range fr {
			to[j] = k
		}
	}
	var rs []region
	for k, i := range p.order {
		if n := g.nodes[i]; n.setter != nil {
			rs = append(rs, region{step: k, from: k, to: to[i], size: predict(n, vol)})
		}
	}
	// Largest first; each at the lowest offset clear of the regions placed
	// so far that are alive at the same time.
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rs[b].size - rs[a].size })
	var placed, busy []int
	total := 0
	for _, i := range order {
		r := &rs[i]
		busy = busy[:0]
		for _, j := range placed {
			if q := &rs[j]; q.from <= r.to && r.from <= q.to {
				busy = append(busy, j)
			}
		}
		slices.SortFunc(busy, func(a, b int) int { return rs[a].off - rs[b].off })
		off := 0
		for _, j := range busy {
			q := &rs[j]
			if q.off-off >= r.size {
				break
			}
			off = max(off, q.off+q.size)
		}
		r.off = off
		total = max(total, off+r.size)
		placed = append(placed, i)
	}
	if len(p.offset) != len(p.order) {
		p.offset = make([]int, len(p.order))
	}
	for _, r := range rs {
		p.offset[r.step] = r.off
	}
	for _, q := range g.plans {
		q.planVol = 0 // one arena: other plans lay out again
	}
	if have := cap(g.arena); have < total || have > total+total/8 {
		g.arena = nil // let the old one go before making the new one
		g.arena = make([]float32, total)
	}
	p.planVol = vol
	return true
}

// place hands n, computed at step k of p, its planned region of the arena.
func (g *Graph) place(p *plan, k int, n *node, vol int) {
	want := predict(n, vol)
	off := p.offset[k]
	view := g.arena[off : off+want : off+want]
	if n.buf == nil {
		n.buf = &tensor.Tensor{}
	}
	if len(n.buf.Shape) > 0 && tensor.Volume(n.buf.Shape) == want {
		n.buf.Data = view
	} else {
		n.buf.Data, n.buf.Shape = view[:0], n.buf.Shape[:0]
	}
	n.setter.SetOutput(n.buf)
}

// settle records the size of n's output for the next plan and notes a
// layer that had to make its own buffer, which spoils the plan.
func (g *Graph) settle(p *plan, n *node, planned bool, vol int) {
	if planned && n.out != n.buf {
		p.planVol = 0
	}
	n.buf = n.out
	if vol > 0 {
		n.ratio = float64(len(n.out.Data)) / float64(vol)
	}
}

// Compile-time checks that the graph's own operations can be planned.
var (
	_ nn.OutputSetter = (*addN)(nil)
	_ nn.OutputSetter = (*concat)(nil)
)
