package runner

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/model"
	"atelier/engine/service"
	"atelier/engine/style"
	"atelier/weights"
)

// sharedDir is the read-only reference folder (ATELIER_SHARED or
// ../shared beside the repository root).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := model.SharedDir()
	if err != nil {
		t.Skipf("no shared reference folder: %v", err)
	}
	return dir
}

// testFinder finds networks in an empty cache and the shared folder: the
// partial VGG19 only, whatever the machine's own cache holds.
func testFinder(t *testing.T, cache string) *Finder {
	t.Helper()
	reg, err := model.ParseRegistry(weights.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if cache == "" {
		cache = t.TempDir()
	}
	return &Finder{Registry: reg, Store: &model.Store{Root: cache, Shared: sharedDir(t)}}
}

// inputDir holds small copies of the shared test pictures, made once per
// run: decoding the full-size JPEGs for every job would dominate the
// tests' time under the race detector.
var inputDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "atelier-runner-test-")
	if err != nil {
		panic(err)
	}
	inputDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var inputsOnce sync.Once

// smallInputs returns the content and style pictures (tubingen and
// starry_night) scaled to a longer side of 96 px, as PNG files.
func smallInputs(t *testing.T) (content, style string) {
	t.Helper()
	shared := sharedDir(t)
	content, style = filepath.Join(inputDir, "content.png"), filepath.Join(inputDir, "style.png")
	inputsOnce.Do(func() {
		for src, dst := range map[string]string{"images/content/tubingen.jpg": content, "images/style/starry_night.jpg": style} {
			img, err := imageio.Load(filepath.Join(shared, src), imageio.Options{MaxSide: 96})
			if err == nil {
				err = imageio.SaveTensor(dst, img.RGB, nil, imageio.SaveOptions{})
			}
			if err != nil {
				t.Fatalf("making a small copy of %s: %v", src, err)
			}
		}
	})
	if _, err := os.Stat(style); err != nil {
		t.Fatalf("the small test pictures are missing: %v", err)
	}
	return content, style
}

// stylize is shared by the tests so that the network loads (and warms up)
// once; it finds the partial VGG19 only.
var stylize struct {
	once sync.Once
	r    *Stylize
}

func testService(t *testing.T) *service.Service {
	t.Helper()
	f := testFinder(t, filepath.Join(inputDir, "empty-cache"))
	stylize.once.Do(func() { stylize.r = &Stylize{Finder: f} })
	return service.New(map[job.Kind]service.Runner{job.KindStylize: stylize.r})
}

func shortRequest(t *testing.T, iters int) job.Request {
	content, style := smallInputs(t)
	return job.Request{Kind: job.KindStylize, Stylize: &job.StylizeOptions{
		Content:    job.Source{Path: content},
		Styles:     []job.Style{{Source: job.Source{Path: style}, Weight: 1}},
		Size:       64,
		Iterations: iters,
		Scales:     1,
		Network:    job.NetworkVGG19,
	}}
}

func finish(t *testing.T, h *service.Handle) job.Update {
	t.Helper()
	var frames int
	var last job.Update
	timeout := time.After(60 * time.Second)
	for {
		select {
		case u, ok := <-h.Updates():
			if !ok {
				if !last.Kind.Final() {
					t.Fatalf("the channel closed after a %v update", last.Kind)
				}
				if last.Kind == job.Done && frames == 0 && last.Frame == nil {
					t.Error("no frame reached the reader")
				}
				return last
			}
			if u.Frame != nil {
				frames++
			}
			last = u
		case <-timeout:
			h.Cancel()
			t.Fatal("the job did not finish within 60 s")
		}
	}
}

