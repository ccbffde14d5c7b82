// Package sr upscales images (super-resolution) and measures the result.
//
// Every method is an Upscaler chosen by name (Open): "bicubic", an exact
// floating-point bicubic resampler (Keys kernel, a = -0.5, the filter of
// Pillow and of MATLAB's imresize), and the pretrained UpscalerJS networks
// "default-x2", "esrgan-slim", "esrgan-medium" and "esrgan-thick", one
// TF.js layers model per scale, run through engine/graph, and the
// project's own networks trained by engine/sr/train and shipped in the
// binary (own.go): "srcnn" (SRCNN 9-1-5 on luma), "pixel" (a residual
// pixel-shuffle network trained with pixel MSE) and "perceptual" (the same
// network trained with a VGG19 feature loss).
//
// Networks run tile by tile (see Options and tile.go): overlapping tiles are
// cross-faded with a raised-cosine window, so the result matches an untiled
// run while memory stays bounded by the tile size, whatever the image size.
//
// Metrics (PSNR, SSIM) follow the super-resolution literature: luma Y of
// ITU-R BT.601 as MATLAB's rgb2ycbcr computes it, a border of scale pixels
// shaved, SSIM with an 11x11 Gaussian window (sigma 1.5).
package sr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"atelier/engine/tensor"
)

// MaxOutputPixels is the largest result (width x height) an Upscaler makes:
// 100 megapixels, the limit the studio applies to every image. At this size
// the float32 colour tensor alone takes 1.2 GB.
const MaxOutputPixels = 100_000_000

// Sentinel errors. Errors returned by this package wrap them and carry a
// plain sentence for the user.
var (
	// ErrUnknownMethod: the method name is not one of Methods().
	ErrUnknownMethod = errors.New("sr: unknown method")
	// ErrScale: the method does not upscale by the requested factor.
	ErrScale = errors.New("sr: unsupported scale")
	// ErrModelMissing: the method's weights are not in the models folder.
	ErrModelMissing = errors.New("sr: model not present")
	// ErrTooLarge: the result would exceed MaxOutputPixels.
	ErrTooLarge = errors.New("sr: result too large")
	// ErrInput: the image tensor is not [1,3,H,W] (or [1,1,H,W] for alpha).
	ErrInput = errors.New("sr: bad input")
)

// Progress reports that done of total units of work (tiles) are finished.
// It is called once with done = 0 before the work starts and once after
// each unit, one call at a time: from the goroutine running Upscale, or
// from its worker goroutines when Options.Workers > 1.
type Progress func(done, total int)

// Upscaler enlarges RGB images by a fixed integer factor.
type Upscaler interface {
	// Name is the method's name, as Open takes it ("esrgan-slim").
	Name() string
	// Scale is the upscaling factor.
	Scale() int
	// Upscale returns a new [1,3,H*s,W*s] tensor for rgb [1,3,H,W], both in
	// 0..255; the result is clamped to 0..255. It checks ctx between units of
	// work (tiles) and returns ctx.Err() when cancelled. progress may be nil.
	// An Upscaler runs one Upscale at a time.
	Upscale(ctx context.Context, rgb *tensor.Tensor, progress Progress) (*tensor.Tensor, error)
}

// Method describes one upscaling method.
type Method struct {
	// Name is what Open takes.
	Name string
	// Scales lists the factors the method supports; for bicubic it is
	// the common ones, though any factor from 1 to MaxBicubicScale works.
	Scales []int
	// Description is one line for listings.
	Description string
	// models maps a scale to the model registry name (networks only).
	models map[int]string
	// own maps a scale to the folder of the shipped weights (weights/sr)
	// for the project's own networks.
	own map[int]string
	// net configures the network (nil for bicubic).
	net *netConfig
}

// Model returns the registry name of the weights for scale ("esrgan-slim-x4"),
// or "" for methods without registry weights (bicubic, and the networks
// shipped in the binary: see Builtin) or unsupported scales.
func (m Method) Model(scale int) string { return m.models[scale] }

// Builtin reports whether the method needs no downloaded model: bicubic and
// the project's own networks, whose weights are in the binary.
func (m Method) Builtin() bool { return m.net == nil || m.own != nil }

