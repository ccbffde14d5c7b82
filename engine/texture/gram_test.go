package texture

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"atelier/engine/features"
	"atelier/engine/tensor"
)

// TestGramReducesLoss runs a short synthesis at 64 px and checks that the
// Gram loss falls by a large factor from the starting noise, that the
// result's reported loss is StyleLoss of its image, and that the image
// stayed in 0..255.
func TestGramReducesLoss(t *testing.T) {
	net := testVGG(t)
	sample := sharedSample(t, "starry_night_crop.png", 96)
	req := Request{Sample: sample, Width: 64, Height: 48, Iterations: 10, Seed: 3}
	start, err := StyleLoss(net, sample, noiseImage(sample, 48, 64, 3), nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var frames []Frame
	res, err := Run(context.Background(), net, req, func(f Frame) { frames = append(frames, f) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 64 || res.Height != 48 || !tensor.ShapeEqual(res.Image.Shape, []int{1, 3, 48, 64}) {
		t.Fatalf("result %dx%d, image %v; want 64x48", res.Width, res.Height, res.Image.Shape)
	}
	if res.Iterations != 10 || len(frames) != 10 || res.Evals < 10 {
		t.Errorf("%d iterations, %d frames, %d evaluations; want 10, 10, >= 10", res.Iterations, len(frames), res.Evals)
	}
	t.Logf("loss %.4g -> %.4g (%.0fx) in %d iterations, %d evaluations", start, res.Loss, start/res.Loss, res.Iterations, res.Evals)
	if !(res.Loss < start/8) {
		t.Errorf("loss %.4g -> %.4g: want at least an 8x reduction", start, res.Loss)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].Loss > frames[i-1].Loss {
			t.Errorf("loss rose from %.4g to %.4g at iteration %d", frames[i-1].Loss, frames[i].Loss, i+1)
		}
	}
	check, err := StyleLoss(net, sample, res.Image, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := check/res.Loss - 1; d > 1e-3 || d < -1e-3 {
		t.Errorf("reported loss %.6g, StyleLoss of the image %.6g", res.Loss, check)
	}
	for _, v := range res.Image.Data {
		if v < 0 || v > 255 {
			t.Fatalf("pixel %v outside 0..255", v)
		}
	}
}

// TestGramSeed checks that a seed gives the same bytes twice and another
// seed a different image.
func TestGramSeed(t *testing.T) {
	net := testVGG(t)
	sample := sharedSample(t, "starry_night_crop.png", 64)
	run := func(seed int64) *tensor.Tensor {
		t.Helper()
		res, err := Run(context.Background(), net, Request{Sample: sample, Width: 40, Height: 32, Iterations: 3, Seed: seed}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Seed != seed {
			t.Errorf("result seed %d, want %d", res.Seed, seed)
		}
		return res.Image
	}
	a, b, c := run(7), run(7), run(8)
	if d := tensor.MaxAbsDiff(a, b); d != 0 {
		t.Errorf("two runs with seed 7 differ by %g", d)
	}
	if d := tensor.MaxAbsDiff(a, c); d < 1 {
		t.Errorf("seeds 7 and 8 give nearly the same image (max difference %g)", d)
	}
}

// TestGramTileable checks that a tileable synthesis wraps around without a
// seam, while the same run without the option leaves one.
func TestGramTileable(t *testing.T) {
	net := testVGG(t)
	sample := sharedSample(t, "starry_night_crop.png", 96)
	ratio := func(tileable bool) float64 {
		res, err := Run(context.Background(), net, Request{Sample: sample, Width: 64, Height: 64, Iterations: 20, Seed: 1, Tileable: tileable,
			Taps: []string{"relu1_1", "pool1", "pool2", "relu3_1"}}, nil) // a 16 px margin rather than 32 for pool3
		if err != nil {
			t.Fatal(err)
		}
		return seamRatio(res.Image)
	}
	tiled, plain := ratio(true), ratio(false)
	t.Logf("seam ratio: tileable %.2f, plain %.2f", tiled, plain)
	if tiled > 1.2 {
		t.Errorf("tileable output: the wrap-around edges differ %.2f times as much as neighbouring pixels inside", tiled)
	}
	if plain < tiled+0.25 {
		t.Errorf("plain output's seam ratio %.2f is not clearly above the tileable one %.2f: the measure cannot tell", plain, tiled)
	}
}

// TestGramScales checks the coarse-to-fine plan and a two-scale run.
func TestGramScales(t *testing.T) {
	sample := tensor.New(1, 3, 100, 150)
	plan := gramScales(&Request{Sample: sample, Width: 256, Height: 128, Scales: 3})
	want := []gramScale{{h: 64, w: 128, sh: 50, sw: 75}, {h: 128, w: 256, sh: 100, sw: 150}} // 32x64 with a 25x38 sample is too small
	if len(plan) != len(want) {
		t.Fatalf("plan %+v, want %+v", plan, want)
	}
	for i := range want {
		if plan[i] != want[i] {
			t.Errorf("scale %d: %+v, want %+v", i, plan[i], want[i])
		}
	}

	for _, tc := range []struct{ w, h, want int }{{512, 512, 3}, {512, 300, 2}, {256, 256, 2}, {200, 900, 1}, {2048, 2048, 4}} {
		if got := len(gramScales(&Request{Sample: tensor.New(1, 3, 400, 400), Width: tc.w, Height: tc.h})); got != tc.want {
			t.Errorf("%dx%d: %d automatic scales, want %d", tc.w, tc.h, got, tc.want)
		}
	}

	net := testVGG(t)
	real := sharedSample(t, "starry_night_crop.png", 128)
	var sizes [][2]int
	res, err := Run(context.Background(), net, Request{Sample: real, Width: 80, Height: 64, Iterations: 2, Scales: 2, Seed: 1},
		func(f Frame) { sizes = append(sizes, [2]int{f.Width, f.Height}) })
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 3 || sizes[0] != [2]int{40, 32} || sizes[2] != [2]int{80, 64} || res.Width != 80 {
		t.Errorf("frame sizes %v, result %dx%d; want 1 iteration at 40x32 then 2 at 80x64", sizes, res.Width, res.Height)
	}
}

// TestGramCancel checks that cancelling stops the run at once with the
// context's error and the image so far.
func TestGramCancel(t *testing.T) {
	net := testVGG(t)
	sample := sharedSample(t, "starry_night_crop.png", 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	frames := 0
	start := time.Now()
	res, err := Run(ctx, net, Request{Sample: sample, Width: 48, Height: 48, Iterations: 1000}, func(f Frame) {
		frames++
		if frames == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if frames != 2 || res.Iterations != 2 || res.Image == nil {
		t.Errorf("%d frames, %d iterations, image %v after cancelling at the second frame", frames, res.Iterations, res.Image)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancelled run took %v", d)
	}
	if _, err := Run(ctx, net, Request{Sample: sample, Width: 48, Height: 48}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("run with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestGramErrors(t *testing.T) {
	net := testVGG(t)
	sample := randImage(1, 1, 3, 32, 32)
	for _, tc := range []struct {
		name string
		net  features.Extractor
		req  Request
		want error
	}{
		{"no network", nil, Request{Sample: sample}, ErrRequest},
		{"no sample", net, Request{}, ErrRequest},
		{"tiny sample", net, Request{Sample: randImage(1, 1, 3, 8, 40)}, ErrRequest},
		{"gray sample", net, Request{Sample: randImage(1, 1, 1, 32, 32)}, ErrRequest},
		{"huge output", net, Request{Sample: sample, Width: MaxSide + 1}, ErrRequest},
		{"negative size", net, Request{Sample: sample, Height: -4}, ErrRequest},
		{"unknown tap", net, Request{Sample: sample, Width: 32, Height: 32, Taps: []string{"relu9_9"}}, features.ErrUnknownTap},
		{"weights missing", net, Request{Sample: sample, Width: 32, Height: 32, Taps: []string{"relu4_1"}}, features.ErrMissingWeights},
		{"tap weights", net, Request{Sample: sample, Taps: []string{"relu1_1"}, TapWeights: []float64{1, 2}}, ErrRequest},
		{"output too small for the taps", net, Request{Sample: sample, Width: 4, Height: 4}, features.ErrInput},
		{"sample too small for the taps", net, Request{Sample: sample, Width: 32, Height: 32, Taps: []string{"pool5"}}, features.ErrMissingWeights},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.net, tc.req, nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestGramOddSizes runs sizes that are not multiples of the deepest stride
// (8), tileable and not, and tiny outputs that Circular's margin makes
// large enough for the network.
func TestGramOddSizes(t *testing.T) {
	net := testVGG(t)
	sample := sharedSample(t, "starry_night_crop.png", 64)
	for _, tc := range []struct {
		w, h     int
		tileable bool
	}{{45, 37, true}, {45, 37, false}, {5, 3, true}} {
		t.Run(fmt.Sprintf("%dx%d tileable %v", tc.w, tc.h, tc.tileable), func(t *testing.T) {
			res, err := Run(context.Background(), net, Request{Sample: sample, Width: tc.w, Height: tc.h, Tileable: tc.tileable, Iterations: 2}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEqual(res.Image.Shape, []int{1, 3, tc.h, tc.w}) || !(res.Loss > 0) {
				t.Errorf("image %v, loss %v", res.Image.Shape, res.Loss)
			}
		})
	}
}
