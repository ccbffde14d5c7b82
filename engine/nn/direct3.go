package nn

import (
	"sync/atomic"
)

// This file holds direct 3x3, stride-1, pad-1 convolutions for the
// Winograd engine's layers with few channels on one side (VGG's conv1_1
// reads 3 and its input gradient writes 3), where Winograd's per-frequency
// matrix products, 3 rows or 3 deep, run far below the processor's peak.
// Each output is a plain sum of cin*9 products (direct3_kernels.h). Timed
// alternately in one process, conv1_1 at 256 and 512 px took 0.70-0.74 of
// its Winograd time forward and 0.67-0.94 for the input gradient; both
// then mostly wait on memory (the 64 output planes forward, dy and the
// ReLU mask backward).

// d3MaxChannels is the most channels on the narrow side that take the
// direct path.
const d3MaxChannels = 4

// d3Group is how many outputs the kernel accumulates together.
const d3Group = 4

// d3ScratchPad is how far the kernel's padded rows extend past the image
// (one column on the left, 32-pixel blocks on the right).
const d3ScratchPad = 34

// useDirect3 reports whether a convolution from cin to cout channels takes
// the direct path. Builds without cgo keep Winograd's Go transforms: a
// direct path in plain Go would be no faster.
func useDirect3(cin, cout int) bool { return d3Native && min(cin, cout) <= d3MaxChannels }

// direct3 is the state of the direct path of one Winograd engine: the
// arranged weights and each worker's scratch rows, kept between calls.
type direct3 struct {
	wr      []float32
	scratch [][]float32
	task    d3Task
}

// d3Task is one call's work, handed out to the workers in blocks of
// output rows from a counter, so that a worker that starts late or runs
// slower takes fewer of them (an even split in halves left conv1_1's
// caller waiting 0.2-0.4 ms per call at 256 px).
type d3Task struct {
	x, mask, wr, bias, y []float32
	cin, cout, h, w      int
	relu                 bool
	scratch              [][]float32
	workers, block       int
	next                 atomic.Int64
	wg                   parallelDone
}

func (t *d3Task) runWorker(id int) {
	for {
		y0 := int(t.next.Add(int64(t.block))) - t.block
		if y0 >= t.h {
			return
		}
		y1 := min(y0+t.block, t.h)
		d3Rows(t.x, t.mask, t.cin, t.h, t.w, t.wr, t.bias, t.cout, t.relu, t.y, y0, y1, t.scratch[id], t.w+d3ScratchPad)
	}
}

// run convolves x (cin planes of h x wd, taken as zero where mask, unless
// nil, is not positive) with weight into y (cout planes), adding bias
// (unless nil) and clamping at zero when relu. weight is [cout, cin, 3, 3];
// with flip it is [cin, cout, 3, 3] rotated by 180 degrees, the input
// gradient of a convolution from cout to cin channels.
func (d *direct3) run(weight []float32, flip bool, cin, cout int, x, mask, y []float32, h, wd int, bias []float32, relu bool) {
	if len(x) < cin*h*wd || len(y) < cout*h*wd || mask != nil && len(mask) < cin*h*wd {
		panic("nn: direct convolution buffers too small for the image")
	}
	groups := (cout + d3Group - 1) / d3Group
	d.wr = growFloat32(d.wr, groups*cin*9*d3Group)
	clear(d.wr)
	for o := 0; o < cout; o++ {
		g, j := o/d3Group, o%d3Group
		for c := 0; c < cin; c++ {
			dst := d.wr[((g*cin+c)*9)*d3Group+j:]
			for tap := 0; tap < 9; tap++ {
				if flip { // the forward weight of input o and output c, rotated
					dst[tap*d3Group] = weight[(c*cout+o)*9+8-tap]
				} else {
					dst[tap*d3Group] = weight[(o*cin+c)*9+tap]
				}
			}
		}
	}
	workers := max(1, min(Workers(), h))
	for len(d.scratch) < workers {
		d.scratch = append(d.scratch, nil)
	}
	for i := 0; i < workers; i++ {
		d.scratch[i] = growFloat32(d.scratch[i], cin*3*(wd+d3ScratchPad))
	}
	t := &d.task
	t.x, t.mask, t.wr, t.bias, t.y = x, mask, d.wr, bias, y
	t.cin, t.cout, t.h, t.w, t.relu = cin, cout, h, wd, relu
	t.scratch, t.workers = d.scratch, workers
	t.block = max(4, h/(4*workers))
	t.next.Store(0)
	parallelRun(t, &t.wg, workers)
	t.x, t.mask, t.bias, t.y = nil, nil, nil, nil
}
