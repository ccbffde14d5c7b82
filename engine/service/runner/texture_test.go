package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/model"
	"atelier/engine/service"
	"atelier/engine/texture"
	"atelier/weights"
)

func textureService(t *testing.T, f *Finder) *service.Service {
	t.Helper()
	return service.New(map[job.Kind]service.Runner{job.KindTexture: &Texture{Finder: f}})
}

func textureRequest(t *testing.T, o job.TextureOptions) job.Request {
	t.Helper()
	_, sample := smallInputs(t)
	o.Examples = []job.Source{{Path: sample}}
	return job.Request{Kind: job.KindTexture, Texture: &o}
}

// settingsOf decodes the texture options recorded in a result.
func settingsOf(t *testing.T, meta map[string]string) job.TextureOptions {
	t.Helper()
	var o job.TextureOptions
	if err := json.Unmarshal([]byte(meta[imageio.SettingsKey]), &o); err != nil {
		t.Fatalf("settings %q: %v", meta[imageio.SettingsKey], err)
	}
	return o
}

// TestTexturePatch runs the patch method through the service: frames, the
// final image at the asked size, the file and its settings, and a rerun
// with the recorded random seed giving the same pixels.
func TestTexturePatch(t *testing.T) {
	svc := textureService(t, nil) // the patch method needs no network
	req := textureRequest(t, job.TextureOptions{Width: 48, Height: 40, Method: job.TexturePatch, Tileable: true,
		Iterations: 2, Scales: 2, PatchSize: 5, SampleSide: 64})
	req.Out = filepath.Join(t.TempDir(), "tex.png")
	h, err := svc.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u := finish(t, h)
	if u.Kind != job.Done {
		t.Fatalf("job ended %v: %v", u.Kind, u.Err)
	}
	if u.Image == nil || u.Image.Rect.Dx() != 48 || u.Image.Rect.Dy() != 40 {
		t.Fatalf("final image %v, want 48x40", u.Image.Rect)
	}
	if u.Total <= 0 || u.Iteration != u.Total || u.Scales != 2 {
		t.Errorf("final progress %d/%d at %d scales", u.Iteration, u.Total, u.Scales)
	}
	if u.Losses.Total <= 0 || u.Losses.Style != 0 {
		t.Errorf("patch losses %+v", u.Losses)
	}
	meta, err := imageio.ReadMetadata(req.Out)
	if err != nil {
		t.Fatal(err)
	}
	got := settingsOf(t, meta)
	if got.Seed == 0 || got.Method != job.TexturePatch || !got.Tileable || got.Width != 48 || got.Height != 40 ||
		got.PatchSize != 5 || got.Iterations != 2 || got.SampleSide != 64 || !filepath.IsAbs(got.Examples[0].Path) {
		t.Errorf("recorded settings %+v", got)
	}
	if meta[KindKey] != "texture" || meta[NetworkKey] != "" {
		t.Errorf("kind %q, network %q", meta[KindKey], meta[NetworkKey])
	}

	// The recorded seed makes the same texture.
	again := req
	opts := *req.Texture
	opts.Seed = got.Seed
	again.Texture, again.Out = &opts, ""
	h, err = svc.Start(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	v := finish(t, h)
	if v.Kind != job.Done || !bytes.Equal(v.Image.Pix, u.Image.Pix) {
		t.Errorf("rerun with seed %d: %v, same pixels %v", got.Seed, v.Kind, v.Kind == job.Done && bytes.Equal(v.Image.Pix, u.Image.Pix))
	}
	// Another seed makes another.
	opts.Seed = got.Seed + 1
	h, err = svc.Start(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if w := finish(t, h); w.Kind != job.Done || bytes.Equal(w.Image.Pix, u.Image.Pix) {
		t.Errorf("another seed gave %v with the same pixels", w.Kind)
	}
}

// TestTextureGram runs a tiny Gram synthesis on the partial VGG19.
func TestTextureGram(t *testing.T) {
	if raceEnabled {
		t.Skip("loading VGG19 takes long under the race detector; the stylize tests cover it")
	}
	svc := textureService(t, testFinder(t, filepath.Join(inputDir, "empty-cache")))
	req := textureRequest(t, job.TextureOptions{Width: 32, Height: 32, Iterations: 2, Scales: 1, SampleSide: 48, Seed: 3})
	h, err := svc.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u := finish(t, h)
	if u.Kind != job.Done {
		t.Fatalf("job ended %v: %v", u.Kind, u.Err)
	}
	if u.Image.Rect.Dx() != 32 || u.Losses.Style <= 0 || u.Losses.Total != u.Losses.Style {
		t.Errorf("image %v, losses %+v", u.Image.Rect, u.Losses)
	}
	if got := settingsOf(t, u.Metadata); got.Seed != 3 || got.Method != job.TextureGram || got.Tileable {
		t.Errorf("recorded settings %+v", got)
	}
	if u.Metadata[NetworkKey] != ModelVGG19Partial {
		t.Errorf("network recorded as %q", u.Metadata[NetworkKey])
	}
}

// TestTextureGramWithoutNetwork: with no VGG19 anywhere the job fails at
// once with the command that fetches it.
func TestTextureGramWithoutNetwork(t *testing.T) {
	reg, err := model.ParseRegistry(weights.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	f := &Finder{Registry: reg, Store: &model.Store{Root: t.TempDir()}}
	svc := textureService(t, f)
	h, err := svc.Start(context.Background(), textureRequest(t, job.TextureOptions{Width: 32, Height: 32}))
	if err != nil {
		t.Fatal(err)
	}
	u := finish(t, h)
	if u.Kind != job.Error || !errors.Is(u.Err, ErrNoNetwork) || !strings.Contains(u.Err.Error(), "atelier models fetch") {
		t.Fatalf("got %v: %v; want an error naming the fetch command", u.Kind, u.Err)
	}
}

// TestTextureCancel: cancelling a long patch run ends it promptly with a
// Cancelled update.
func TestTextureCancel(t *testing.T) {
	svc := textureService(t, nil)
	req := textureRequest(t, job.TextureOptions{Width: 128, Height: 128, Method: job.TexturePatch, Iterations: 2000, Seed: 1})
	h, err := svc.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case u := <-h.Updates():
			if u.Kind.Final() {
				t.Fatalf("the job ended %v before it was cancelled", u.Kind)
			}
			if u.Iteration == 0 {
				continue
			}
		case <-deadline:
			t.Fatal("no iteration within 60 s")
		}
		break
	}
	at := time.Now()
	h.Cancel()
	u := h.Wait()
	if u.Kind != job.Cancelled {
		t.Fatalf("ended %v (%v), want cancelled", u.Kind, u.Err)
	}
	if d := time.Since(at); d > 5*time.Second {
		t.Errorf("cancelling took %v", d)
	}
}

// TestTextureRefusals: bad options are refused with plain sentences.
func TestTextureRefusals(t *testing.T) {
	svc := textureService(t, nil)
	if _, err := svc.Start(context.Background(), textureRequest(t, job.TextureOptions{Method: "wavelet"})); !errors.Is(err, job.ErrInvalid) ||
		!strings.Contains(err.Error(), `"wavelet" is not a texture method (gram or patch)`) {
		t.Errorf("unknown method: %v", err)
	}
	// The runner checks the options itself too, when called directly.
	bad := job.Request{Kind: job.KindTexture, Texture: &job.TextureOptions{Examples: []job.Source{{Path: "x.png"}}, Method: "wavelet"}}
	if _, err := (&Texture{}).Run(context.Background(), bad, nil); !errors.Is(err, job.ErrInvalid) {
		t.Errorf("Run with an unknown method: %v", err)
	}
	h, err := svc.Start(context.Background(), job.Request{Kind: job.KindTexture, Texture: &job.TextureOptions{
		Examples: []job.Source{{Path: filepath.Join(t.TempDir(), "missing.png")}}, Method: job.TexturePatch}})
	if err != nil {
		t.Fatal(err)
	}
	if u := finish(t, h); u.Kind != job.Error || !strings.Contains(u.Err.Error(), "texture sample") || strings.HasPrefix(u.Err.Error(), "runner:") {
		t.Errorf("missing sample: %v %v", u.Kind, u.Err)
	}
}

// TestTextureWork: the ETA's work fraction weighs coarse iterations by
// their pixels and falls back to counting when the plan is unknown.
func TestTextureWork(t *testing.T) {
	cases := []struct {
		name string
		fr   texture.Frame
		m    texture.Method
		want float64
	}{
		// Gram, 2 scales of 100 and 200 iterations: the coarse scale is a
		// quarter the cost, 25 of 225 units.
		{"gram end of coarse", texture.Frame{Scale: 0, Scales: 2, Iteration: 100, Total: 300}, texture.Gram, 25.0 / 225},
		{"gram half of fine", texture.Frame{Scale: 1, Scales: 2, Iteration: 100, Total: 300}, texture.Gram, 125.0 / 225},
		// Patch, 3 levels of 15, 5, 5 iterations: costs 1/16, 1/4, 1.
		{"patch coarsest done", texture.Frame{Scale: 0, Scales: 3, Iteration: 15, Total: 25}, texture.Patch, (15.0 / 16) / (15.0/16 + 5.0/4 + 5)},
		{"one scale", texture.Frame{Scale: 0, Scales: 1, Iteration: 50, Total: 200}, texture.Gram, 0.25},
		{"unknown plan", texture.Frame{Scale: 0, Scales: 2, Iteration: 10, Total: 999}, texture.Gram, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			iters := 200
			if c.m == texture.Patch {
				iters = 5
			}
			if got := textureWork(c.fr, c.m, iters); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("work %v, want %v", got, c.want)
			}
		})
	}
}
