package sr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"atelier/engine/graph"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

func TestPlanAxis(t *testing.T) {
	for _, c := range []struct{ n, tile, over int }{
		{10, 16, 4}, {16, 16, 4}, {17, 16, 4}, {100, 32, 8}, {250, 88, 24}, {37, 16, 12}, {1000, 488, 24}, {33, 16, 0},
	} {
		t.Run(fmt.Sprintf("n%d_t%d_o%d", c.n, c.tile, c.over), func(t *testing.T) {
			sp := planAxis(c.n, c.tile, c.over)
			if sp[0].lo != 0 || sp[len(sp)-1].hi != c.n {
				t.Fatalf("spans %v do not cover 0..%d", sp, c.n)
			}
			l := sp[0].hi - sp[0].lo
			if l > c.tile {
				t.Errorf("span length %d > tile %d", l, c.tile)
			}
			for i, s := range sp {
				if s.hi-s.lo != l {
					t.Errorf("span %d has length %d, want %d", i, s.hi-s.lo, l)
				}
				if i > 0 && sp[i-1].hi-s.lo < c.over {
					t.Errorf("spans %v and %v overlap by less than %d", sp[i-1], s, c.over)
				}
			}
			// No fewer tiles would do: k-1 tiles of the full size with
			// the minimum overlap cannot cover n.
			if k := len(sp); k > 1 && (k-1)*c.tile-(k-2)*c.over >= c.n {
				t.Errorf("%d spans where %d would do", k, k-1)
			}
		})
	}
}

func TestAxisWindows(t *testing.T) {
	for _, c := range []struct{ n, tile, over, scale int }{
		{100, 32, 8, 2}, {250, 88, 24, 3}, {37, 16, 12, 4}, {20, 32, 8, 2}, {33, 16, 0, 2},
	} {
		t.Run(fmt.Sprintf("n%d_t%d_o%d_x%d", c.n, c.tile, c.over, c.scale), func(t *testing.T) {
			sp := planAxis(c.n, c.tile, c.over)
			ws := axisWindows(sp, c.scale, c.n*c.scale)
			sum := make([]float64, c.n*c.scale)
			for i, s := range sp {
				for d, v := range ws[i] {
					if v < 0 || v > 1 {
						t.Fatalf("weight %g", v)
					}
					sum[s.lo*c.scale+d] += float64(v)
				}
				// The outer quarter of each overlap is context only.
				if i > 0 {
					g := (sp[i-1].hi - s.lo) * c.scale / 4
					for d := range g {
						if ws[i][d] != 0 {
							t.Errorf("span %d: weight %g at %d, inside the guard of %d", i, ws[i][d], d, g)
						}
					}
				}
			}
			for x, v := range sum {
				if math.Abs(v-1) > 1e-6 {
					t.Fatalf("weights sum to %g at %d", v, x)
				}
			}
		})
	}
}

// testNetwork builds a small upscaler by hand: conv 3x3 (3->8), ReLU,
// conv 3x3 (8->12), depth-to-space x2, conv 3x3 (3->3); receptive-field
// margin 1 + 1 + 1/2 -> 3 input pixels.
func testNetwork(t testing.TB, tile, over, workers int) *Network {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	randT := func(shape ...int) *tensor.Tensor {
		x := tensor.New(shape...)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64() * 0.2)
		}
		return x
	}
	w1, b1 := randT(8, 3, 3, 3), randT(8)
	w2, b2 := randT(12, 8, 3, 3), randT(12)
	w3, b3 := randT(3, 3, 3, 3), randT(3)
	same := nn.ConvOpts{Pad: nn.PadSame}
	n := &Network{method: "test", scale: 2, unit: 255, output: "out", tile: tile, over: over, shape: modelShape{margin: 3, scale: 2}}
	for range workers {
		g := graph.New("in")
		for _, err := range []error{
			g.AddLayer("c1", nn.NewConv2D(w1, b1, same), "in"),
			g.AddLayer("r1", nn.NewReLU(), "c1"),
			g.AddLayer("c2", nn.NewConv2D(w2, b2, same), "r1"),
			g.AddLayer("ps", nn.NewDepthToSpaceTF(2), "c2"),
			g.AddLayer("out", nn.NewConv2D(w3, b3, same), "ps"),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		n.workers = append(n.workers, &netWorker{g: g})
	}
	return n
}

