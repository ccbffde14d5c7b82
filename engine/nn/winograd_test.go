package nn

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"syscall"
	"testing"

	"atelier/engine/tensor"
)

// refConv3x3 is a float64 direct 3x3, stride-1, pad-1 convolution of one
// image: y[o] = sum_c x[c] (*) w[o][c] + b[o].
func refConv3x3(w, b, x []float32, cin, cout, h, wd int) []float64 {
	y := make([]float64, cout*h*wd)
	for o := 0; o < cout; o++ {
		for i := 0; i < h; i++ {
			for j := 0; j < wd; j++ {
				s := 0.0
				if b != nil {
					s = float64(b[o])
				}
				for c := 0; c < cin; c++ {
					for a := 0; a < 3; a++ {
						r := i + a - 1
						if r < 0 || r >= h {
							continue
						}
						for q := 0; q < 3; q++ {
							col := j + q - 1
							if col < 0 || col >= wd {
								continue
							}
							s += float64(w[((o*cin+c)*3+a)*3+q]) * float64(x[(c*h+r)*wd+col])
						}
					}
				}
				y[(o*h+i)*wd+j] = s
			}
		}
	}
	return y
}

// refConv3x3Grad is dL/dx of refConv3x3 for dL/dy = dy, in float64,
// accumulated straight from the definition y[o][i][j] += w*x[c][i+a-1][j+q-1].
func refConv3x3Grad(w, dy []float32, cin, cout, h, wd int) []float64 {
	dx := make([]float64, cin*h*wd)
	for o := 0; o < cout; o++ {
		for i := 0; i < h; i++ {
			for j := 0; j < wd; j++ {
				g := float64(dy[(o*h+i)*wd+j])
				for c := 0; c < cin; c++ {
					for a := 0; a < 3; a++ {
						r := i + a - 1
						if r < 0 || r >= h {
							continue
						}
						for q := 0; q < 3; q++ {
							col := j + q - 1
							if col < 0 || col >= wd {
								continue
							}
							dx[(c*h+r)*wd+col] += g * float64(w[((o*cin+c)*3+a)*3+q])
						}
					}
				}
			}
		}
	}
	return dx
}

func randFloats(rng *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return s
}

// relErr is max|got-want| / max|want|.
func relErr(got []float32, want []float64) float64 {
	var d, m float64
	for i, w := range want {
		d = math.Max(d, math.Abs(float64(got[i])-w))
		m = math.Max(m, math.Abs(w))
		if math.IsNaN(float64(got[i])) {
			return math.Inf(1)
		}
	}
	return d / m
}

type wgCase struct {
	cin, cout, h, w          int
	chunkTiles, split, group int
}

func (c wgCase) String() string {
	return fmt.Sprintf("cin%d_cout%d_%dx%d_chunk%d_split%d_group%d", c.cin, c.cout, c.h, c.w, c.chunkTiles, c.split, c.group)
}

