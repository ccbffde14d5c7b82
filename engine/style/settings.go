package style

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"atelier/engine/features"
	"atelier/engine/tensor"
)

// Sentinel errors; callers tell them apart with errors.Is.
var (
	// ErrNoStyle reports a style mix with nothing in it: no style image,
	// or every weight of a mix that is in use zero.
	ErrNoStyle = errors.New("style: no style to transfer")
	// ErrSettings reports settings out of range (a negative or non-finite
	// weight, a morph outside 0..1, a mix of the wrong length).
	ErrSettings = errors.New("style: invalid settings")
	// ErrRequest reports a request that cannot run (a missing or malformed
	// image, an unknown tap, a size too small for the network).
	ErrRequest = errors.New("style: invalid request")
)

// ColourMode chooses where the result's colours come from.
type ColourMode int

const (
	// ColourStyle lets the result take the style's colours (plain Gatys).
	ColourStyle ColourMode = iota
	// ColourLuminance keeps the content's colours: the optimisation runs as
	// usual and every frame and the result recombine the optimised image's
	// luminance with the content's chroma (see PreserveColour). Switching
	// to or from it does not change the objective.
	ColourLuminance
	// ColourMatch first maps each style image's colour mean and covariance
	// onto the content's (see MatchColour, MatchPCA), then transfers the
	// style as usual, so the texture comes with the content's palette.
	ColourMatch
	// ColourMatchCholesky is ColourMatch with the Cholesky transform
	// (MatchCholesky).
	ColourMatchCholesky
)

// String names the mode.
func (m ColourMode) String() string {
	switch m {
	case ColourStyle:
		return "style"
	case ColourLuminance:
		return "luminance"
	case ColourMatch:
		return "match"
	case ColourMatchCholesky:
		return "match-cholesky"
	}
	return fmt.Sprintf("ColourMode(%d)", int(m))
}

// matching reports whether the mode recolours the style images, and how.
func (m ColourMode) matching() (MatchMethod, bool) {
	switch m {
	case ColourMatch:
		return MatchPCA, true
	case ColourMatchCholesky:
		return MatchCholesky, true
	}
	return 0, false
}

// Settings are the controls that may change while a run goes on (see
// Request.Updates). Every field is taken literally (0 means 0); start from
// DefaultSettings.
type Settings struct {
	// ContentWeight multiplies the content loss. Default 5.
	ContentWeight float64
	// StyleWeight multiplies the style loss (the sum over style taps).
	// Default 100 (with ContentWeight 5, neural-style's balance).
	StyleWeight float64
	// StyleRatio, when positive, is the one content/style control: the
	// style weight becomes StyleRatio × ContentWeight and StyleWeight is
	// ignored. Default 0 (StyleWeight applies).
	StyleRatio float64
	// TVWeight multiplies the total-variation loss of the image (see
	// TVLoss, a mean over pixel values). Default 10, which makes it a few
	// percent of the total on typical results.
	TVWeight float64
	// Mix weighs the style images of Request.Styles: the style target is
	// the blend Σ Mix[i]·Gram(style i) / Σ Mix. nil (default) weighs them
	// equally; otherwise one non-negative weight per style, not all zero.
	Mix []float64
	// MorphMix weighs Request.MorphStyles like Mix (nil: equally).
	MorphMix []float64
	// Morph moves the target from the Mix of Styles (0, default) to the
	// MorphMix of MorphStyles (1): target = (1−Morph)·A + Morph·B.
	Morph float64
	// Colour chooses where the colours come from. Default ColourStyle.
	Colour ColourMode
}

// DefaultSettings returns the documented defaults, which suit absolute
// losses (NormNone) on VGG19.
func DefaultSettings() Settings {
	return Settings{ContentWeight: 5, StyleWeight: 100, TVWeight: 10}
}

