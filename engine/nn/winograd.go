package nn

import (
	"math"
	"sync"
	"sync/atomic"

	"atelier/engine/tensor"
)

// This file holds a Winograd F(4x4, 3x3) convolution for the layers that
// dominate VGG-style networks: 3x3 kernels, stride 1, zero padding 1. Each
// 4x4 block of outputs (a tile) is computed from a 6x6 block of inputs with
// 36 multiplies per channel pair instead of 144. Per chunk of tiles the
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
//
// Where the processor has AMX-BF16 (Intel Sapphire Rapids and later) the
// products run on the AMX tiles instead of sgemm, with every operand split
// into three bfloat16 parts (winograd_amx.h): float32 accuracy, and no
// dependence on the BLAS library picking fast kernels for the processor.
// ATELIER_AMX=0 in the environment turns this off. Layers with fewer than
// 16 channels on either side keep float32 products.
//
// Float32 products run on AVX-512 FMA kernels with the weights packed once
// (winograd_fma.h) where the processor has AVX-512, and on sgemm elsewhere
// or with ATELIER_FMA=0.

const (
	wgTile  = 4  // output tile side
	wgFreqs = 36 // (wgTile+2)^2 frequencies per tile
	// wgCacheBytes bounds the transformed inputs and products of a chunk,
	// so that they stay in a core's L2 cache between the transforms and
	// the products.
	wgCacheBytes = 1 << 20
	// wgSpillTiles is the chunk size where even 32 tiles overflow
	// wgCacheBytes: large enough that the transformed weights are read a
	// few times per pass, small enough that the chunk's inputs and
	// products spill only partly from L2 (256 was measurably slower on
	// VGG's 128- and 256-channel layers); wgMaxChunk caps every chunk.
	wgSpillTiles = 128
	// wgSpillTilesFMA is wgSpillTiles for the FMA products: on AMD Zen 5
	// chunks of 32 tiles, each transformed, multiplied and inverse-
	// transformed by one core, beat both 128 and the shared chunk that
	// 128 gave VGG's conv3 layers at 256 px, though every chunk reads the
	// transformed weights again (timed alternately: conv3 layers 0.76-0.87
	// of their time, conv2_2 0.88-0.97; 48 tiles were in between). The
	// likely cause, not verified: a shared chunk's transformed inputs are
	// written by both cores and read by either, and reading lines another
	// core has just written costs more than reading weights from L3.
	wgSpillTilesFMA = 32
	wgMaxChunk      = 512
	// wgSamples weight values are compared to detect changed weights.
	wgSamples = 61
	// wgShareChannels channels are one piece of the transforms when the
	// workers share a chunk.
	wgShareChannels = 16
	// wgSkew floats (a cache line) are added to the frequency stride of
	// the transformed inputs on the float32 paths. Without it the stride
	// is a multiple of 4 KiB, the input transform's 36 stores for a tile
	// all map to one set of the L1 cache, and on AMD Zen 5 the transform
	// took two to three times as long (one core, VGG's 64- to 512-channel
	// layers at 256 px; whole passes, timed alternately: best 106 ms
	// against 114). The same skew for the products measured no gain.
	wgSkew = 16
	// wgStageBytes bounds the inputs that the AMX products split at a time,
	// per worker, so that they stay in L2 beside the weight tiles that
	// serve them (VGG's 256-channel layers at 256 px, one core: 0.8-0.94
	// of the time of one 32-tile block at a time).
	wgStageBytes = 384 << 10
)

// wgUseGo forces the portable Go transforms even where the vectorised C
// ones are compiled in (tests compare the two).
var wgUseGo = false

// winograd computes 3x3, stride-1, pad-1 convolutions of one image at a time
// and their input gradients. It is safe for one goroutine at a time; the
// work inside a call is spread over Workers() workers.
type winograd struct {
	cin, cout int
	amx       bool // products on AMX tiles instead of sgemm
	fma       bool // float32 products on the FMA kernels instead of sgemm
	reduced   bool // two bfloat16 planes, as with SetReducedPrecision
	fwd, bwd  wgWeights
	task      wgTask
	direct    direct3 // the path for few channels on one side (direct3.go)
	// Tests steer the work split: chunkTiles > 0 fixes the tiles per chunk
	// (any count, rows need not be whole), split forces chunks (1) or one
	// shared chunk (2) instead of the automatic choice (0), and group > 0
	// fixes the 32-tile blocks the AMX products split at a time.
	chunkTiles, split, group int
}

