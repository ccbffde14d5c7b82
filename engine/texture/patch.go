package texture

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/tensor"
)

// Patch-method constants.
const (
	// minPatchSample is the smallest shorter side of the sample at the
	// coarsest automatic pyramid level.
	minPatchSample = 32
	// maxPatchLevels bounds the automatic pyramid depth.
	maxPatchLevels = 5
	// patchBands is the number of horizontal bands a matching pass is split
	// into. It is fixed (not the number of cores) so that the result does
	// not depend on the machine's parallelism.
	patchBands = 16
	// matchPasses is the number of PatchMatch passes per iteration, in
	// alternating scan directions.
	matchPasses = 2
	// robustExp is the exponent of the robust averaging weights,
	// w = (D/n + robustEps)^robustExp for a patch at mean squared distance
	// D/n from its match: Kwatra et al.'s r = 0.8 gives (r−2)/2 = −0.6.
	robustExp = -0.6
	// robustEps keeps the weight of exact matches finite (in squared
	// 0..255 units per value).
	robustEps = 1
	// coarseFactor multiplies the iterations of the coarsest level, which
	// cost little and settle the layout that the finer levels refine.
	coarseFactor = 3
)

// patchLevel is one level of the pyramid.
type patchLevel struct {
	s      []float32 // sample, interleaved RGB, sh rows of sw pixels
	sw, sh int
	w, h   int // output size
}

// patchSynth runs the patch method at one level at a time. Positions p of
// the nearest-neighbour field (NNF) are the top-left corners of the
// output's k x k patches: every pixel when the output wraps, otherwise
// those whose patch lies inside it. A position's match is the top-left
// corner of a sample patch, always inside the sample.
type patchSynth struct {
	ctx  context.Context
	k    int
	wrap bool
	seed int64

	lv     patchLevel
	nw, nh int       // NNF grid
	ew, eh int       // extended output (nw+k−1 by nh+k−1)
	nnf    []int32   // match of each position: sx, sy
	snap   []int32   // copy of nnf before a pass (reads across bands)
	dist   []float32 // squared distance of each position to its match
	wt     []float32 // averaging weight of each position
	out    []float32 // output, interleaved RGB, h rows of w pixels
	ext    []float32 // output extended by wrapping (== out without wrap)
	passes int
}

// runPatch is Run for the Patch method.
func runPatch(ctx context.Context, req Request, onFrame func(Frame)) (Result, error) {
	start := time.Now()
	res := Result{Seed: req.Seed}
	k := req.PatchSize // at most 15, so the sample (MinSampleSide) holds more than one patch
	if !req.Tileable && (req.Width < k || req.Height < k) {
		return res, fmt.Errorf("%w: the output %dx%d is smaller than one %d px patch", ErrRequest, req.Width, req.Height, k)
	}
	levels := patchLevels(&req)
	total := (levels + coarseFactor - 1) * req.Iterations
	p := &patchSynth{ctx: ctx, k: k, wrap: req.Tileable, seed: req.Seed}
	for li := 0; li < levels; li++ {
		l := levels - 1 - li // pyramid index, coarsest first
		lv, err := makeLevel(req, l)
		if err != nil {
			return res, err
		}
		if li == 0 {
			p.setLevel(lv)
			p.collage()
		} else {
			p.upsample(lv)
		}
		if err := p.vote(); err != nil {
			return res, err
		}
		iters := req.Iterations
		if li == 0 {
			iters *= coarseFactor
		}
		for it := 1; it <= iters; it++ {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			loss, err := p.iterate(li, it)
			if err != nil {
				return res, err
			}
			res.Iterations++
			res.Evals = p.passes
			res.Loss = loss
			res.Image, res.Width, res.Height = p.image(), lv.w, lv.h
			if onFrame != nil {
				onFrame(Frame{Scale: li, Scales: levels, Iteration: it, TotalIteration: res.Iterations, Total: total,
					Width: lv.w, Height: lv.h, Loss: loss, Image: res.Image.Clone(), Elapsed: time.Since(start)})
			}
		}
	}
	return res, nil
}

