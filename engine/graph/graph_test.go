package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"atelier/engine/tensor"
)

// poly is the element-wise y = a*x + b*x*x; calls counts forward passes.
type poly struct {
	a, b  float32
	x     *tensor.Tensor
	y, dx *tensor.Tensor
	calls int
}

func (p *poly) Forward(x *tensor.Tensor) *tensor.Tensor {
	p.calls++
	p.x = x
	p.y = tensor.Ensure(p.y, x.Shape...)
	for i, v := range x.Data {
		p.y.Data[i] = p.a*v + p.b*v*v
	}
	return p.y
}

func (p *poly) Backward(dy *tensor.Tensor) *tensor.Tensor {
	p.dx = tensor.Ensure(p.dx, dy.Shape...)
	for i, g := range dy.Data {
		p.dx.Data[i] = g * (p.a + 2*p.b*p.x.Data[i])
	}
	return p.dx
}

// mix multiplies the channels of each pixel by a fixed matrix m [cout, cin].
type mix struct {
	m         [][]float32
	x, y, dx  *tensor.Tensor
	wrongGrad bool // deliberately transposes the matrix in Backward
}

func (l *mix) Forward(x *tensor.Tensor) *tensor.Tensor {
	l.x = x
	n, c, h, w := x.Dims()
	co := len(l.m)
	l.y = tensor.EnsureZero(l.y, n, co, h, w)
	hw := h * w
	for b := 0; b < n; b++ {
		for o := 0; o < co; o++ {
			dst := l.y.Data[(b*co+o)*hw : (b*co+o+1)*hw]
			for i := 0; i < c; i++ {
				src := x.Data[(b*c+i)*hw : (b*c+i+1)*hw]
				for k := range dst {
					dst[k] += l.m[o][i] * src[k]
				}
			}
		}
	}
	return l.y
}

func (l *mix) Backward(dy *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := l.x.Dims()
	co := len(l.m)
	l.dx = tensor.EnsureZero(l.dx, n, c, h, w)
	hw := h * w
	for b := 0; b < n; b++ {
		for o := 0; o < co; o++ {
			src := dy.Data[(b*co+o)*hw : (b*co+o+1)*hw]
			for i := 0; i < c; i++ {
				m := l.m[o][i]
				if l.wrongGrad && o < c && i < co {
					m = l.m[i][o]
				}
				dst := l.dx.Data[(b*c+i)*hw : (b*c+i+1)*hw]
				for k := range dst {
					dst[k] += m * src[k]
				}
			}
		}
	}
	return l.dx
}

// prod is the element-wise product of its inputs (order matters for the
// gradient, unlike a sum).
type prod struct {
	xs  []*tensor.Tensor
	y   *tensor.Tensor
	dxs []*tensor.Tensor
}

func (p *prod) ForwardMulti(xs []*tensor.Tensor) *tensor.Tensor {
	p.xs = append(p.xs[:0], xs...)
	p.y = tensor.Ensure(p.y, xs[0].Shape...)
	for i := range p.y.Data {
		v := float32(1)
		for _, x := range xs {
			v *= x.Data[i]
		}
		p.y.Data[i] = v
	}
	return p.y
}

func (p *prod) BackwardMulti(dy *tensor.Tensor) []*tensor.Tensor {
	for len(p.dxs) < len(p.xs) {
		p.dxs = append(p.dxs, nil)
	}
	for j := range p.xs {
		p.dxs[j] = tensor.Ensure(p.dxs[j], dy.Shape...)
		for i, g := range dy.Data {
			v := g
			for k, x := range p.xs {
				if k != j {
					v *= x.Data[i]
				}
			}
			p.dxs[j].Data[i] = v
		}
	}
	return p.dxs[:len(p.xs)]
}

// sum adds its inputs; its backward hands dy itself to every input, so the
// graph must never write into the gradients it receives.
type sum struct {
	y   *tensor.Tensor
	dxs []*tensor.Tensor
}

