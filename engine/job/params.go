package job

import "slices"

// Params are live changes to a running stylize job: each field that is set
// (non-nil) replaces the job's current value at its next iteration; nil
// fields leave the value as it is. Params sent in quick succession merge,
// the later ones winning field by field.
type Params struct {
	// ContentWeight replaces StylizeOptions.ContentWeight.
	ContentWeight *float64 `json:"content_weight,omitempty"`
	// StyleWeight replaces StylizeOptions.StyleWeight.
	StyleWeight *float64 `json:"style_weight,omitempty"`
	// StyleRatio replaces StylizeOptions.StyleRatio (0 turns it off).
	StyleRatio *float64 `json:"style_ratio,omitempty"`
	// StyleMix replaces the mix weights of Styles, in their order; it must
	// have one weight per style, non-negative, at least one positive.
	StyleMix []float64 `json:"style_mix,omitempty"`
	// MorphMix replaces the mix weights of MorphTo, likewise.
	MorphMix []float64 `json:"morph_mix,omitempty"`
	// Morph replaces StylizeOptions.Morph (0..1).
	Morph *float64 `json:"morph,omitempty"`
	// TVWeight replaces StylizeOptions.TVWeight.
	TVWeight *float64 `json:"tv_weight,omitempty"`
	// Colour replaces StylizeOptions.Colour.
	Colour *ColourMode `json:"colour,omitempty"`
}

// IsZero reports Params that change nothing.
func (p Params) IsZero() bool {
	return p.ContentWeight == nil && p.StyleWeight == nil && p.StyleRatio == nil && p.StyleMix == nil && p.MorphMix == nil &&
		p.Morph == nil && p.TVWeight == nil && p.Colour == nil
}

// Merge returns p with every field set in q replacing p's. The result
// shares no slices with q.
func (p Params) Merge(q Params) Params {
	if q.ContentWeight != nil {
		p.ContentWeight = Float(*q.ContentWeight)
	}
	if q.StyleWeight != nil {
		p.StyleWeight = Float(*q.StyleWeight)
	}
	if q.StyleRatio != nil {
		p.StyleRatio = Float(*q.StyleRatio)
	}
	if q.StyleMix != nil {
		p.StyleMix = slices.Clone(q.StyleMix)
	}
	if q.MorphMix != nil {
		p.MorphMix = slices.Clone(q.MorphMix)
	}
	if q.Morph != nil {
		p.Morph = Float(*q.Morph)
	}
	if q.TVWeight != nil {
		p.TVWeight = Float(*q.TVWeight)
	}
	if q.Colour != nil {
		p.Colour = Colour(*q.Colour)
	}
	return p
}

// Float returns a pointer to v, for filling Params.
func Float(v float64) *float64 { return &v }

// Colour returns a pointer to m, for filling Params.
func Colour(m ColourMode) *ColourMode { return &m }
