package job

// Texture methods (TextureOptions.Method).
const (
	TextureGram  = "gram"  // Gatys et al.'s neural synthesis: noise optimised to match VGG19 Gram matrices
	TexturePatch = "patch" // patch-based texture optimisation over a pyramid; no network, seconds
)

// Defaults and limits of TextureOptions (see TextureOptions.WithDefaults).
const (
	DefaultTextureSide     = 512  // Width and Height when 0
	MaxTextureSide         = 8192 // the largest Width or Height
	DefaultSampleSide      = 1024 // SampleSide when 0
	MinSampleSide          = 16   // the smallest sample side
	DefaultGramIterations  = 200  // Iterations of TextureGram when 0
	DefaultPatchIterations = 5    // Iterations of TexturePatch when 0
	DefaultPatchSize       = 9    // PatchSize when 0
	maxTextureIterations   = 100000
	maxTextureScales       = 8
	minPatchSize           = 3
	maxPatchSize           = 15
	maxTextureExamples     = 1 // samples one job synthesises from
)

// TextureOptions are the options of a texture job: a new image of any size
// that looks like more of the example (engine/texture). Fields documented
// "0 means X" take X; WithDefaults fills them in. The JSON names are those
// recorded in a result's metadata.
type TextureOptions struct {
	// Examples are the example textures. Exactly one is required (the
	// engine synthesises from one sample).
	Examples []Source `json:"examples"`
	// Width and Height of the output in pixels, independent of the
	// sample's. 0 means DefaultTextureSide (512); at most MaxTextureSide.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// Method is TextureGram (neural, needs VGG19) or TexturePatch (no
	// network, fast). "" means TextureGram.
	Method string `json:"method,omitempty"`
	// Tileable makes the result wrap around seamlessly (its right edge
	// continues into its left, its bottom into its top). Default false.
	Tileable bool `json:"tileable,omitempty"`
	// Iterations: for TextureGram the L-BFGS iterations of the finest
	// scale (coarser ones run half as many), for TexturePatch the
	// iterations per pyramid level. 0 means DefaultGramIterations (200)
	// or DefaultPatchIterations (5).
	Iterations int `json:"iterations,omitempty"`
	// Scales is the number of resolutions (gram: coarse-to-fine passes;
	// patch: pyramid levels). 0 means automatic; at most 8.
	Scales int `json:"scales,omitempty"`
	// PatchSize is TexturePatch's patch side in pixels, odd, 3..15. 0 means
	// DefaultPatchSize (9). Ignored by TextureGram.
	PatchSize int `json:"patch_size,omitempty"`
	// SampleSide scales the sample down (never up) to this longer side
	// first: the sample's pixel scale is the texture's, so a smaller sample
	// gives a larger pattern. 0 means DefaultSampleSide (1024); a negative
	// value uses the sample as it is.
	SampleSide int `json:"sample_side,omitempty"`
	// Seed seeds the random start; the same options and seed give the same
	// image on the same machine. 0 means one chosen at random, which the
	// result's metadata records.
	Seed int64 `json:"seed,omitempty"`
}

// WithDefaults returns o with every zero field that has a fixed default
// set to it. Seed stays as it is (the runner draws one for 0) and so does
// Scales (automatic).
func (o TextureOptions) WithDefaults() TextureOptions {
	if o.Width == 0 {
		o.Width = DefaultTextureSide
	}
	if o.Height == 0 {
		o.Height = DefaultTextureSide
	}
	if o.Method == "" {
		o.Method = TextureGram
	}
	if o.Iterations == 0 {
		o.Iterations = DefaultGramIterations
		if o.Method == TexturePatch {
			o.Iterations = DefaultPatchIterations
		}
	}
	if o.PatchSize == 0 && o.Method == TexturePatch {
		o.PatchSize = DefaultPatchSize
	}
	if o.SampleSide == 0 {
		o.SampleSide = DefaultSampleSide
	}
	return o
}

// Validate checks the options' ranges (not the files). The error is a
// plain sentence wrapping ErrInvalid.
func (o *TextureOptions) Validate() error {
	switch {
	case len(o.Examples) == 0 || o.Examples[0].IsZero():
		return invalidf("a texture sample is needed")
	case len(o.Examples) > maxTextureExamples:
		return invalidf("a texture is made from one sample, not %d", len(o.Examples))
	}
	if o.Width < 0 || o.Height < 0 || o.Width > MaxTextureSide || o.Height > MaxTextureSide {
		return invalidf("the texture's width and height must be between 1 and %d pixels", MaxTextureSide)
	}
	switch o.Method {
	case "", TextureGram, TexturePatch:
	default:
		return invalidf("%q is not a texture method (gram or patch)", o.Method)
	}
	if o.Iterations < 0 || o.Iterations > maxTextureIterations {
		return invalidf("the number of iterations must be between 1 and %d", maxTextureIterations)
	}
	if o.Scales < 0 || o.Scales > maxTextureScales {
		return invalidf("the number of scales must be between 1 and %d", maxTextureScales)
	}
	if o.PatchSize != 0 && (o.PatchSize%2 == 0 || o.PatchSize < minPatchSize || o.PatchSize > maxPatchSize) {
		return invalidf("the patch size must be odd, %d to %d pixels, not %d", minPatchSize, maxPatchSize, o.PatchSize)
	}
	if o.SampleSide > 0 && o.SampleSide < MinSampleSide {
		return invalidf("the sample side must be at least %d pixels", MinSampleSide)
	}
	return nil
}
