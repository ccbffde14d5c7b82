package ui

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
)

// menuLabels returns the labels of m's items.
func menuLabels(m *fyne.Menu) []string {
	var out []string
	for _, it := range m.Items {
		out = append(out, it.Label)
	}
	return out
}

func TestRecentFilesRoundTrip(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv(ConfigDirEnv, cfg)
	dir := t.TempDir()
	var files []string
	for i := range maxRecent + 2 {
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		writePNG(t, p, 8, 8)
		files = append(files, p)
	}

	s := newTestStudio(t, Options{}, noPick(t))
	s.onUI(s.remember)
	if got := menuLabels(s.recentMenu); len(got) != 1 || got[0] != "No recent images" {
		t.Fatalf("fresh recent menu = %q", got)
	}
	for _, f := range files {
		s.onUI(func() { s.load(s.content, f) })
		s.pending.Wait()
	}
	s.onUI(func() { s.load(s.content, files[3]) }) // opened again: moves to the top
	s.pending.Wait()
	want := []string{files[3]}
	for i := len(files) - 1; len(want) < maxRecent; i-- {
		if i != 3 {
			want = append(want, files[i])
		}
	}
	if !reflect.DeepEqual(s.recent, want) {
		t.Fatalf("recent = %q, want %q", s.recent, want)
	}
	if got := menuLabels(s.recentMenu); len(got) != maxRecent || !strings.HasPrefix(got[0], "d.png") {
		t.Errorf("menu = %q, want %d items starting with d.png", got, maxRecent)
	}

	// A new studio reads the list back, without the files that are gone.
	if err := os.Remove(files[len(files)-1]); err != nil {
		t.Fatal(err)
	}
	s2 := newTestStudio(t, Options{}, noPick(t))
	s2.onUI(s2.remember)
	if !reflect.DeepEqual(s2.recent, append([]string{want[0]}, want[2:]...)) {
		t.Errorf("restored recent = %q, want %q without the deleted file", s2.recent, want)
	}

	// Choosing one opens it in the tab's image pane.
	s2.onUI(func() {
		s2.tabs.SelectIndex(2)
		s2.recentMenu.Items[0].Action()
	})
	s2.pending.Wait()
	if s2.lowRes.path != files[3] {
		t.Errorf("Open recent put %q in the Upscale pane, want %q", s2.lowRes.path, files[3])
	}
}

func TestRecentFilesNotSavedUnlessRemembering(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv(ConfigDirEnv, cfg)
	p := filepath.Join(t.TempDir(), "x.png")
	writePNG(t, p, 8, 8)
	s := newTestStudio(t, Options{Content: p}, noPick(t))
	s.pending.Wait()
	s.onUI(s.saveWindowSize)
	if entries, _ := os.ReadDir(cfg); len(entries) != 0 {
		t.Errorf("a studio that does not remember wrote %d settings files", len(entries))
	}
	if len(s.recent) != 1 {
		t.Errorf("recent = %q, want the opened file listed for this session", s.recent)
	}
}

func TestWindowSizeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string // window.json before the start; "" none
		resize  fyne.Size
		restore fyne.Size
	}{
		{"first start uses the default", "", fyne.NewSize(900, 640), defaultWindowSize},
		{"saved size comes back", `{"width": 1000, "height": 700}`, fyne.NewSize(1234, 777), fyne.NewSize(1000, 700)},
		{"tiny size ignored", `{"width": 10, "height": 700}`, fyne.NewSize(800, 600), defaultWindowSize},
		{"damaged file ignored", `{"width": `, fyne.NewSize(800, 600), defaultWindowSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := t.TempDir()
			t.Setenv(ConfigDirEnv, cfg)
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(cfg, windowFile), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := newTestStudio(t, Options{}, noPick(t))
			s.onUI(s.remember)
			if got := s.window.Canvas().Size(); got != tc.restore {
				t.Errorf("window starts at %v, want %v", got, tc.restore)
			}
			s.onUI(func() {
				s.window.Resize(tc.resize)
				s.saveWindowSize()
			})
			s2 := newTestStudio(t, Options{}, noPick(t))
			s2.onUI(s2.remember)
			if got := s2.window.Canvas().Size(); got != tc.resize {
				t.Errorf("next start at %v, want the size at close %v", got, tc.resize)
			}
		})
	}
}
