package texture

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"atelier/engine/features"
	"atelier/engine/tensor"
)

// Sentinel errors; callers tell them apart with errors.Is.
var (
	// ErrRequest reports a request that cannot run: no sample or one too
	// small, a size out of range, an unknown method or tap.
	ErrRequest = errors.New("texture: invalid request")
	// ErrNonFinite reports that the loss became NaN or infinite.
	ErrNonFinite = errors.New("texture: the loss is not finite")
)

// Method selects the synthesis method.
type Method int

// The methods.
const (
	// Gram is Gatys et al.'s neural texture synthesis (the default).
	Gram Method = iota
	// Patch is multi-resolution patch-based texture optimisation.
	Patch
)

// String returns "gram" or "patch".
func (m Method) String() string {
	switch m {
	case Gram:
		return "gram"
	case Patch:
		return "patch"
	}
	return fmt.Sprintf("method(%d)", int(m))
}

// ParseMethod reads "gram" or "patch" (any case).
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "gram":
		return Gram, nil
	case "patch":
		return Patch, nil
	}
	return 0, fmt.Errorf("%w: %q is not a method (gram or patch)", ErrRequest, s)
}

// Limits and defaults.
const (
	// DefaultSide is the output's width and height when the request
	// leaves them 0.
	DefaultSide = 512
	// MaxSide is the largest output side accepted.
	MaxSide = 8192
	// MinSampleSide is the smallest sample side accepted.
	MinSampleSide = 16
	// DefaultGramIterations is Request.Iterations' default for Gram.
	DefaultGramIterations = 200
	// DefaultPatchIterations is Request.Iterations' default for Patch.
	DefaultPatchIterations = 5
	// DefaultPatchSize is Request.PatchSize's default.
	DefaultPatchSize = 9
	// DefaultHistory is Request.History's default.
	DefaultHistory = 50
)

// Request describes one synthesis. The zero value of every field but
// Sample gives the documented default.
type Request struct {
	// Sample is the example texture, RGB [1,3,H,W] in 0..255, at least
	// MinSampleSide pixels on each side. Required. Its pixel scale is the
	// texture's: features keep their size in pixels whatever the output
	// size.
	Sample *tensor.Tensor
	// Width and Height of the output in pixels, independent of the
	// sample's. Default DefaultSide (512) each; at most MaxSide.
	Width, Height int
	// Method is Gram (default) or Patch.
	Method Method
	// Tileable makes the output wrap around seamlessly: its right edge
	// continues into its left and its bottom into its top. Default false.
	Tileable bool
	// Seed seeds the random start (Gram: the noise image; Patch: the
	// initial collage and the random search). The same request and seed
	// give the same bytes on the same machine. Default 0 (a seed like any
	// other).
	Seed int64
	// Iterations is, for Gram, the L-BFGS iterations of the last scale
	// (earlier scales run half as many), default 200; for Patch, the
	// iterations (matching then averaging) at every pyramid level but the
	// coarsest, which runs three times as many (they cost little there),
	// default 5.
	Iterations int
	// Scales is the number of resolutions. Gram: coarse-to-fine passes,
	// each twice the size of the one before, the sample scaled with the
	// output; default as many as keep the first pass's shorter side at
	// least 128 px, at most 4 (256 px: 128 then 256). Patch: pyramid levels;
	// default as many as keep the coarsest sample's shorter side at least
	// 32 px, at most 5. Either way no level goes below the smallest size
	// the method accepts.
	Scales int

	// Taps are the Gram method's feature taps. Default DefaultTaps(net):
	// relu1_1, pool1, pool2, pool3 and pool4 of VGG19, those the weights
	// reach (Gatys et al. 2015), otherwise the extractor's style taps.
	Taps []string
	// TapWeights weigh the taps (one each). Default 1 each.
	TapWeights []float64
	// History is the number of L-BFGS correction pairs (two copies of the
	// image each). Default 50.
	History int

	// PatchSize is the Patch method's patch side in pixels, odd, 3..15.
	// Larger patches keep larger structures whole. Default 9.
	PatchSize int
}

// Frame is the state of a run after one iteration.
type Frame struct {
	// Scale is the index of the current resolution (0 coarsest) and
	// Scales their number.
	Scale, Scales int
	// Iteration counts the iterations of this scale, from 1;
	// TotalIteration those of the whole run, out of Total planned.
	Iteration, TotalIteration, Total int
	// Width and Height are the image's size at this scale.
	Width, Height int
	// Loss is the method's objective at Image (see Result.Loss).
	Loss float64
	// Image is the current image, RGB [1,3,H,W] in 0..255, a copy the
	// caller may keep.
	Image *tensor.Tensor
	// Elapsed is the time since the run began.
	Elapsed time.Duration
}