// patchLevels returns the number of pyramid levels: req.Scales, or as many
// as keep the sample's shorter side at least minPatchSample (at most
// maxPatchLevels), reduced while a coarse level's output would be smaller
// than two patches.
func patchLevels(req *Request) int {
	_, _, sh, sw := req.Sample.Dims()
	n := req.Scales
	if n == 0 {
		n = 1
		for n < maxPatchLevels && min(sh, sw)>>n >= minPatchSample {
			n++
		}
	}
	for n > 1 {
		f := 1 << (n - 1)
		if min(req.Width, req.Height)/f >= 2*req.PatchSize && min(sh, sw)/f >= req.PatchSize+1 {
			break
		}
		n--
	}
	return n
}

// makeLevel builds pyramid level l (0 finest) of the sample and the output
// size.
func makeLevel(req Request, l int) (patchLevel, error) {
	_, _, sh, sw := req.Sample.Dims()
	f := float64(int(1) << l)
	lv := patchLevel{sw: sw, sh: sh, w: req.Width, h: req.Height}
	s := req.Sample
	if l > 0 {
		lv.sw, lv.sh = max(int(math.Round(float64(sw)/f)), 1), max(int(math.Round(float64(sh)/f)), 1)
		lv.w, lv.h = max(int(math.Round(float64(req.Width)/f)), 1), max(int(math.Round(float64(req.Height)/f)), 1)
		var err error
		if s, err = imageio.Resize(s, lv.sw, lv.sh); err != nil {
			return lv, fmt.Errorf("texture: %w", err)
		}
	}
	lv.s = interleave(s)
	return lv, nil
}

// interleave returns the pixels of img [1,3,H,W] as RGB triples in rows.
func interleave(img *tensor.Tensor) []float32 {
	_, _, h, w := img.Dims()
	hw := h * w
	out := make([]float32, 3*hw)
	for c := 0; c < 3; c++ {
		for i, v := range img.Data[c*hw : (c+1)*hw] {
			out[3*i+c] = v
		}
	}
	return out
}

// setLevel sizes the buffers for a level.
func (p *patchSynth) setLevel(lv patchLevel) {
	p.lv = lv
	if p.wrap {
		p.nw, p.nh = lv.w, lv.h
	} else {
		p.nw, p.nh = lv.w-p.k+1, lv.h-p.k+1
	}
	p.ew, p.eh = p.nw+p.k-1, p.nh+p.k-1
	n := p.nw * p.nh
	p.nnf = make([]int32, 2*n)
	p.snap = make([]int32, 2*n)
	p.dist = make([]float32, n)
	p.wt = make([]float32, n)
	p.out = make([]float32, 3*lv.w*lv.h)
	if p.wrap {
		p.ext = make([]float32, 3*p.ew*p.eh)
	} else {
		p.ext = p.out
	}
}

// collage sets the coarsest level's starting matches: the output is tiled
// with blocks of 2k x 2k positions, each copying a random sample window
// (a collage that the iterations then blend). When the output wraps, the
// block grid starts at a random phase inside a block, so that the wrap-around
// edges fall inside blocks rather than on their borders, which would
// otherwise be likelier than elsewhere to leave a seam.
func (p *patchSynth) collage() {
	rng := newRNG(p.seed, 0, 0, 0, 0)
	k := p.k
	mx, my := p.lv.sw-k, p.lv.sh-k // largest match corner
	bw, bh := min(2*k, mx+1), min(2*k, my+1)
	var px, py int
	if p.wrap {
		px, py = 1+rng.intn(bw-1), 1+rng.intn(bh-1)
	}
	cols, rows := (p.nw+px+bw-1)/bw, (p.nh+py+bh-1)/bh
	origins := make([]int, 2*cols*rows)
	for i := 0; i < len(origins); i += 2 {
		origins[i], origins[i+1] = rng.intn(mx-bw+2), rng.intn(my-bh+2)
	}
	for y := 0; y < p.nh; y++ {
		v := y + py
		if p.wrap {
			v = mod(v, p.nh)
		}
		for x := 0; x < p.nw; x++ {
			u := x + px
			if p.wrap {
				u = mod(u, p.nw)
			}
			o := 2 * ((v/bh)*cols + u/bw)
			i := 2 * (y*p.nw + x)
			p.nnf[i] = int32(min(origins[o]+u%bw, mx))
			p.nnf[i+1] = int32(min(origins[o+1]+v%bh, my))
		}
	}
}

