package style

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"atelier/engine/features"
	"atelier/engine/tensor"
)

// inRange checks that every value of img is finite and in 0..255.
func inRange(t *testing.T, img *tensor.Tensor) {
	t.Helper()
	if img == nil {
		t.Fatal("no image")
	}
	for i, v := range img.Data {
		if !(v >= 0 && v <= 255) {
			t.Fatalf("value %d is %v, outside 0..255", i, v)
		}
	}
}

// startLosses evaluates the objective at the starting image of req's first
// scale.
func startLosses(t *testing.T, net features.Extractor, req Request) Losses {
	t.Helper()
	r, err := newRunner(context.Background(), net, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.startScale(0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.sync(); err != nil {
		t.Fatal(err)
	}
	r.obj.eval(r.x.Data, make([]float32, len(r.x.Data)))
	return r.obj.last
}

// runFrames runs req and returns its frames.
func runFrames(t *testing.T, ctx context.Context, net features.Extractor, req Request, hook func(Frame)) ([]Frame, Result, error) {
	t.Helper()
	var frames []Frame
	res, err := Run(ctx, net, req, func(f Frame) {
		if f.Image() == nil { // copy it now: Image works only during the callback
			t.Errorf("frame %d has no image", f.TotalIteration)
		}
		frames = append(frames, f)
		if hook != nil {
			hook(f)
		}
	})
	return frames, res, err
}

func styles(ts ...*tensor.Tensor) []*tensor.Tensor { return ts }

// TestRealRun runs tubingen x starry_night at 96 px through the partial
// VGG19 for 10 L-BFGS iterations (64 px and 5 iterations under -race).
func TestRealRun(t *testing.T) {
	net := partialVGG(t)
	side, iters, drop := 96, 10, 8.0
	if raceEnabled {
		side, iters, drop = 64, 5, 4
	}
	req := Request{Content: sharedImage(t, tubingen, side), Styles: styles(sharedImage(t, starry, side)), Iterations: iters}
	start := startLosses(t, net, req)
	frames, res, err := runFrames(t, context.Background(), net, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != iters || res.Iterations != iters {
		t.Fatalf("%d frames, %d iterations; want %d", len(frames), res.Iterations, iters)
	}
	curve := []string{fmt.Sprintf("start        %s", formatLosses(start))}
	prev := start.Total
	for _, f := range frames {
		l := f.Losses
		if math.IsNaN(l.Total) || math.IsInf(l.Total, 0) || math.Abs(l.Total-(l.Content+l.Style+l.TV)) > 1e-9*l.Total {
			t.Fatalf("iteration %d: losses %+v", f.Iteration, l)
		}
		// The strong-Wolfe line search only accepts decreases.
		if l.Total > prev {
			t.Errorf("iteration %d: the loss rose from %.4g to %.4g", f.Iteration, prev, l.Total)
		}
		prev = l.Total
		curve = append(curve, fmt.Sprintf("%2d %2d %6.2fs %s", f.Iteration, f.Evals, f.Elapsed.Seconds(), formatLosses(l)))
		inRange(t, f.Image())
	}
	t.Logf("loss curve (iteration, evaluations, elapsed; content style tv total):\n%s", strings.Join(curve, "\n"))
	if last := frames[len(frames)-1].Losses.Total; !(last < start.Total/drop) {
		t.Errorf("total loss went from %.4g to %.4g, want a drop by %gx or more", start.Total, last, drop)
	}
	if res.Width != side || res.Height != side*3/4 {
		t.Errorf("result is %dx%d, want %dx%d", res.Width, res.Height, side, side*3/4)
	}
	inRange(t, res.Image)
	if !sameBits(res.Image, frames[len(frames)-1].Image()) {
		t.Error("the result differs from the last frame")
	}
}

func formatLosses(l Losses) string {
	return fmt.Sprintf("%10.4g %10.4g %10.4g %10.4g", l.Content, l.Style, l.TV, l.Total)
}

// small is the image size of the fast tests: 48 px, 32 under -race.
var small = map[bool]int{false: 48, true: 32}[raceEnabled]

// smallReq is a fast request at the small size.
func smallReq(t *testing.T, iterations int) Request {
	return Request{Content: sharedImage(t, tubingen, small), Styles: styles(sharedImage(t, starry, small)), Iterations: iterations}
}

func TestSteering(t *testing.T) {
	net := partialVGG(t)
	control, _, err := runFrames(t, context.Background(), net, smallReq(t, 5), nil)
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan Settings, 1)
	req := smallReq(t, 5)
	req.Updates = updates
	strong := DefaultSettings()
	strong.StyleWeight *= 100
	steered, _, err := runFrames(t, context.Background(), net, req, func(f Frame) {
		if f.Iteration == 3 {
			updates <- strong
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if !sameBits(steered[i].Image(), control[i].Image()) {
			t.Fatalf("iteration %d differs before any steering", i+1)
		}
	}
	if got := steered[3].Settings.StyleWeight; got != strong.StyleWeight {
		t.Fatalf("iteration 4 ran with style weight %v, want %v", got, strong.StyleWeight)
	}
	ratio := steered[3].Losses.Style / control[3].Losses.Style
	t.Logf("style loss at iteration 4: %.4g steered, %.4g control (ratio %.3g)", steered[3].Losses.Style, control[3].Losses.Style, ratio)
	if ratio < 10 {
		t.Errorf("style loss ratio %.3g after a 100x style weight, want >= 10", ratio)
	}
	// Iteration 5 lowers the new objective.
	if !(steered[4].Losses.Total < steered[3].Losses.Total) {
		t.Errorf("after steering the loss went from %.4g to %.4g", steered[3].Losses.Total, steered[4].Losses.Total)
	}
}

func TestSteeringRefusesBadSettings(t *testing.T) {
	net := partialVGG(t)
	updates := make(chan Settings, 1)
	req := smallReq(t, 3)
	req.Styles = styles(sharedImage(t, starry, small), sharedImage(t, scream, small))
	req.Updates = updates
	bad := DefaultSettings()
	bad.Mix = []float64{0, 0}
	frames, _, err := runFrames(t, context.Background(), net, req, func(f Frame) {
		if f.Iteration == 1 {
			updates <- bad
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 3 {
		t.Fatalf("%d frames, want 3", len(frames))
	}
	if !errors.Is(frames[1].SettingsErr, ErrNoStyle) {
		t.Errorf("frame 2 reports %v, want ErrNoStyle", frames[1].SettingsErr)
	}
	if frames[1].Settings.Mix != nil {
		t.Errorf("frame 2 runs with mix %v, want the previous (nil)", frames[1].Settings.Mix)
	}
}

func TestCancel(t *testing.T) {
	net := partialVGG(t)
	t.Run("between iterations", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		frames, res, err := runFrames(t, ctx, net, smallReq(t, 50), func(f Frame) {
			if f.Iteration == 2 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if len(frames) != 2 || res.Iterations != 2 {
			t.Fatalf("%d frames, %d iterations after cancelling at 2", len(frames), res.Iterations)
		}
		inRange(t, res.Image)
		if !sameBits(res.Image, frames[1].Image()) {
			t.Error("the result is not the image of the last iteration")
		}
	})
	t.Run("during a line search", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Extract calls: 1 content features, 2 style Gram matrices, 3 the
		// first-step probe (which L-BFGS reuses for its start point), 4 its
		// first trial point, inside the line search.
		spy := &cancelAt{Extractor: net, at: 4, cancel: cancel}
		_, res, err := runFrames(t, ctx, spy, smallReq(t, 50), nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if spy.calls != 4 {
			t.Errorf("the network ran %d times, %d after the cancel", spy.calls, spy.calls-4)
		}
		if res.Iterations != 0 {
			t.Errorf("%d iterations reported", res.Iterations)
		}
		t.Logf("returned %v after the cancel", time.Since(spy.when))
		inRange(t, res.Image)
	})
}

// cancelAt is an extractor that cancels a context on its at-th Extract.
type cancelAt struct {
	features.Extractor
	calls, at int
	cancel    func()
	when      time.Time
}

func (c *cancelAt) Extract(img *tensor.Tensor, taps []string) (map[string]*tensor.Tensor, error) {
	c.calls++
	if c.calls == c.at {
		c.when = time.Now()
		c.cancel()
	}
	return c.Extractor.Extract(img, taps)
}

func TestSeedRepeatable(t *testing.T) {
	net := partialVGG(t)
	run := func(seed int64) *tensor.Tensor {
		req := smallReq(t, 3)
		req.Init = InitNoise
		req.Seed = seed
		_, res, err := runFrames(t, context.Background(), net, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Seed != seed {
			t.Fatalf("result seed %d, want %d", res.Seed, seed)
		}
		return res.Image
	}
	a, b, c := run(42), run(42), run(43)
	if !sameBits(a, b) {
		t.Errorf("two runs with seed 42 differ by %g", tensor.MaxAbsDiff(a, b))
	}
	if sameBits(a, c) {
		t.Error("seeds 42 and 43 gave the same image")
	}
}

func TestMixedStyleRunEqualsSingle(t *testing.T) {
	net := partialVGG(t)
	_, single, err := runFrames(t, context.Background(), net, smallReq(t, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := smallReq(t, 2)
	req.Styles = styles(sharedImage(t, scream, small), sharedImage(t, starry, small))
	s := DefaultSettings()
	s.Mix = []float64{0, 1}
	req.Settings = &s
	_, mixed, err := runFrames(t, context.Background(), net, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(single.Image, mixed.Image) {
		t.Errorf("mix {0, 1} differs from the single style by %g", tensor.MaxAbsDiff(single.Image, mixed.Image))
	}
}

func TestColourPreservation(t *testing.T) {
	net := partialVGG(t)
	run := func(mode ColourMode) Result {
		req := smallReq(t, 6)
		req.Content = sharedImage(t, tubingen, 4*small/3)
		s := DefaultSettings()
		s.Colour = mode
		req.Settings = &s
		_, res, err := runFrames(t, context.Background(), net, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		inRange(t, res.Image)
		return res
	}
	plain, kept := run(ColourStyle), run(ColourLuminance)
	content := sharedImage(t, tubingen, 4*small/3)
	plainChroma, plainLuma := yiqDiff(plain.Image, content)
	keptChroma, _ := yiqDiff(kept.Image, content)
	_, lumaVsPlain := yiqDiff(kept.Image, plain.Image)
	t.Logf("mean |ΔI|,|ΔQ| from the content: %.3f plain, %.3f luminance-only; luma moved %.2f, luminance-only vs plain luma %.3f",
		plainChroma, keptChroma, plainLuma, lumaVsPlain)
	if plainChroma < 3 {
		t.Fatalf("plain transfer moved the chroma by only %.3f; the check below could not fail", plainChroma)
	}
	// Only pixels clamped at 0 or 255 may move their chroma.
	if keptChroma > 0.5 || keptChroma > plainChroma/10 {
		t.Errorf("luminance-only transfer moved the chroma by %.3f (plain: %.3f)", keptChroma, plainChroma)
	}
	// The optimisation is the same, so the luminance is the plain run's.
	if lumaVsPlain > 0.5 {
		t.Errorf("luminance-only result's luma differs from the plain result's by %.3f", lumaVsPlain)
	}
}

func TestColourMatchTargets(t *testing.T) {
	net := partialVGG(t)
	const side = 48
	content := sharedImage(t, tubingen, side)
	b := newBank(net, net.DefaultStyleTaps(), styles(sharedImage(t, starry, side)), nil, 1, content)
	plain := blendOrFail(t, b, Settings{}, side)
	matched := blendOrFail(t, b, Settings{Colour: ColourMatch}, side)
	chol := blendOrFail(t, b, Settings{Colour: ColourMatchCholesky}, side)
	lum := blendOrFail(t, b, Settings{Colour: ColourLuminance}, side)
	if d := maxRelDiff(matched, plain); d < 0.01 {
		t.Errorf("colour matching changed the targets by only %.3g", d)
	}
	if d := maxRelDiff(chol, matched); d < 1e-4 {
		t.Errorf("Cholesky and PCA matching give the same targets (%.3g)", d)
	}
	if !sameTargets(lum, plain) {
		t.Error("luminance-only mode changed the style targets")
	}
	if len(b.cache) != 3 {
		t.Errorf("%d cached Gram sets, want 3 (plain, PCA, Cholesky)", len(b.cache))
	}
}

func TestAdam(t *testing.T) {
	net := partialVGG(t)
	req := smallReq(t, 15)
	req.Optimizer = Adam
	start := startLosses(t, net, req)
	frames, res, err := runFrames(t, context.Background(), net, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Evals != 15 {
		t.Errorf("%d evaluations for 15 Adam iterations", res.Evals)
	}
	last := frames[len(frames)-1].Losses.Total
	t.Logf("Adam: %.4g -> %.4g in 15 iterations", start.Total, last)
	if !(last < start.Total/2) {
		t.Errorf("Adam took the loss from %.4g to %.4g, want a drop by 2x", start.Total, last)
	}
	inRange(t, res.Image)
}

func TestCoarseToFine(t *testing.T) {
	net := partialVGG(t)
	// Iterations is the total: 5 over two scales is 2 at 32 px, 3 at 64.
	req := smallReq(t, 5)
	req.Content = sharedImage(t, tubingen, 64)
	req.Scales = 2
	frames, res, err := runFrames(t, context.Background(), net, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range frames {
		got = append(got, fmt.Sprintf("%d/%d:%d:%d %dx%d", f.Scale, f.Scales, f.Iteration, f.TotalIteration, f.Width, f.Height))
		if img := f.Image(); img.Shape[3] != f.Width || img.Shape[2] != f.Height {
			t.Errorf("frame image %v for a %dx%d frame", img.Shape, f.Width, f.Height)
		}
	}
	want := "[0/2:1:1 32x24 0/2:2:2 32x24 1/2:1:3 64x48 1/2:2:4 64x48 1/2:3:5 64x48]"
	if fmt.Sprint(got) != want {
		t.Errorf("frames %v, want %v", got, want)
	}
	if res.Width != 64 || res.Height != 48 || res.Iterations != 5 {
		t.Errorf("result %dx%d after %d iterations", res.Width, res.Height, res.Iterations)
	}
}

func TestRequestErrors(t *testing.T) {
	net := partialVGG(t)
	content, style := sharedImage(t, tubingen, small), sharedImage(t, starry, small)
	nan := content.Clone()
	nan.Data[5] = float32(math.NaN())
	zero := DefaultSettings()
	zero.Mix = []float64{0}
	for _, tc := range []struct {
		name string
		net  features.Extractor
		req  Request
		want error
	}{
		{"no network", nil, Request{Content: content, Styles: styles(style)}, ErrRequest},
		{"no content", net, Request{Styles: styles(style)}, ErrRequest},
		{"gray content", net, Request{Content: tensor.New(1, 1, 8, 8), Styles: styles(style)}, ErrRequest},
		{"NaN content", net, Request{Content: nan, Styles: styles(style)}, ErrRequest},
		{"no style", net, Request{Content: content}, ErrNoStyle},
		{"bad style", net, Request{Content: content, Styles: styles(tensor.New(3, 8, 8))}, ErrRequest},
		{"all weights zero", net, Request{Content: content, Styles: styles(style), Settings: &zero}, ErrNoStyle},
		{"tap weights", net, Request{Content: content, Styles: styles(style), StyleTapWeights: []float64{1}}, ErrRequest},
		{"unknown tap", net, Request{Content: content, Styles: styles(style), ContentTap: "relu9_9", Iterations: 1}, features.ErrUnknownTap},
		{"missing weights", net, Request{Content: content, Styles: styles(style), StyleTaps: []string{"relu4_1"}, Iterations: 1}, features.ErrMissingWeights},
		{"too many scales", net, Request{Content: content, Styles: styles(style), Scales: 3, Size: 40}, ErrRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.net, tc.req, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "style: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// scaled is an extractor whose features are k times the wrapped one's.
type scaled struct {
	features.Extractor
	k    float32
	outs map[string]*tensor.Tensor
	gs   map[string]*tensor.Tensor
}

func (s *scaled) Extract(img *tensor.Tensor, taps []string) (map[string]*tensor.Tensor, error) {
	outs, err := s.Extractor.Extract(img, taps)
	if err != nil {
		return nil, err
	}
	if s.outs == nil {
		s.outs, s.gs = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	}
	clear(s.outs)
	for name, f := range outs {
		o := f.Clone()
		for i := range o.Data {
			o.Data[i] *= s.k
		}
		s.outs[name] = o
	}
	return s.outs, nil
}

func (s *scaled) Backward(grads map[string]*tensor.Tensor) *tensor.Tensor {
	clear(s.gs)
	for name, g := range grads {
		o := g.Clone()
		for i := range o.Data {
			o.Data[i] *= s.k
		}
		s.gs[name] = o
	}
	return s.Extractor.Backward(s.gs)
}

// TestNormTarget checks that relative losses do not depend on the scale of
// the features, while absolute ones grow with its square (content) and
// fourth power (Gram).
func TestNormTarget(t *testing.T) {
	net := partialVGG(t)
	big := &scaled{Extractor: net, k: 1000}
	for _, tc := range []struct {
		norm                 Normalisation
		contentRatio, styleR float64
	}{{NormTarget, 1, 1}, {NormNone, 1e6, 1e12}} {
		t.Run(fmt.Sprint(tc.norm), func(t *testing.T) {
			req := smallReq(t, 3)
			req.Normalise = tc.norm
			req.Init = InitStyle
			s := DefaultRelativeSettings()
			req.Settings = &s
			a, b := startLosses(t, net, req), startLosses(t, big, req)
			for _, p := range [][3]float64{{a.Content, b.Content, tc.contentRatio}, {a.Style, b.Style, tc.styleR}} {
				if r := p[1] / p[0]; math.Abs(r/p[2]-1) > 1e-3 {
					t.Errorf("scaling the features by 1000 scaled the loss %.4g by %.6g, want %g", p[0], r, p[2])
				}
			}
			if tc.norm == NormTarget && (a.Style > 100 || a.Style < 0.1) {
				t.Errorf("relative style loss %.4g at the start, want near the style weight", a.Style)
			}
		})
	}
}

// TestResNetRun runs ResNet-50 with the softmax transform, when the model
// cache holds it, with the default (relative) losses.
func TestResNetRun(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("loads ResNet-50 (100 MB), slow under -short and -race")
	}
	net := cachedResNet(t)
	req := smallReq(t, 5)
	req.Content = sharedImage(t, tubingen, 64)
	if got := DefaultSettingsFor(net, NormAuto); got.StyleWeight != DefaultRelativeSettings().StyleWeight {
		t.Fatalf("ResNet-50 defaults to %+v, want the relative defaults", got)
	}
	start := startLosses(t, net, req)
	frames, res, err := runFrames(t, context.Background(), net, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := frames[len(frames)-1].Losses
	t.Logf("ResNet-50 (softmax), 64 px: total %.4g -> %.4g in 5 iterations (%+v)", start.Total, last.Total, last)
	if !(last.Total < start.Total/1.3) || math.IsNaN(last.Total) {
		t.Errorf("loss went from %.4g to %.4g", start.Total, last.Total)
	}
	inRange(t, res.Image)
}