// wgWeights is one cached set of transformed weights: u[f][r][c] for
// frequency f, output row r and input column c of the per-frequency product,
// or packed in panels of 8 rows for the FMA kernels (winograd_fma.h), or
// for AMX the same values split into three bfloat16 planes in ub, padded
// and packed as AMX tiles (winograd_amx.h).
type wgWeights struct {
	task   wgWeightTask
	u      []float32
	ub     []uint16
	planes int  // bfloat16 planes of ub (3 or 2); 0 for u
	packed bool // u is in the FMA kernels' panels
	ok     bool
	src    *float32
	n      int
	sample [wgSamples]float32
}

// newWinograd returns an engine for cin input and cout output channels.
func newWinograd(cin, cout int) *winograd {
	return &winograd{cin: cin, cout: cout, amx: wgAMX, fma: wgFMA}
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
	if useDirect3(w.cin, w.cout) {
		w.direct.run(weight, false, w.cin, w.cout, x, nil, y, h, wd, bias, relu)
		return
	}
	w.fwd.prepare(weight, w.cout, w.cin, false, w.planes(w.cout, w.cin), w.fma)
	w.run(&w.fwd, w.cin, w.cout, x, nil, y, h, wd, bias, relu)
}

// backwardInput computes dx, the gradient of the loss with respect to the
// input x of forward, from dy, the gradient with respect to its output.
// With a mask (the output of a forward pass with relu) dy is taken as zero
// where the mask is not positive, the backward pass of the ReLU; mask may be
// nil. dy and mask are [cout, h, wd], dx is [cin, h, wd].
func (w *winograd) backwardInput(weight, dy, mask, dx []float32, h, wd int) {
	if useDirect3(w.cin, w.cout) {
		w.direct.run(weight, true, w.cout, w.cin, dy, mask, dx, h, wd, nil, false)
		return
	}
	w.bwd.prepare(weight, w.cout, w.cin, true, w.planes(w.cin, w.cout), w.fma)
	w.run(&w.bwd, w.cout, w.cin, dy, mask, dx, h, wd, nil, false)
}

// prepare (re)computes the transformed weights when weight is not the slice
// and values they were computed from. For the backward set (flip) the
// kernel is rotated by 180 degrees and the product rows are the cin input
// channels. The work is spread over the workers by product rows.
//
// Float32 weights (planes 0) are packed for the FMA kernels when fma is set.
func (ww *wgWeights) prepare(weight []float32, cout, cin int, flip bool, planes int, fma bool) {
	n := cout * cin * 9
	if len(weight) != n {
		panic("nn: winograd weight length does not match the channels")
	}
	packed := fma && planes == 0
	if ww.ok && ww.planes == planes && ww.packed == packed && ww.src == &weight[0] && ww.n == n && ww.sampleMatches(weight) {
		return
	}
	rows, cols := cout, cin
	if flip {
		rows, cols = cin, cout
	}
	t := &ww.task
	if planes > 0 {
		np := planes * wgFreqs * roundUp(rows, 32) * roundUp(cols, 32)
		if len(ww.ub) != np || ww.planes != planes {
			ww.ub = make([]uint16, np) // fresh: the padding must be zero
		}
		ww.u = nil
	} else {
		ww.u = growFloat32(ww.u, wgFreqs*n/9)
		ww.ub = nil
	}
	ww.planes, ww.packed = planes, packed
	t.packed = packed
	t.u, t.ub, t.planes, t.weight, t.cout, t.cin, t.flip = ww.u, ww.ub, planes, weight, cout, cin, flip
	t.workers = Workers()
	parallelRun(t, &t.wg, t.workers)
	t.u, t.ub, t.weight = nil, nil, nil
	ww.ok, ww.src, ww.n = true, &weight[0], n
	for i := range ww.sample {
		ww.sample[i] = weight[sampleIndex(i, n)]
	}
}

// roundUp rounds n up to a multiple of m.
func roundUp(n, m int) int { return (n + m - 1) / m * m }

// wgWeightTask transforms a weight tensor, split by product rows.
type wgWeightTask struct {
	u, weight          []float32
	ub                 []uint16 // AMX tiles, when u is nil
	planes             int      // of ub
	packed             bool     // u in the FMA kernels' panels
	cout, cin, workers int
	flip               bool
	wg                 parallelDone
}

