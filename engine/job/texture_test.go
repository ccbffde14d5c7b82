package job

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTextureValidate(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(o *TextureOptions)
		errHas string // "" means valid
	}{
		{"valid", func(o *TextureOptions) {}, ""},
		{"patch tileable", func(o *TextureOptions) { o.Method, o.Tileable, o.PatchSize = TexturePatch, true, 7 }, ""},
		{"sample as it is", func(o *TextureOptions) { o.SampleSide = -1 }, ""},
		{"no sample", func(o *TextureOptions) { o.Examples = nil }, "sample is needed"},
		{"empty sample", func(o *TextureOptions) { o.Examples = []Source{{}} }, "sample is needed"},
		{"two samples", func(o *TextureOptions) { o.Examples = append(o.Examples, Source{Path: "b.png"}) }, "one sample, not 2"},
		{"unknown method", func(o *TextureOptions) { o.Method = "wavelet" }, `"wavelet" is not a texture method`},
		{"negative width", func(o *TextureOptions) { o.Width = -3 }, "width and height"},
		{"huge height", func(o *TextureOptions) { o.Height = MaxTextureSide + 1 }, "width and height"},
		{"negative iterations", func(o *TextureOptions) { o.Iterations = -1 }, "iterations"},
		{"too many scales", func(o *TextureOptions) { o.Scales = 9 }, "scales"},
		{"even patch", func(o *TextureOptions) { o.PatchSize = 8 }, "patch size"},
		{"tiny sample side", func(o *TextureOptions) { o.SampleSide = 8 }, "sample side"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := TextureOptions{Examples: []Source{{Path: "a.png"}}, Width: 64, Height: 32}
			c.edit(&o)
			err := (&Request{Kind: KindTexture, Texture: &o}).Validate()
			if c.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.errHas) || !strings.HasPrefix(err.Error(), "job: ") {
				t.Fatalf("error %v, want job: ErrInvalid mentioning %q", err, c.errHas)
			}
		})
	}
}

func TestTextureDefaults(t *testing.T) {
	g := TextureOptions{}.WithDefaults()
	if g.Width != DefaultTextureSide || g.Height != DefaultTextureSide || g.Method != TextureGram ||
		g.Iterations != DefaultGramIterations || g.PatchSize != 0 || g.SampleSide != DefaultSampleSide || g.Seed != 0 || g.Scales != 0 {
		t.Errorf("gram defaults: %+v", g)
	}
	p := TextureOptions{Method: TexturePatch}.WithDefaults()
	if p.Iterations != DefaultPatchIterations || p.PatchSize != DefaultPatchSize {
		t.Errorf("patch defaults: %+v", p)
	}
	set := TextureOptions{Width: 10, Height: 20, Method: TexturePatch, Iterations: 3, PatchSize: 5, SampleSide: -1, Seed: 7}
	if got := set.WithDefaults(); !reflect.DeepEqual(got, set) {
		t.Errorf("WithDefaults changed set fields: %+v", got)
	}
}

// TestTextureJSON pins the JSON names recorded in metadata.
func TestTextureJSON(t *testing.T) {
	o := TextureOptions{Examples: []Source{{Path: "s.png"}}, Width: 64, Height: 48, Method: TexturePatch,
		Tileable: true, Iterations: 4, Scales: 2, PatchSize: 7, SampleSide: 256, Seed: 42}
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"examples":[{"path":"s.png"}],"width":64,"height":48,"method":"patch","tileable":true,"iterations":4,"scales":2,"patch_size":7,"sample_side":256,"seed":42}`
	if string(data) != want {
		t.Errorf("JSON\n%s\nwant\n%s", data, want)
	}
	var back TextureOptions
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Method != o.Method || back.Seed != o.Seed || !back.Tileable || back.Examples[0].Path != "s.png" {
		t.Errorf("round trip: %+v", back)
	}
}