var wgCases = []wgCase{
	{cin: 3, cout: 8, h: 17, w: 23},
	{cin: 8, cout: 3, h: 9, w: 9},
	{cin: 5, cout: 7, h: 1, w: 1},
	{cin: 4, cout: 4, h: 2, w: 70},
	{cin: 16, cout: 24, h: 12, w: 12},
	{cin: 7, cout: 9, h: 33, w: 130},                             // interior vectors and a ragged edge
	{cin: 6, cout: 5, h: 30, w: 97, chunkTiles: 25, split: 1},    // several chunks, partial rows
	{cin: 6, cout: 10, h: 21, w: 64, chunkTiles: 16, split: 1},   // one tile row per chunk
	{cin: 9, cout: 6, h: 40, w: 44, split: 2},                    // one shared chunk
	{cin: 64, cout: 32, h: 8, w: 8, split: 2},                    // deep, tiny
	{cin: 32, cout: 64, h: 16, w: 132, chunkTiles: 66, split: 1}, // two rows per chunk
	{cin: 40, cout: 20, h: 13, w: 37, chunkTiles: 20, split: 1},  // chunks across rows, padded channels
	{cin: 17, cout: 33, h: 9, w: 15, split: 2},                   // odd channel counts, shared
	{cin: 24, cout: 40, h: 11, w: 96},                            // width a multiple of 16: edge pieces, a short last group
	{cin: 18, cout: 20, h: 6, w: 16},                             // one group, both edges
	{cin: 20, cout: 17, h: 9, w: 160, chunkTiles: 24, split: 1},  // chunks starting mid-row on a multiple-of-16 width
	{cin: 16, cout: 24, h: 17, w: 256, chunkTiles: 48, split: 1}, // whole 16-tile groups: rows exactly as long as a chunk
	{cin: 32, cout: 16, h: 20, w: 128, split: 2},                 // the same, one shared chunk
	// The AMX products split their inputs a few 32-tile blocks at a time,
	// the first row block of the products as it goes, the others reusing.
	{cin: 40, cout: 36, h: 22, w: 30, split: 2, group: 1},                 // 48 tiles: a wide block, then a narrow one
	{cin: 64, cout: 48, h: 36, w: 34, split: 2, group: 2},                 // 81 tiles: two blocks, then one
	{cin: 33, cout: 64, h: 40, w: 40, chunkTiles: 70, split: 1, group: 1}, // chunks of 70 and 30 tiles, a block at a time
	// The direct path (at most d3MaxChannels on one side, direct3.go).
	{cin: 1, cout: 64, h: 5, w: 33},  // whole output groups, a ragged 32-pixel block
	{cin: 64, cout: 3, h: 7, w: 31},  // one partial group (VGG conv1_1's input gradient)
	{cin: 2, cout: 5, h: 1, w: 1},    // a single pixel
	{cin: 3, cout: 64, h: 3, w: 100}, // VGG conv1_1
}

// wgModes are the ways the engine can run here: vectorised C transforms
// with sgemm products, Go transforms with sgemm products, and FMA or AMX
// products where the processor has them.
func wgModes() []string {
	m := []string{"sgemm", "go"}
	if wgFMA {
		m = append(m, "fma")
	}
	if wgAMX {
		m = append(m, "amx", "amx-reduced")
	}
	return m
}

// wgTolerance is the relative error allowed in mode: float32 rounding, or
// the documented 1e-4 of the reduced-precision AMX split (with margin).
func wgTolerance(mode string) float64 {
	if mode == "amx-reduced" {
		return 5e-4
	}
	return 2e-5
}

// newWinogradMode returns an engine running in mode (see wgModes) and a
// function that restores the package state afterwards.
func newWinogradMode(mode string, cin, cout int) (*winograd, func()) {
	old, oldReduced := wgUseGo, reducedPrecision.Load()
	wgUseGo = mode == "go"
	reducedPrecision.Store(mode == "amx-reduced")
	e := newWinograd(cin, cout)
	e.amx = mode == "amx" || mode == "amx-reduced"
	e.fma = mode == "fma"
	return e, func() { wgUseGo = old; reducedPrecision.Store(oldReduced) }
}

