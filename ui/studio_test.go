package ui

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// newTestStudio builds a studio on Fyne's test app whose UI callbacks are
// serialised by a lock, as the real driver's single UI goroutine does, and
// preloads opts. Test code that changes the studio's state while loads
// may run goes through s.onUI too.
func newTestStudio(t *testing.T, opts Options, pick picker) *studio {
	s := newStudio(test.NewTempApp(t), opts, pick)
	var mu sync.Mutex
	s.onUI = func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	s.onUI(s.preload)
	return s
}

// noPick fails the test if a file dialog is asked for.
func noPick(t *testing.T) picker {
	return func(string, string) (string, error) {
		t.Error("unexpected file dialog")
		return "", errPickCancelled
	}
}

// texts collects the text of every label and rich text under o.
func texts(o fyne.CanvasObject) []string {
	var out []string
	switch w := o.(type) {
	case *widget.Label:
		return append(out, w.Text)
	case *widget.RichText:
		return append(out, w.String())
	case *fyne.Container:
		for _, c := range w.Objects {
			out = append(out, texts(c)...)
		}
		return out
	}
	if w, ok := o.(fyne.Widget); ok {
		for _, c := range test.WidgetRenderer(w).Objects() {
			out = append(out, texts(c)...)
		}
	}
	return out
}

// overlayText returns the text of the top overlay (a dialog), "" if none.
func overlayText(w fyne.Window) string {
	top := w.Canvas().Overlays().Top()
	if top == nil {
		return ""
	}
	return strings.Join(texts(top), "\n")
}

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{200, 30, 40, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStudioWindow(t *testing.T) {
	s := newTestStudio(t, Options{}, noPick(t))
	if got := s.window.Title(); got != "Atelier" {
		t.Errorf("title = %q, want Atelier", got)
	}
	var names []string
	for _, it := range s.tabs.Items {
		names = append(names, it.Text)
	}
	if got := strings.Join(names, ","); got != "Style,Texture,Upscale" {
		t.Errorf("tabs = %s, want Style,Texture,Upscale", got)
	}
	if s.tabs.Selected() != s.tabs.Items[0] {
		t.Errorf("selected tab = %q, want Style", s.tabs.Selected().Text)
	}
	if got := s.content.open.Text; got != "Open content image…" {
		t.Errorf("content button = %q", got)
	}
	all := strings.Join(texts(s.tabs.Items[0].Content), "\n")
	for _, want := range []string{"Content", "Style", "No content image open.", "No style image open."} {
		if !strings.Contains(all, want) {
			t.Errorf("Style tab lacks %q; it shows:\n%s", want, all)
		}
	}
	if s.content.image.Image != nil {
		t.Error("empty studio shows a content image")
	}
}

func TestOpenBadImageShowsError(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(text, []byte("these are notes, not pixels"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.png")
	writePNG(t, good, 64, 48)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "cut.png")
	if err := os.WriteFile(truncated, data[:40], 0o644); err != nil { // inside the IHDR chunk
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.png")
	if err := os.WriteFile(damaged, data[:len(data)-20], 0o644); err != nil { // pixel data cut short
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"not an image", text, `Could not open "notes.png": it is not a PNG, JPEG or GIF image.`},
		{"truncated", truncated, `Could not open "cut.png": the file ends too early (it may be incomplete).`},
		{"damaged", damaged, `Could not open "damaged.png": the image data is damaged.`},
		{"missing", filepath.Join(dir, "gone.jpg"), `Could not open "gone.jpg": the file does not exist.`},
		{"folder", dir, "it is a folder, not an image."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStudio(t, Options{}, noPick(t))
			s.load(s.content, tc.path)
			s.pending.Wait()
			got := overlayText(s.window)
			if got == "" {
				t.Fatal("no dialog shown")
			}
			if !strings.Contains(got, "Error") || !strings.Contains(got, tc.want) {
				t.Errorf("dialog says %q, want an error containing %q", got, tc.want)
			}
			if s.content.image.Image != nil || s.content.path != "" {
				t.Error("a failed open changed the pane")
			}
		})
	}
}

func TestOpenImageShowsPreview(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name        string
		w, h        int
		pw, ph      int // expected preview size
		wantCaption string
	}{
		{"small kept as is", 64, 48, 64, 48, "small.png — 64 × 48 PNG"},
		{"large scaled down", 2560, 1000, previewSide, 500, "large.png — 2560 × 1000 PNG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.Fields(tc.wantCaption)[0])
			writePNG(t, path, tc.w, tc.h)
			s := newTestStudio(t, Options{}, noPick(t))
			s.load(s.style, path)
			s.pending.Wait()
			if msg := overlayText(s.window); msg != "" {
				t.Fatalf("unexpected dialog: %s", msg)
			}
			img, ok := s.style.image.Image.(*image.RGBA)
			if !ok {
				t.Fatalf("pane holds %T, want *image.RGBA", s.style.image.Image)
			}
			if b := img.Bounds(); b.Dx() != tc.pw || b.Dy() != tc.ph || b.Min != (image.Point{}) || img.Stride != 4*tc.pw {
				t.Errorf("preview bounds %v stride %d, want %dx%d tightly packed", b, img.Stride, tc.pw, tc.ph)
			}
			if c := img.RGBAAt(tc.pw/2, tc.ph/2); c.R < 190 || c.G > 40 || c.B > 50 {
				t.Errorf("preview centre = %v, want about {200 30 40}", c)
			}
			if got := s.style.caption.Text; got != tc.wantCaption {
				t.Errorf("caption = %q, want %q", got, tc.wantCaption)
			}
			if s.style.empty.Visible() {
				t.Error("placeholder still visible")
			}
		})
	}
}

