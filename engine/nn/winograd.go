package nn

import (
	"runtime"
	"sync"
	"sync/atomic"

	"atelier/engine/tensor"
)

// This file holds a Winograd F(4x4, 3x3) convolution for the layers that
// dominate VGG-style networks: 3x3 kernels, stride 1, zero padding 1. Each
// 4x4 block of outputs (a tile) is computed from a 6x6 block of inputs with
// 36 multiplies per channel pair instead of 144. Per chunk of tile rows the
// input is transformed (V = B^T d B), the 36 frequencies are multiplied by
// the transformed weights (U = G g G^T) with one tensor.Sgemm each, and the
// products are transformed back (Y = A^T M A), with the bias and an
// optional ReLU folded into that last step.
//
// The gradient with respect to the input of such a convolution is itself a
// 3x3 stride-1 pad-1 convolution, of dy with the kernel rotated by 180
// degrees and the channel roles swapped, so the same machinery serves the
// backward pass with a second set of transformed weights.
//
// The transformed weights are cached and recomputed when the weights change:
// the cache is keyed on the weight slice and a sample of its values, and
// invalidate forces a recomputation for changes the sample could miss.

const (
	wgTile  = 4  // output tile side
	wgFreqs = 36 // (wgTile+2)^2 frequencies per tile
	// wgChunkFloats bounds the transformed inputs and products of one chunk
	// (per worker), in float32s.
	wgChunkFloats = 3 << 20
	// wgMinChunk and wgMaxChunk bound the tiles of a chunk: fewer tiles make
	// the per-frequency products too thin for sgemm to run at speed.
	wgMinChunk = 96
	wgMaxChunk = 512
	// wgSamples weight values are compared to detect changed weights.
	wgSamples = 61
)

// wgUseGo forces the portable Go transforms even where the vectorised C
// ones are compiled in (tests compare the two).
var wgUseGo = false

// winograd computes 3x3, stride-1, pad-1 convolutions of one image at a time
// and their input gradients. It is safe for one goroutine at a time; the
// work inside a call is spread over GOMAXPROCS workers.
type winograd struct {
	cin, cout int
	fwd, bwd  wgWeights
	task      wgTask
	// Tests steer the work split: chunkTiles > 0 fixes the tiles per chunk
	// (rounded to whole tile rows), split forces chunks (1) or channel
	// shares (2) instead of the automatic choice (0).
	chunkTiles, split int
}

// wgWeights is one cached set of transformed weights: u[f][r][c] for
// frequency f, output row r and input column c of the per-frequency product.
type wgWeights struct {
	task   wgWeightTask
	u      []float32
	ok     bool
	src    *float32
	n      int
	sample [wgSamples]float32
}

// newWinograd returns an engine for cin input and cout output channels.
func newWinograd(cin, cout int) *winograd {
	return &winograd{cin: cin, cout: cout}
}

// invalidate drops the cached transformed weights, so the next call
// transforms the weights again.
func (w *winograd) invalidate() {
	w.fwd.ok, w.bwd.ok = false, false
}

// forward computes y = conv(x, weight) + bias for one image of h x wd
// pixels, clamped at zero when relu is set. weight is [cout, cin, 3, 3],
// bias is [cout] or nil, x is [cin, h, wd] and y is [cout, h, wd].
func (w *winograd) forward(weight, bias, x, y []float32, h, wd int, relu bool) {
	w.fwd.prepare(weight, w.cout, w.cin, false)
	w.run(w.fwd.u, w.cin, w.cout, x, y, h, wd, bias, relu)
}

// backwardInput computes dx, the gradient of the loss with respect to the
// input x of forward, from dy, the gradient with respect to its output
// before any ReLU (the caller masks dy). dy is [cout, h, wd], dx is
// [cin, h, wd].
func (w *winograd) backwardInput(weight, dy, dx []float32, h, wd int) {
	w.bwd.prepare(weight, w.cout, w.cin, true)
	w.run(w.bwd.u, w.cout, w.cin, dy, dx, h, wd, nil, false)
}