// TestWinogradMatchesDirect checks forward (with bias, with and without the
// folded ReLU) and the input gradient against float64 direct convolution,
// in every mode, on two images in turn.
func TestWinogradMatchesDirect(t *testing.T) {
	for _, mode := range wgModes() {
		for _, tc := range wgCases {
			t.Run(fmt.Sprintf("%s/%v", mode, tc), func(t *testing.T) {
				rng := rand.New(rand.NewSource(int64(tc.cin*1000 + tc.cout*10 + tc.h)))
				w := randFloats(rng, tc.cout*tc.cin*9, -0.5, 0.5)
				b := randFloats(rng, tc.cout, -0.5, 0.5)
				eng, restore := newWinogradMode(mode, tc.cin, tc.cout)
				defer restore()
				eng.chunkTiles, eng.split, eng.group = tc.chunkTiles, tc.split, tc.group
				for img := 0; img < 2; img++ {
					x := randFloats(rng, tc.cin*tc.h*tc.w, -1, 1)
					want := refConv3x3(w, b, x, tc.cin, tc.cout, tc.h, tc.w)
					y := randFloats(rng, len(want), -9, 9) // stale contents must be overwritten
					eng.forward(w, b, x, y, tc.h, tc.w, false)
					tol := wgTolerance(mode)
					if e := relErr(y, want); e > tol {
						t.Errorf("image %d forward: relative error %.3g", img, e)
					}
					eng.forward(w, b, x, y, tc.h, tc.w, true)
					for i := range want {
						want[i] = math.Max(want[i], 0)
					}
					if e := relErr(y, want); e > tol {
						t.Errorf("image %d forward+relu: relative error %.3g", img, e)
					}
					dy := randFloats(rng, len(want), -1, 1)
					wantDx := refConv3x3Grad(w, dy, tc.cin, tc.cout, tc.h, tc.w)
					dx := randFloats(rng, len(x), -9, 9)
					eng.backwardInput(w, dy, nil, dx, tc.h, tc.w)
					if e := relErr(dx, wantDx); e > tol {
						t.Errorf("image %d input gradient: relative error %.3g", img, e)
					}
					// The ReLU output y as a mask: dy counts only where y > 0.
					masked := append([]float32(nil), dy...)
					for i := range masked {
						if !(y[i] > 0) {
							masked[i] = 0
						}
					}
					wantDx = refConv3x3Grad(w, masked, tc.cin, tc.cout, tc.h, tc.w)
					eng.backwardInput(w, dy, y, dx, tc.h, tc.w)
					if e := relErr(dx, wantDx); e > tol {
						t.Errorf("image %d masked input gradient: relative error %.3g", img, e)
					}
				}
			})
		}
	}
}

// TestWinogradExtent checks how far past a chunk the vectorised transforms
// reach, against the groups they walk.
func TestWinogradExtent(t *testing.T) {
	for _, tc := range []struct{ w, t0, t1, want int }{
		{256, 0, 48, 48},  // 64 tiles a row, chunks of whole groups
		{256, 48, 96, 48}, // across a row end
		{64, 0, 16, 16},   // one group
		{96, 0, 24, 32},   // 24 tiles a row: a group of 8 reaches 8 past
		{96, 10, 30, 30},  // mid-row start: groups at 10, then 24
		{32, 0, 64, 72},   // 8 tiles a row: the last group starts at 56
		{160, 24, 48, 32}, // 40 tiles a row: 16 from 24, then a group at 40
		{44, 0, 121, 126}, // 11 tiles a row: the last row starts at 110
		{16, 5, 5, 0},     // nothing
	} {
		if got := wgExtent(tc.w, tc.t0, tc.t1); got != tc.want {
			t.Errorf("wgExtent(%d, %d, %d) = %d, want %d", tc.w, tc.t0, tc.t1, got, tc.want)
		}
	}
}

// TestDirect3Dispatch checks which convolutions take the direct path (none
// without cgo): the direct path prepares no Winograd weights.
func TestDirect3Dispatch(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, tc := range []struct {
		cin, cout int
		direct    bool
	}{{3, 64, true}, {64, 3, true}, {4, 4, true}, {5, 64, false}, {64, 64, false}} {
		e := newWinograd(tc.cin, tc.cout)
		w := randFloats(rng, tc.cout*tc.cin*9, -0.5, 0.5)
		x := randFloats(rng, tc.cin*8*8, -1, 1)
		y := make([]float32, tc.cout*8*8)
		e.forward(w, nil, x, y, 8, 8, false)
		e.backwardInput(w, y, nil, x, 8, 8)
		if got, want := !e.fwd.ok && !e.bwd.ok, tc.direct && d3Native; got != want {
			t.Errorf("%d -> %d channels: direct %v, want %v", tc.cin, tc.cout, got, want)
		}
	}
}

