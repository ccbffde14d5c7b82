package nn

import (
	"errors"
	"fmt"
	"math"
)

// Objective evaluates a loss at x, writes dLoss/dx into grad (same length as
// x) and returns the loss. The optimisers may pass internal buffers as x;
// the objective must not keep either slice.
type Objective func(x, grad []float32) float64

// Bounds is an optional box constraint Lo <= x <= Hi on every variable,
// kept by projection (clamping) after every step, so that an image being
// optimised stays in 0..255 throughout rather than only when saved.
type Bounds struct {
	Lo, Hi    float32
	HasBounds bool
}

// SetBounds turns the box constraint lo <= x <= hi on.
func (b *Bounds) SetBounds(lo, hi float32) {
	if !(lo <= hi) {
		panic(fmt.Sprintf("nn: bounds [%v, %v] are empty", lo, hi))
	}
	b.Lo, b.Hi, b.HasBounds = lo, hi, true
}

// project clamps x into the bounds, when there are any.
func (b *Bounds) project(x []float32) {
	if !b.HasBounds {
		return
	}
	lo, hi := b.Lo, b.Hi
	for i, v := range x {
		x[i] = min(max(v, lo), hi)
	}
}

// Adam is the Adam optimiser (Kingma & Ba) over a flat vector of n values,
// with PyTorch's bias correction:
//
//	m = Beta1*m + (1-Beta1)*g;  v = Beta2*v + (1-Beta2)*g²
//	x -= LR/(1-Beta1^t) * m / (sqrt(v/(1-Beta2^t)) + Eps)
//
// Each step moves every value by about LR at most, so LR is in the units of
// x: 1e-3 suits network weights, while pixels in 0..255 want 1 to 10.
type Adam struct {
	// LR is the step size (NewAdam's argument).
	LR float64
	// Beta1 (default 0.9) and Beta2 (default 0.999) are the decay rates of
	// the first and second moment estimates.
	Beta1, Beta2 float64
	// Eps (default 1e-8) keeps the division finite.
	Eps float64
	// Bounds optionally clamps x after each step.
	Bounds

	m, v []float32
	t    int
}

// NewAdam returns an Adam optimiser for n values with step size lr and the
// default Beta1, Beta2 and Eps.
func NewAdam(n int, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, m: make([]float32, n), v: make([]float32, n)}
}

// Reset forgets the moment estimates and the step count.
func (a *Adam) Reset() {
	clear(a.m)
	clear(a.v)
	a.t = 0
}

// Step updates x in place from the gradient grad (both of length n).
func (a *Adam) Step(x, grad []float32) {
	if len(x) != len(a.m) || len(grad) != len(a.m) {
		panic(fmt.Sprintf("nn: Adam for %d values stepped with %d values and %d gradients", len(a.m), len(x), len(grad)))
	}
	a.t++
	a.update(x, grad, a.m, a.v)
}

// StepParams updates every parameter from its gradient, treating them as
// one flat vector in order; their total size must be n.
func (a *Adam) StepParams(ps []*Param) {
	total := 0
	for _, p := range ps {
		total += len(p.Value.Data)
	}
	if total != len(a.m) {
		panic(fmt.Sprintf("nn: Adam for %d values stepped with parameters holding %d", len(a.m), total))
	}
	a.t++
	off := 0
	for _, p := range ps {
		k := len(p.Value.Data)
		if p.Grad != nil {
			a.update(p.Value.Data, p.Grad.Data, a.m[off:off+k], a.v[off:off+k])
		}
		off += k
	}
}

func (a *Adam) update(x, grad, m, v []float32) {
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	step := float32(a.LR / (1 - math.Pow(a.Beta1, float64(a.t))))
	rbc2 := 1 / math.Sqrt(1-math.Pow(a.Beta2, float64(a.t)))
	eps := a.Eps
	grad, m, v = grad[:len(x)], m[:len(x)], v[:len(x)]
	for i, g := range grad {
		mi := b1*m[i] + (1-b1)*g
		vi := b2*v[i] + (1-b2)*g*g
		m[i], v[i] = mi, vi
		x[i] -= step * mi / float32(math.Sqrt(float64(vi))*rbc2+eps)
	}
	a.project(x)
}