func (s *sum) ForwardMulti(xs []*tensor.Tensor) *tensor.Tensor {
	s.y = tensor.EnsureZero(s.y, xs[0].Shape...)
	for _, x := range xs {
		for i, v := range x.Data {
			s.y.Data[i] += v
		}
	}
	s.dxs = s.dxs[:0]
	for range xs {
		s.dxs = append(s.dxs, nil)
	}
	return s.y
}

func (s *sum) BackwardMulti(dy *tensor.Tensor) []*tensor.Tensor {
	for i := range s.dxs {
		s.dxs[i] = dy
	}
	return s.dxs
}

func randTensor(seed int64, shape ...int) *tensor.Tensor {
	rng := rand.New(rand.NewSource(seed))
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.Float64()*2 - 1)
	}
	return t
}

// diamond builds
//
//	x -> a=poly -> b=mix ----\
//	       \---> c=poly -> d=prod(b, c) -> e=sum(d, x) -> f=poly
//
// so a has two consumers, x has two (a and e), and prod's inputs differ.
type diamond struct {
	g       *Graph
	a, c, f *poly
	b       *mix
}

func newDiamond(t testing.TB) *diamond {
	d := &diamond{
		a: &poly{a: 0.9, b: 0.3},
		c: &poly{a: -0.5, b: 0.7},
		f: &poly{a: 1.1, b: -0.2},
		b: &mix{m: [][]float32{{0.5, -1, 0.25}, {1, 0.75, -0.5}, {-0.3, 0.2, 0.9}}},
	}
	g := New("x")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddLayer("a", d.a, "x"))
	must(g.AddLayer("b", d.b, "a"))
	must(g.AddLayer("c", d.c, "a"))
	must(g.AddMulti("d", &prod{}, "b", "c"))
	must(g.AddMulti("e", &sum{}, "d", "x"))
	must(g.AddLayer("f", d.f, "e"))
	must(g.Alias("out", "f"))
	d.g = g
	return d
}

// lossOf is sum over taps of sum(r_tap * tap), accumulated in float64.
func lossOf(t *testing.T, g *Graph, x *tensor.Tensor, taps []string, rs []*tensor.Tensor) float64 {
	t.Helper()
	outs, err := g.Forward(x, taps)
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	for k, o := range outs {
		for i, v := range o.Data {
			s += float64(v) * float64(rs[k].Data[i])
		}
	}
	return s
}

// numericGradErrors compares the analytic dL/dx with float64 central
// differences of lossOf (step h) and returns the mismatches.
func numericGradErrors(t *testing.T, g *Graph, x *tensor.Tensor, taps []string, h, tol float64) []string {
	t.Helper()
	outs, err := g.Forward(x, taps)
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]*tensor.Tensor, len(taps))
	seeds := map[string]*tensor.Tensor{}
	for k, o := range outs {
		rs[k] = randTensor(int64(100+k), o.Shape...)
		seeds[taps[k]] = rs[k]
	}
	dx, err := g.Backward(seeds)
	if err != nil {
		t.Fatal(err)
	}
	ana := dx.Clone()
	scale := 0.0
	for _, v := range ana.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	var errs []string
	for i := range x.Data {
		orig := x.Data[i]
		x.Data[i] = orig + float32(h)
		hp := float64(x.Data[i]) - float64(orig)
		lp := lossOf(t, g, x, taps, rs)
		x.Data[i] = orig - float32(h)
		hm := float64(orig) - float64(x.Data[i])
		lm := lossOf(t, g, x, taps, rs)
		x.Data[i] = orig
		num := (lp - lm) / (hp + hm)
		a := float64(ana.Data[i])
		if math.Abs(a-num) > tol*math.Max(math.Max(math.Abs(a), math.Abs(num)), 0.05*scale) {
			errs = append(errs, fmt.Sprintf("dL/dx[%d]: analytic %.6g, numeric %.6g", i, a, num))
		}
	}
	return errs
}