// MaxBicubicScale is the largest factor the bicubic method accepts.
const MaxBicubicScale = 16

// methods is the catalog, in the order listings show it.
var methods = []Method{
	{Name: "bicubic", Scales: []int{2, 3, 4, 8},
		Description: "bicubic interpolation (Keys, a = -0.5); no model needed, any factor 1-16"},
	{Name: "default-x2", Scales: []int{2}, models: map[int]string{2: "upscaler-default-x2"},
		Description: "UpscalerJS default model (RDN, the same weights as esrgan-slim x2)",
		net:         &netConfig{unit: 255, overlap: 24}},
	{Name: "esrgan-slim", Scales: []int{2, 3, 4, 8}, models: scaleModels("esrgan-slim"),
		Description: "UpscalerJS esrgan-slim (small RDN, fast)",
		net:         &netConfig{unit: 255, overlap: 24}},
	{Name: "esrgan-medium", Scales: []int{2, 3, 4, 8}, models: scaleModels("esrgan-medium"),
		Description: "UpscalerJS esrgan-medium (RDN)",
		net:         &netConfig{unit: 255, overlap: 32}},
	{Name: "esrgan-thick", Scales: []int{2, 3, 4, 8}, models: scaleModels("esrgan-thick"),
		Description: "UpscalerJS esrgan-thick (RRDN, the best; 20-40 times slower than slim)",
		net:         &netConfig{unit: 1, overlap: 24}},
	{Name: "srcnn", Scales: []int{2, 3, 4}, own: map[int]string{2: "srcnn-x2", 3: "srcnn-x3", 4: "srcnn-x4"},
		Description: "Atelier's own SRCNN 9-1-5 on luma, trained by atelier train (tiny, fast)",
		net:         &netConfig{unit: 1, overlap: 24}}, // the outer quarter covers its radius of 6: tiles are exact
	{Name: "pixel", Scales: []int{2, 4}, own: map[int]string{2: "pixel-x2", 4: "pixel-x4"},
		Description: "Atelier's own residual pixel-shuffle network, trained with pixel MSE (sharp and faithful)",
		net:         &netConfig{unit: 1, overlap: 24}},
	{Name: "perceptual", Scales: []int{4}, own: map[int]string{4: "perceptual-x4"},
		Description: "the pixel network fine-tuned with a VGG19 relu2_2 feature loss (more texture, lower PSNR)",
		net:         &netConfig{unit: 1, overlap: 24}},
}

func scaleModels(prefix string) map[int]string {
	m := map[int]string{}
	for _, s := range []int{2, 3, 4, 8} {
		m[s] = fmt.Sprintf("%s-x%d", prefix, s)
	}
	return m
}

// Methods lists the upscaling methods.
func Methods() []Method { return slices.Clone(methods) }

// MethodNames lists the names Open accepts.
func MethodNames() []string {
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = m.Name
	}
	return names
}

// LookupMethod returns the method called name, or an error wrapping
// ErrUnknownMethod that lists the valid names.
func LookupMethod(name string) (Method, error) {
	for _, m := range methods {
		if m.Name == name {
			return m, nil
		}
	}
	return Method{}, fmt.Errorf("%w %q; the methods are %s", ErrUnknownMethod, name, strings.Join(MethodNames(), ", "))
}

// Supports reports whether the method upscales by scale.
func (m Method) Supports(scale int) bool {
	if m.net == nil {
		return scale >= 1 && scale <= MaxBicubicScale
	}
	return m.models[scale] != "" || m.own[scale] != ""
}

// CheckScale returns nil when the method upscales by scale, otherwise an
// error wrapping ErrScale that says which factors it supports.
func (m Method) CheckScale(scale int) error {
	switch {
	case m.Supports(scale):
		return nil
	case m.net == nil:
		return fmt.Errorf("%w: %s upscales by a whole factor from 1 to %d, not %d", ErrScale, m.Name, MaxBicubicScale, scale)
	}
	return fmt.Errorf("%w: %s has no x%d model; it upscales %s", ErrScale, m.Name, scale, scaleList(m.Scales))
}