// DefaultRelativeSettings returns the defaults for relative losses
// (NormTarget): content weight 1, style weight 20, total-variation weight
// 0.1. On VGG19 (128 px, tubingen x starry_night) style weight 3 looks
// like the absolute defaults and 30 is strongly stylised; ResNet-50 with
// the SWAG softmax transform (features.DefaultSoftmaxTemperature) is
// strongly stylised at 20, the content still readable (256 and 512 px).
func DefaultRelativeSettings() Settings {
	return Settings{ContentWeight: 1, StyleWeight: 20, TVWeight: 0.1}
}

// DefaultSettingsFor returns the settings Run starts from when
// Request.Settings is nil: DefaultRelativeSettings when norm resolves to
// NormTarget for net, DefaultSettings otherwise.
func DefaultSettingsFor(net features.Extractor, norm Normalisation) Settings {
	if norm.resolve(net) == NormTarget {
		return DefaultRelativeSettings()
	}
	return DefaultSettings()
}

// Normalisation chooses the scale of the loss terms.
type Normalisation int

const (
	// NormAuto is NormTarget for ResNet-50 and NormNone for every other
	// extractor (the default).
	NormAuto Normalisation = iota
	// NormNone uses the losses as defined (ContentLoss, StyleLayer.Loss,
	// TVLoss), the scale neural-style's weights were tuned for on VGG19.
	NormNone
	// NormTarget divides the content loss by the mean square of the
	// content features, each tap's style loss by the mean square of its
	// target Gram matrix, and the total variation by the content image's,
	// so every term is a relative error near 1 at the start whatever the
	// network's feature scale and the image size. ResNet-50's
	// softmax-transformed features (see features.SoftmaxTransform) have
	// a scale of their own, set by the temperature, and need it.
	NormTarget
)

// String names the mode.
func (n Normalisation) String() string {
	switch n {
	case NormAuto:
		return "auto"
	case NormNone:
		return "none"
	case NormTarget:
		return "target"
	}
	return fmt.Sprintf("Normalisation(%d)", int(n))
}

// resolve turns NormAuto into the mode for net.
func (n Normalisation) resolve(net features.Extractor) Normalisation {
	if n != NormAuto {
		return n
	}
	if _, ok := net.(*features.ResNet50); ok {
		return NormTarget
	}
	return NormNone
}

// EffectiveStyleWeight is the style weight the objective uses (see
// StyleRatio).
func (s Settings) EffectiveStyleWeight() float64 {
	if s.StyleRatio > 0 {
		return s.StyleRatio * s.ContentWeight
	}
	return s.StyleWeight
}

// clone copies the slices so the caller may reuse its own.
func (s Settings) clone() Settings {
	s.Mix = slices.Clone(s.Mix)
	s.MorphMix = slices.Clone(s.MorphMix)
	return s
}

// validate checks s for a run with nA styles and nB morph styles.
func (s Settings) validate(nA, nB int) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"content weight", s.ContentWeight}, {"style weight", s.StyleWeight}, {"style ratio", s.StyleRatio}, {"total-variation weight", s.TVWeight}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%w: %s %v is not a finite number >= 0", ErrSettings, f.name, f.v)
		}
	}
	if !(s.Morph >= 0 && s.Morph <= 1) {
		return fmt.Errorf("%w: morph %v is outside 0..1", ErrSettings, s.Morph)
	}
	if s.Colour < ColourStyle || s.Colour > ColourMatchCholesky {
		return fmt.Errorf("%w: unknown colour mode %d", ErrSettings, int(s.Colour))
	}
	if s.Morph > 0 && nB == 0 {
		return fmt.Errorf("%w: morph %v needs morph styles", ErrSettings, s.Morph)
	}
	if err := checkMix("style", s.Mix, nA, s.Morph < 1); err != nil {
		return err
	}
	return checkMix("morph style", s.MorphMix, nB, s.Morph > 0)
}

