package train

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"atelier/engine/imageio"
	"atelier/engine/sr"
	"atelier/engine/tensor"
)

// sample is one training image prepared for a network kind, all values
// divided by 255:
//   - luma: in is Y of the bicubic enlargement of the shrunk image, target
//     the correction Y(hr) - in, both [1,1,H,W];
//   - RGB: in is the shrunk image [1,3,H/s,W/s], target the correction
//     hr - bicubic [1,3,H,W].
//
// base, kept for the perceptual loss only, is the bicubic enlargement /255.
type sample struct {
	in, target, base *tensor.Tensor
}

// ListImages returns the PNG and JPEG files of dir, sorted.
func ListImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg":
			if !e.IsDir() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("train: %s holds no PNG or JPEG images", dir)
	}
	slices.Sort(out)
	return out, nil
}

// prepare makes the training pair of one high-resolution image (0..255),
// shrunk and enlarged the way sr-eval does (sr.Downscale, then bicubic).
func prepare(hr *tensor.Tensor, scale int, luma, keepBase bool) (sample, error) {
	lr, hr, err := sr.Downscale(hr, scale)
	if err != nil {
		return sample{}, err
	}
	_, _, h, w := hr.Dims()
	bic, err := sr.Resample(lr, w, h)
	if err != nil {
		return sample{}, err
	}
	clamp(bic.Data)
	if luma {
		in := tensor.New(1, 1, h, w)
		sr.LumaInto(in.Data, bic)
		t := tensor.New(1, 1, h, w)
		sr.LumaInto(t.Data, hr)
		for i := range t.Data {
			t.Data[i] -= in.Data[i]
		}
		return sample{in: in, target: t}, nil
	}
	for i := range lr.Data {
		lr.Data[i] /= 255
	}
	for i := range hr.Data {
		hr.Data[i] = (hr.Data[i] - bic.Data[i]) / 255
	}
	s := sample{in: lr, target: hr}
	if keepBase {
		for i := range bic.Data {
			bic.Data[i] /= 255
		}
		s.base = bic
	}
	return s, nil
}

func clamp(d []float32) {
	for i, v := range d {
		d[i] = min(max(v, 0), 255)
	}
}

// loadSamples loads and prepares every image of paths.
// Each is first shrunk by prescale (see Config.Prescale).
func loadSamples(paths []string, scale, prescale int, luma, keepBase bool) ([]sample, error) {
	out := make([]sample, 0, len(paths))
	for _, p := range paths {
		img, err := imageio.Load(p, imageio.Options{MinSide: -1})
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		hr := img.RGB
		if prescale > 1 {
			if hr, _, err = sr.Downscale(hr, prescale); err != nil {
				return nil, fmt.Errorf("train: %s: %w", filepath.Base(p), err)
			}
		}
		s, err := prepare(hr, scale, luma, keepBase)
		if err != nil {
			return nil, fmt.Errorf("train: %s: %w", filepath.Base(p), err)
		}
		out = append(out, s)
	}
	return out, nil
}

// batcher cuts random, randomly flipped and transposed patches out of the
// samples into reused batch tensors.
type batcher struct {
	samples []sample
	scale   int // the network's own factor: target patch = scale * input patch
	patch   int // input patch side
	rng     *rand.Rand

	in, tgt, base *tensor.Tensor
}

// next fills a batch of n patches and returns the input, the target and,
// when the samples keep it, the base (else nil).
func (b *batcher) next(n int) (in, tgt, base *tensor.Tensor) {
	s0 := b.samples[0]
	ci, ct := s0.in.Shape[1], s0.target.Shape[1]
	p, q := b.patch, b.patch*b.scale
	b.in = tensor.Ensure(b.in, n, ci, p, p)
	b.tgt = tensor.Ensure(b.tgt, n, ct, q, q)
	if s0.base != nil {
		b.base = tensor.Ensure(b.base, n, ct, q, q)
	}
	for k := range n {
		var s sample
		for {
			s = b.samples[b.rng.IntN(len(b.samples))]
			if s.in.Shape[2] >= p && s.in.Shape[3] >= p {
				break
			}
		}
		_, _, h, w := s.in.Dims()
		y0, x0 := b.rng.IntN(h-p+1), b.rng.IntN(w-p+1)
		aug := b.rng.IntN(8)
		cut(b.in.Data[k*ci*p*p:(k+1)*ci*p*p], s.in, x0, y0, p, aug)
		cut(b.tgt.Data[k*ct*q*q:(k+1)*ct*q*q], s.target, x0*b.scale, y0*b.scale, q, aug)
		if s.base != nil {
			cut(b.base.Data[k*ct*q*q:(k+1)*ct*q*q], s.base, x0*b.scale, y0*b.scale, q, aug)
		}
	}
	return b.in, b.tgt, b.base
}

// cut copies the p x p square at (x0, y0) of every channel of t into dst,
// transformed by aug (bit 0: flip x, bit 1: flip y, bit 2: transpose).
func cut(dst []float32, t *tensor.Tensor, x0, y0, p, aug int) {
	_, c, h, w := t.Dims()
	for ch := range c {
		src := t.Data[ch*h*w:]
		out := dst[ch*p*p : (ch+1)*p*p]
		for y := range p {
			for x := range p {
				sx, sy := x, y
				if aug&4 != 0 {
					sx, sy = y, x
				}
				if aug&1 != 0 {
					sx = p - 1 - sx
				}
				if aug&2 != 0 {
					sy = p - 1 - sy
				}
				out[y*p+x] = src[(y0+sy)*w+x0+sx]
			}
		}
	}
}
