package job

import "math"

// ColourMode says whose colours the result keeps.
type ColourMode string

// The colour modes.
const (
	ColourStyle         ColourMode = ""               // the style's colours (classic transfer)
	ColourLuminance     ColourMode = "luminance"      // transfer luminance only; keep the content's colours
	ColourMatch         ColourMode = "match"          // recolour the styles to the content's palette first (PCA)
	ColourMatchCholesky ColourMode = "match-cholesky" // the same with the Cholesky transform
)

// Optimizers.
const (
	OptimizerLBFGS = "lbfgs"
	OptimizerAdam  = "adam"
)

// Feature networks.
const (
	NetworkAuto     = ""         // the best present: full VGG19, else ResNet-50, else partial VGG19
	NetworkVGG19    = "vgg19"    // VGG19 (the full one when downloaded, else the partial reference copy)
	NetworkResNet50 = "resnet50" // ResNet-50 with softmax-transformed features
)

// Starting images.
const (
	InitContent = ""      // start from the content image
	InitNoise   = "noise" // start from noise drawn from Seed
	InitStyle   = "style" // start from the first style image
)

// Defaults of StylizeOptions: fields left at zero take them (see
// StylizeOptions.WithDefaults).
const (
	DefaultSize         = 512
	DefaultIterations   = 400 // in all: 100, 100 and 200 over 512 px's three scales
	DefaultStyleScale   = 1
	DefaultLearningRate = 5
	DefaultOptimizer    = OptimizerLBFGS
	MinSize             = 16 // the smallest output side
	MaxSize             = 8192
	MaxScales           = 6
)

// Style is one style image with its mix weight.
type Style struct {
	Source
	// Weight is this style's share of the style target, relative to the
	// other styles of its set; 0 leaves the style out (it may be steered in
	// later). No default: the command line and the studio start at 1.
	Weight float64 `json:"weight"`
}

// StylizeOptions are the options of a stylize job (Gatys, Ecker and Bethge
// 2016). Fields documented "0 means X" take X; WithDefaults fills them in.
type StylizeOptions struct {
	// Content is the picture to repaint. Required.
	Content Source `json:"content"`
	// Styles are the style images, mixed by their weights. At least one
	// with a positive weight is required.
	Styles []Style `json:"styles"`
	// MorphTo is a second set of styles; Morph moves the style target from
	// Styles (0) to MorphTo (1). Default none.
	MorphTo []Style `json:"morph_to,omitempty"`
	// Morph is the position between Styles and MorphTo, 0..1. Default 0.
	Morph float64 `json:"morph,omitempty"`

	// Size is the longer side of the result in pixels; the content image is
	// scaled to it. 0 means DefaultSize (512).
	Size int `json:"size"`
	// ContentWeight weighs the content loss. The loss scale depends on the
	// network (absolute for VGG19, relative for ResNet-50), so 0 means the
	// network's default (engine/style's DefaultSettingsFor): 5 for VGG19,
	// 1 for ResNet-50.
	ContentWeight float64 `json:"content_weight"`
	// StyleWeight weighs the style loss. 0 means the network's default:
	// 100 for VGG19, 20 for ResNet-50.
	StyleWeight float64 `json:"style_weight"`
	// StyleRatio, when positive, is the single content/style control: the
	// style weight becomes StyleRatio x ContentWeight and StyleWeight is
	// ignored. Default 0 (StyleWeight applies).
	StyleRatio float64 `json:"style_ratio,omitempty"`
	// TVWeight weighs the total-variation smoothness term. 0 means the
	// network's default: 10 for VGG19, 0.1 for ResNet-50; a negative value
	// turns the term off.
	TVWeight float64 `json:"tv_weight"`
	// Colour chooses whose colours the result keeps. Default ColourStyle.
	Colour ColourMode `json:"colour,omitempty"`
	// StyleScale sizes the style images relative to the result (larger:
	// bigger brush strokes). 0 means DefaultStyleScale (1).
	StyleScale float64 `json:"style_scale,omitempty"`

	// Iterations is the number of optimiser iterations in all, over every
	// coarse-to-fine scale: half at full size, the rest shared by the
	// coarser scales (style.SplitIterations). 0 means DefaultIterations
	// (400). Results made before this meant the full-size iterations alone
	// (with "coarse_iterations" more at each coarser scale, now ignored).
	Iterations int `json:"iterations"`
	// Scales is the number of coarse-to-fine passes, each twice the size
	// of the one before. 0 means automatic: as many as keep the first pass
	// at least 128 px, at most 4.
	Scales int `json:"scales,omitempty"`
	// Optimizer is OptimizerLBFGS or OptimizerAdam. "" means
	// DefaultOptimizer (L-BFGS).
	Optimizer string `json:"optimizer"`
	// LearningRate is Adam's step in pixel units (0..255). 0 means
	// DefaultLearningRate (5). L-BFGS ignores it.
	LearningRate float64 `json:"learning_rate,omitempty"`
	// Network is the feature network (NetworkAuto, NetworkVGG19 or
	// NetworkResNet50). Default NetworkAuto.
	Network string `json:"network,omitempty"`
	// Init is the starting image (InitContent, InitNoise or InitStyle).
	// Default InitContent.
	Init string `json:"init,omitempty"`
	// Start, when set, is the starting image instead of Init's, scaled to
	// the output size: a run that continues from an earlier result (best
	// with Scales 1, since coarser scales would blur it first). Default nil.
	Start *Source `json:"start,omitempty"`
	// Seed seeds the random start (InitNoise); runs with the same options
	// and seed give the same image. Default 0.
	Seed int64 `json:"seed"`
}