// TestWinogradWorkerCounts runs the same convolution with 1 to 3 workers
// in both split modes; every run must match the direct result.
func TestWinogradWorkerCounts(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const cin, cout, h, wd = 20, 36, 26, 50
	w := randFloats(rng, cout*cin*9, -0.5, 0.5)
	x := randFloats(rng, cin*h*wd, -1, 1)
	want := refConv3x3(w, nil, x, cin, cout, h, wd)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, mode := range wgModes() {
		for procs := 1; procs <= 3; procs++ {
			for split := 1; split <= 2; split++ {
				runtime.GOMAXPROCS(procs)
				eng, restore := newWinogradMode(mode, cin, cout)
				eng.chunkTiles, eng.split = 13, split
				y := make([]float32, len(want))
				eng.forward(w, nil, x, y, h, wd, false)
				restore()
				if e := relErr(y, want); e > wgTolerance(mode) {
					t.Errorf("%s procs %d split %d: relative error %.3g", mode, procs, split, e)
				}
			}
		}
	}
}

// TestWinogradWeightCache checks that changed weights are picked up: a
// new slice, an in-place change seen by the sample, and an in-place change
// the sample misses once invalidate is called.
func TestWinogradWeightCache(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	// More than d3MaxChannels on each side: the direct path caches nothing.
	const cin, cout, h, wd = 8, 8, 8, 8
	w := randFloats(rng, cout*cin*9, -0.5, 0.5)
	x := randFloats(rng, cin*h*wd, -1, 1)
	y := make([]float32, cout*h*wd)
	eng := newWinograd(cin, cout)
	check := func(name string, w []float32) {
		t.Helper()
		eng.forward(w, nil, x, y, h, wd, false)
		if e := relErr(y, refConv3x3(w, nil, x, cin, cout, h, wd)); e > 2e-5 {
			t.Errorf("%s: relative error %.3g", name, e)
		}
	}
	check("first", w)
	w2 := append([]float32(nil), w...)
	w2[0] += 1
	check("new slice", w2)
	for i := range w2 {
		w2[i] *= 0.5
	}
	check("scaled in place", w2)
	// Index 1 is not among the sampled values (61 samples over 576).
	if sampleIndex(0, len(w2)) == 1 || sampleIndex(1, len(w2)) == 1 {
		t.Fatal("index 1 is sampled; pick another")
	}
	w2[1] += 3
	eng.forward(w2, nil, x, y, h, wd, false)
	if e := relErr(y, refConv3x3(w2, nil, x, cin, cout, h, wd)); e < 1e-3 {
		t.Fatalf("an unsampled change went unnoticed only by luck? error %.3g", e)
	}
	eng.invalidate()
	check("after invalidate", w2)
}

// TestWinogradVGGAccuracy measures the error on VGG-like data (non-negative
// post-ReLU inputs, weights of He scale) for a deep layer, where the
// accumulation over 256 channels is long.
func TestWinogradVGGAccuracy(t *testing.T) {
	for _, mode := range wgModes() {
		t.Run(mode, func(t *testing.T) { testWinogradVGGAccuracy(t, mode) })
	}
}

func testWinogradVGGAccuracy(t *testing.T, mode string) {
	rng := rand.New(rand.NewSource(11))
	const cin, cout, h, wd = 256, 16, 12, 20
	scale := math.Sqrt(2.0 / (cin * 9))
	w := randFloats(rng, cout*cin*9, -scale*1.7, scale*1.7)
	x := randFloats(rng, cin*h*wd, 0, 2)
	for i := range x {
		if rng.Intn(2) == 0 {
			x[i] = 0
		}
	}
	eng, restore := newWinogradMode(mode, cin, cout)
	defer restore()
	y := make([]float32, cout*h*wd)
	eng.forward(w, nil, x, y, h, wd, false)
	e := relErr(y, refConv3x3(w, nil, x, cin, cout, h, wd))
	limit := 1e-4
	if mode == "amx-reduced" {
		limit = 3e-4
	}
	t.Logf("forward relative error %.3g", e)
	if e > limit {
		t.Errorf("forward relative error %.3g, want < %g", e, limit)
	}
	dy := randFloats(rng, cout*h*wd, -1, 1)
	dx := make([]float32, cin*h*wd)
	eng.backwardInput(w, dy, nil, dx, h, wd)
	e = relErr(dx, refConv3x3Grad(w, dy, cin, cout, h, wd))
	t.Logf("input gradient relative error %.3g", e)
	if e > limit {
		t.Errorf("input gradient relative error %.3g, want < %g", e, limit)
	}
}