// prepare (re)computes the transformed weights when weight is not the slice
// and values they were computed from. For the backward set (flip) the
// kernel is rotated by 180 degrees and the product rows are the cin input
// channels. The work is spread over the workers by product rows.
func (ww *wgWeights) prepare(weight []float32, cout, cin int, flip bool) {
	n := cout * cin * 9
	if len(weight) != n {
		panic("nn: winograd weight length does not match the channels")
	}
	if ww.ok && ww.src == &weight[0] && ww.n == n && ww.sampleMatches(weight) {
		return
	}
	ww.u = growFloat32(ww.u, wgFreqs*n/9)
	t := &ww.task
	t.u, t.weight, t.cout, t.cin, t.flip = ww.u, weight, cout, cin, flip
	t.workers = max(1, runtime.GOMAXPROCS(0))
	parallelRun(t, &t.wg, t.workers)
	t.u, t.weight = nil, nil
	ww.ok, ww.src, ww.n = true, &weight[0], n
	for i := range ww.sample {
		ww.sample[i] = weight[sampleIndex(i, n)]
	}
}

// wgWeightTask transforms a weight tensor, split by product rows.
type wgWeightTask struct {
	u, weight          []float32
	cout, cin, workers int
	flip               bool
	wg                 sync.WaitGroup
}

// wgColBlock product columns are transformed together, so that each
// frequency receives a contiguous run.
const wgColBlock = 32

func (t *wgWeightTask) runWorker(id int) {
	rows, cols := t.cout, t.cin
	if t.flip {
		rows, cols = t.cin, t.cout
	}
	var g [9]float32
	var u [wgFreqs]float32
	var blk [wgFreqs][wgColBlock]float32
	r0, r1 := splitRange(rows, t.workers, id)
	for r := r0; r < r1; r++ {
		for c0 := 0; c0 < cols; c0 += wgColBlock {
			c1 := min(c0+wgColBlock, cols)
			for c := c0; c < c1; c++ {
				if t.flip { // row r is input channel r, column c output channel c
					k := t.weight[(c*t.cin+r)*9 : (c*t.cin+r)*9+9]
					for i := range g {
						g[i] = k[8-i]
					}
				} else {
					copy(g[:], t.weight[(r*t.cin+c)*9:(r*t.cin+c)*9+9])
				}
				wgKernelTransform(&g, &u)
				for f, v := range u {
					blk[f][c-c0] = v
				}
			}
			for f := range blk {
				copy(t.u[(f*rows+r)*cols+c0:(f*rows+r)*cols+c1], blk[f][:c1-c0])
			}
		}
	}
}

func (ww *wgWeights) sampleMatches(weight []float32) bool {
	for i, v := range ww.sample {
		if weight[sampleIndex(i, len(weight))] != v {
			return false
		}
	}
	return true
}

// sampleIndex spreads wgSamples indices over [0, n), both ends included.
func sampleIndex(i, n int) int {
	return int(int64(i) * int64(n-1) / (wgSamples - 1))
}

// wgKernelTransform computes u = G g G^T for a 3x3 kernel g (row-major) in
// float64, where G is the 6x3 kernel transform of F(4x4, 3x3).
func wgKernelTransform(g *[9]float32, u *[wgFreqs]float32) {
	var t [6][3]float64 // G g
	for j := 0; j < 3; j++ {
		g0, g1, g2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
		t[0][j] = g0 / 4
		t[1][j] = -(g0 + g1 + g2) / 6
		t[2][j] = -(g0 - g1 + g2) / 6
		t[3][j] = g0/24 + g1/12 + g2/6
		t[4][j] = g0/24 - g1/12 + g2/6
		t[5][j] = g2
	}
	for i := 0; i < 6; i++ {
		g0, g1, g2 := t[i][0], t[i][1], t[i][2]
		row := u[i*6 : i*6+6]
		row[0] = float32(g0 / 4)
		row[1] = float32(-(g0 + g1 + g2) / 6)
		row[2] = float32(-(g0 - g1 + g2) / 6)
		row[3] = float32(g0/24 + g1/12 + g2/6)
		row[4] = float32(g0/24 - g1/12 + g2/6)
		row[5] = float32(g2)
	}
}