// Result is the outcome of Run.
type Result struct {
	// Image is the output (RGB [1,3,Height,Width], 0..255, owned by the
	// caller). When the run was cancelled or failed it is the image of the
	// last completed iteration (possibly at a coarser scale), nil when
	// there was none yet.
	Image *tensor.Tensor
	// Width and Height are Image's size.
	Width, Height int
	// Iterations counts the iterations of all scales; Evals the network
	// evaluations (Gram) or patch-matching passes (Patch).
	Iterations, Evals int
	// Loss is the objective at the end. Gram: the style loss, Σ over taps
	// of weight × Σ_cd (G−A)², G and A the Gram matrices of the image and
	// the sample normalised by C·H·W (see StyleLoss). Patch: the mean
	// squared difference per value between the output's patches and their
	// matches in the sample, in 0..255 units.
	Loss float64
	// Seed is the seed used.
	Seed int64
}

// Run synthesises the texture that req describes. net is the feature
// network of the Gram method (VGG19 loaded with average pooling works best;
// see features.VGG19Options) and is not used by Patch (it may be nil then).
//
// onFrame (optional) is called on Run's goroutine after every iteration; it
// should return quickly. Run checks ctx at every iteration and inside the
// work of each one; a cancelled run returns ctx's error promptly with the
// image so far. Errors wrap ErrRequest, ErrNonFinite, or the extractor's
// sentinel errors (features.ErrUnknownTap, features.ErrMissingWeights,
// features.ErrInput).
func Run(ctx context.Context, net features.Extractor, req Request, onFrame func(Frame)) (Result, error) {
	if err := req.normalise(); err != nil {
		return Result{Seed: req.Seed}, err
	}
	switch req.Method {
	case Gram:
		if net == nil {
			return Result{Seed: req.Seed}, fmt.Errorf("%w: the gram method needs a feature network", ErrRequest)
		}
		return runGram(ctx, net, req, onFrame)
	default:
		return runPatch(ctx, req, onFrame)
	}
}

// normalise checks req and fills in the defaults.
func (r *Request) normalise() error {
	s := r.Sample
	if s == nil || len(s.Shape) != 4 || s.Shape[0] != 1 || s.Shape[1] != 3 || len(s.Data) != tensor.Volume(s.Shape) {
		return fmt.Errorf("%w: the sample must be one RGB image [1,3,H,W], got %v", ErrRequest, s)
	}
	if h, w := s.Shape[2], s.Shape[3]; h < MinSampleSide || w < MinSampleSide {
		return fmt.Errorf("%w: the sample is %dx%d pixels; it needs at least %d on each side", ErrRequest, w, h, MinSampleSide)
	}
	for _, v := range s.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: the sample holds values that are not finite", ErrRequest)
		}
	}
	if r.Width == 0 {
		r.Width = DefaultSide
	}
	if r.Height == 0 {
		r.Height = DefaultSide
	}
	if r.Width < 1 || r.Height < 1 || r.Width > MaxSide || r.Height > MaxSide {
		return fmt.Errorf("%w: the size %dx%d is outside 1..%d pixels", ErrRequest, r.Width, r.Height, MaxSide)
	}
	if r.Method != Gram && r.Method != Patch {
		return fmt.Errorf("%w: %v is not a method", ErrRequest, r.Method)
	}
	if r.Iterations < 0 || r.Scales < 0 || r.History < 0 || r.PatchSize < 0 {
		return fmt.Errorf("%w: iterations, scales, history and patch size cannot be negative", ErrRequest)
	}
	if r.Iterations == 0 {
		r.Iterations = DefaultGramIterations
		if r.Method == Patch {
			r.Iterations = DefaultPatchIterations
		}
	}
	if r.History == 0 {
		r.History = DefaultHistory
	}
	if r.PatchSize == 0 {
		r.PatchSize = DefaultPatchSize
	}
	if r.PatchSize%2 == 0 || r.PatchSize < 3 || r.PatchSize > 15 {
		return fmt.Errorf("%w: the patch size must be odd, 3 to 15 pixels, not %d", ErrRequest, r.PatchSize)
	}
	if r.TapWeights != nil && len(r.TapWeights) != len(r.Taps) {
		return fmt.Errorf("%w: %d tap weights for %d taps", ErrRequest, len(r.TapWeights), len(r.Taps))
	}
	for _, w := range r.TapWeights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("%w: tap weight %v", ErrRequest, w)
		}
	}
	return nil
}