// WithDefaults returns o with every zero field that has a fixed default
// set to it. The loss weights stay 0 (their defaults depend on the
// network), Scales stays 0 (automatic) and Seed stays as it is.
func (o StylizeOptions) WithDefaults() StylizeOptions {
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Iterations == 0 {
		o.Iterations = DefaultIterations
	}
	if o.StyleScale == 0 {
		o.StyleScale = DefaultStyleScale
	}
	if o.Optimizer == "" {
		o.Optimizer = DefaultOptimizer
	}
	if o.LearningRate == 0 && o.Optimizer == OptimizerAdam {
		o.LearningRate = DefaultLearningRate
	}
	return o
}

// Validate checks the options' ranges (not the files). The error is a
// plain sentence wrapping ErrInvalid.
func (o *StylizeOptions) Validate() error {
	if o.Content.IsZero() {
		return invalidf("a content image is needed")
	}
	if len(o.Styles) == 0 {
		return invalidf("at least one style image is needed")
	}
	// A set of styles needs a positive weight where the target uses it:
	// Styles unless Morph is 1, MorphTo when Morph is above 0.
	if err := checkMix("style", o.Styles, o.Morph < 1); err != nil {
		return err
	}
	if len(o.MorphTo) > 0 {
		if err := checkMix("morph-to style", o.MorphTo, o.Morph > 0); err != nil {
			return err
		}
	}
	if !finite(o.Morph) || o.Morph < 0 || o.Morph > 1 {
		return invalidf("the morph position must be between 0 and 1")
	}
	if o.Morph > 0 && len(o.MorphTo) == 0 {
		return invalidf("a morph position needs styles to morph to")
	}
	if o.Size != 0 && (o.Size < MinSize || o.Size > MaxSize) {
		return invalidf("the size must be between %d and %d pixels", MinSize, MaxSize)
	}
	if !finite(o.ContentWeight) || o.ContentWeight < 0 {
		return invalidf("the content weight must be a positive number")
	}
	if !finite(o.StyleWeight) || o.StyleWeight < 0 {
		return invalidf("the style weight must be a positive number")
	}
	if !finite(o.StyleRatio) || o.StyleRatio < 0 {
		return invalidf("the style ratio must be a positive number")
	}
	if !finite(o.TVWeight) {
		return invalidf("the total-variation weight must be a number")
	}
	if !finite(o.StyleScale) || o.StyleScale < 0 || o.StyleScale > 8 {
		return invalidf("the style scale must be between 0 and 8")
	}
	if !finite(o.LearningRate) || o.LearningRate < 0 {
		return invalidf("the learning rate must be a positive number")
	}
	if !o.Colour.Valid() {
		return invalidf("%q is not a colour mode (luminance, match or match-cholesky)", string(o.Colour))
	}
	if o.Start != nil && o.Start.IsZero() {
		return invalidf("the starting image is empty")
	}
	switch o.Init {
	case InitContent, InitNoise, InitStyle:
	default:
		return invalidf("%q is not a starting image (content, noise or style)", o.Init)
	}
	if o.Iterations < 0 {
		return invalidf("the number of iterations cannot be negative")
	}
	if o.Scales < 0 || o.Scales > MaxScales {
		return invalidf("the number of scales must be between 1 and %d", MaxScales)
	}
	switch o.Optimizer {
	case "", OptimizerLBFGS, OptimizerAdam:
	default:
		return invalidf("%q is not an optimizer (lbfgs or adam)", o.Optimizer)
	}
	switch o.Network {
	case NetworkAuto, NetworkVGG19, NetworkResNet50:
	default:
		return invalidf("%q is not a feature network (vgg19 or resnet50)", o.Network)
	}
	return nil
}

// Valid reports whether m is one of the colour modes.
func (m ColourMode) Valid() bool {
	switch m {
	case ColourStyle, ColourLuminance, ColourMatch, ColourMatchCholesky:
		return true
	}
	return false
}

func checkMix(what string, styles []Style, used bool) error {
	positive := false
	for _, s := range styles {
		if s.IsZero() {
			return invalidf("a %s has no image", what)
		}
		if !finite(s.Weight) || s.Weight < 0 {
			return invalidf("the %s weight of %s must be zero or more", what, s.String())
		}
		if s.Weight > 0 {
			positive = true
		}
	}
	if !positive && used {
		return invalidf("every %s weight is zero: at least one must be positive", what)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