// Sentinel errors of LBFGS.Step.
var (
	// ErrConverged reports that the gradient vanished, the loss stopped
	// changing, or no step along the steepest descent direction lowers the
	// loss. x holds the best point found; further steps are pointless.
	ErrConverged = errors.New("nn: L-BFGS converged")
	// ErrNonFinite reports that the objective returned NaN or ±Inf at the
	// current point.
	ErrNonFinite = errors.New("nn: objective is not finite")
)

// LBFGS is limited-memory BFGS over a flat vector, with a strong-Wolfe line
// search (the cubic-interpolation search PyTorch's torch.optim.LBFGS uses)
// and optional bounds.
//
// Why the line search: classic L-BFGS with a unit step (neural-style's
// setting, NoLineSearch here) is unstable on the Gatys objective; the loss
// can jump by orders of magnitude for several iterations. The strong-Wolfe
// search accepts only steps that lower the loss enough (c1 = 1e-4) and whose
// slope has flattened (c2 = 0.9), which also keeps the curvature pairs
// positive.
//
// With Bounds, every trial point is projected into the box, the search
// differentiates along the projected path, and the gradient of variables
// held at a bound and pushing outward is left out of the direction
// (projected L-BFGS; a heuristic, not L-BFGS-B, but it keeps images in
// range at every evaluation).
//
// Memory: 2*History vectors of n float32 values, allocated as the history
// fills (100 pairs for a 512x512 RGB image take 630 MB), plus 8 more.
type LBFGS struct {
	// History is the number of correction pairs kept (default 100).
	History int
	// LR scales the initial step of every line search (default 1). The
	// first iteration after a reset starts at min(1, 1/|g|₁)*LR.
	LR float64
	// MaxLineSearch bounds the objective evaluations per line search
	// (default 25).
	MaxLineSearch int
	// TolGrad stops when the largest projected gradient entry is at most
	// this (default 1e-7).
	TolGrad float64
	// TolChange stops when the loss or the step changes less than this
	// (default 1e-9).
	TolChange float64
	// NoLineSearch takes the step LR along the direction without a line
	// search, like neural-style; unstable, kept for comparison.
	NoLineSearch bool
	// Bounds optionally keeps x in a box.
	Bounds
	// Evals counts objective evaluations since the optimiser was created.
	Evals int
	// Iter counts completed steps since the last Reset.
	Iter int

	n     int
	have  bool      // loss and g are valid for xLast
	loss  float64   // loss at xLast
	xLast []float32 // the point of the last evaluation handed back
	g     []float32 // gradient at xLast
	pg    []float32 // projected gradient
	d     []float32 // search direction
	xt    []float32 // trial point
	gb    [3][]float32
	s, y  [][]float32 // ring of correction pairs
	rho   []float64
	al    []float64
	head  int // index of the oldest pair
	count int // pairs stored
	hdiag float64
}

// NewLBFGS returns an L-BFGS optimiser for n values keeping history
// correction pairs (100 when history <= 0).
func NewLBFGS(n int, history int) *LBFGS {
	if history <= 0 {
		history = 100
	}
	o := &LBFGS{History: history, LR: 1, MaxLineSearch: 25, TolGrad: 1e-7, TolChange: 1e-9, n: n}
	o.xLast = make([]float32, n)
	o.g = make([]float32, n)
	o.pg = make([]float32, n)
	o.d = make([]float32, n)
	o.xt = make([]float32, n)
	for i := range o.gb {
		o.gb[i] = make([]float32, n)
	}
	return o
}

// Reset forgets the history and the cached evaluation; the next Step starts
// like the first. Call it when the objective changes.
func (o *LBFGS) Reset() {
	o.have = false
	o.count, o.head = 0, 0
	o.Iter = 0
}

// Prime hands the next Step the loss and gradient of the objective at x,
// which the caller has just evaluated (to size LR, say), so that Step
// starts from them instead of evaluating x again. It copies x and grad; it
// has no effect if x changes before the next Step.
func (o *LBFGS) Prime(x []float32, loss float64, grad []float32) {
	if len(x) != o.n || len(grad) != o.n {
		panic(fmt.Sprintf("nn: LBFGS for %d values primed with %d and %d", o.n, len(x), len(grad)))
	}
	copy(o.xLast, x)
	copy(o.g, grad)
	o.loss = loss
	o.have = true
}

func (o *LBFGS) clearHistory() {
	o.count, o.head = 0, 0
}