// upsample moves to the next finer level lv: each position takes the match
// of its coarse parent, doubled, plus its offset within the parent.
func (p *patchSynth) upsample(lv patchLevel) {
	old, onw, onh := p.nnf, p.nw, p.nh
	p.setLevel(lv)
	mx, my := int32(lv.sw-p.k), int32(lv.sh-p.k)
	for y := 0; y < p.nh; y++ {
		cy := min(y/2, onh-1)
		for x := 0; x < p.nw; x++ {
			cx := min(x/2, onw-1)
			j := 2 * (cy*onw + cx)
			i := 2 * (y*p.nw + x)
			p.nnf[i] = min(max(2*old[j]+int32(x-2*cx), 0), mx)
			p.nnf[i+1] = min(max(2*old[j+1]+int32(y-2*cy), 0), my)
		}
	}
}

// iterate runs one iteration at the current level: matching passes, then
// the robust average. It returns the mean squared distance per value of
// the matches.
func (p *patchSynth) iterate(level, it int) (float64, error) {
	if err := p.parallel(p.nh, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < p.nw; x++ {
				i := y*p.nw + x
				p.dist[i] = p.distance(x, y, int(p.nnf[2*i]), int(p.nnf[2*i+1]), float32(math.Inf(1)))
			}
		}
	}); err != nil {
		return 0, err
	}
	for pass := 0; pass < matchPasses; pass++ {
		copy(p.snap, p.nnf)
		dir := 1 - 2*(pass%2)
		bandRows := (p.nh + patchBands - 1) / patchBands
		if err := p.parallel(patchBands, func(b0, b1 int) {
			for b := b0; b < b1; b++ {
				y0 := b * bandRows
				y1 := min(y0+bandRows, p.nh)
				if y0 < y1 {
					p.matchBand(y0, y1, dir, newRNG(p.seed, level, it, pass, b))
				}
			}
		}); err != nil {
			return 0, err
		}
		p.passes++
	}
	var sum float64
	for _, d := range p.dist {
		sum += float64(d)
	}
	loss := sum / float64(len(p.dist)*3*p.k*p.k)
	return loss, p.vote()
}

// matchBand improves the matches of rows y0..y1−1 with PatchMatch:
// propagation from the previous position along the scan direction in x and
// y, then a random search around the best match at halving radii. Rows
// outside the band are read from the snapshot, so bands run in parallel and
// the result does not depend on their scheduling.
func (p *patchSynth) matchBand(y0, y1, dir int, rng *rng) {
	mx, my := p.lv.sw-p.k, p.lv.sh-p.k
	radius := max(p.lv.sw, p.lv.sh)
	ys, ye := y0, y1
	xs, xe := 0, p.nw
	if dir < 0 {
		ys, ye = y1-1, y0-1
		xs, xe = p.nw-1, -1
	}
	for y := ys; y != ye; y += dir {
		if p.ctx.Err() != nil {
			return
		}
		for x := xs; x != xe; x += dir {
			i := y*p.nw + x
			bx, by, bd := int(p.nnf[2*i]), int(p.nnf[2*i+1]), p.dist[i]
			try := func(sx, sy int) {
				if sx < 0 || sy < 0 || sx > mx || sy > my || (sx == bx && sy == by) {
					return
				}
				if d := p.distance(x, y, sx, sy, bd); d < bd {
					bx, by, bd = sx, sy, d
				}
			}
			// Propagation: the neighbour before us in x, shifted by one.
			if nx := x - dir; nx >= 0 && nx < p.nw {
				j := 2 * (y*p.nw + nx)
				try(int(p.nnf[j])+dir, int(p.nnf[j+1]))
			} else if p.wrap {
				j := 2 * (y*p.nw + mod(nx, p.nw))
				try(int(p.nnf[j])+dir, int(p.nnf[j+1]))
			}
			// ... and in y.
			ny := y - dir
			if p.wrap {
				ny = mod(ny, p.nh)
			}
			if ny >= 0 && ny < p.nh {
				src := p.nnf
				if ny < y0 || ny >= y1 {
					src = p.snap
				}
				j := 2 * (ny*p.nw + x)
				try(int(src[j]), int(src[j+1])+dir)
			}
			// Random search around the best match.
			for r := radius; r >= 1; r /= 2 {
				cx := bx + rng.intn(2*r+1) - r
				cy := by + rng.intn(2*r+1) - r
				try(min(max(cx, 0), mx), min(max(cy, 0), my))
			}
			p.nnf[2*i], p.nnf[2*i+1], p.dist[i] = int32(bx), int32(by), bd
		}
	}
}

