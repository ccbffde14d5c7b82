package style

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"atelier/engine/features"
	"atelier/engine/tensor"
)

func TestSplitIterations(t *testing.T) {
	for _, tc := range []struct {
		total, scales int
		want          string
	}{
		{400, 3, "[100 100 200]"},
		{120, 3, "[30 30 60]"},
		{400, 4, "[67 67 66 200]"},
		{7, 1, "[7]"},
		{7, 0, "[7]"},
		{5, 2, "[2 3]"},
		{3, 3, "[1 0 2]"},
		{1, 3, "[0 0 1]"},
		{0, 2, "[0 0]"},
		{-4, 2, "[0 0]"},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.total, tc.scales), func(t *testing.T) {
			got := SplitIterations(tc.total, tc.scales)
			if fmt.Sprint(got) != tc.want {
				t.Errorf("SplitIterations(%d, %d) = %v, want %s", tc.total, tc.scales, got, tc.want)
			}
			sum := 0
			for _, v := range got {
				sum += v
			}
			if sum != max(tc.total, 0) {
				t.Errorf("the split adds up to %d, not %d", sum, tc.total)
			}
		})
	}
}

// TestIterationsAreTheTotal checks that Request.Iterations bounds the whole
// run, coarse scales included, and that scales left without iterations are
// skipped.
func TestIterationsAreTheTotal(t *testing.T) {
	net := partialVGG(t)
	for _, tc := range []struct {
		iters, scales int
		want          string // scale:iteration of every frame
	}{
		{6, 3, "[0:1 0:2 1:1 2:1 2:2 2:3]"},
		{2, 3, "[0:1 2:1]"},
		{1, 3, "[2:1]"},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.iters, tc.scales), func(t *testing.T) {
			req := smallReq(t, tc.iters)
			req.Content = sharedImage(t, tubingen, 64)
			req.Scales = tc.scales
			frames, res, err := runFrames(t, context.Background(), net, req, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, f := range frames {
				got = append(got, fmt.Sprintf("%d:%d", f.Scale, f.Iteration))
				if f.TotalIteration != i+1 {
					t.Errorf("frame %d counts total iteration %d", i+1, f.TotalIteration)
				}
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("frames %v, want %s", got, tc.want)
			}
			if res.Iterations != tc.iters || res.Width != 64 {
				t.Errorf("%d iterations at %d px, want %d at 64", res.Iterations, res.Width, tc.iters)
			}
		})
	}
}