// Step performs one L-BFGS iteration: it picks a direction from the
// history, searches along it, and moves x (in place) to the accepted point.
// It returns the loss at the new x. The loss and gradient of the accepted
// point are reused by the next Step when x is unchanged in between; if the
// caller modifies x, the objective is evaluated afresh (the history is
// kept). With bounds, x is first clamped into them.
//
// Errors: ErrConverged (x is the best point found) and ErrNonFinite (the
// objective gave NaN or Inf at the starting point).
func (o *LBFGS) Step(x []float32, f Objective) (loss float64, err error) {
	if len(x) != o.n {
		panic(fmt.Sprintf("nn: LBFGS for %d values stepped with %d", o.n, len(x)))
	}
	o.project(x)
	if !o.have || !equalF32(x, o.xLast) {
		o.loss = f(x, o.g)
		o.Evals++
		copy(o.xLast, x)
		o.have = true
	}
	if math.IsNaN(o.loss) || math.IsInf(o.loss, 0) {
		o.have = false
		return o.loss, ErrNonFinite
	}
	o.projectedGrad(x)
	if float64(maxAbs(o.pg)) <= o.TolGrad {
		return o.loss, ErrConverged
	}

	for {
		o.direction(x)
		gtd := dot64(o.g, o.d)
		if gtd < -o.TolChange {
			t := o.LR
			if o.count == 0 {
				g1 := 0.0
				for _, v := range o.pg {
					g1 += math.Abs(float64(v))
				}
				t = math.Min(1, 1/g1) * o.LR
			}
			ok, err := o.search(x, f, t, gtd)
			if err != nil {
				return o.loss, err
			}
			if ok {
				o.Iter++
				return o.loss, nil
			}
		}
		// No descent along this direction: retry once with steepest
		// descent before giving up.
		if o.count == 0 {
			return o.loss, ErrConverged
		}
		o.clearHistory()
	}
}

// projectedGrad writes into pg the gradient with the entries of variables
// held at a bound and pushing outward set to 0.
func (o *LBFGS) projectedGrad(x []float32) {
	copy(o.pg, o.g)
	if !o.HasBounds {
		return
	}
	for i, v := range x {
		if (v <= o.Lo && o.pg[i] > 0) || (v >= o.Hi && o.pg[i] < 0) {
			o.pg[i] = 0
		}
	}
}

// direction computes d = -H*pg with the two-loop recursion, then stops
// variables at a bound from moving outward.
func (o *LBFGS) direction(x []float32) {
	d := o.d
	for i, v := range o.pg {
		d[i] = -v
	}
	if o.count > 0 {
		m := len(o.s)
		if cap(o.al) < m {
			o.al = make([]float64, m)
		}
		al := o.al[:m]
		for k := o.count - 1; k >= 0; k-- {
			i := (o.head + k) % m
			al[i] = o.rho[i] * dot64(o.s[i], d)
			axpy(float32(-al[i]), o.y[i], d)
		}
		h := float32(o.hdiag)
		for i := range d {
			d[i] *= h
		}
		for k := 0; k < o.count; k++ {
			i := (o.head + k) % m
			be := o.rho[i] * dot64(o.y[i], d)
			axpy(float32(al[i]-be), o.s[i], d)
		}
	}
	if o.HasBounds {
		for i, v := range x {
			if (v <= o.Lo && d[i] < 0) || (v >= o.Hi && d[i] > 0) {
				d[i] = 0
			}
		}
	}
}

// trial writes the projected point x + t*d into dst.
func (o *LBFGS) trial(dst, x []float32, t float64) {
	tt := float32(t)
	d := o.d[:len(x)]
	dst = dst[:len(x)]
	if !o.HasBounds {
		for i, v := range x {
			dst[i] = v + tt*d[i]
		}
		return
	}
	lo, hi := o.Lo, o.Hi
	for i, v := range x {
		dst[i] = min(max(v+tt*d[i], lo), hi)
	}
}

// lsPoint is one evaluated point of the line search; g indexes o.gb, or is
// -1 for the starting point's gradient o.g.
type lsPoint struct {
	t, f, gtd float64
	g         int
}

