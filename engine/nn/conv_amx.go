package nn

import (
	"sync/atomic"
)

// This file holds the forward pass of stride-1, zero-padded convolutions
// that Winograd does not serve (1x1 and 5x5 in the UpscalerJS networks,
// SRCNN's 9x9) on Intel AMX. Such a convolution is a sum over the kernel's
// taps of 1x1 convolutions of the shifted input: chunks of output rows
// have their input rows packed once into split bfloat16 operands
// (conv_amx.h), and the tile products read each tap's operand at a fixed
// offset, accumulating all taps and channels in the AMX tiles. Neither an
// im2col matrix nor a single BLAS thread limits the layer; chunks are
// shared by Workers() workers. Operands are split in three bfloat16 parts
// (float32 accuracy) or two with reduced precision, as for Winograd.
//
// The input may come in parts, the channels of several tensors one after
// the other, so that a convolution of a concatenation never copies it.

// amxMinCin and amxMinCout are the smallest channel counts worth the AMX
// path; smaller layers keep sgemm. Channels are padded to a multiple of 32
// per tap, so fewer than 16 inputs would waste most of the products (SRCNN's
// 9x9 on one luma channel is faster on sgemm).
const (
	amxMinCin  = 16
	amxMinCout = 16
	// amxChunkBytes bounds a chunk's packed inputs and products, so that
	// they stay in a core's L2 cache.
	amxChunkBytes = 1 << 20
)

// AMX reports whether this process runs convolution products on Intel AMX
// tiles (where SetReducedPrecision has an effect).
func AMX() bool { return wgAMX }

// amxConv is one layer's AMX convolution engine: its packed weights and
// the state of a call. It is safe for one goroutine at a time.
type amxConv struct {
	cout, cin, kh, kw int
	reduced           bool // two bfloat16 planes instead of three

	u      []uint16 // packed weights, planes of mb*kb 16x32 tiles
	planes int
	src    *float32
	n      int
	sample [wgSamples]float32
	ok     bool
	task   amxTask
}

// amxPart is a run of input channels: cin planes of the image in x.
type amxPart struct {
	x   []float32
	cin int
}

// amxGeom is the image geometry of one call.
type amxGeom struct {
	h, w, oh, ow, pt, pl int
}

// newAMXConv returns an engine for weights [cout][cin][kh][kw], or nil when
// the machine has no AMX or the layer is too small for it.
func newAMXConv(cout, cin, kh, kw int) *amxConv {
	if !wgAMX || cout < amxMinCout || cin < amxMinCin {
		return nil
	}
	return &amxConv{cout: cout, cin: cin, kh: kh, kw: kw}
}

// invalidate forces the packed weights to be rebuilt at the next call.
func (e *amxConv) invalidate() { e.ok = false }

