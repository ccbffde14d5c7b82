package sr

import (
	"context"
	"fmt"
	"math"
	"sync"

	"atelier/engine/tensor"
)

// Why not nfnt/resize: its Bicubic uses the same kernel (Keys, a = -0.5),
// but quantises the weights to int16/256, keeps the intermediate pass in 8
// bits for 8-bit images and truncates (not rounds) each pass's division,
// which darkens the result by about half a level per pass on average. That
// shows in PSNR, so this file resamples in floating point instead, with
// Pillow's geometry (which the MODELS.md measurements used): pixel centres
// aligned, the kernel widened by the reduction factor when shrinking
// (antialiasing), and at the borders the weights of the pixels inside the
// image renormalised to sum to one.

// cubic is Keys' cubic convolution kernel with a = -0.5.
func cubic(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

// axisWeights maps n input samples to m output samples along one axis:
// output i is the sum of w[i*k+j] * in[start[i]+j] for j < count[i].
type axisWeights struct {
	start, count []int
	w            []float64
	k            int
}

// bicubicWeights computes the weights resampling in samples to out samples.
func bicubicWeights(in, out int) axisWeights {
	scale := float64(in) / float64(out)
	filterScale := max(scale, 1) // widen the kernel when shrinking
	support := 2 * filterScale
	k := int(math.Ceil(support))*2 + 1
	aw := axisWeights{start: make([]int, out), count: make([]int, out), w: make([]float64, out*k), k: k}
	for i := range out {
		center := (float64(i) + 0.5) * scale
		lo := max(int(math.Floor(center-support+0.5)), 0)
		hi := min(int(math.Floor(center+support+0.5)), in)
		ws := aw.w[i*k : i*k+k]
		sum := 0.0
		for x := lo; x < hi; x++ {
			v := cubic((float64(x) - center + 0.5) / filterScale)
			ws[x-lo] = v
			sum += v
		}
		if sum != 0 {
			for j := range hi - lo {
				ws[j] /= sum
			}
		}
		aw.start[i], aw.count[i] = lo, hi-lo
	}
	return aw
}

// Resample resizes every channel of t ([N,C,H,W], any value range) to w x h
// with the bicubic filter above and returns a new tensor. It does not clamp:
// the kernel's negative lobes can overshoot the input's range slightly.
func Resample(t *tensor.Tensor, w, h int) (*tensor.Tensor, error) {
	if t == nil || len(t.Shape) != 4 {
		return nil, fmt.Errorf("%w: Resample needs an [N,C,H,W] tensor", ErrInput)
	}
	n, c, ih, iw := t.Dims()
	if w < 1 || h < 1 || ih < 1 || iw < 1 {
		return nil, fmt.Errorf("%w: cannot resample %d x %d to %d x %d", ErrInput, iw, ih, w, h)
	}
	out := tensor.New(n, c, h, w)
	wx, wy := bicubicWeights(iw, w), bicubicWeights(ih, h)
	planes := n * c
	var wg sync.WaitGroup
	next := make(chan int, planes)
	for p := range planes {
		next <- p
	}
	close(next)
	for range min(planes, 2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tmp := make([]float64, ih*w)
			for p := range next {
				resamplePlane(t.Data[p*ih*iw:(p+1)*ih*iw], out.Data[p*h*w:(p+1)*h*w], tmp, iw, ih, w, h, &wx, &wy)
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// resamplePlane resamples one iw x ih plane into a w x h one: rows first
// (into tmp, ih x w, in float64), then columns.
func resamplePlane(src, dst []float32, tmp []float64, iw, ih, w, h int, wx, wy *axisWeights) {
	for y := range ih {
		row := src[y*iw : (y+1)*iw]
		t := tmp[y*w : (y+1)*w]
		for x := range w {
			ws := wx.w[x*wx.k : x*wx.k+wx.count[x]]
			in := row[wx.start[x]:]
			s := 0.0
			for j, v := range ws {
				s += v * float64(in[j])
			}
			t[x] = s
		}
	}
	acc := make([]float64, w)
	for y := range h {
		clear(acc)
		ws := wy.w[y*wy.k : y*wy.k+wy.count[y]]
		for j, v := range ws {
			t := tmp[(wy.start[y]+j)*w : (wy.start[y]+j+1)*w]
			for x := range acc {
				acc[x] += v * t[x]
			}
		}
		d := dst[y*w : (y+1)*w]
		for x, v := range acc {
			d[x] = float32(v)
		}
	}
}

// Bicubic is the bicubic method: Resample by an integer factor, clamped
// to 0..255.
type Bicubic struct {
	// Factor is the upscaling factor, 1 to MaxBicubicScale.
	Factor int
}

// Name returns "bicubic".
func (b *Bicubic) Name() string { return "bicubic" }

// Scale returns the factor.
func (b *Bicubic) Scale() int { return b.Factor }

// Upscale resamples rgb by the factor. It is one unit of work.
func (b *Bicubic) Upscale(ctx context.Context, rgb *tensor.Tensor, progress Progress) (*tensor.Tensor, error) {
	h, w, err := checkInput(rgb, b.Factor)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if progress != nil {
		progress(0, 1)
	}
	out, err := Resample(rgb, w*b.Factor, h*b.Factor)
	if err != nil {
		return nil, err
	}
	clamp255(out.Data)
	if progress != nil {
		progress(1, 1)
	}
	return out, nil
}

// Downscale makes the low-resolution input of an evaluation: it crops hr
// ([1,C,H,W]) at the bottom and right to multiples of scale, shrinks the
// crop by scale with the antialiased bicubic filter and rounds the result to
// whole levels clamped to 0..255, as an 8-bit image file would hold it. It
// returns the cropped high-resolution image too.
func Downscale(hr *tensor.Tensor, scale int) (lr, cropped *tensor.Tensor, err error) {
	if hr == nil || len(hr.Shape) != 4 || scale < 1 {
		return nil, nil, fmt.Errorf("%w: Downscale needs an [N,C,H,W] tensor and a positive scale", ErrInput)
	}
	_, _, h, w := hr.Dims()
	ch, cw := h/scale*scale, w/scale*scale
	if ch == 0 || cw == 0 {
		return nil, nil, fmt.Errorf("%w: %d x %d is smaller than the scale %d", ErrInput, w, h, scale)
	}
	cropped = crop(hr, 0, 0, cw, ch)
	lr, err = Resample(cropped, cw/scale, ch/scale)
	if err != nil {
		return nil, nil, err
	}
	Quantize(lr.Data)
	return lr, cropped, nil
}

// Quantize rounds every value of d to the nearest whole level in 0..255,
// as saving an 8-bit image does.
func Quantize(d []float32) {
	for i, v := range d {
		switch {
		case v >= 255:
			d[i] = 255
		case v > 0:
			d[i] = float32(math.Round(float64(v)))
		default:
			d[i] = 0
		}
	}
}

// crop copies the w x h region at (x0, y0) of t ([N,C,H,W]).
func crop(t *tensor.Tensor, x0, y0, w, h int) *tensor.Tensor {
	n, c, th, tw := t.Dims()
	out := tensor.New(n, c, h, w)
	for p := range n * c {
		for y := range h {
			copy(out.Data[(p*h+y)*w:(p*h+y+1)*w], t.Data[(p*th+y0+y)*tw+x0:])
		}
	}
	return out
}

// UpscaleImage upscales rgb ([1,3,H,W], 0..255) with u and, when alpha
// ([1,1,H,W], 0..255) is not nil, the alpha channel separately with the
// bicubic filter, clamped to 0..255, so transparency survives any method.
// The size limit (MaxOutputPixels) is checked before any work.
func UpscaleImage(ctx context.Context, u Upscaler, rgb, alpha *tensor.Tensor, progress Progress) (outRGB, outAlpha *tensor.Tensor, err error) {
	h, w, err := checkInput(rgb, u.Scale())
	if err != nil {
		return nil, nil, err
	}
	if alpha != nil && (len(alpha.Shape) != 4 || !tensor.ShapeEqual(alpha.Shape, []int{1, 1, h, w})) {
		return nil, nil, fmt.Errorf("%w: alpha %v does not match the colour's %d x %d", ErrInput, alpha.Shape, w, h)
	}
	outRGB, err = u.Upscale(ctx, rgb, progress)
	if err != nil {
		return nil, nil, err
	}
	if alpha != nil {
		s := u.Scale()
		if outAlpha, err = Resample(alpha, w*s, h*s); err != nil {
			return nil, nil, err
		}
		clamp255(outAlpha.Data)
	}
	return outRGB, outAlpha, nil
}