func TestBackwardMatchesCentralDifferences(t *testing.T) {
	cases := []struct {
		name string
		taps []string
	}{
		{"output only", []string{"f"}},
		{"alias", []string{"out"}},
		{"shared node seeded too", []string{"f", "a"}},
		{"several taps", []string{"b", "d", "f", "c"}},
		{"inner tap only", []string{"c"}},
		{"input tap", []string{"x", "e"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDiamond(t)
			x := randTensor(1, 2, 3, 4, 5)
			for _, e := range numericGradErrors(t, d.g, x, tc.taps, 1e-2, 1e-2) {
				t.Error(e)
			}
		})
	}
}

func TestGradientCheckCanFail(t *testing.T) {
	d := newDiamond(t)
	d.b.wrongGrad = true
	x := randTensor(1, 2, 3, 4, 5)
	if errs := numericGradErrors(t, d.g, x, []string{"f"}, 1e-2, 1e-2); len(errs) == 0 {
		t.Error("a wrong backward in one branch went unnoticed")
	}
}

// TestBackwardSumsSharedSeeds checks exactly (no numerics) that a node
// seeded and consumed receives the sum of both gradients, and that the
// graph never writes into seeds or into the tensors returned by layers.
func TestBackwardSumsSharedSeeds(t *testing.T) {
	g := New("x")
	id := &poly{a: 1}
	if err := g.AddLayer("a", id, "x"); err != nil {
		t.Fatal(err)
	}
	if err := g.AddMulti("s", &sum{}, "a", "a", "x"); err != nil {
		t.Fatal(err)
	}
	x := randTensor(3, 1, 2, 3, 3)
	if _, err := g.Forward(x, []string{"s", "a"}); err != nil {
		t.Fatal(err)
	}
	ds := randTensor(4, 1, 2, 3, 3)
	da := randTensor(5, 1, 2, 3, 3)
	dsCopy, daCopy := ds.Clone(), da.Clone()
	for iter := 0; iter < 2; iter++ { // a second pass must not see stale sums
		dx, err := g.Backward(map[string]*tensor.Tensor{"s": ds, "a": da})
		if err != nil {
			t.Fatal(err)
		}
		for i := range dx.Data {
			want := 3*dsCopy.Data[i] + daCopy.Data[i]
			if math.Abs(float64(dx.Data[i]-want)) > 1e-6 {
				t.Fatalf("iteration %d: dx[%d] = %g, want %g", iter, i, dx.Data[i], want)
			}
		}
	}
	if tensor.MaxAbsDiff(ds, dsCopy) != 0 || tensor.MaxAbsDiff(da, daCopy) != 0 {
		t.Error("backward modified a seed")
	}
}

