package sr

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// Quality is the similarity of an upscaled image to the original.
type Quality struct {
	// PSNR is the peak signal-to-noise ratio of Y in dB (peak 255); +Inf
	// for identical images.
	PSNR float64
	// SSIM is the mean structural similarity of Y, 1 for identical images.
	SSIM float64
}

// Luma returns the ITU-R BT.601 luma of rgb ([1,3,H,W] in 0..255) as
// MATLAB's rgb2ycbcr computes it, the convention of the super-resolution
// literature: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, in 16..235,
// row by row as a w*h slice. Y is kept in floating point (MATLAB rounds
// it to whole levels for uint8 images; the difference in PSNR is about
// 0.01 dB).
func Luma(rgb *tensor.Tensor) (y []float64, w, h int, err error) {
	if rgb == nil || len(rgb.Shape) != 4 || rgb.Shape[0] != 1 || rgb.Shape[1] != 3 {
		return nil, 0, 0, fmt.Errorf("%w: Luma needs an RGB tensor [1,3,H,W]", ErrInput)
	}
	h, w = rgb.Shape[2], rgb.Shape[3]
	n := h * w
	r, g, b := rgb.Data[:n], rgb.Data[n:2*n], rgb.Data[2*n:3*n]
	y = make([]float64, n)
	for i := range y {
		y[i] = 16 + (65.481*float64(r[i])+128.553*float64(g[i])+24.966*float64(b[i]))/255
	}
	return y, w, h, nil
}

// Compare measures sr against the original hr (both [1,3,H,W] in 0..255,
// the same size) on Y with a border of shave pixels left out of both, as
// super-resolution papers do with shave = scale.
func Compare(hr, sr *tensor.Tensor, shave int) (Quality, error) {
	if hr == nil || sr == nil || !hr.SameShape(sr) {
		return Quality{}, fmt.Errorf("%w: Compare needs two images of the same size", ErrInput)
	}
	a, w, h, err := Luma(hr)
	if err != nil {
		return Quality{}, err
	}
	b, _, _, err := Luma(sr)
	if err != nil {
		return Quality{}, err
	}
	p, err := PSNR(a, b, w, h, shave)
	if err != nil {
		return Quality{}, err
	}
	s, err := SSIM(a, b, w, h, shave)
	if err != nil {
		return Quality{}, err
	}
	return Quality{PSNR: p, SSIM: s}, nil
}

// shaved returns the w x h plane a (row-major) without a border of shave
// pixels, and its size.
func shaved(a []float64, w, h, shave int) ([]float64, int, int) {
	cw, ch := w-2*shave, h-2*shave
	if shave == 0 {
		return a, w, h
	}
	out := make([]float64, 0, max(cw*ch, 0))
	for y := shave; y < h-shave; y++ {
		out = append(out, a[y*w+shave:y*w+w-shave]...)
	}
	return out, cw, ch
}

func checkPlanes(what string, a, b []float64, w, h, shave, minSide int) error {
	if w < 1 || h < 1 || len(a) != w*h || len(b) != w*h || shave < 0 {
		return fmt.Errorf("%w: %s needs two %d x %d planes", ErrInput, what, w, h)
	}
	if w-2*shave < minSide || h-2*shave < minSide {
		return fmt.Errorf("%w: %s: %d x %d minus a border of %d is smaller than %d x %d", ErrInput, what, w, h, shave, minSide, minSide)
	}
	return nil
}

// PSNR is 10 log10(255^2 / MSE) between the w x h planes a and b
// (row-major, 0..255 scale) without a border of shave pixels; +Inf when
// they are equal there.
func PSNR(a, b []float64, w, h, shave int) (float64, error) {
	if err := checkPlanes("PSNR", a, b, w, h, shave, 1); err != nil {
		return 0, err
	}
	sa, cw, ch := shaved(a, w, h, shave)
	sb, _, _ := shaved(b, w, h, shave)
	se := 0.0
	for i, v := range sa {
		d := v - sb[i]
		se += d * d
	}
	if se == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255/(se/float64(cw*ch))), nil
}

// SSIM window and constants (Wang, Bovik, Sheikh, Simoncelli 2004, and
// their reference MATLAB code ssim_index.m).
const (
	ssimWindow = 11
	ssimSigma  = 1.5
	ssimC1     = (0.01 * 255) * (0.01 * 255)
	ssimC2     = (0.03 * 255) * (0.03 * 255)
)

// gaussianWindow returns the normalised 1-D Gaussian of n taps: the 2-D
// window is its outer product.
func gaussianWindow(n int, sigma float64) []float64 {
	g := make([]float64, n)
	s := 0.0
	c := float64(n-1) / 2
	for i := range g {
		x := float64(i) - c
		g[i] = math.Exp(-x * x / (2 * sigma * sigma))
		s += g[i]
	}
	for i := range g {
		g[i] /= s
	}
	return g
}

// SSIM is the mean structural similarity between the w x h planes a and b
// (row-major, 0..255 scale, L = 255) without a border of shave pixels: local
// statistics under an 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
// K2 = 0.03, averaged over every position where the window fits inside
// (MATLAB's filter2 'valid'), without downsampling. The shaved planes must
// be at least 11 x 11.
func SSIM(a, b []float64, w, h, shave int) (float64, error) {
	if err := checkPlanes("SSIM", a, b, w, h, shave, ssimWindow); err != nil {
		return 0, err
	}
	sa, cw, ch := shaved(a, w, h, shave)
	sb, _, _ := shaved(b, w, h, shave)
	n := cw * ch
	aa, bb, ab := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range sa {
		aa[i], bb[i], ab[i] = sa[i]*sa[i], sb[i]*sb[i], sa[i]*sb[i]
	}
	g := gaussianWindow(ssimWindow, ssimSigma)
	mu1, ow, oh := filterValid(sa, cw, ch, g)
	mu2, _, _ := filterValid(sb, cw, ch, g)
	e11, _, _ := filterValid(aa, cw, ch, g)
	e22, _, _ := filterValid(bb, cw, ch, g)
	e12, _, _ := filterValid(ab, cw, ch, g)
	sum := 0.0
	for i := range ow * oh {
		m1, m2 := mu1[i], mu2[i]
		v1, v2, cv := e11[i]-m1*m1, e22[i]-m2*m2, e12[i]-m1*m2
		sum += (2*m1*m2 + ssimC1) * (2*cv + ssimC2) / ((m1*m1 + m2*m2 + ssimC1) * (v1 + v2 + ssimC2))
	}
	return sum / float64(ow*oh), nil
}

// filterValid correlates the w x h plane a with the separable window g x g,
// keeping the positions where the window fits inside.
func filterValid(a []float64, w, h int, g []float64) ([]float64, int, int) {
	k := len(g)
	ow, oh := w-k+1, h-k+1
	rows := make([]float64, h*ow)
	for y := range h {
		src := a[y*w : (y+1)*w]
		dst := rows[y*ow : (y+1)*ow]
		for x := range dst {
			s := 0.0
			for j, v := range g {
				s += v * src[x+j]
			}
			dst[x] = s
		}
	}
	out := make([]float64, ow*oh)
	for y := range oh {
		dst := out[y*ow : (y+1)*ow]
		for j, v := range g {
			src := rows[(y+j)*ow : (y+j+1)*ow]
			for x := range dst {
				dst[x] += v * src[x]
			}
		}
	}
	return out, ow, oh
}