// TestStylizeShortRun runs a real 64 px job with the partial VGG19 through
// the service and checks the result, its file and the recorded settings.
func TestStylizeShortRun(t *testing.T) {
	svc := testService(t)
	req := shortRequest(t, 3)
	req.Out = filepath.Join(t.TempDir(), "out.png")
	req.Stylize.Seed = 7
	h, err := svc.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u := finish(t, h)
	if u.Kind != job.Done {
		t.Fatalf("job ended %v: %v", u.Kind, u.Err)
	}
	if u.Image == nil || max(u.Image.Rect.Dx(), u.Image.Rect.Dy()) != 64 {
		t.Fatalf("final image %v, want a longer side of 64", u.Image.Rect)
	}
	if u.Iteration != 3 || u.Total != 3 {
		t.Errorf("final progress %d/%d, want 3/3", u.Iteration, u.Total)
	}
	if u.Losses.Total <= 0 || u.Losses.Style <= 0 || u.Losses.Content < 0 {
		t.Errorf("implausible losses %+v", u.Losses)
	}
	if u.Out != req.Out {
		t.Errorf("Out %q, want %q", u.Out, req.Out)
	}
	meta, err := imageio.ReadMetadata(req.Out)
	if err != nil {
		t.Fatal(err)
	}
	var got job.StylizeOptions
	if err := json.Unmarshal([]byte(meta[imageio.SettingsKey]), &got); err != nil {
		t.Fatalf("settings in the file: %v (%q)", err, meta[imageio.SettingsKey])
	}
	def := style.DefaultSettings() // VGG19's: absolute losses
	if got.Seed != 7 || got.Size != 64 || got.Iterations != 3 || got.Scales != 1 || got.Network != job.NetworkVGG19 ||
		got.ContentWeight != def.ContentWeight || got.StyleWeight != def.StyleWeight || got.TVWeight != def.TVWeight ||
		len(got.Styles) != 1 || got.Styles[0].Weight != 1 || !filepath.IsAbs(got.Content.Path) {
		t.Errorf("recorded settings %+v", got)
	}
	if meta[NetworkKey] != ModelVGG19Partial {
		t.Errorf("network recorded as %q", meta[NetworkKey])
	}
	if u.Metadata[imageio.SettingsKey] != meta[imageio.SettingsKey] {
		t.Error("the done update's metadata differs from the file's")
	}

	// A second job reuses the loaded network and must refuse to replace
	// the file before doing any work.
	start := time.Now()
	h, err = svc.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u = finish(t, h)
	if u.Kind != job.Error || !errors.Is(u.Err, imageio.ErrExists) || !strings.Contains(u.Err.Error(), "already exists") {
		t.Fatalf("rerun onto an existing file: %v %v", u.Kind, u.Err)
	}
	if u.Iteration != 0 {
		t.Errorf("the refused job ran %d iterations first", u.Iteration)
	}
	t.Logf("refusal took %v", time.Since(start))
}