func TestOnlyNeededNodesRun(t *testing.T) {
	d := newDiamond(t)
	x := randTensor(1, 1, 3, 2, 2)
	if _, err := d.g.Forward(x, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if d.a.calls != 1 || d.c.calls != 1 || d.f.calls != 0 {
		t.Errorf("tap c ran a %d, c %d, f %d times; want 1, 1, 0", d.a.calls, d.c.calls, d.f.calls)
	}
	if d.g.Tap("f") != nil || d.g.Tap("c") == nil {
		t.Error("Tap reports outputs of the wrong nodes")
	}
	if _, err := d.g.Backward(map[string]*tensor.Tensor{"f": tensor.New(1, 3, 2, 2)}); !errors.Is(err, ErrNoForward) {
		t.Errorf("seeding a tap that did not run: got %v, want ErrNoForward", err)
	}
	if _, err := d.g.Forward(x, []string{"f", "c"}); err != nil {
		t.Fatal(err)
	}
	if d.a.calls != 2 || d.f.calls != 1 {
		t.Errorf("after tap f: a ran %d, f %d times; want 2, 1", d.a.calls, d.f.calls)
	}
}

func TestErrors(t *testing.T) {
	d := newDiamond(t)
	cause := errors.New("model: shard group9 missing")
	if err := d.g.AddUnavailable("deep", cause, "f"); err != nil {
		t.Fatal(err)
	}
	if err := d.g.AddLayer("deeper", &poly{a: 1}, "deep"); err != nil {
		t.Fatal(err)
	}
	x := randTensor(1, 1, 3, 2, 2)
	cases := []struct {
		name     string
		taps     []string
		sentinel error
		mention  []string
	}{
		{"unknown tap", []string{"f", "nope"}, ErrUnknownTap, []string{"nope"}},
		{"unavailable", []string{"deep"}, ErrUnavailable, []string{"deep", "group9"}},
		{"depends on unavailable", []string{"deeper"}, ErrUnavailable, []string{"deeper", "\"deep\"", "group9"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.g.Forward(x, tc.taps)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("got %v, want %v", err, tc.sentinel)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
		})
	}
	if err := d.g.Check("deeper"); !errors.Is(err, cause) {
		t.Errorf("Check does not wrap the cause: %v", err)
	}
	if err := d.g.Check("f"); err != nil {
		t.Errorf("Check(f) = %v", err)
	}
	if _, err := d.g.Backward(nil); !errors.Is(err, ErrNoForward) {
		t.Errorf("backward after a failed forward: %v", err)
	}
	if _, err := d.g.Forward(x, []string{"f"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.g.Backward(map[string]*tensor.Tensor{"f": tensor.New(1, 3, 2, 3)}); err == nil {
		t.Error("a seed of the wrong shape was accepted")
	}
	if _, err := d.g.Backward(map[string]*tensor.Tensor{"zz": tensor.New(1)}); !errors.Is(err, ErrUnknownTap) {
		t.Errorf("unknown seed: %v", err)
	}
	if err := d.g.AddLayer("a", &poly{}, "x"); err == nil {
		t.Error("duplicate node accepted")
	}
	if err := d.g.AddLayer("z", &poly{}, "missing"); err == nil {
		t.Error("unknown input accepted")
	}
	if err := d.g.Alias("b", "a"); err == nil {
		t.Error("alias hiding a node accepted")
	}
}

func TestNoSeedGivesZeroGradient(t *testing.T) {
	d := newDiamond(t)
	x := randTensor(1, 1, 3, 2, 2)
	if _, err := d.g.Forward(x, []string{"f"}); err != nil {
		t.Fatal(err)
	}
	dx, err := d.g.Backward(map[string]*tensor.Tensor{"f": nil})
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.ShapeEqual(dx.Shape, x.Shape) || dx.Norm() != 0 {
		t.Errorf("dx = %v with norm %g, want zeros of %v", dx.Shape, dx.Norm(), x.Shape)
	}
}

func TestNoAllocationsWhenIterating(t *testing.T) {
	d := newDiamond(t)
	x := randTensor(1, 2, 3, 8, 8)
	taps := []string{"f", "a", "b"}
	seeds := map[string]*tensor.Tensor{
		"f": randTensor(2, 2, 3, 8, 8), "a": randTensor(3, 2, 3, 8, 8), "b": randTensor(4, 2, 3, 8, 8),
	}
	step := func() {
		if _, err := d.g.Forward(x, taps); err != nil {
			t.Fatal(err)
		}
		if _, err := d.g.Backward(seeds); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(10, step); n != 0 {
		t.Errorf("forward+backward allocates %v times per iteration", n)
	}
}

func BenchmarkDiamond(b *testing.B) {
	for _, size := range []int{16, 64} {
		b.Run(fmt.Sprintf("%dx%d", size, size), func(b *testing.B) {
			d := newDiamond(b)
			x := randTensor(1, 1, 3, size, size)
			taps := []string{"f", "a"}
			seeds := map[string]*tensor.Tensor{"f": randTensor(2, 1, 3, size, size), "a": randTensor(3, 1, 3, size, size)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.g.Forward(x, taps); err != nil {
					b.Fatal(err)
				}
				if _, err := d.g.Backward(seeds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
