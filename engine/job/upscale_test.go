package job

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestUpscaleValidate(t *testing.T) {
	cases := []struct {
		name   string
		o      UpscaleOptions
		errHas string
	}{
		{"defaults", UpscaleOptions{Input: Source{Path: "a.png"}}, ""},
		{"network", UpscaleOptions{Input: Source{Path: "a.png"}, Factor: 4, Method: "esrgan-slim", Tile: -1}, ""},
		{"no input", UpscaleOptions{Factor: 2}, "image to upscale"},
		{"negative factor", UpscaleOptions{Input: Source{Path: "a.png"}, Factor: -2}, "factor"},
		{"huge factor", UpscaleOptions{Input: Source{Path: "a.png"}, Factor: MaxUpscaleFactor + 1}, "factor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := (&Request{Kind: KindUpscale, Upscale: &c.o}).Validate()
			if c.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.errHas) {
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, c.errHas)
			}
		})
	}
}

func TestUpscaleDefaultsAndJSON(t *testing.T) {
	d := UpscaleOptions{Input: Source{Path: "a.png"}}.WithDefaults()
	if d.Factor != DefaultUpscaleFactor || d.Method != DefaultUpscaleMethod {
		t.Errorf("defaults: %+v", d)
	}
	o := UpscaleOptions{Input: Source{Path: "a.png"}, Factor: 4, Method: "esrgan-thick", Tile: 64}
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"input":{"path":"a.png"},"factor":4,"method":"esrgan-thick","tile":64}`; string(data) != want {
		t.Errorf("JSON %s, want %s", data, want)
	}
}

func TestUpscaleMethodScale(t *testing.T) {
	m := UpscaleMethod{Name: "esrgan-slim", Scales: []UpscaleScale{{Factor: 2, Model: "esrgan-slim-x2", Present: true}, {Factor: 4, Model: "esrgan-slim-x4"}}}
	s, ok := m.Scale(4)
	if !ok || s.Present || s.FetchCommand() != "atelier models fetch esrgan-slim-x4" {
		t.Errorf("Scale(4) = %+v, %v; fetch %q", s, ok, s.FetchCommand())
	}
	if _, ok := m.Scale(3); ok {
		t.Error("Scale(3) found a factor the method lacks")
	}
	if (UpscaleScale{Factor: 2}).FetchCommand() != "" {
		t.Error("a scale without a model has a fetch command")
	}
}