// vggLayers are the 3x3 convolutions of VGG19 up to conv5_1 at a 256 px
// input: channels in and out and the feature-map side (doubled at 512).
var vggLayers = []struct {
	name      string
	cin, cout int
	side      int
}{
	{"conv1_1", 3, 64, 256}, {"conv1_2", 64, 64, 256},
	{"conv2_1", 64, 128, 128}, {"conv2_2", 128, 128, 128},
	{"conv3_1", 128, 256, 64}, {"conv3_2", 256, 256, 64},
	{"conv4_1", 256, 512, 32}, {"conv4_2", 512, 512, 32},
	{"conv5_1", 512, 512, 16},
}

// BenchmarkWinograd times forward and input-gradient passes for each VGG19
// layer shape at 256 and 512 px inputs. gflops is the direct-convolution
// work divided by the time, the rate a direct method would need to match.
func BenchmarkWinograd(b *testing.B) {
	for _, scale := range []int{1, 2} {
		for _, l := range vggLayers {
			side := l.side * scale
			for _, pass := range []string{"fwd", "bwd"} {
				b.Run(fmt.Sprintf("%d/%s_%dx%d/%s", 256*scale, l.name, side, side, pass), func(b *testing.B) {
					rng := rand.New(rand.NewSource(1))
					w := randFloats(rng, l.cout*l.cin*9, -0.1, 0.1)
					bias := randFloats(rng, l.cout, -0.1, 0.1)
					x := randFloats(rng, l.cin*side*side, 0, 1)
					y := make([]float32, l.cout*side*side)
					eng := newWinograd(l.cin, l.cout)
					run := func() {
						if pass == "fwd" {
							eng.forward(w, bias, x, y, side, side, true)
						} else {
							eng.backwardInput(w, y, nil, x, side, side)
						}
					}
					run()
					b.ReportAllocs()
					cpu0 := processCPUSeconds()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						run()
					}
					b.StopTimer()
					flops := 2.0 * 9 * float64(l.cin*l.cout*side*side)
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "gflops")
					b.ReportMetric((processCPUSeconds()-cpu0)*1e3/float64(b.N), "cpu-ms/op")
				})
			}
		}
	}
}