// wgPlan is how one call splits its work.
type wgPlan struct {
	tw, th       int  // tiles per row, tile rows
	workers      int  // goroutines sharing the call
	channelSplit bool // one chunk, workers share channels; else chunks of rows
	rowsPerChunk int
	chunks       int
	ldv          int // row stride of the transformed inputs and products
	buffers      int // workspaces needed
}

// plan splits a convolution of an h x wd image from cin to cout channels.
// When every worker can get at least one chunk of wgMinChunk tiles, workers
// take whole chunks of tile rows (an even number of chunks of about the
// target size); otherwise the image is one chunk and the workers share its
// channels.
func (w *winograd) plan(cin, cout, h, wd int) wgPlan {
	var p wgPlan
	p.tw, p.th = (wd+wgTile-1)/wgTile, (h+wgTile-1)/wgTile
	p.workers = max(1, runtime.GOMAXPROCS(0))
	tiles := p.tw * p.th
	target := wgChunkFloats / (wgFreqs * (cin + cout))
	target = min(max(target, wgMinChunk), wgMaxChunk)
	if w.chunkTiles > 0 {
		target = w.chunkTiles
	}
	chunks := p.workers * max(1, (tiles+p.workers*target/2)/(p.workers*target))
	if w.chunkTiles > 0 {
		chunks = (tiles + target/2) / target
	}
	chunks = min(max(chunks, 1), p.th)
	p.rowsPerChunk = (p.th + chunks - 1) / chunks
	p.chunks = (p.th + p.rowsPerChunk - 1) / p.rowsPerChunk
	p.channelSplit = p.workers > 1 && (tiles < wgMinChunk*p.workers || p.chunks < p.workers)
	if w.split != 0 {
		p.channelSplit = w.split == 2
	}
	p.buffers = min(p.workers, p.chunks)
	if p.channelSplit {
		p.rowsPerChunk, p.chunks, p.buffers = p.th, 1, 1
	}
	p.ldv = (p.rowsPerChunk*p.tw + 16 + 15) &^ 15
	return p
}

// workspaceBytes is the size of the workspaces a call on an h x wd image
// borrows (they are kept for later calls).
func (w *winograd) workspaceBytes(h, wd int) int {
	p := w.plan(w.cin, w.cout, h, wd)
	return 4 * p.buffers * wgFreqs * (w.cin + w.cout) * p.ldv
}

// wgTask is the state of one convolution call shared by its workers.
type wgTask struct {
	wgPlan
	u          []float32
	cin, cout  int
	x, y, bias []float32
	h, w       int
	relu       bool
	next       atomic.Int64
	ws         []*wgWorkspace
	phase      int // channel-parallel mode: 1 input transform, 2 products and output
	wg         sync.WaitGroup
}

// wgWorkspace is one worker's transformed inputs and products.
type wgWorkspace struct {
	v, m []float32
}