// wgFMAPanel is the height of the FMA kernels' weight panels
// (WG_FMA_PANEL in winograd_fma.h).
const wgFMAPanel = 8

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
			if t.packed {
				// Panel of rows [p0, p0+pw), column c at (c*pw + r-p0).
				p0 := r &^ (wgFMAPanel - 1)
				pw := min(wgFMAPanel, rows-p0)
				for f := range blk {
					base := f*rows*cols + p0*cols + r - p0
					for c := c0; c < c1; c++ {
						t.u[base+c*pw] = blk[f][c-c0]
					}
				}
				continue
			}
			if t.u != nil {
				for f := range blk {
					copy(t.u[(f*rows+r)*cols+c0:(f*rows+r)*cols+c1], blk[f][:c1-c0])
				}
				continue
			}
			// AMX tile (r/16, c0/32) of frequency f, row r%16, in each plane.
			mb, kb := roundUp(rows, 32)/16, roundUp(cols, 32)/32
			plane := len(t.ub) / t.planes
			for f := range blk {
				at := ((f*mb+r/16)*kb+c0/32)*512 + r%16*32
				h, l := t.ub[at:at+c1-c0], t.ub[(t.planes-1)*plane+at:(t.planes-1)*plane+at+c1-c0]
				if t.planes == 2 {
					for i, v := range blk[f][:c1-c0] {
						h[i], l[i] = bf16Split2(v)
					}
					continue
				}
				m := t.ub[plane+at : plane+at+c1-c0]
				for i, v := range blk[f][:c1-c0] {
					h[i], m[i], l[i] = bf16Split3(v)
				}
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

// bf16Split3 splits x into three bfloat16 values (raw bits) h = bf16(x),
// m = bf16(x-h) and l = bf16(x-h-m), rounding to nearest even;
// winograd_amx.h splits the inputs the same way.
func bf16Split3(x float32) (h, m, l uint16) {
	h = bf16Bits(x)
	x -= math.Float32frombits(uint32(h) << 16)
	m = bf16Bits(x)
	x -= math.Float32frombits(uint32(m) << 16)
	return h, m, bf16Bits(x)
}

// bf16Split2 splits x into bfloat16 values (raw bits) h = bf16(x) and
// l = bf16(x-h), the reduced-precision split.
func bf16Split2(x float32) (h, l uint16) {
	h = bf16Bits(x)
	return h, bf16Bits(x - math.Float32frombits(uint32(h)<<16))
}

// bf16Bits rounds x to bfloat16 (to nearest even) and returns its bits.
func bf16Bits(x float32) uint16 {
	b := math.Float32bits(x)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
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

// wgStageWords is the size, in 32-bit words, of one worker's staging area
// for the AMX products: group 32-tile blocks of kb 32-channel blocks, split
// into planes bfloat16 planes.
func wgStageWords(kb, planes, group int) int { return group * kb * planes * 512 }

// wgStageGroup is how many 32-tile blocks of n tiles the AMX products split
// at a time (wgStageBytes).
func wgStageGroup(kb, planes, n int) int {
	return max(1, min((n+31)/32, wgStageBytes/(4*wgStageWords(kb, planes, 1))))
}

// wgPlan is how one call splits its work.
type wgPlan struct {
	amx        bool // products on AMX tiles
	fma        bool // float32 products on the FMA kernels
	planes     int  // bfloat16 planes per operand on AMX (3 or 2)
	cinPad     int  // input channels as stored in the workspace
	coutPad    int  // product rows as stored in the workspace
	tw, tiles  int  // tiles per row, tiles in all
	workers    int  // goroutines sharing the call
	shared     bool // one chunk that the workers share piece by piece (runWorker); else chunks of tiles
	chunkTiles int
	chunks     int
	ldv        int // row stride of the transformed inputs and products
	vstride    int // frequency stride of the transformed inputs
	mstride    int // frequency stride of the products
	buffers    int // workspaces needed
	group      int // 32-tile blocks the AMX products split at a time
}

// planes returns how many bfloat16 planes the AMX products split each
// operand into for a product with rows output and k input channels (3, or
// 2 with reduced precision), or 0 when it runs on sgemm: without AMX, or
// with fewer than 16 channels on either side.
func (w *winograd) planes(rows, k int) int {
	switch {
	case !w.amx || rows < 16 || k < 16:
		return 0
	case w.reduced || reducedPrecision.Load():
		return 2
	}
	return 3
}

// WinogradProducts names the kernels that compute the per-frequency
// products of 3x3 convolutions with 16 or more channels on each side:
// "amx" (Intel AMX tiles), "avx512-fma" (winograd_fma.h) or "sgemm" (the
// BLAS library).
func WinogradProducts() string {
	switch {
	case wgAMX:
		return "amx"
	case wgFMA:
		return "avx512-fma"
	}
	return "sgemm"
}

// reducedPrecision is set by SetReducedPrecision.
var reducedPrecision atomic.Bool

// SetReducedPrecision lets 3x3 convolutions running on AMX trade accuracy
// for speed, much like PyTorch's allow_tf32: each operand is split into two
// bfloat16 parts instead of three, which halves the tile products and cuts
// the data moved by a third, and the error grows from about 1e-5 to about
// 1e-4 of the output scale. Off by default; without AMX it changes nothing.
// Layers pick it up at their next pass.
func SetReducedPrecision(on bool) { reducedPrecision.Store(on) }

// plan splits a convolution of an h x wd image from cin to cout channels.
// A chunk of tiles is sized so that its transformed inputs and products
// stay in the core's L2 cache (wgCacheBytes), but on AMX holds at least 64
// tiles; where even 32 tiles do not fit (deep layers), chunks are as large
// as wgSpillTiles on AMX, since then the transformed weights, read once per
// chunk, are the larger traffic, unless those weights are small (few output
// channels), and wgSpillTilesFMA tiles on the FMA products. When
// there are too few tiles for every worker to get two chunks, the image is
// one chunk whose work the workers share piece by piece (runWorker): with
// one chunk each, a worker on a core that runs slower at the moment holds
// the other up (VGG's conv3 layers at 256 px and conv4 at 512, timed
// alternately in one process: 0.6-0.9 of the time of two chunks at the
// best, about the same at the median; with eight chunks one shared chunk
// was slower; those timings are from AMX on Intel).
func (w *winograd) plan(cin, cout, h, wd, planes int) wgPlan {
	p := wgPlan{planes: planes, cinPad: cin, coutPad: cout}
	p.amx = p.planes > 0
	p.fma = !p.amx && w.fma
	if p.amx {
		p.cinPad, p.coutPad = roundUp(cin, 32), roundUp(cout, 32)
	}
	perTile := wgFreqs * 4 * (p.cinPad + p.coutPad) // bytes of V and M per tile
	p.tw = (wd + wgTile - 1) / wgTile
	p.tiles = p.tw * ((h + wgTile - 1) / wgTile)
	p.workers = Workers()
	ct := wgCacheBytes / perTile
	minChunk := 32
	if ct < 32 {
		ct = wgSpillTiles
		if p.fma {
			ct = wgSpillTilesFMA
		}
		// With few output channels (the 32-channel growth layers of dense
		// blocks) the transformed weights are small next to the inputs
		// that large chunks spill from L2: chunks of 32 tiles, whose inputs
		// mostly stay there, move less data (esrgan-thick: about a quarter
		// less time in the input transform).
		if p.amx && 2*p.planes*wgFreqs*p.coutPad*p.cinPad < 64*perTile {
			ct = 32
		}
	} else if p.amx {
		// On AMX, chunks of at least 64 tiles, even where their inputs and
		// products overflow wgCacheBytes a little: each weight tile loaded
		// then serves two 32-tile column blocks (VGG's 64-channel layers,
		// timed alternately in one process: 0-20% faster than 32).
		minChunk = 64
	}
	ct = min(max(ct&^15, minChunk), wgMaxChunk)
	if w.chunkTiles > 0 {
		ct = w.chunkTiles
	}
	// Even shares: round the chunk count up to a multiple of the workers.
	chunks := (p.tiles + ct - 1) / ct
	if chunks > 1 && w.chunkTiles == 0 {
		chunks = roundUp(chunks, p.workers)
		ct = roundUp((p.tiles+chunks-1)/chunks, 16)
		chunks = (p.tiles + ct - 1) / ct
	}
	p.chunkTiles, p.chunks = ct, chunks
	p.shared = p.workers > 1 && p.chunks < 2*p.workers
	if w.split != 0 {
		p.shared = w.split == 2
	}
	p.buffers = min(p.workers, p.chunks)
	if p.shared {
		p.chunkTiles, p.chunks, p.buffers = p.tiles, 1, 1
	}
	// Rows as long as the transforms reach (wgExtent), in whole vectors:
	// no longer than the chunk where chunks are whole 16-tile groups (16
	// more took a quarter more room for VGG's conv1_2 chunks of 48 tiles,
	// which then spilled more from L2).
	ext := 0
	for t0 := 0; t0 < p.tiles; t0 += p.chunkTiles {
		ext = max(ext, wgExtent(wd, t0, min(t0+p.chunkTiles, p.tiles)))
	}
	p.ldv = roundUp(ext, 16)
	if p.amx {
		p.ldv = roundUp(p.chunkTiles+16, 32)
		p.group = wgStageGroup(p.cinPad/32, p.planes, p.chunkTiles)
		if w.group > 0 {
			p.group = w.group
		}
	}
	p.vstride, p.mstride = p.cinPad*p.ldv, p.coutPad*p.ldv
	if !p.amx {
		p.vstride += wgSkew
	}
	return p
}

// workspaceBytes is the size of the workspaces and staging areas a forward
// call on an h x wd image borrows (they are kept for later calls).
func (w *winograd) workspaceBytes(h, wd int) int {
	p := w.plan(w.cin, w.cout, h, wd, w.planes(w.cout, w.cin))
	n := 4 * p.buffers * (p.vFloats() + p.mFloats())
	if p.amx {
		n += 4 * p.stagers() * wgStageWords(p.cinPad/32, p.planes, p.group)
	}
	return n
}

// stagers is how many workers split inputs for the AMX products, each into
// the staging area of its own workspace.
func (p *wgPlan) stagers() int {
	if p.shared {
		return p.workers
	}
	return p.buffers
}

// vFloats is the size of the transformed inputs, in float32s.
func (p *wgPlan) vFloats() int { return wgFreqs * p.vstride }

// mFloats is the size of the products, in float32s.
func (p *wgPlan) mFloats() int { return wgFreqs * p.mstride }

// wgTask is the state of one convolution call shared by its workers.
type wgTask struct {
	wgPlan
	wt            *wgWeights
	cin, cout     int
	x, mask, y, b []float32
	h, w          int
	relu          bool
	next          atomic.Int64
	ws            []*wgWorkspace
	phase         int // shared-chunk mode: 1 input transform, 2 products, 3 output transform
	wg            parallelDone
}

// wgWorkspace is one worker's transformed inputs and products, and the
// staging area where its AMX products split the inputs.
type wgWorkspace struct {
	v, m, st []float32
}

// run convolves x (cin planes, masked by mask where it is not positive,
// unless mask is nil) into y (cout planes) with the transformed weights wt.
func (w *winograd) run(wt *wgWeights, cin, cout int, x, mask, y []float32, h, wd int, bias []float32, relu bool) {
	if len(x) < cin*h*wd || len(y) < cout*h*wd || mask != nil && len(mask) < cin*h*wd {
		panic("nn: winograd buffers too small for the image")
	}
	t := &w.task
	t.wt, t.cin, t.cout, t.x, t.mask, t.y, t.b, t.h, t.w, t.relu = wt, cin, cout, x, mask, y, bias, h, wd, relu
	t.wgPlan = w.plan(cin, cout, h, wd, wt.planes)
	t.ws = getWorkspaces(t.ws[:0], t.buffers, t.vFloats(), t.mFloats())
	if t.amx {
		// In the shared mode the other workers borrow workspaces for
		// their staging areas alone.
		n := t.stagers()
		t.ws = getWorkspaces(t.ws, n, 0, 0)
		for _, ws := range t.ws[:n] {
			ws.st = growFloat32(ws.st, wgStageWords(t.cinPad/32, t.planes, t.group))
		}
	}
	if t.shared {
		for t.phase = 1; t.phase <= 3; t.phase++ {
			t.next.Store(0)
			parallelRun(t, &t.wg, t.workers)
		}
	} else {
		t.next.Store(0)
		parallelRun(t, &t.wg, t.buffers)
	}
	putWorkspaces(t.ws)
	clear(t.ws)
	t.ws = t.ws[:0]
	t.x, t.mask, t.y, t.b, t.wt = nil, nil, nil, nil, nil
}

// runWorker is one worker's share of the call. When the workers share one
// chunk, each phase hands out its work in pieces from a counter, so that a
// worker whose core runs slower (on a shared host one core's AMX unit may
// run at half rate while the other's does not) takes fewer of them: the
// input transform by blocks of channels, the products by frequency (each
// frequency's transformed weights and inputs are read by one worker only)
// and the output transform by blocks of output channels.
func (t *wgTask) runWorker(id int) {
	if t.shared {
		ws := t.ws[0]
		switch t.phase {
		case 1:
			n := t.cinPad // padding included, as zero rows
			for c0, c1, ok := t.take(wgShareChannels, n); ok; c0, c1, ok = t.take(wgShareChannels, n) {
				t.input(ws, c0, c1, 0, t.tiles)
			}
		case 2:
			// The FMA products take two frequencies at a time and prefetch
			// the second's inputs while they compute the first.
			step := 1
			if t.fma {
				step = 2
			}
			for f0, f1, ok := t.take(step, wgFreqs); ok; f0, f1, ok = t.take(step, wgFreqs) {
				t.products(ws, id, f0, f1, 0, t.cout, t.tiles)
			}
		default:
			for o0, o1, ok := t.take(wgShareChannels, t.cout); ok; o0, o1, ok = t.take(wgShareChannels, t.cout) {
				t.output(ws, o0, o1, 0, t.tiles)
			}
		}
		return
	}
	ws := t.ws[id]
	for ch, _, ok := t.take(1, t.chunks); ok; ch, _, ok = t.take(1, t.chunks) {
		t0 := ch * t.chunkTiles
		t1 := min(t0+t.chunkTiles, t.tiles)
		t.input(ws, 0, t.cinPad, t0, t1)
		t.products(ws, id, 0, wgFreqs, 0, t.cout, t1-t0)
		t.output(ws, 0, t.cout, t0, t1)
	}
}

// take hands out the next piece [lo, hi) of n items, step at a time, from
// the call's counter; ok is false when none are left.
func (t *wgTask) take(step, n int) (lo, hi int, ok bool) {
	lo = int(t.next.Add(int64(step)) - int64(step))
	return lo, min(lo+step, n), lo < n
}

// input transforms channels [c0, c1) of tiles [t0, t1) into the workspace
// (channels past cin, the padding for AMX, are zero).
func (t *wgTask) input(ws *wgWorkspace, c0, c1, t0, t1 int) {
	wgInput(t.x, t.mask, c0, c1, t.cin, t.h, t.w, t0, t1, ws.v, t.vstride, t.ldv)
}

// output inverse-transforms channels [o0, o1) of the products.
func (t *wgTask) output(ws *wgWorkspace, o0, o1, t0, t1 int) {
	wgOutput(ws.m, o0, o1, t.mstride, t.h, t.w, t0, t1, t.ldv, t.b, t.relu, t.y)
}

// products computes rows [o0, o1) of the per-frequency products
// M[f] = U[f] V[f], f in [f0, f1), for n tiles, as worker id. On AMX o0 is
// a multiple of 32 and the rows are computed in whole blocks of 32.
func (t *wgTask) products(ws *wgWorkspace, id, f0, f1, o0, o1, n int) {
	if o1 <= o0 {
		return
	}
	if t.amx {
		wgProductsAMX(t.wt.ub, ws.v, ws.m, t.ws[id].st, f0, f1, o0/32, (o1+31)/32, t.coutPad/16, t.cinPad/32, n, t.ldv, t.planes, t.group)
		return
	}
	if t.fma {
		wgProductsFMA(t.wt.u, ws.v, ws.m, f0, f1, o0, o1, t.cout, t.cin, n, t.ldv, t.vstride, t.mstride)
		return
	}
	cin, cout, ldv := t.cin, t.cout, t.ldv
	for f := f0; f < f1; f++ {
		a := t.wt.u[(f*cout+o0)*cin:]
		b := ws.v[f*t.vstride:]
		c := ws.m[f*t.mstride+o0*ldv:]
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

// getWorkspaces appends workspaces to dst up to n in all, with the
// transformed inputs and products of the new ones nv and nm floats long.
func getWorkspaces(dst []*wgWorkspace, n, nv, nm int) []*wgWorkspace {
	from := len(dst)
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
	for _, ws := range dst[from:] {
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
