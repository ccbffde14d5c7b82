package texture

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"testing"
	"time"

	"atelier/engine/tensor"
)

func runPatchTest(t *testing.T, req Request, onFrame func(Frame)) Result {
	t.Helper()
	req.Method = Patch
	res, err := Run(context.Background(), nil, req, onFrame)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPatchSeed checks that a seed gives the same bytes twice, whatever
// the number of cores, and another seed a different image.
func TestPatchSeed(t *testing.T) {
	sample := syntheticSample(1, 64, 64)
	req := Request{Sample: sample, Width: 90, Height: 70, Iterations: 2, Seed: 5}
	a := runPatchTest(t, req, nil).Image
	prev := runtime.GOMAXPROCS(1)
	b := runPatchTest(t, req, nil).Image
	runtime.GOMAXPROCS(max(prev, 2))
	c := runPatchTest(t, req, nil).Image
	runtime.GOMAXPROCS(prev)
	if d := tensor.MaxAbsDiff(a, b); d != 0 {
		t.Errorf("one core and %d cores differ by %g", prev, d)
	}
	if d := tensor.MaxAbsDiff(a, c); d != 0 {
		t.Errorf("two runs with seed 5 differ by %g", d)
	}
	req.Seed = 6
	if d := tensor.MaxAbsDiff(a, runPatchTest(t, req, nil).Image); d < 10 {
		t.Errorf("seeds 5 and 6 give nearly the same image (max difference %g)", d)
	}
}

// patchMatchRMS returns, for n random 5x5 patches of img, the root mean
// squared difference per value to the closest patch of sample (brute
// force), sorted.
func patchMatchRMS(img, sample *tensor.Tensor, n int, seed int64) []float64 {
	const k = 5
	a, s := interleave(img), interleave(sample)
	_, _, h, w := img.Dims()
	_, _, sh, sw := sample.Dims()
	rng := newRNG(seed, 0, 0, 0, 0)
	out := make([]float64, n)
	for i := range out {
		x, y := rng.intn(w-k+1), rng.intn(h-k+1)
		best := math.Inf(1)
		for sy := 0; sy+k <= sh; sy++ {
			for sx := 0; sx+k <= sw; sx++ {
				var d float64
				for r := 0; r < k && d < best; r++ {
					pa := a[3*((y+r)*w+x):][:3*k]
					pb := s[3*((sy+r)*sw+sx):][:3*k]
					for j := range pa {
						e := float64(pa[j] - pb[j])
						d += e * e
					}
				}
				best = math.Min(best, d)
			}
		}
		out[i] = math.Sqrt(best / (3 * k * k))
	}
	sort.Float64s(out)
	return out
}

// TestPatchFromSample checks that the output is made of the sample: its
// patches have close matches in the sample (a blurred copy of the sample,
// the control, does not), and its mean colour is the sample's.
func TestPatchFromSample(t *testing.T) {
	sample := syntheticSample(2, 128, 128)
	res := runPatchTest(t, Request{Sample: sample, Width: 160, Height: 144, Seed: 1}, nil)
	if res.Width != 160 || res.Height != 144 || !tensor.ShapeEqual(res.Image.Shape, []int{1, 3, 144, 160}) {
		t.Fatalf("result %dx%d %v, want 160x144", res.Width, res.Height, res.Image.Shape)
	}
	rms := patchMatchRMS(res.Image, sample, 100, 1)
	median, p90 := rms[len(rms)/2], rms[len(rms)*9/10]
	control := patchMatchRMS(boxBlur(sample), sample, 100, 1)
	t.Logf("closest-patch RMS: median %.2f, 90th percentile %.2f (blurred sample: %.2f, %.2f)", median, p90, control[len(control)/2], control[len(control)*9/10])
	if median > 4 || p90 > 10 {
		t.Errorf("output patches are far from the sample's: RMS median %.2f, 90th percentile %.2f (want <= 4 and <= 10)", median, p90)
	}
	if control[len(control)/2] <= 4 {
		t.Errorf("a blurred sample passes the closeness check (median %.2f): the check cannot fail", control[len(control)/2])
	}
	ms, mo := channelMeans(sample), channelMeans(res.Image)
	for c := range ms {
		if math.Abs(ms[c]-mo[c]) > 8 {
			t.Errorf("channel %d: mean %.1f, sample's %.1f", c, mo[c], ms[c])
		}
	}
	for _, v := range res.Image.Data {
		if v < 0 || v > 255 {
			t.Fatalf("pixel %v outside 0..255", v)
		}
	}
}

// TestPatchTileable checks that a tileable synthesis wraps around without a
// seam, while the same run without the option leaves one, for sizes that
// are and are not multiples of the pyramid's factors.
func TestPatchTileable(t *testing.T) {
	sample := syntheticSample(3, 64, 64)
	for _, size := range [][2]int{{96, 96}, {101, 77}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			ratio := func(tileable bool) float64 {
				req := Request{Sample: sample, Width: size[0], Height: size[1], Seed: 2, Tileable: tileable, Iterations: 3}
				return seamRatio(runPatchTest(t, req, nil).Image)
			}
			tiled, plain := ratio(true), ratio(false)
			t.Logf("seam ratio: tileable %.2f, plain %.2f", tiled, plain)
			// Patch outputs are collages whose inner seams make single
			// columns vary (0.55 to 1.4 over seeds for the tileable
			// output, 3.3 to 4.6 for the plain one).
			if tiled > 1.6 {
				t.Errorf("tileable output: the wrap-around edges differ %.2f times as much as neighbouring pixels inside", tiled)
			}
			if plain < tiled+1 {
				t.Errorf("plain output's seam ratio %.2f is not clearly above the tileable one %.2f: the measure cannot tell", plain, tiled)
			}
		})
	}
}