// TestFrameImageOnlyWhenAsked checks that a frame's image is copied when
// the callback asks for it and not otherwise: asked for after the callback
// it is gone.
func TestFrameImageOnlyWhenAsked(t *testing.T) {
	net := partialVGG(t)
	var kept []Frame
	var during [2]bool
	_, err := Run(context.Background(), net, smallReq(t, 2), func(f Frame) {
		kept = append(kept, f)
		if f.Iteration == 2 {
			img := f.Image()
			during[1] = img != nil && img == f.Image() // the same copy each call
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 {
		t.Fatalf("%d frames", len(kept))
	}
	if kept[0].Image() != nil {
		t.Error("the first frame's image was copied though nobody asked during the callback")
	}
	if !during[1] || kept[1].Image() == nil {
		t.Error("the image asked for during the callback is not kept")
	}
}

// TestEvaluate checks Evaluate against the objective at the start of a run
// and its gradient against a central difference along the gradient.
func TestEvaluate(t *testing.T) {
	net := partialVGG(t)
	req := smallReq(t, 1)
	content := sharedImage(t, tubingen, small)
	l, g, err := Evaluate(context.Background(), net, req, content)
	if err != nil {
		t.Fatal(err)
	}
	if want := startLosses(t, net, req); l != want {
		t.Errorf("Evaluate gives %+v, the run starts at %+v", l, want)
	}
	// Along d = g/|g|, dL/dt = |g|.
	var norm float64
	for _, v := range g.Data {
		norm += float64(v) * float64(v)
	}
	norm = math.Sqrt(norm)
	const h = 0.05
	at := func(s float64) float64 {
		x := content.Clone()
		for i := range x.Data {
			x.Data[i] += float32(s * float64(g.Data[i]) / norm)
		}
		l, _, err := Evaluate(context.Background(), net, req, x)
		if err != nil {
			t.Fatal(err)
		}
		return l.Total
	}
	slope := (at(h) - at(-h)) / (2 * h)
	if math.Abs(slope-norm) > 0.05*norm {
		t.Errorf("central difference along the gradient %.6g, gradient norm %.6g", slope, norm)
	}
	if _, _, err := Evaluate(context.Background(), net, req, sharedImage(t, tubingen, 2*small)); !errors.Is(err, ErrRequest) {
		t.Errorf("an image of the wrong size: err = %v, want ErrRequest", err)
	}
}

// repeatCounter is an extractor that counts evaluations at the same image
// as the one before.
type repeatCounter struct {
	features.Extractor
	last            []float32
	calls, repeated int
}

func (c *repeatCounter) Extract(img *tensor.Tensor, taps []string) (map[string]*tensor.Tensor, error) {
	c.calls++
	if c.last != nil && slices.Equal(c.last, img.Data) {
		c.repeated++
	}
	c.last = append(c.last[:0], img.Data...)
	return c.Extractor.Extract(img, taps)
}

// TestNoRepeatedEvaluation checks that the evaluation sizing L-BFGS's first
// step is reused by the step instead of being repeated, at every scale.
func TestNoRepeatedEvaluation(t *testing.T) {
	c := &repeatCounter{Extractor: partialVGG(t)}
	req := smallReq(t, 4)
	req.Content = sharedImage(t, tubingen, 64)
	req.Scales = 2
	if _, err := Run(context.Background(), c, req, nil); err != nil {
		t.Fatal(err)
	}
	if c.calls < 6 || c.repeated != 0 {
		t.Errorf("%d of %d network evaluations repeated the one before", c.repeated, c.calls)
	}
}

func TestHistoryFor(t *testing.T) {
	for _, tc := range []struct{ w, h, history, want int }{
		{408, 408, 0, 100},
		{512, 384, 0, 85},
		{512, 512, 0, 64},
		{1024, 768, 0, 21},
		{1024, 1024, 0, 16},
		{8192, 8192, 0, minAutoHistory},
		{1024, 768, 7, 7},
		{64, 64, 200, 200},
	} {
		if got := HistoryFor(3*tc.w*tc.h, tc.history); got != tc.want {
			t.Errorf("HistoryFor(%dx%d, %d) = %d, want %d", tc.w, tc.h, tc.history, got, tc.want)
		}
	}
}

// TestLossOverwrite checks that the losses' overwriting form (the first
// loss on a tap) gives the adding form's gradient on a zeroed buffer,
// whatever the buffer held.
func TestLossOverwrite(t *testing.T) {
	f := tensor.New(1, 4, 5, 6)
	target := tensor.New(1, 4, 5, 6)
	for i := range f.Data {
		f.Data[i] = float32(math.Sin(float64(i)))
		target.Data[i] = float32(math.Cos(float64(i)))
	}
	gramTarget := Gram(nil, target)
	for _, weight := range []float64{0, 2.5} {
		t.Run(fmt.Sprint(weight), func(t *testing.T) {
			junk := func() *tensor.Tensor {
				g := tensor.New(f.Shape...)
				for i := range g.Data {
					g.Data[i] = float32(math.NaN())
				}
				return g
			}
			want, got := tensor.New(f.Shape...), junk()
			var s1, s2 StyleLayer
			l1 := s1.Loss(f, gramTarget, weight, want)
			l2 := s2.loss(f, gramTarget, weight, got, true)
			if l1 != l2 || !sameBits(want, got) {
				t.Errorf("style: loss %v vs %v, gradients differ by %v", l1, l2, tensor.MaxAbsDiff(want, got))
			}
			want, got = tensor.New(f.Shape...), junk()
			l1 = ContentLoss(f, target, weight, want)
			l2 = contentLoss(f, target, weight, got, true)
			if l1 != l2 || !sameBits(want, got) {
				t.Errorf("content: loss %v vs %v, gradients differ by %v", l1, l2, tensor.MaxAbsDiff(want, got))
			}
		})
	}
}