// processCPUSeconds is the user and system CPU time of the process so far;
// benchmarks report it per operation because wall time on a shared machine
// also counts the time other processes hold the cores.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TestConv2DUsesWinograd runs a batch of two through Conv2D layers that take
// the Winograd path and compares output, input gradient and weight gradient
// with the layer's im2col core.
func TestConv2DUsesWinograd(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  ConvOpts
	}{
		{"same", ConvOpts{Pad: PadSame}},
		{"explicit1", ConvOpts{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n, cin, cout, h, wd = 2, 5, 6, 11, 14
			w := randTensor(1, cout, cin, 3, 3)
			b := randTensor(2, cout)
			x := randTensor(3, n, cin, h, wd)
			dy := randTensor(4, n, cout, h, wd)
			c := NewConv2D(w, b, tc.opt)
			y := c.Forward(x).Clone()
			dx := c.Backward(dy).Clone()
			if c.wino == nil {
				t.Fatal("the Winograd path was not taken")
			}
			in, out := cin*h*wd, cout*h*wd
			wantDW := make([]float32, w.Len())
			for i := 0; i < n; i++ {
				wantY := make([]float32, out)
				c.core.forward(w.Data, x.Data[i*in:(i+1)*in], wantY)
				addBias(wantY, b.Data, h*wd)
				wantDx := make([]float32, in)
				c.core.backward(w.Data, x.Data[i*in:(i+1)*in], dy.Data[i*out:(i+1)*out], wantDx, wantDW)
				if d := maxDiff(y.Data[i*out:(i+1)*out], wantY); d > 1e-4 {
					t.Errorf("image %d: output differs by %.3g", i, d)
				}
				if d := maxDiff(dx.Data[i*in:(i+1)*in], wantDx); d > 1e-4 {
					t.Errorf("image %d: input gradient differs by %.3g", i, d)
				}
			}
			if d := maxDiff(c.weight.Grad.Data, wantDW); d > 1e-4 {
				t.Errorf("weight gradient differs by %.3g", d)
			}
			// Scaling the weights in place must be seen by the next pass.
			for i := range w.Data {
				w.Data[i] *= -2
			}
			y2 := c.Forward(x)
			want := make([]float32, out)
			c.core.forward(w.Data, x.Data[:in], want)
			addBias(want, b.Data, h*wd)
			if d := maxDiff(y2.Data[:out], want); d > 1e-4 {
				t.Errorf("after changing the weights: output differs by %.3g", d)
			}
		})
	}
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func TestConv2DSetWinograd(t *testing.T) {
	w := randTensor(1, 4, 3, 3, 3)
	x := randTensor(2, 1, 3, 9, 9)
	c := NewConv2D(w, nil, ConvOpts{Pad: PadSame})
	c.SetWinograd(false)
	y0 := c.Forward(x).Clone()
	if c.wino != wgOff {
		t.Fatal("SetWinograd(false) did not stick")
	}
	c.WeightsChanged() // must not touch the shared marker
	c.SetWinograd(true)
	y1 := c.Forward(x)
	if c.wino == nil || c.wino == wgOff {
		t.Fatal("SetWinograd(true) did not bring the fast path back")
	}
	if d := maxDiff(y0.Data, y1.Data); d > 1e-5 {
		t.Fatalf("paths differ by %.3g", d)
	}
}

// TestConv2DReLU compares the fused layer with Conv2D followed by ReLU on
// the im2col path: output, input gradient and (when on) weight gradients,
// for a batch of two, fused and unfused.
func TestConv2DReLU(t *testing.T) {
	for _, tc := range []struct {
		name         string
		wgrad, fused bool
	}{{"fused", false, true}, {"fused_wgrad", true, true}, {"unfused", false, false}, {"unfused_wgrad", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			const n, cin, cout, h, wd = 2, 6, 5, 10, 13
			w := randTensor(1, cout, cin, 3, 3)
			b := randTensor(2, cout)
			x := randTensor(3, n, cin, h, wd)
			dy := randTensor(4, n, cout, h, wd)
			opt := ConvOpts{Pad: PadSame}
			ref := NewConv2D(w.Clone(), b.Clone(), opt)
			ref.SetWinograd(false)
			ref.SetWeightGrad(tc.wgrad)
			var relu ReLU
			wantY := relu.Forward(ref.Forward(x)).Clone()
			wantDx := ref.Backward(relu.Backward(dy)).Clone()

			l := NewConv2DReLU(NewConv2D(w, b, opt))
			l.Conv.SetWinograd(tc.fused)
			l.SetWeightGrad(tc.wgrad)
			y := l.Forward(x)
			if l.fused != tc.fused {
				t.Fatalf("fused = %v, want %v", l.fused, tc.fused)
			}
			if d := maxDiff(y.Data, wantY.Data); d > 1e-4 {
				t.Errorf("output differs by %.3g", d)
			}
			dx := l.Backward(dy)
			if d := maxDiff(dx.Data, wantDx.Data); d > 1e-4 {
				t.Errorf("input gradient differs by %.3g", d)
			}
			ps, rps := l.Params(), ref.Params()
			for i := range ps {
				if d := maxDiff(ps[i].Grad.Data, rps[i].Grad.Data); d > 1e-4 || !tc.wgrad && ps[i].Grad.Norm() != 0 {
					t.Errorf("%s gradient differs by %.3g (norm %.3g)", ps[i].Name, d, ps[i].Grad.Norm())
				}
			}
			if s, err := l.OutShape(x.Shape); err != nil || !tensor.ShapeEqual(s, y.Shape) {
				t.Errorf("OutShape %v %v, output %v", s, err, y.Shape)
			}
		})
	}
}
