package graph

import (
	"errors"
	"testing"

	"atelier/engine/model"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// passThrough is a layer that returns its input itself, as a layer that
// places its own output may: the planner must keep that input alive.
type passThrough struct{}

func (passThrough) Forward(x *tensor.Tensor) *tensor.Tensor  { return x }
func (passThrough) Backward(d *tensor.Tensor) *tensor.Tensor { return d }

// chain builds in -> relu_1 -> ... -> relu_n, with a passThrough after the
// third ReLU when through is set.
func chain(t *testing.T, n int, through bool) *Graph {
	t.Helper()
	g := New("in")
	prev := "in"
	for i := 1; i <= n; i++ {
		name := string(rune('a' + i))
		var l nn.Layer = nn.NewReLU()
		if through && i == 4 {
			l = passThrough{}
		}
		if err := g.AddLayer(name, l, prev); err != nil {
			t.Fatal(err)
		}
		prev = name
	}
	return g
}

func TestInferenceMatchesNormalMode(t *testing.T) {
	cases := []struct {
		name   string
		build  func(testing.TB) (*model.Topology, *memWeights)
		shapes [][]int
		taps   []string
	}{
		{"vgg-like", vggLike, [][]int{{2, 3, 11, 10}, {1, 3, 9, 8}}, []string{"conv_a", "fc"}},
		{"residual", resLike, [][]int{{1, 3, 7, 7}}, []string{"add", "fc"}},
		{"upscaler-like", upscalerLike, [][]int{{1, 3, 5, 6}, {1, 3, 9, 4}, {1, 3, 5, 6}}, []string{"out"}},
		{"upscaler-like, two taps", upscalerLike, [][]int{{1, 3, 6, 6}}, []string{"cat2", "out"}},
	}
	for _, tc := range cases {
		for _, fuse := range []bool{false, true} {
			name := tc.name
			if fuse {
				name += ", ReLU fused"
			}
			t.Run(name, func(t *testing.T) {
				top, w := tc.build(t)
				ref, err := FromKeras(top, w, KerasOptions{})
				if err != nil {
					t.Fatal(err)
				}
				g, err := FromKeras(top, w, KerasOptions{FuseReLU: fuse})
				if err != nil {
					t.Fatal(err)
				}
				g.SetInference(true)
				for i, shape := range tc.shapes {
					x := imageTensor(int64(i), shape...)
					want, err := ref.Forward(x, tc.taps)
					if err != nil {
						t.Fatal(err)
					}
					for rep := range 2 {
						got, err := g.Forward(x, tc.taps)
						if err != nil {
							t.Fatal(err)
						}
						for k, tap := range tc.taps {
							if !tensor.ShapeEqual(got[k].Shape, want[k].Shape) {
								t.Fatalf("%v run %d: %s has shape %v, want %v", shape, rep, tap, got[k].Shape, want[k].Shape)
							}
							if d := tensor.MaxAbsDiff(got[k], want[k]); d > 1e-6 {
								t.Errorf("%v run %d: %s differs from normal mode by %g", shape, rep, tap, d)
							}
							if g.Tap(tap) != got[k] {
								t.Errorf("Tap(%q) is not the tap's output", tap)
							}
						}
					}
				}
			})
		}
	}
}

func TestInferenceReusesBuffers(t *testing.T) {
	for _, through := range []bool{false, true} {
		g := chain(t, 12, through)
		g.SetInference(true)
		x := imageTensor(1, 1, 4, 8, 8)
		// A copy of x through ReLUs is max(x, 0) (the pass-through changes
		// nothing).
		want := x.Clone()
		for i, v := range want.Data {
			want.Data[i] = max(v, 0)
		}
		for range 3 {
			out, err := g.Forward(x, []string{"m"})
			if err != nil {
				t.Fatal(err)
			}
			if d := tensor.MaxAbsDiff(out[0], want); d != 0 {
				t.Fatalf("through=%v: output differs by %g", through, d)
			}
		}
		// Twelve same-sized outputs in a chain need two buffers in turn; the
		// pass-through pins its input for the whole Forward, a third.
		bufs := int64(2)
		if through {
			bufs = 3
		}
		if got, want := g.ArenaBytes(), bufs*4*8*8*4; got != want {
			t.Errorf("through=%v: the arena holds %d bytes, want %d (%d outputs)", through, got, want, bufs)
		}
		if g.Tap("f") != nil {
			t.Errorf("Tap of a node that was not a tap should be nil in inference mode")
		}
	}
}

func TestInferenceNoAllocations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(testing.TB) (*model.Topology, *memWeights)
		shape []int
		taps  []string
	}{
		{"residual", resLike, []int{1, 3, 7, 7}, []string{"fc"}},
		{"upscaler-like", upscalerLike, []int{1, 3, 12, 10}, []string{"out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, w := tc.build(t)
			g, err := FromKeras(top, w, KerasOptions{FuseReLU: true})
			if err != nil {
				t.Fatal(err)
			}
			g.SetWeightGrad(false)
			g.SetInference(true)
			x := imageTensor(3, tc.shape...)
			step := func() {
				if _, err := g.Forward(x, tc.taps); err != nil {
					t.Fatal(err)
				}
			}
			step()
			step()
			if n := testing.AllocsPerRun(5, step); n != 0 {
				t.Errorf("inference mode allocates %v times per Forward", n)
			}
		})
	}
}

func TestInferenceBackward(t *testing.T) {
	top, w := upscalerLike(t)
	g, err := FromKeras(top, w, KerasOptions{FuseReLU: true})
	if err != nil {
		t.Fatal(err)
	}
	g.SetInference(true)
	x := imageTensor(1, 1, 3, 5, 5)
	outs, err := g.Forward(x, []string{"out"})
	if err != nil {
		t.Fatal(err)
	}
	seed := map[string]*tensor.Tensor{"out": tensor.New(outs[0].Shape...)}
	if _, err := g.Backward(seed); !errors.Is(err, ErrNoForward) {
		t.Fatalf("Backward in inference mode: %v, want ErrNoForward", err)
	}
	g.SetInference(false)
	if g.Inference() || g.ArenaBytes() != 0 {
		t.Fatalf("SetInference(false) left the arena in place")
	}
	if _, err := g.Forward(x, []string{"out"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Backward(seed); err != nil {
		t.Fatalf("Backward after leaving inference mode: %v", err)
	}
}

func TestFuseReLU(t *testing.T) {
	top, w := upscalerLike(t)
	g, err := FromKeras(top, w, KerasOptions{FuseReLU: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"c1_relu", "c2"} {
		if _, ok := g.Layer(name).(*nn.Conv2DReLU); !ok {
			t.Errorf("%s is %T, want a fused *nn.Conv2DReLU", name, g.Layer(name))
		}
	}
	for _, name := range []string{"c1", "c2/preact"} {
		if err := g.Check(name); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Check(%q) = %v, want ErrUnavailable (fused away)", name, err)
		}
	}
	if _, ok := g.Layer("f1").(*nn.Conv2D); !ok {
		t.Errorf("f1 (no ReLU) is %T, want *nn.Conv2D", g.Layer("f1"))
	}
}