// pack prepares the weights in the AMX tile layout, unless the same weights
// are already packed with the same precision.
func (e *amxConv) pack(weight []float32) {
	planes := 3
	if e.reduced || reducedPrecision.Load() {
		planes = 2
	}
	n := len(weight)
	if e.ok && e.planes == planes && e.src == &weight[0] && e.n == n {
		same := true
		for i, v := range e.sample {
			if weight[sampleIndex(i, n)] != v {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	taps := e.kh * e.kw
	mb, kb := roundUp(e.cout, 32)/16, roundUp(e.cin, 32)/32
	size := planes * taps * mb * kb * 512
	if len(e.u) != size {
		e.u = make([]uint16, size)
	} else {
		clear(e.u)
	}
	plane := size / planes
	for r := 0; r < e.cout; r++ {
		for c := 0; c < e.cin; c++ {
			for t := 0; t < taps; t++ {
				v := weight[(r*e.cin+c)*taps+t]
				at := ((t*mb+r/16)*kb+c/32)*512 + r%16*32 + c%32
				if planes == 2 {
					e.u[at], e.u[plane+at] = bf16Split2(v)
					continue
				}
				e.u[at], e.u[plane+at], e.u[2*plane+at] = bf16Split3(v)
			}
		}
	}
	e.planes, e.src, e.n, e.ok = planes, &weight[0], n, true
	for i := range e.sample {
		e.sample[i] = weight[sampleIndex(i, n)]
	}
}

// forward computes y = conv(x) + bias (+ r, then ReLU when relu) for one
// image whose channels are the parts, in order; every part but the last
// has an even number of channels. bias and r may be nil.
func (e *amxConv) forward(weight, bias []float32, parts []amxPart, g amxGeom, r []float32, relu bool, y []float32) {
	e.pack(weight)
	t := &e.task
	t.e, t.parts, t.g, t.bias, t.r, t.relu, t.y = e, parts, g, bias, r, relu, y
	t.wp = g.ow + e.kw - 1
	taps := e.kh * e.kw
	t.toff = t.toff[:0]
	for k := 0; k < taps; k++ {
		t.toff = append(t.toff, int64(k/e.kw*t.wp+k%e.kw))
	}
	t.kp = roundUp(e.cin, 32) / 2
	t.mb = roundUp(e.cout, 32) / 16
	perCol := 4 * (e.planes*t.kp + 16*t.mb)
	rows := max(1, amxChunkBytes/perCol/t.wp)
	workers := Workers()
	chunks := (g.oh + rows - 1) / rows
	if chunks > 1 {
		chunks = roundUp(chunks, workers)
		rows = (g.oh + chunks - 1) / chunks
		chunks = (g.oh + rows - 1) / rows
	}
	t.rows, t.chunks = rows, chunks
	t.ldv = roundUp(roundUp(rows*t.wp, 32)+int(t.toff[taps-1])+16, 16)
	t.next.Store(0)
	n := min(workers, chunks)
	t.ws = getWorkspaces(t.ws[:0], n, e.planes*t.kp*t.ldv, 16*t.mb*t.ldv)
	parallelRun(t, &t.wg, n)
	putWorkspaces(t.ws)
	clear(t.ws)
	t.ws = t.ws[:0]
	t.parts, t.bias, t.r, t.y = nil, nil, nil, nil
}

// amxTask is the state of one call shared by its workers.
type amxTask struct {
	e               *amxConv
	parts           []amxPart
	g               amxGeom
	bias, r, y      []float32
	relu            bool
	wp, kp, mb, ldv int
	rows, chunks    int
	toff            []int64
	next            atomic.Int64
	ws              []*wgWorkspace
	wg              parallelDone
}

func (t *amxTask) runWorker(id int) {
	e, g := t.e, t.g
	ws := t.ws[id]
	for {
		ch := int(t.next.Add(1) - 1)
		if ch >= t.chunks {
			return
		}
		oy0 := ch * t.rows
		rows := min(t.rows, g.oh-oy0)
		q := 0
		for _, p := range t.parts {
			caPack(p.x, p.cin, g.h, g.w, g.pt, g.pl, t.wp, oy0, rows+e.kh-1, ws.v, q, t.kp, t.ldv, e.planes)
			q += (p.cin + 1) / 2
		}
		caZero(ws.v, q, t.kp, t.kp, t.ldv, t.ldv, e.planes)
		caProducts(e.u, ws.v, ws.m, 0, t.mb/2, t.mb, t.kp/16, (rows*t.wp+31)/32, t.ldv, t.toff, e.planes)
		at := oy0 * g.ow
		var r []float32
		if t.r != nil {
			r = t.r[at:]
		}
		caOutput(ws.m, t.ldv, e.cout, rows, t.wp, g.ow, t.bias, r, t.relu, t.y[at:], g.oh*g.ow)
	}
}

// amxEngine returns the layer's AMX engine, creating it on first use, or nil
// when the convolution (as prepared for the current input size) does not
// suit one: it must be stride 1, undilated, ungrouped and zero-padded, and
// not 3x3 with padding 1, which Winograd serves.
func (c *Conv2D) amxEngine() *amxConv {
	if c.amx == amxOff {
		return nil
	}
	k := &c.core
	g := &k.g
	if k.stride != 1 || k.dil != 1 || k.groups != 1 || g.mode != PadExplicit {
		return nil
	}
	if c.amx == nil {
		if c.amx = newAMXConv(k.cout, k.cin, k.kh, k.kw); c.amx == nil {
			c.amx = amxOff
			return nil
		}
		c.amx.reduced = c.reduced
	}
	return c.amx
}

// amxOff marks a Conv2D without an AMX engine.
var amxOff = &amxConv{}

// forwardAMX computes forwardImage on AMX and reports whether it could.
func (c *Conv2D) forwardAMX(x, y []float32, relu bool) bool {
	e := c.amxEngine()
	if e == nil {
		return false
	}
	g := &c.core.g
	var b []float32
	if c.bias != nil {
		b = c.bias.Value.Data
	}
	c.parts = append(c.parts[:0], amxPart{x: x, cin: c.core.cin})
	e.forward(c.weight.Value.Data, b, c.parts, amxGeom{h: g.h, w: g.w, oh: g.oh, ow: g.ow, pt: g.pt, pl: g.pl}, nil, relu, y)
	c.parts[0].x = nil
	return true
}