// TestPatchFrames checks the progress reports: one per iteration, levels
// coarse to fine, sizes growing to the output's.
func TestPatchFrames(t *testing.T) {
	sample := syntheticSample(4, 128, 96)
	var frames []Frame
	res := runPatchTest(t, Request{Sample: sample, Width: 120, Height: 100, Iterations: 2, Seed: 1}, func(f Frame) { frames = append(frames, f) })
	levels := patchLevels(&Request{Sample: sample, Width: 120, Height: 100, PatchSize: DefaultPatchSize})
	if levels != 2 { // 96 -> 48 (>= 32) -> 24 (< 32)
		t.Fatalf("%d levels, want 2", levels)
	}
	// The coarsest level runs three times the iterations: 6 + 2.
	if len(frames) != 8 || res.Iterations != 8 {
		t.Fatalf("%d frames, %d iterations; want 8", len(frames), res.Iterations)
	}
	for i, f := range frames {
		level, it := 0, i+1
		if i >= 6 {
			level, it = 1, i-5
		}
		if f.TotalIteration != i+1 || f.Total != 8 || f.Scale != level || f.Scales != 2 || f.Iteration != it {
			t.Errorf("frame %d: %+v", i, f)
		}
		wantW := []int{60, 120}[level]
		if f.Width != wantW || f.Image.Shape[3] != wantW {
			t.Errorf("frame %d is %d px wide (image %v), want %d", i, f.Width, f.Image.Shape, wantW)
		}
	}
	if frames[7].Loss > frames[6].Loss*1.05 {
		t.Errorf("the patch loss rose at the last level: %.3g then %.3g", frames[6].Loss, frames[7].Loss)
	}
}

func TestPatchCancel(t *testing.T) {
	sample := syntheticSample(5, 64, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	frames := 0
	start := time.Now()
	res, err := Run(ctx, nil, Request{Method: Patch, Sample: sample, Width: 128, Height: 128, Iterations: 1000}, func(Frame) {
		frames++
		if frames == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if frames != 3 || res.Iterations != 3 || res.Image == nil {
		t.Errorf("%d frames, %d iterations, image %v after cancelling at the third frame", frames, res.Iterations, res.Image)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancelled run took %v", d)
	}
}

func TestPatchErrors(t *testing.T) {
	sample := syntheticSample(6, 32, 32)
	for _, tc := range []struct {
		name string
		req  Request
	}{
		{"no sample", Request{}},
		{"tiny sample", Request{Sample: syntheticSample(1, 12, 40)}},
		{"even patch", Request{Sample: sample, PatchSize: 6}},
		{"huge patch", Request{Sample: sample, PatchSize: 17}},
		{"output smaller than a patch", Request{Sample: sample, Width: 5, Height: 40}},
		{"negative iterations", Request{Sample: sample, Iterations: -1}},
		{"non-finite sample", Request{Sample: tensor.FromData(append(make([]float32, 3*32*32-1), float32(math.NaN())), 1, 3, 32, 32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Method = Patch
			if _, err := Run(context.Background(), nil, tc.req, nil); !errors.Is(err, ErrRequest) {
				t.Errorf("error %v, want ErrRequest", err)
			}
		})
	}
	// A tileable output may be smaller than a patch.
	res := runPatchTest(t, Request{Sample: sample, Width: 5, Height: 4, Tileable: true, Iterations: 1}, nil)
	if res.Width != 5 || res.Height != 4 {
		t.Errorf("tileable 5x4: got %dx%d", res.Width, res.Height)
	}
}

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]Method{"gram": Gram, "Patch": Patch, " gram ": Gram} {
		if got, err := ParseMethod(in); err != nil || got != want {
			t.Errorf("ParseMethod(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseMethod("quilt"); !errors.Is(err, ErrRequest) {
		t.Errorf("ParseMethod(quilt): %v", err)
	}
	if Gram.String() != "gram" || Patch.String() != "patch" {
		t.Errorf("names %q %q", Gram, Patch)
	}
}

func BenchmarkPatch(b *testing.B) {
	sample := syntheticSample(1, 256, 256)
	for _, side := range []int{128, 256, 512} {
		b.Run(fmt.Sprint(side), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Run(context.Background(), nil, Request{Method: Patch, Sample: sample, Width: side, Height: side, Seed: int64(i)}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