// checkMix validates one mix of n styles; used says whether the target
// needs it.
func checkMix(what string, mix []float64, n int, used bool) error {
	if mix != nil && len(mix) != n {
		return fmt.Errorf("%w: %d %s weights for %d %s images", ErrSettings, len(mix), what, n, what)
	}
	var sum float64
	for i, w := range mix {
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("%w: %s weight %d is %v, want a finite number >= 0", ErrSettings, what, i+1, w)
		}
		sum += w
	}
	if used && n == 0 {
		return fmt.Errorf("%w: no %s image", ErrNoStyle, what)
	}
	if used && mix != nil && sum == 0 {
		return fmt.Errorf("%w: every %s weight is zero", ErrNoStyle, what)
	}
	return nil
}

// normalised returns the mix's weights divided by their sum (equal
// weights for a nil mix).
func normalised(mix []float64, n int) []float64 {
	out := make([]float64, n)
	if mix == nil {
		for i := range out {
			out[i] = 1 / float64(n)
		}
		return out
	}
	var sum float64
	for _, w := range mix {
		sum += w
	}
	for i, w := range mix {
		out[i] = w / sum
	}
	return out
}

// Init chooses the image the optimisation starts from.
type Init int

const (
	// InitContent starts from the content image (default): the fastest to
	// a recognisable result.
	InitContent Init = iota
	// InitNoise starts from Gaussian noise around mid-gray (mean 127.5,
	// standard deviation 40, clamped), drawn from Request.Seed.
	InitNoise
	// InitStyle starts from the first style image with a non-zero weight
	// (of MorphStyles when Morph is 1), stretched to the output size.
	InitStyle
)

// Optimizer chooses the optimisation method.
type Optimizer int

const (
	// LBFGS is limited-memory BFGS with a strong-Wolfe line search (the
	// default; see nn.LBFGS). One iteration may evaluate the network
	// several times.
	LBFGS Optimizer = iota
	// Adam is the Adam optimiser (see nn.Adam): one evaluation per
	// iteration, slower to converge.
	Adam
)

// Request describes one style-transfer run. The zero value of every field
// but Content and Styles gives the documented default.
type Request struct {
	// Content is the content image, RGB [1,3,H,W] in 0..255. Required.
	Content *tensor.Tensor
	// Styles are the style images, RGB [1,3,H,W] in 0..255, mixed by
	// Settings.Mix. At least one is required.
	Styles []*tensor.Tensor
	// MorphStyles are a second set of style images, mixed by
	// Settings.MorphMix, that Settings.Morph moves the target towards.
	// Default none.
	MorphStyles []*tensor.Tensor

	// Size is the longer side of the output in pixels; the aspect ratio is
	// the content's. Default: the content's longer side, at most 512.
	Size int
	// Scales is the number of coarse-to-fine passes; each is twice the
	// size of the one before and starts from its result, upsampled; the
	// last has Size. Default: as many as keep the first pass's longer side
	// at least 128 px, at most 4 (512 px: 128, 256, 512).
	Scales int
	// Iterations is the iteration budget of the whole run, over all
	// scales, split by SplitIterations: half for the last scale, the rest
	// shared equally by the coarser ones (the default 400 at 512 px, three
	// scales: 100, 100 and 200). Iterations a scale leaves unused (L-BFGS
	// converged) go to the next one. Default 400.
	Iterations int
	// StyleScale sizes the style images relative to the output: at every
	// scale each style image is resized so that its longer side is
	// StyleScale × that scale's longer side, before its Gram matrices are
	// taken. Larger values give larger brush strokes. Default 1.
	StyleScale float64

	// StyleTaps are the feature taps of the style loss. Default: the
	// extractor's DefaultStyleTaps (VGG19: relu1_1, relu2_1, relu3_1,
	// relu4_1, relu5_1, or relu1_1, relu2_1, relu3_1 for the partial
	// model; ResNet-50: conv1, stage2, stage3, stage4).
	StyleTaps []string
	// StyleTapWeights weigh the style taps (one per tap). Default 1 each.
	StyleTapWeights []float64
	// Normalise chooses the scale of the loss terms. Default NormAuto
	// (relative losses for ResNet-50, absolute otherwise).
	Normalise Normalisation
	// ContentTap is the tap of the content loss. Default: the extractor's
	// DefaultContentTap (VGG19: relu4_2, or relu3_2 for the partial model;
	// ResNet-50: stage3).
	ContentTap string

	// Init is the starting image. Default InitContent.
	Init Init
	// Start, when not nil, is the starting image instead of Init's, RGB
	// [1,3,H,W] in 0..255, resized to the first scale's size: a run that
	// resumes from an earlier result. Default nil.
	Start *tensor.Tensor
	// Seed seeds the random source (math/rand) of InitNoise. Runs with the
	// same request and seed on the same machine give identical bytes.
	// Default 0.
	Seed int64
	// Optimizer is the optimisation method. Default LBFGS.
	Optimizer Optimizer
	// History is the number of L-BFGS correction pairs. Each costs two
	// copies of the image (4.7 MB at 512x384). Default (0): 100, fewer for
	// large images so that the history stays within 384 MiB (see
	// HistoryFor).
	History int
	// LearningRate is Adam's step size in pixel units (0..255). Default 5.
	LearningRate float64

	// Settings are the initial controls. nil: DefaultSettingsFor(net,
	// Normalise), which is DefaultSettings() for VGG19.
	Settings *Settings
	// Updates, when not nil, delivers new Settings while the run goes on.
	// The latest value received takes effect at the next iteration: the
	// style target is blended again when the mix, morph or colour matching
	// changed, and the L-BFGS history is reset whenever the objective
	// changed, since its curvature pairs belong to the old one (Adam keeps
	// its moment estimates). Settings that fail validation are ignored (the
	// frame reports why). Run never closes it.
	Updates <-chan Settings
}