func TestOpenButton(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.png")
	writePNG(t, good, 32, 32)
	bad := filepath.Join(dir, "bad.jpg")
	if err := os.WriteFile(bad, []byte("GIF89a but not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		path      string
		err       error
		wantImage bool
		wantText  string // "" = no dialog
	}{
		{"good file", good, nil, true, ""},
		{"bad file", bad, nil, false, `Could not open "bad.jpg"`},
		{"cancelled", "", errPickCancelled, false, ""},
		{"native dialog broken", "", errors.New("no GTK"), false, "Open File"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked, askedDir string
			pick := func(title, dir string) (string, error) { asked, askedDir = title, dir; return tc.path, tc.err }
			s := newTestStudio(t, Options{}, pick)
			test.Tap(s.content.open)
			s.pending.Wait()
			if asked != "Open content image" || askedDir != "" {
				t.Errorf("dialog title %q in %q, want \"Open content image\" in the default folder", asked, askedDir)
			}
			if got := s.content.image.Image != nil; got != tc.wantImage {
				t.Errorf("image shown = %v, want %v", got, tc.wantImage)
			}
			got := overlayText(s.window)
			if (got == "") != (tc.wantText == "") || !strings.Contains(got, tc.wantText) {
				t.Errorf("dialog text = %q, want %q", got, tc.wantText)
			}
			if s.content.open.Disabled() {
				t.Error("Open button left disabled")
			}
			if tc.err != nil && !errors.Is(tc.err, errPickCancelled) {
				// Once broken, the native dialog is not tried again.
				s.window.Canvas().Overlays().Remove(s.window.Canvas().Overlays().Top())
				asked = ""
				test.Tap(s.style.open)
				s.pending.Wait()
				if asked != "" || !strings.Contains(overlayText(s.window), "Open File") {
					t.Errorf("second Open asked the native dialog (%q) or showed no Fyne dialog", asked)
				}
			}
		})
	}
}

func TestLatestChoiceWins(t *testing.T) {
	dir := t.TempDir()
	big, small := filepath.Join(dir, "big.png"), filepath.Join(dir, "small.png")
	writePNG(t, big, 2400, 1600) // slower to decode than small
	writePNG(t, small, 8, 8)
	s := newTestStudio(t, Options{}, noPick(t))
	s.onUI(func() {
		s.load(s.content, big)
		s.load(s.content, small)
	})
	s.pending.Wait()
	if s.content.path != small {
		t.Errorf("pane shows %q, want the later choice %q", s.content.path, small)
	}
}

func TestOptionsPreload(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "c.png")
	writePNG(t, content, 40, 30)
	s := newTestStudio(t, Options{Content: content, Autostart: true}, noPick(t))
	s.pending.Wait()
	if s.content.path != content || s.content.image.Image == nil {
		t.Errorf("content pane shows %q, want %q", s.content.path, content)
	}
	if s.style.image.Image != nil {
		t.Error("style pane should stay empty")
	}
	if !s.opts.Autostart {
		t.Error("Autostart not recorded")
	}
}

func TestOpenStartsInLastFolder(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.png")
	writePNG(t, good, 8, 8)
	var askedDir string
	pick := func(_, dir string) (string, error) { askedDir = dir; return "", errPickCancelled }
	s := newTestStudio(t, Options{Content: good}, pick)
	s.pending.Wait()
	test.Tap(s.style.open)
	s.pending.Wait()
	if askedDir != dir {
		t.Errorf("file dialog opened in %q, want the last image's folder %q", askedDir, dir)
	}
}