// distance returns the squared difference between the output patch at
// position (x, y) and the sample patch at (sx, sy), or any value above
// limit once the partial sum exceeds it.
func (p *patchSynth) distance(x, y, sx, sy int, limit float32) float32 {
	k3 := 3 * p.k
	var d float32
	for r := 0; r < p.k; r++ {
		a := p.ext[3*((y+r)*p.ew+x):][:k3]
		b := p.lv.s[3*((sy+r)*p.lv.sw+sx):][:k3]
		for j, v := range a {
			e := v - b[j]
			d += e * e
		}
		if d > limit {
			return d
		}
	}
	return d
}

// vote sets every output pixel to the weighted average of the sample
// pixels that the matches of the patches covering it put there (Kwatra et
// al.'s robust average), then refreshes the extended output.
func (p *patchSynth) vote() error {
	n := float32(3 * p.k * p.k)
	for i, d := range p.dist {
		p.wt[i] = float32(math.Pow(float64(d/n)+robustEps, robustExp))
	}
	w, h, k := p.lv.w, p.lv.h, p.k
	if err := p.parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				var r, g, b, ws float32
				for dy := 0; dy < k; dy++ {
					py := y - dy
					if p.wrap {
						py = mod(py, p.nh)
					} else if py < 0 || py >= p.nh {
						continue
					}
					for dx := 0; dx < k; dx++ {
						px := x - dx
						if p.wrap {
							px = mod(px, p.nw)
						} else if px < 0 || px >= p.nw {
							continue
						}
						i := py*p.nw + px
						wt := p.wt[i]
						s := p.lv.s[3*((int(p.nnf[2*i+1])+dy)*p.lv.sw+int(p.nnf[2*i])+dx):]
						r += wt * s[0]
						g += wt * s[1]
						b += wt * s[2]
						ws += wt
					}
				}
				o := p.out[3*(y*w+x):]
				o[0], o[1], o[2] = min(r/ws, 255), min(g/ws, 255), min(b/ws, 255)
			}
		}
	}); err != nil {
		return err
	}
	if p.wrap {
		for y := 0; y < p.eh; y++ {
			src := p.out[3*mod(y, h)*w:][:3*w]
			dst := p.ext[3*y*p.ew:][:3*p.ew]
			for x := 0; x < p.ew; x += w {
				copy(dst[3*x:], src)
			}
		}
	}
	return nil
}

// image returns the output as a new RGB tensor [1,3,H,W].
func (p *patchSynth) image() *tensor.Tensor {
	w, h := p.lv.w, p.lv.h
	t := tensor.New(1, 3, h, w)
	for c := 0; c < 3; c++ {
		plane := t.Data[c*w*h : (c+1)*w*h]
		for i := range plane {
			plane[i] = p.out[3*i+c]
		}
	}
	return t
}

// parallel runs fn over 0..n−1 split into contiguous chunks on up to
// GOMAXPROCS goroutines and returns the context's error if it was
// cancelled meanwhile. Each index is handled by exactly one call; results
// must not depend on which goroutine runs a chunk.
func (p *patchSynth) parallel(n int, fn func(lo, hi int)) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		fn(0, n)
		return p.ctx.Err()
	}
	chunk := max(1, n/(4*workers))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n || p.ctx.Err() != nil {
					return
				}
				fn(lo, min(lo+chunk, n))
			}
		}()
	}
	wg.Wait()
	return p.ctx.Err()
}

// rng is a small deterministic random source (SplitMix64), one per band
// and pass, seeded from the request's seed and where it is used.
type rng struct{ s uint64 }

func newRNG(seed int64, level, it, pass, band int) *rng {
	r := &rng{s: uint64(seed)}
	for _, v := range []int{level, it, pass, band} {
		r.s ^= uint64(v) + 0x9e3779b97f4a7c15
		r.next()
	}
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in 0..n−1 (0 when n <= 1).
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.next() % uint64(n))
}