// eval evaluates the objective at the projected trial point for step t,
// with the gradient into o.gb[gi], and returns the point. The slope is the
// derivative along the projected path: variables clamped at t contribute
// nothing. A non-finite loss is reported as +Inf so the search backs off.
func (o *LBFGS) eval(x []float32, f Objective, t float64, gi int) lsPoint {
	o.trial(o.xt, x, t)
	g := o.gb[gi]
	fv := f(o.xt, g)
	o.Evals++
	if math.IsNaN(fv) || math.IsInf(fv, 0) {
		return lsPoint{t: t, f: math.Inf(1), gtd: math.NaN(), g: gi}
	}
	var gtd float64
	if !o.HasBounds {
		gtd = dot64(g, o.d)
	} else {
		tt := float32(t)
		for i, v := range x {
			if u := v + tt*o.d[i]; u > o.Lo && u < o.Hi {
				gtd += float64(g[i]) * float64(o.d[i])
			}
		}
	}
	return lsPoint{t: t, f: fv, gtd: gtd, g: gi}
}

// freeBuf returns a gradient buffer index used by neither a nor b.
func freeBuf(a, b int) int {
	for i := 0; ; i++ {
		if i != a && i != b {
			return i
		}
	}
}

// search runs the line search from x along o.d with initial step t, then
// moves x, updates the history and the cached loss and gradient. It reports
// false when no point lowered the loss (x is then unchanged).
func (o *LBFGS) search(x []float32, f Objective, t, gtd0 float64) (bool, error) {
	f0 := o.loss
	var best lsPoint
	if o.NoLineSearch {
		best = o.eval(x, f, t, 0)
		if math.IsInf(best.f, 1) {
			return false, ErrNonFinite
		}
	} else {
		best = o.strongWolfe(x, f, t, f0, gtd0)
	}
	if best.t == 0 || best.g < 0 || (!o.NoLineSearch && !(best.f <= f0)) {
		return false, nil
	}
	// s = x_new - x_old, y = g_new - g_old, then move.
	o.trial(o.xt, x, best.t)
	gNew := o.gb[best.g]
	ys, yy := 0.0, 0.0
	for i := range x {
		s := float64(o.xt[i] - x[i])
		y := float64(gNew[i] - o.g[i])
		ys += s * y
		yy += y * y
	}
	// Keep the pair only when the curvature is positive (always, after a
	// strong-Wolfe step), so the implicit Hessian stays positive definite.
	if ys > 1e-10 {
		si, yi := o.pushSlot()
		for i := range x {
			si[i] = o.xt[i] - x[i]
			yi[i] = gNew[i] - o.g[i]
		}
		m := len(o.s)
		o.rho[(o.head+o.count)%m] = 1 / ys
		if o.count < m {
			o.count++
		} else {
			o.head = (o.head + 1) % m
		}
		o.hdiag = ys / yy
	}
	copy(x, o.xt)
	copy(o.xLast, x)
	copy(o.g, gNew)
	prev := o.loss
	o.loss = best.f
	if math.Abs(o.loss-prev) < o.TolChange {
		o.Iter++
		return true, ErrConverged
	}
	return true, nil
}

// pushSlot returns the ring slot for the next correction pair (the oldest
// one when the ring is full), allocating it on first use.
func (o *LBFGS) pushSlot() (s, y []float32) {
	if o.s == nil {
		o.s = make([][]float32, o.History)
		o.y = make([][]float32, o.History)
		o.rho = make([]float64, o.History)
	}
	m := len(o.s)
	k := (o.head + o.count) % m
	if o.s[k] == nil {
		o.s[k] = make([]float32, o.n)
		o.y[k] = make([]float32, o.n)
	}
	return o.s[k], o.y[k]
}