// Options configure Open. The zero value uses the documented defaults.
type Options struct {
	// ModelsDir is the models folder holding one subfolder per model
	// ("esrgan-slim-x4/model.json"); "" means model.CacheDir().
	ModelsDir string
	// Tile is the longest side of the low-resolution region a network
	// processes at once, in input pixels, overlaps included; the tiles of
	// an image share one size, as small as covering it allows. Memory
	// grows with its square, the result hardly depends on it (see
	// Overlap). 0 means as large as TileMemory allows for the model,
	// between 48 and 512 (512 for slim, default-x2 and thick, 392 for
	// medium at x2-x4, 128 for slim and medium at x8); a negative value
	// runs the whole image at once. Ignored by bicubic.
	Tile int
	// Overlap is the least number of input pixels adjacent tiles share.
	// The outer quarter of it on each side only gives the network context
	// and is discarded; the middle half is cross-faded. 0 means the
	// method's default: 24 for slim, default-x2 and thick, 32 for medium,
	// with which tiled and untiled results differ by about 0.01 of a
	// level (of 255) on photographs; it is cut to half the tile when
	// larger. The networks' theoretical receptive-field radius is 10
	// input pixels for slim, 18 for medium and 154 for thick, but the
	// influence of a pixel decays much faster (see tile.go).
	Overlap int
	// SelfEnsemble makes the project's own networks (srcnn, pixel,
	// perceptual) average their correction over the eight flips and
	// transposes of the image (the "+" of EDSR+, Lim et al. 2017): eight
	// times the work for a little more PSNR. Ignored by other methods.
	SelfEnsemble bool
	// Workers is how many tiles run at once, each on its own copy of the
	// network (and its memory); 0 means 1. On the two-vCPU development
	// machine two workers were no faster and used more CPU time than one,
	// whose convolutions already spread their work over both vCPUs.
	Workers int
}

// Open returns the upscaler for the named method and scale. Networks are
// loaded and built here, once. Unknown names wrap ErrUnknownMethod,
// unsupported scales ErrScale, absent weights ErrModelMissing.
func Open(name string, scale int, opt Options) (Upscaler, error) {
	m, err := LookupMethod(name)
	if err != nil {
		return nil, err
	}
	if err := m.CheckScale(scale); err != nil {
		return nil, err
	}
	if m.net == nil {
		return &Bicubic{Factor: scale}, nil
	}
	if m.own != nil {
		return openOwn(m, scale, opt)
	}
	return openNetwork(m, scale, opt)
}

// scaleList renders {2,3,4,8} as "x2, x3, x4 or x8".
func scaleList(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprintf("x%d", v)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// checkInput validates an RGB input and the size of the result.
func checkInput(rgb *tensor.Tensor, scale int) (h, w int, err error) {
	if rgb == nil || len(rgb.Shape) != 4 || rgb.Shape[0] != 1 || rgb.Shape[1] != 3 || rgb.Shape[2] < 1 || rgb.Shape[3] < 1 {
		var shape []int
		if rgb != nil {
			shape = rgb.Shape
		}
		return 0, 0, fmt.Errorf("%w: want an RGB tensor [1,3,H,W], got %v", ErrInput, shape)
	}
	h, w = rgb.Shape[2], rgb.Shape[3]
	if err := CheckOutputSize(w, h, scale); err != nil {
		return 0, 0, err
	}
	return h, w, nil
}

// CheckOutputSize returns an error wrapping ErrTooLarge when a w x h image
// upscaled by scale would exceed MaxOutputPixels.
func CheckOutputSize(w, h, scale int) error {
	ow, oh := int64(w)*int64(scale), int64(h)*int64(scale)
	if ow*oh > MaxOutputPixels {
		return fmt.Errorf("%w: upscaling %d x %d by %d would make %d x %d pixels (%.1f megapixels), over the limit of %d megapixels; choose a smaller scale or a smaller image",
			ErrTooLarge, w, h, scale, ow, oh, float64(ow*oh)/1e6, MaxOutputPixels/1_000_000)
	}
	return nil
}

// clamp255 limits every value of d to 0..255 (NaN becomes 0).
func clamp255(d []float32) {
	for i, v := range d {
		switch {
		case v > 255:
			d[i] = 255
		case v >= 0:
		default: // negative or NaN
			d[i] = 0
		}
	}
}