func randomImage(seed int64, h, w int) *tensor.Tensor {
	rng := rand.New(rand.NewSource(seed))
	x := tensor.New(1, 3, h, w)
	for i := range x.Data {
		x.Data[i] = float32(rng.Intn(256))
	}
	return x
}

func TestTilingMatchesWholeImage(t *testing.T) {
	img := randomImage(3, 29, 37)
	ref, err := testNetwork(t, -1, 0, 1).Upscale(context.Background(), img, nil)
	if err != nil {
		t.Fatal(err)
	}
	// With the discarded quarter of the overlap (3 pixels) at least the
	// receptive-field margin, tiles compute exactly the untiled values.
	for _, c := range []struct{ tile, over, workers int }{{16, 12, 1}, {16, 12, 2}, {20, 16, 2}, {24, 14, 1}} {
		t.Run(fmt.Sprintf("tile%d_over%d_workers%d", c.tile, c.over, c.workers), func(t *testing.T) {
			var calls []int
			total := -1
			out, err := testNetwork(t, c.tile, c.over, c.workers).Upscale(context.Background(), img, func(d, n int) {
				calls = append(calls, d)
				total = n
			})
			if err != nil {
				t.Fatal(err)
			}
			if d := tensor.MaxAbsDiff(ref, out); d > 1e-2 { // float32 rounding only
				t.Errorf("tiled result differs from the whole image by %g", d)
			}
			if total < 4 || len(calls) != total+1 {
				t.Fatalf("progress: %d calls for %d tiles", len(calls), total)
			}
			for i, d := range calls {
				if d != i {
					t.Fatalf("progress calls %v", calls)
				}
			}
		})
	}
	// The check can fail: hard cuts (no overlap) leave seams.
	out, err := testNetwork(t, 16, 0, 1).Upscale(context.Background(), img, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(ref, out); d < 1 {
		t.Errorf("tiles without overlap differ by only %g: the comparison is blind", d)
	}
}

func TestTilingCancel(t *testing.T) {
	for _, workers := range []int{1, 2} {
		ctx, cancel := context.WithCancel(context.Background())
		done := 0
		_, err := testNetwork(t, 16, 8, workers).Upscale(ctx, randomImage(4, 40, 40), func(d, n int) {
			done = d
			if d == 1 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("workers %d: got %v", workers, err)
		}
		if done > workers {
			t.Errorf("workers %d: %d tiles finished after the cancel", workers, done)
		}
		cancel()
	}
}

// BenchmarkTiledUpscale times the tiling machinery around a small network.
func BenchmarkTiledUpscale(b *testing.B) {
	for _, side := range []int{64, 128} {
		b.Run(fmt.Sprintf("%dpx", side), func(b *testing.B) {
			n := testNetwork(b, 32, 12, 1)
			img := randomImage(5, side, side)
			b.ReportAllocs()
			for range b.N {
				if _, err := n.Upscale(context.Background(), img, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTilesDoNotAllocate checks that running more tiles costs no more
// allocations: the graph, its buffers and the tile input are reused.
func TestTilesDoNotAllocate(t *testing.T) {
	if tensor.Backend() != "openblas" {
		t.Skipf("the %s sgemm allocates internally", tensor.Backend())
	}
	n := testNetwork(t, 32, 12, 1)
	small, large := randomImage(6, 64, 64), randomImage(6, 160, 160) // 9 and 64 tiles
	run := func(img *tensor.Tensor) float64 {
		if _, err := n.Upscale(context.Background(), img, nil); err != nil { // warm up
			t.Fatal(err)
		}
		return testing.AllocsPerRun(3, func() {
			if _, err := n.Upscale(context.Background(), img, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := run(small), run(large)
	t.Logf("allocations per Upscale: %v for 9 tiles, %v for 64", a, b)
	if b > a+2 {
		t.Errorf("%v allocations for 64 tiles, %v for 9", b, a)
	}
}