// run convolves x (cin planes) into y (cout planes) with the transformed
// weights u ([36][cout][cin]).
func (w *winograd) run(u []float32, cin, cout int, x, y []float32, h, wd int, bias []float32, relu bool) {
	if len(x) < cin*h*wd || len(y) < cout*h*wd {
		panic("nn: winograd buffers too small for the image")
	}
	t := &w.task
	t.u, t.cin, t.cout, t.x, t.y, t.bias, t.h, t.w, t.relu = u, cin, cout, x, y, bias, h, wd, relu
	t.wgPlan = w.plan(cin, cout, h, wd)
	t.ws = getWorkspaces(t.ws[:0], t.buffers, wgFreqs*cin*t.ldv, wgFreqs*cout*t.ldv)
	if t.channelSplit {
		t.phase = 1
		parallelRun(t, &t.wg, t.workers)
		t.phase = 2
		parallelRun(t, &t.wg, t.workers)
	} else {
		t.next.Store(0)
		parallelRun(t, &t.wg, t.buffers)
	}
	putWorkspaces(t.ws)
	clear(t.ws)
	t.ws = t.ws[:0]
	t.x, t.y, t.bias, t.u = nil, nil, nil, nil
}

// runWorker is one worker's share of the call.
func (t *wgTask) runWorker(id int) {
	if t.channelSplit {
		ws := t.ws[0]
		if t.phase == 1 {
			c0, c1 := splitRange(t.cin, t.workers, id)
			wgInput(t.x, c0, c1, t.cin, t.h, t.w, 0, t.th, ws.v, t.ldv)
			return
		}
		o0, o1 := splitRange(t.cout, t.workers, id)
		t.products(ws, o0, o1, t.th*t.tw)
		wgOutput(ws.m, o0, o1, t.cout, t.h, t.w, 0, t.th, t.ldv, t.bias, t.relu, t.y)
		return
	}
	ws := t.ws[id]
	for {
		ch := int(t.next.Add(1) - 1)
		if ch >= t.chunks {
			return
		}
		ty0 := ch * t.rowsPerChunk
		ty1 := min(ty0+t.rowsPerChunk, t.th)
		wgInput(t.x, 0, t.cin, t.cin, t.h, t.w, ty0, ty1, ws.v, t.ldv)
		t.products(ws, 0, t.cout, (ty1-ty0)*t.tw)
		wgOutput(ws.m, 0, t.cout, t.cout, t.h, t.w, ty0, ty1, t.ldv, t.bias, t.relu, t.y)
	}
}

// products computes rows [o0, o1) of the 36 per-frequency products
// M[f] = U[f] V[f] for n tiles.
func (t *wgTask) products(ws *wgWorkspace, o0, o1, n int) {
	if o1 <= o0 {
		return
	}
	cin, cout, ldv := t.cin, t.cout, t.ldv
	for f := 0; f < wgFreqs; f++ {
		a := t.u[(f*cout+o0)*cin:]
		b := ws.v[f*cin*ldv:]
		c := ws.m[(f*cout+o0)*ldv:]
		tensor.Sgemm(false, false, o1-o0, n, cin, 1, a, cin, b, ldv, 0, c, ldv)
	}
}

// splitRange returns the share [lo, hi) of n items of worker id out of k.
func splitRange(n, k, id int) (lo, hi int) {
	return n * id / k, n * (id + 1) / k
}

// The workspaces are shared by every Winograd convolution of the process:
// layers run one after another, so a handful of buffers, grown to the
// largest layer, serve a whole network.
var wsPool struct {
	sync.Mutex
	free []*wgWorkspace
}

func getWorkspaces(dst []*wgWorkspace, n, nv, nm int) []*wgWorkspace {
	wsPool.Lock()
	for len(dst) < n {
		var ws *wgWorkspace
		if k := len(wsPool.free); k > 0 {
			ws = wsPool.free[k-1]
			wsPool.free = wsPool.free[:k-1]
		} else {
			ws = &wgWorkspace{}
		}
		dst = append(dst, ws)
	}
	wsPool.Unlock()
	for _, ws := range dst {
		ws.v = growFloat32(ws.v, nv)
		ws.m = growFloat32(ws.m, nm)
	}
	return dst
}

func putWorkspaces(ws []*wgWorkspace) {
	wsPool.Lock()
	wsPool.free = append(wsPool.free, ws...)
	wsPool.Unlock()
}
