package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
)

// centre returns the middle of o in window coordinates.
func centre(o fyne.CanvasObject) fyne.Position {
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	return at.Add(fyne.NewPos(o.Size().Width/2, o.Size().Height/2))
}

func fileURIs(paths ...string) []fyne.URI {
	var out []fyne.URI
	for _, p := range paths {
		out = append(out, storage.NewFileURI(p))
	}
	return out
}

func styleNames(s *studio) []string {
	var out []string
	for _, it := range s.sc.styles {
		out = append(out, filepath.Base(it.path))
	}
	return out
}

func TestDropOnStyleTab(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png"), filepath.Join(dir, "c.png")
	for _, p := range []string{a, b, c} {
		writePNG(t, p, 24, 16)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		content     string // opened before the drop
		where       func(s *studio) fyne.Position
		files       []string
		wantContent string
		wantStyles  string
		wantDialog  string // "" = none
	}{
		{"one file on the content pane", "", func(s *studio) fyne.Position { return centre(s.content.object) },
			[]string{a}, "a.png", "", ""},
		{"content pane replaces the content, the rest are styles", a, func(s *studio) fyne.Position { return centre(s.content.object) },
			[]string{b, c}, "b.png", "c.png", ""},
		{"style pane adds styles only", "", func(s *studio) fyne.Position { return centre(s.style.object) },
			[]string{a, b}, "", "a.png,b.png", ""},
		{"elsewhere without content: content then styles", "", func(s *studio) fyne.Position { return centre(s.sc.output) },
			[]string{a, b, c}, "a.png", "b.png,c.png", ""},
		{"elsewhere with content: all styles", c, func(s *studio) fyne.Position { return centre(s.sc.output) },
			[]string{a, b}, "c.png", "a.png,b.png", ""},
		{"a text file is explained, the images still open", "", func(s *studio) fyne.Position { return centre(s.content.object) },
			[]string{notes, a}, "a.png", "", `Could not open "notes.txt": it is not a PNG, JPEG or GIF image.`},
		{"only a text file", "", func(s *studio) fyne.Position { return centre(s.content.object) },
			[]string{notes}, "", "", `Could not open "notes.txt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStudio(t, Options{Content: tc.content}, noPick(t))
			s.pending.Wait()
			s.onUI(func() { s.dropped(tc.where(s), fileURIs(tc.files...)) })
			s.pending.Wait()
			if got := filepath.Base(s.content.path); tc.wantContent != "" && got != tc.wantContent || tc.wantContent == "" && s.content.path != "" {
				t.Errorf("content = %q, want %q", s.content.path, tc.wantContent)
			}
			if tc.wantContent != "" && s.content.image.Image == nil {
				t.Error("content pane shows no image")
			}
			if got := strings.Join(styleNames(s), ","); got != tc.wantStyles {
				t.Errorf("styles = %q, want %q", got, tc.wantStyles)
			}
			got := overlayText(s.window)
			if (got == "") != (tc.wantDialog == "") || !strings.Contains(got, tc.wantDialog) {
				t.Errorf("dialog %q, want %q", got, tc.wantDialog)
			}
		})
	}
}

func TestDropOnOtherTabs(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.png")
	writePNG(t, a, 24, 16)
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tab  int
		pane func(s *studio) *pane
	}{
		{1, func(s *studio) *pane { return s.sample }},
		{2, func(s *studio) *pane { return s.lowRes }},
	} {
		t.Run(Tabs[tc.tab], func(t *testing.T) {
			s := newTestStudio(t, Options{}, noPick(t))
			s.onUI(func() {
				s.tabs.SelectIndex(tc.tab)
				s.dropped(fyne.NewPos(5, 5), fileURIs(notes, a))
			})
			s.pending.Wait()
			if p := tc.pane(s); p.path != a || p.image.Image == nil {
				t.Errorf("pane shows %q, want %q", p.path, a)
			}
			if s.content.path != "" || len(s.sc.styles) != 0 {
				t.Error("a drop on another tab changed the Style tab")
			}
		})
	}
}

func TestDropWhileRunningChangesNothing(t *testing.T) {
	s, e, content, _ := readyStudio(t)
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	other := filepath.Join(t.TempDir(), "other.png")
	writePNG(t, other, 10, 10)
	s.onUI(func() { s.dropped(centre(s.content.object), fileURIs(other)) })
	if s.content.path != content || len(s.sc.styles) != 1 {
		t.Errorf("a drop during a run changed the images: content %q, %d styles", s.content.path, len(s.sc.styles))
	}
	if got := overlayText(s.window); !strings.Contains(got, "Stop the run") {
		t.Errorf("dialog %q, want the explanation", got)
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
}

func TestDropNonFileURI(t *testing.T) {
	s := newTestStudio(t, Options{}, noPick(t))
	u, err := storage.ParseURI("https://example.com/cat.png")
	if err != nil {
		t.Fatal(err)
	}
	s.onUI(func() { s.dropped(fyne.NewPos(1, 1), []fyne.URI{u}) })
	s.pending.Wait()
	if got := overlayText(s.window); !strings.Contains(got, `Could not open "cat.png": only files on this computer can be opened.`) {
		t.Errorf("dialog %q", got)
	}
}