// strongWolfe finds a step satisfying the strong Wolfe conditions
// (c1 = 1e-4, c2 = 0.9) by bracketing and cubic-interpolation zoom; a port
// of torch.optim.lbfgs._strong_wolfe. It returns the best point found,
// which may be the start (t = 0).
func (o *LBFGS) strongWolfe(x []float32, f Objective, t, f0, gtd0 float64) lsPoint {
	const c1, c2 = 1e-4, 0.9
	maxLS := o.MaxLineSearch
	if maxLS <= 0 {
		maxLS = 25
	}
	dNorm := float64(maxAbs(o.d))
	start := lsPoint{t: 0, f: f0, gtd: gtd0, g: -1}
	prev := start
	cur := o.eval(x, f, t, 0)
	var br [2]lsPoint
	done, bracketed := false, false
	lsIter := 0
	for lsIter < maxLS {
		if cur.f > f0+c1*cur.t*gtd0 || (lsIter > 1 && cur.f >= prev.f) {
			br, bracketed = [2]lsPoint{prev, cur}, true
			break
		}
		if math.Abs(cur.gtd) <= -c2*gtd0 {
			br[0], br[1], done, bracketed = cur, cur, true, true
			break
		}
		if cur.gtd >= 0 {
			br, bracketed = [2]lsPoint{prev, cur}, true
			break
		}
		minStep := cur.t + 0.01*(cur.t-prev.t)
		maxStep := cur.t * 10
		tn := cubicMin(prev.t, prev.f, prev.gtd, cur.t, cur.f, cur.gtd, minStep, maxStep)
		prev = cur
		cur = o.eval(x, f, tn, freeBuf(prev.g, -1))
		lsIter++
	}
	if !bracketed {
		br = [2]lsPoint{start, cur}
	}
	if done {
		return br[0]
	}

	low, high := 0, 1
	if br[0].f > br[1].f {
		low, high = 1, 0
	}
	insuf := false
	for lsIter < maxLS {
		if math.Abs(br[1].t-br[0].t)*dNorm < o.TolChange {
			break
		}
		lo, hi := math.Min(br[0].t, br[1].t), math.Max(br[0].t, br[1].t)
		t := cubicMin(br[0].t, br[0].f, br[0].gtd, br[1].t, br[1].f, br[1].gtd, lo, hi)
		eps := 0.1 * (hi - lo)
		if math.Min(hi-t, t-lo) < eps {
			if insuf || t >= hi || t <= lo {
				if math.Abs(t-hi) < math.Abs(t-lo) {
					t = hi - eps
				} else {
					t = lo + eps
				}
				insuf = false
			} else {
				insuf = true
			}
		} else {
			insuf = false
		}
		p := o.eval(x, f, t, freeBuf(br[0].g, br[1].g))
		lsIter++
		if p.f > f0+c1*t*gtd0 || p.f >= br[low].f {
			br[high] = p
			low, high = 0, 1
			if br[0].f > br[1].f {
				low, high = 1, 0
			}
			continue
		}
		stop := math.Abs(p.gtd) <= -c2*gtd0
		if !stop && p.gtd*(br[high].t-br[low].t) >= 0 {
			br[high] = br[low]
		}
		br[low] = p
		if stop {
			break
		}
	}
	return br[low]
}

// cubicMin returns the minimiser, clamped to [lo, hi], of the cubic that
// interpolates (x1, f1, g1) and (x2, f2, g2), or the midpoint of [lo, hi]
// when the cubic has none or the numbers are not finite.
func cubicMin(x1, f1, g1, x2, f2, g2, lo, hi float64) float64 {
	d1 := g1 + g2 - 3*(f1-f2)/(x1-x2)
	d2sq := d1*d1 - g1*g2
	if d2sq >= 0 {
		d2 := math.Sqrt(d2sq)
		var m float64
		if x1 <= x2 {
			m = x2 - (x2-x1)*((g2+d2-d1)/(g2-g1+2*d2))
		} else {
			m = x1 - (x1-x2)*((g1+d2-d1)/(g1-g2+2*d2))
		}
		if !math.IsNaN(m) && !math.IsInf(m, 0) {
			return math.Min(math.Max(m, lo), hi)
		}
	}
	return (lo + hi) / 2
}

// maxAbs is the largest |v| in x (NaN when x holds one).
func maxAbs(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, math.Float32frombits(math.Float32bits(v)&0x7fffffff))
	}
	return m
}

// axpy computes y += a*x.
func axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

func equalF32(a, b []float32) bool {
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

// FirstStepLR returns the LR that makes the first step after a reset move the
// entry with the largest gradient by maxChange (for images: grey levels),
// undoing the min(1, 1/|g|₁) factor Step applies to that step. It returns 1
// when grad is zero or not finite.
func FirstStepLR(grad []float32, maxChange float64) float64 {
	var l1, lmax float64
	for _, g := range grad {
		a := math.Abs(float64(g))
		l1 += a
		lmax = math.Max(lmax, a)
	}
	if !(lmax > 0) || math.IsInf(l1, 0) || math.IsNaN(l1) {
		return 1
	}
	return maxChange / lmax / math.Min(1, 1/l1)
}
