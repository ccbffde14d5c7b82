package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// scaleBy multiplies by a constant (a Scaler, like esrgan-thick's
// MultiplyBeta).
type scaleBy struct {
	k float32
	y *tensor.Tensor
}

func (s *scaleBy) Forward(x *tensor.Tensor) *tensor.Tensor {
	s.y = tensor.Ensure(s.y, x.Shape...)
	for i, v := range x.Data {
		s.y.Data[i] = s.k * v
	}
	return s.y
}

func (s *scaleBy) Backward(dy *tensor.Tensor) *tensor.Tensor { return dy }

func (s *scaleBy) ConstantScale() float32 { return s.k }

// randT returns a tensor with values uniform in [-a, a).
func randT(rng *rand.Rand, a float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32((rng.Float64()*2 - 1) * a)
	}
	return t
}

// rdnGraph builds a small residual dense block with every pattern Fuse
// rewrites: a convolution of nested concatenations, a scaled residual sum
// and a 3x3 convolution after a nearest upsampling by up. Each call builds
// the same weights from seed.
func rdnGraph(seed int64, up int) *Graph {
	rng := rand.New(rand.NewSource(seed))
	same := nn.ConvOpts{Pad: nn.PadSame}
	conv := func(cin, cout, k int) *nn.Conv2D {
		return nn.NewConv2D(randT(rng, 0.3, cout, cin, k, k), randT(rng, 0.1, cout), same)
	}
	g := New("in")
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(g.AddLayer("c0", conv(4, 32, 3), "in"))
	must(g.AddLayer("r1", nn.NewConv2DReLU(conv(32, 32, 3)), "c0"))
	must(g.AddMulti("k1", newConcat(), "c0", "r1"))
	must(g.AddLayer("r2", nn.NewConv2DReLU(conv(64, 32, 3)), "k1"))
	must(g.AddMulti("k2", newConcat(), "k1", "r2"))
	must(g.AddLayer("lff", conv(96, 32, 1), "k2"))
	must(g.AddLayer("beta", &scaleBy{k: 0.2}, "lff"))
	must(g.AddMulti("sum", newAddN(2), "c0", "beta"))
	must(g.AddLayer("up", nn.NewUpsample(up, nn.Nearest), "sum"))
	must(g.AddLayer("out", conv(32, 3, 3), "up"))
	return g
}