// defaults for Request fields.
const (
	defaultMaxSize      = 512
	defaultIterations   = 400
	defaultHistory      = 100
	maxHistoryBytes     = 384 << 20 // the automatic history's memory
	minAutoHistory      = 10        // ... but never fewer pairs than this
	defaultLearningRate = 5
	minFirstScale       = 128
	maxAutoScales       = 4
	// minSide is the smallest side a scale or style image may have.
	minSide = 16
)

// SplitIterations splits a run's iteration budget over its coarse-to-fine
// scales, coarse to fine: the last scale gets total − ⌊total/2⌋ and the
// coarser ones share ⌊total/2⌋ equally, the coarsest taking any remainder
// first. With fewer iterations than scales some coarse scales get none
// (Run skips them). One scale gets everything; total < 0 counts as 0.
func SplitIterations(total, scales int) []int {
	scales = max(scales, 1)
	total = max(total, 0)
	out := make([]int, scales)
	if scales == 1 {
		out[0] = total
		return out
	}
	coarse := total / 2
	out[scales-1] = total - coarse
	each, extra := coarse/(scales-1), coarse%(scales-1)
	for k := 0; k < scales-1; k++ {
		out[k] = each
		if k < extra {
			out[k]++
		}
	}
	return out
}

// Sides returns the longer side of every coarse-to-fine scale of a run of
// size pixels with scales passes (0: automatic, see Request.Scales), coarse
// to fine, or an error wrapping ErrRequest when the first would be under
// 16 px.
func Sides(size, scales int) ([]int, error) { return scaleSides(size, scales) }

// scaleSides returns the longer side of every scale, coarse to fine.
func scaleSides(size, scales int) ([]int, error) {
	if scales <= 0 {
		scales = 1
		for scales < maxAutoScales && size>>scales >= minFirstScale {
			scales++
		}
	}
	sides := make([]int, scales)
	for k := range sides {
		sides[k] = int(math.Round(float64(size) / math.Pow(2, float64(scales-1-k))))
	}
	if sides[0] < minSide {
		return nil, fmt.Errorf("%w: %d scales down from %d px start at %d px; at least %d px are needed", ErrRequest, scales, size, sides[0], minSide)
	}
	return sides, nil
}
