package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func validStylize() *StylizeOptions {
	return &StylizeOptions{
		Content: Source{Path: "c.png"},
		Styles:  []Style{{Source: Source{Path: "s.png"}, Weight: 1}},
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(r *Request)
		errHas string // "" means valid
	}{
		{"valid", func(r *Request) {}, ""},
		{"no kind", func(r *Request) { r.Kind = "" }, "no kind"},
		{"unknown kind", func(r *Request) { r.Kind = "paint" }, `"paint" is not a kind`},
		{"no options", func(r *Request) { r.Stylize = nil }, "needs its options"},
		{"no content", func(r *Request) { r.Stylize.Content = Source{} }, "content image"},
		{"no styles", func(r *Request) { r.Stylize.Styles = nil }, "style image"},
		{"all weights zero", func(r *Request) {
			r.Stylize.Styles = append(r.Stylize.Styles, Style{Source: Source{Path: "t.png"}})
			r.Stylize.Styles[0].Weight = 0
		}, "every style weight is zero"},
		{"negative weight", func(r *Request) { r.Stylize.Styles[0].Weight = -1 }, "zero or more"},
		{"NaN weight", func(r *Request) { r.Stylize.StyleWeight = math.NaN() }, "style weight"},
		{"morph without targets", func(r *Request) { r.Stylize.Morph = 0.5 }, "styles to morph to"},
		{"morph out of range", func(r *Request) {
			r.Stylize.MorphTo = []Style{{Source: Source{Path: "m.png"}, Weight: 1}}
			r.Stylize.Morph = 1.5
		}, "between 0 and 1"},
		{"morph-to weights zero", func(r *Request) {
			r.Stylize.MorphTo = []Style{{Source: Source{Path: "m.png"}}}
			r.Stylize.Morph = 0.5
		}, "every morph-to style weight is zero"},
		{"unused morph-to weights zero", func(r *Request) {
			r.Stylize.MorphTo = []Style{{Source: Source{Path: "m.png"}}}
		}, ""},
		{"first set unused at morph 1", func(r *Request) {
			r.Stylize.Styles[0].Weight = 0
			r.Stylize.MorphTo = []Style{{Source: Source{Path: "m.png"}, Weight: 1}}
			r.Stylize.Morph = 1
		}, ""},
		{"morph ok", func(r *Request) {
			r.Stylize.MorphTo = []Style{{Source: Source{Path: "m.png"}, Weight: 1}}
			r.Stylize.Morph = 0.5
		}, ""},
		{"tiny size", func(r *Request) { r.Stylize.Size = 8 }, "size"},
		{"unknown optimizer", func(r *Request) { r.Stylize.Optimizer = "sgd" }, "optimizer"},
		{"unknown network", func(r *Request) { r.Stylize.Network = "alexnet" }, "feature network"},
		{"unknown colour", func(r *Request) { r.Stylize.Colour = "sepia" }, "colour mode"},
		{"colour match", func(r *Request) { r.Stylize.Colour = ColourMatchCholesky }, ""},
		{"unknown init", func(r *Request) { r.Stylize.Init = "random" }, "starting image"},
		{"negative ratio", func(r *Request) { r.Stylize.StyleRatio = -2 }, "style ratio"},
		{"too many scales", func(r *Request) { r.Stylize.Scales = 40 }, "scales"},
		{"negative save-every", func(r *Request) { r.SaveEvery = -1 }, "save-every"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Request{Kind: KindStylize, Stylize: validStylize()}
			c.edit(&r)
			err := r.Validate()
			if c.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.errHas) {
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, c.errHas)
			}
			if !strings.HasPrefix(err.Error(), "job: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	o := validStylize().WithDefaults()
	if o.Size != DefaultSize || o.ContentWeight != 0 || o.StyleWeight != 0 ||
		o.TVWeight != 0 || o.Iterations != DefaultIterations || o.Scales != 0 ||
		o.StyleScale != 1 || o.LearningRate != 0 ||
		o.Optimizer != DefaultOptimizer || o.Seed != 0 {
		t.Errorf("defaults not filled: %+v", o)
	}
	short := StylizeOptions{Iterations: 3, Optimizer: OptimizerAdam}.WithDefaults()
	if short.Iterations != 3 || short.LearningRate != DefaultLearningRate {
		t.Errorf("iterations %d (want 3), learning rate %v", short.Iterations, short.LearningRate)
	}
	set := StylizeOptions{Size: 64, ContentWeight: 2, StyleWeight: 3, TVWeight: -1, Iterations: 7, Scales: 2, Optimizer: OptimizerAdam}
	if got := set.WithDefaults(); got.Size != 64 || got.ContentWeight != 2 || got.StyleWeight != 3 || got.TVWeight != -1 ||
		got.Iterations != 7 || got.Scales != 2 || got.Optimizer != OptimizerAdam {
		t.Errorf("WithDefaults changed set fields: %+v", got)
	}
}

// TestStylizeJSON: the options round trip through JSON (the settings saved
// in image metadata), without in-memory images.
func TestStylizeJSON(t *testing.T) {
	o := validStylize().WithDefaults()
	o.MorphTo = []Style{{Source: Source{Path: "m.png"}, Weight: 0.5}}
	o.Morph, o.Seed, o.Colour = 0.25, 42, ColourLuminance
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var back StylizeOptions
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(data) {
		t.Errorf("round trip changed the options:\n%s\n%s", data, again)
	}
}

func TestParamsMerge(t *testing.T) {
	a := Params{ContentWeight: Float(1), Morph: Float(0.2)}
	mix := []float64{1, 2}
	b := Params{Morph: Float(0.8), StyleMix: mix, Colour: Colour(ColourLuminance)}
	m := a.Merge(b)
	mix[0] = 9
	*b.Morph = 0
	if *m.ContentWeight != 1 || *m.Morph != 0.8 || m.StyleMix[0] != 1 || *m.Colour != ColourLuminance || m.TVWeight != nil {
		t.Errorf("merge wrong or aliased: %+v", m)
	}
	if !(Params{}).IsZero() || m.IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestUpdateKind(t *testing.T) {
	for k, want := range map[UpdateKind]bool{Progress: false, Frame: false, Done: true, Cancelled: true, Error: true} {
		if k.Final() != want {
			t.Errorf("%v.Final() = %v", k, !want)
		}
	}
	if Cancelled.String() != "cancelled" || UpdateKind(99).String() != "unknown" {
		t.Error("UpdateKind names wrong")
	}
	if f := (Update{Iteration: 5, Total: 20}).Fraction(); f != 0.25 {
		t.Errorf("Fraction %v", f)
	}
}

func TestPlain(t *testing.T) {
	base := errors.New("imageio: cannot open c.png: there is no such file")
	cases := []struct {
		err  error
		want string
	}{
		{base, "cannot open c.png: there is no such file"},
		{fmt.Errorf("runner: the content image: %w", base), "the content image: cannot open c.png: there is no such file"},
		{errors.New("style: invalid request: features: the image is too small."), "invalid request: the image is too small"},
		{errors.New("modelling: keep me"), "modelling: keep me"},
	}
	for _, c := range cases {
		got := Plain(c.err)
		if got.Error() != c.want {
			t.Errorf("Plain(%q) = %q, want %q", c.err, got, c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("Plain(%q) does not wrap the original", c.err)
		}
		if Plain(got) != got {
			t.Errorf("Plain is not idempotent on %q", got)
		}
	}
	if Plain(nil) != nil {
		t.Error("Plain(nil) != nil")
	}
}
