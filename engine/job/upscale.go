package job

// Defaults and limits of UpscaleOptions.
const (
	DefaultUpscaleMethod = "bicubic" // Method when ""
	DefaultUpscaleFactor = 2         // Factor when 0
	MaxUpscaleFactor     = 16        // the largest Factor (bicubic; the networks go to 8)
)

// UpscaleOptions are the options of an upscale job (engine/sr). The JSON
// names are those recorded in a result's metadata.
type UpscaleOptions struct {
	// Input is the image to enlarge. Required. Its alpha channel is
	// upscaled separately (bicubic) and kept.
	Input Source `json:"input"`
	// Factor is the enlargement: 2, 3, 4 or 8 for the networks, 1 to
	// MaxUpscaleFactor for bicubic. 0 means DefaultUpscaleFactor (2).
	Factor int `json:"factor,omitempty"`
	// Method names the upscaling method: "bicubic" or a network
	// ("default-x2", "esrgan-slim", "esrgan-medium", "esrgan-thick"; the
	// engine's sr.MethodNames lists them, and UpscaleMethod describes them
	// to choosers). "" means DefaultUpscaleMethod (bicubic, which needs no
	// model). A network whose model is not downloaded fails with an error
	// naming the `atelier models fetch` command that gets it.
	Method string `json:"method,omitempty"`
	// Tile is the side of the tiles a network processes at once, in input
	// pixels. 0 means automatic (bounded memory); negative runs the whole
	// image at once. Tiled and untiled results agree to about 2/255.
	Tile int `json:"tile,omitempty"`
}

// WithDefaults returns o with Factor and Method filled in.
func (o UpscaleOptions) WithDefaults() UpscaleOptions {
	if o.Factor == 0 {
		o.Factor = DefaultUpscaleFactor
	}
	if o.Method == "" {
		o.Method = DefaultUpscaleMethod
	}
	return o
}

// Validate checks the options' ranges (not the files, nor whether the
// method exists: the engine knows its methods). The error is a plain
// sentence wrapping ErrInvalid.
func (o *UpscaleOptions) Validate() error {
	if o.Input.IsZero() {
		return invalidf("an image to upscale is needed")
	}
	if o.Factor < 0 || o.Factor > MaxUpscaleFactor {
		return invalidf("the upscaling factor must be between 1 and %d", MaxUpscaleFactor)
	}
	return nil
}

// UpscaleMethod describes one upscaling method for choosers such as the
// studio's Upscale tab (the engine's runner lists them).
type UpscaleMethod struct {
	// Name is what UpscaleOptions.Method takes.
	Name string `json:"name"`
	// Description is one line for listings.
	Description string `json:"description"`
	// Scales are the factors the method supports, in increasing order.
	Scales []UpscaleScale `json:"scales"`
}

// UpscaleScale is one factor of an UpscaleMethod and the model it needs.
type UpscaleScale struct {
	// Factor is the enlargement.
	Factor int `json:"factor"`
	// Model is the registry name of the weights this factor needs
	// ("esrgan-slim-x4"), "" when it needs none (bicubic).
	Model string `json:"model,omitempty"`
	// Present reports that the weights are downloaded (always true when
	// Model is "").
	Present bool `json:"present"`
}

// FetchCommand is the command that downloads the scale's model, "" when
// it needs none.
func (s UpscaleScale) FetchCommand() string {
	if s.Model == "" {
		return ""
	}
	return "atelier models fetch " + s.Model
}

// Scale returns the method's entry for factor, and whether it has one.
func (m UpscaleMethod) Scale(factor int) (UpscaleScale, bool) {
	for _, s := range m.Scales {
		if s.Factor == factor {
			return s, true
		}
	}
	return UpscaleScale{}, false
}