// TestStylizeSteeringAndCancel steers a real job (the colour mode), then
// cancels another one mid-run.
func TestStylizeSteeringAndCancel(t *testing.T) {
	svc := testService(t)
	req := shortRequest(t, 4)
	h, err := svc.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	h.Steer(job.Params{Colour: job.Colour(job.ColourLuminance), StyleWeight: job.Float(50)})
	u := finish(t, h)
	if u.Kind != job.Done {
		t.Fatalf("job ended %v: %v", u.Kind, u.Err)
	}
	var got job.StylizeOptions
	if err := json.Unmarshal([]byte(u.Metadata[imageio.SettingsKey]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Colour != job.ColourLuminance || got.StyleWeight != 50 {
		t.Errorf("steering did not reach the job: colour %q, style weight %v", got.Colour, got.StyleWeight)
	}

	req = shortRequest(t, 100000)
	h, err = svc.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for u := range h.Updates() {
		if u.Iteration >= 2 {
			h.Cancel()
			break
		}
	}
	u = finish(t, h)
	if u.Kind != job.Cancelled || u.Err != nil {
		t.Fatalf("cancelled job ended %v: %v", u.Kind, u.Err)
	}
	if u.Frame == nil {
		t.Error("the cancelled update lost the last frame")
	}
}

// TestStylizeBadInput: every bad input ends in one plain sentence.
func TestStylizeBadInput(t *testing.T) {
	dir := t.TempDir()
	tiny := filepath.Join(dir, "tiny.png")
	writePNG(t, tiny, 8, 8)
	corrupt := filepath.Join(dir, "corrupt.jpg")
	if err := os.WriteFile(corrupt, []byte("\xff\xd8\xff\xe0 not really a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(r *job.Request)
		want string
	}{
		{"missing content", func(r *job.Request) { r.Stylize.Content.Path = filepath.Join(dir, "nope.png") }, "content image: cannot open nope.png: there is no such file"},
		{"tiny style", func(r *job.Request) { r.Stylize.Styles[0].Path = tiny }, "style image"},
		{"corrupt content", func(r *job.Request) { r.Stylize.Content.Path = corrupt }, "content image"},
		{"bad output type", func(r *job.Request) { r.Out = filepath.Join(dir, "out.bmp") }, "bmp"},
		{"no resnet", func(r *job.Request) { r.Stylize.Network = job.NetworkResNet50 }, "atelier models fetch resnet50-imagenet"},
		{"missing starting image", func(r *job.Request) { r.Stylize.Start = &job.Source{Path: filepath.Join(dir, "gone.png")} }, "starting image: cannot open gone.png"},
	}
	svc := testService(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := shortRequest(t, 2)
			c.edit(&req)
			h, err := svc.Start(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			u := finish(t, h)
			if u.Kind != job.Error {
				t.Fatalf("ended %v, want error", u.Kind)
			}
			msg := u.Err.Error()
			if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || strings.HasPrefix(msg, "runner:") || strings.Contains(msg, "imageio:") {
				t.Errorf("error %q: want one plain sentence mentioning %q", msg, c.want)
			}
		})
	}
}

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
}

// TestFinderPreference: auto picks the full VGG19, else ResNet-50, else
// the partial VGG19; "vgg19" never picks ResNet-50. Model files are sparse
// stand-ins of the manifest's sizes.
func TestFinderPreference(t *testing.T) {
	cache := t.TempDir()
	f := testFinder(t, cache)
	place := func(name string) {
		e, err := f.Registry.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(cache, name)
		for _, file := range e.Files {
			p := filepath.Join(dir, filepath.FromSlash(file.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			fh, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := fh.Truncate(file.Size); err != nil {
				t.Fatal(err)
			}
			fh.Close()
		}
	}
	check := func(kind, want string) {
		t.Helper()
		n, err := f.Find(kind)
		if err != nil {
			t.Fatalf("Find(%q): %v", kind, err)
		}
		if n.Model != want {
			t.Errorf("Find(%q) = %s, want %s", kind, n.Model, want)
		}
	}
	check(job.NetworkAuto, ModelVGG19Partial)
	if _, err := f.Find(job.NetworkResNet50); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("Find(resnet50) without it: %v", err)
	}
	place(ModelResNet50)
	check(job.NetworkAuto, ModelResNet50)
	check(job.NetworkVGG19, ModelVGG19Partial)
	check(job.NetworkResNet50, ModelResNet50)
	place(ModelVGG19Full)
	check(job.NetworkAuto, ModelVGG19Full)
	check(job.NetworkVGG19, ModelVGG19Full)

	empty := &Finder{Registry: f.Registry, Store: &model.Store{Root: t.TempDir()}}
	if _, err := empty.Find(job.NetworkAuto); !errors.Is(err, ErrNoNetwork) || !strings.Contains(err.Error(), "atelier models fetch") {
		t.Errorf("Find with nothing present: %v", err)
	}
	if _, err := empty.Find("alexnet"); err == nil {
		t.Error("Find accepted an unknown network")
	}
}

func TestIntermediatePath(t *testing.T) {
	for in, want := range map[string]string{
		"out.png":         "out_iter0010.png",
		"a/b.c/pic.jpeg":  "a/b.c/pic_iter0010.jpeg",
		"noext":           "noext_iter0010",
		"many.dots.x.jpg": "many.dots.x_iter0010.jpg",
	} {
		if got := IntermediatePath(in, 10); got != want {
			t.Errorf("IntermediatePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStylizeContinue: a job with Start begins from that picture, not the
// content: one iteration from a flat blue start stays far nearer blue than
// one iteration from the content does. The picture in memory is not
// recorded in the settings.
func TestStylizeContinue(t *testing.T) {
	svc := testService(t)
	blue := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := 0; i < len(blue.Pix); i += 4 {
		blue.Pix[i+2], blue.Pix[i+3] = 255, 255
	}
	run := func(start *job.Source) job.Update {
		req := shortRequest(t, 1)
		req.Stylize.Start = start
		h, err := svc.Start(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		u := finish(t, h)
		if u.Kind != job.Done {
			t.Fatalf("job ended %v: %v", u.Kind, u.Err)
		}
		return u
	}
	fresh, cont := run(nil), run(&job.Source{Image: blue})
	fromBlue := func(img *image.RGBA) float64 {
		var sum float64
		for i := 0; i < len(img.Pix); i += 4 {
			sum += float64(img.Pix[i]) + float64(img.Pix[i+1]) + float64(255-int(img.Pix[i+2]))
		}
		return sum / float64(len(img.Pix)/4*3)
	}
	if a, b := fromBlue(cont.Image), fromBlue(fresh.Image); !(a < b/2) {
		t.Errorf("mean distance from blue: %.1f continuing from blue, %.1f from the content; want under half", a, b)
	}
	if s := cont.Metadata[imageio.SettingsKey]; strings.Contains(s, `"start"`) {
		t.Errorf("a starting picture in memory was recorded: %s", s)
	}
}

// TestStylizeHugeInputNotice: a content picture over HugeInputPixels is
// scaled down as it is read and the job says so in a notice; an ordinary
// one larger than the output is scaled silently.
func TestStylizeHugeInputNotice(t *testing.T) {
	if raceEnabled {
		t.Skip("decoding a 42-megapixel picture takes too long under the race detector")
	}
	svc := testService(t)
	dir := t.TempDir()
	notices := func(content string) []string {
		req := shortRequest(t, 1)
		req.Stylize.Content = job.Source{Path: content}
		h, err := svc.Start(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for u := range h.Updates() {
			got = append(got, u.Notices...)
			if u.Kind == job.Error {
				t.Fatalf("the job failed: %v", u.Err)
			}
		}
		return got
	}
	huge := filepath.Join(dir, "huge.png")
	writePNG(t, huge, 7000, 6000)
	got := notices(huge)
	if len(got) != 1 || !strings.Contains(got[0], "7000x6000") || !strings.Contains(got[0], "scaled down to 64x55") {
		t.Errorf("notices for a 42-megapixel content image: %q, want one naming 7000x6000 and 64x55", got)
	}
	ordinary := filepath.Join(dir, "ordinary.png")
	writePNG(t, ordinary, 700, 600)
	if got := notices(ordinary); len(got) != 0 {
		t.Errorf("notices for a 700x600 content image: %q, want none", got)
	}
}

// TestStylizeUnusualInputs: CMYK JPEG, 16-bit interlaced PNG and
// grayscale-with-alpha content pictures (engine/imageio's test files) each
// give a picture, the CMYK one with its notice.
func TestStylizeUnusualInputs(t *testing.T) {
	svc := testService(t)
	root, err := filepath.Abs(filepath.Join("..", "..", "imageio", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, notice string }{
		{"ycck.jpg", "CMYK"},
		{"adam7_16.png", ""},
		{"graya.png", ""},
	} {
		t.Run(c.file, func(t *testing.T) {
			req := shortRequest(t, 1)
			req.Stylize.Content = job.Source{Path: filepath.Join(root, c.file)}
			h, err := svc.Start(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var notices []string
			var last job.Update
			for u := range h.Updates() {
				notices = append(notices, u.Notices...)
				last = u
			}
			if last.Kind != job.Done || last.Image == nil {
				t.Fatalf("final update %v (%v), want a picture", last.Kind, last.Err)
			}
			joined := strings.Join(notices, " | ")
			if c.notice != "" && !strings.Contains(joined, c.notice) {
				t.Errorf("notices %q, want one about %s", joined, c.notice)
			}
		})
	}
}