// relDiff is max|a-b| / max|b|.
func relDiff(a, b []float32) float64 {
	var d, m float64
	for i := range b {
		d = max(d, math.Abs(float64(a[i]-b[i])))
		m = max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

// TestFuseMatchesUnfused checks every rewrite against the graph as built,
// in inference mode, for both precisions and several upsampling factors.
func TestFuseMatchesUnfused(t *testing.T) {
	for _, up := range []int{2, 3, 4} {
		for _, reduced := range []bool{false, true} {
			t.Run(fmt.Sprintf("x%d/reduced=%v", up, reduced), func(t *testing.T) {
				x := randT(rand.New(rand.NewSource(9)), 1, 1, 4, 11, 14)
				ref := rdnGraph(1, up)
				ref.SetInference(true)
				want, err := ref.Forward(x, []string{"out"})
				if err != nil {
					t.Fatal(err)
				}
				g := rdnGraph(1, up)
				g.SetInference(true)
				n, err := g.Fuse()
				if err != nil {
					t.Fatal(err)
				}
				// beta into lff; the upsampling into out; r2 and lff read
				// the concatenations; lff's sum with c0.
				if n != 5 {
					t.Errorf("Fuse made %d rewrites, want 5", n)
				}
				// r2 and lff build their concatenations in one buffer.
				var scratches []*nn.Scratch
				for _, nd := range g.nodes {
					if fc, ok := nd.multi.(*fusedConv); ok && nd.cause == nil && fc.f.Parts > 1 {
						scratches = append(scratches, fc.f.Scratch)
					}
				}
				if len(scratches) != 2 || scratches[0] == nil || scratches[0] != scratches[1] {
					t.Errorf("the convolutions of concatenations have scratch buffers %v, want one shared", scratches)
				}
				g.SetReducedPrecision(reduced)
				for range 2 { // the second Forward runs planned
					got, err := g.Forward(x, []string{"out"})
					if err != nil {
						t.Fatal(err)
					}
					if !got[0].SameShape(want[0]) {
						t.Fatalf("shape %v, want %v", got[0].Shape, want[0].Shape)
					}
					tol := 1e-5
					if reduced {
						tol = 1e-3
					}
					if d := relDiff(got[0].Data, want[0].Data); d > tol {
						t.Fatalf("fused output off by %.3g of its scale, want at most %g", d, tol)
					}
				}
			})
		}
	}
}

// TestFuseRetiresMergedNodes checks that merged nodes are unavailable as
// taps, that untouched ones still answer, and that Backward refuses.
func TestFuseRetiresMergedNodes(t *testing.T) {
	g := rdnGraph(2, 2)
	if _, err := g.Fuse(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lff", "up"} {
		if err := g.Check(name); !errors.Is(err, ErrUnavailable) || !errors.Is(err, errFused) {
			t.Errorf("Check(%q) = %v, want a fused node", name, err)
		}
	}
	x := randT(rand.New(rand.NewSource(3)), 1, 1, 4, 8, 8)
	if _, err := g.Forward(x, []string{"out", "k2", "r1"}); err != nil {
		t.Fatalf("taps beside the fused nodes: %v", err)
	}
	if _, err := g.Backward(map[string]*tensor.Tensor{"out": tensor.New(1, 3, 16, 16)}); !errors.Is(err, ErrNoForward) {
		t.Fatalf("Backward on a fused graph: %v, want ErrNoForward", err)
	}
}

// TestFuseLeavesSharedOutputs checks that a convolution whose output is
// read twice keeps it: the sum is not merged into it.
func TestFuseLeavesSharedOutputs(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	g := New("in")
	c := nn.NewConv2D(randT(rng, 0.3, 8, 4, 1, 1), nil, nn.ConvOpts{})
	for _, err := range []error{
		g.AddLayer("c", c, "in"),
		g.AddLayer("cup", nn.NewUpsample(2, nn.Nearest), "c"),
		g.AddMulti("sum", newAddN(2), "c", "c"),
		g.AddLayer("up2", nn.NewUpsample(2, nn.Nearest), "sum"),
		g.AddLayer("o", nn.NewConv2D(randT(rng, 0.3, 3, 8, 5, 5), nil, nn.ConvOpts{Pad: nn.PadSame}), "up2"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := g.Fuse()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("Fuse made %d rewrites of a graph it must leave alone (a sum of one tensor with itself, a 5x5 after an upsampling)", n)
	}
}

// TestLowResConv checks the moved convolution against upsampling then
// convolving, for each factor, with "same" and explicit padding, and that
// other kernels are refused.
func TestLowResConv(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, s := range []int{2, 3, 4} {
		for _, opt := range []nn.ConvOpts{{Pad: nn.PadSame}, {PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}} {
			t.Run(fmt.Sprintf("x%d/%v", s, opt.Pad), func(t *testing.T) {
				x := randT(rng, 1, 1, 5, 7, 6)
				c := nn.NewConv2D(randT(rng, 0.5, 6, 5, 3, 3), randT(rng, 0.5, 6), opt)
				c.SetWinograd(false)
				want := c.Forward(nn.NewUpsample(s, nn.Nearest).Forward(x))
				low, err := lowResConv(c, s)
				if err != nil {
					t.Fatal(err)
				}
				low.SetWinograd(false)
				got := nn.NewPixelShuffle(s).Forward(low.Forward(x))
				if !got.SameShape(want) {
					t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
				}
				if d := relDiff(got.Data, want.Data); d > 1e-5 {
					t.Fatalf("off by %.3g of the output scale", d)
				}
			})
		}
	}
	c5 := nn.NewConv2D(randT(rng, 1, 2, 2, 5, 5), nil, nn.ConvOpts{Pad: nn.PadSame})
	if _, err := lowResConv(c5, 2); err == nil {
		t.Error("a 5x5 convolution was moved before the upsampling")
	}
	valid := nn.NewConv2D(randT(rng, 1, 2, 2, 3, 3), nil, nn.ConvOpts{})
	if _, err := lowResConv(valid, 2); err == nil {
		t.Error("an unpadded convolution was moved before the upsampling")
	}
}
