package ui

import (
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
)

// press delivers shortcut sc as the desktop driver does: the main menu's
// items first, then the window's own shortcuts.
func press(s *studio, sc fyne.Shortcut) {
	s.onUI(func() {
		if m := s.window.MainMenu(); m != nil {
			for _, menu := range m.Items {
				if it := menuItemFor(menu, sc); it != nil {
					it.Action()
					return
				}
			}
		}
		s.window.Canvas().(fyne.Shortcutable).TypedShortcut(sc)
	})
}

func menuItemFor(m *fyne.Menu, sc fyne.Shortcut) *fyne.MenuItem {
	for _, it := range m.Items {
		if it.Shortcut != nil && it.Shortcut.ShortcutName() == sc.ShortcutName() && it.Action != nil {
			return it
		}
		if it.ChildMenu != nil {
			if found := menuItemFor(it.ChildMenu, sc); found != nil {
				return found
			}
		}
	}
	return nil
}

func pressKey(s *studio, k fyne.KeyName) {
	s.onUI(func() { s.window.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: k}) })
}

func TestShortcutsOnStyleTab(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(s *studio)
	}{
		{"Ctrl+Enter", func(s *studio) { press(s, shortcutRun) }},
		{"keypad Ctrl+Enter", func(s *studio) { press(s, shortcutRunKeypad) }},
		{"F5", func(s *studio) { pressKey(s, fyne.KeyF5) }},
	} {
		t.Run(tc.name+" starts and stops", func(t *testing.T) {
			s, e, _, _ := readyStudio(t)
			tc.do(s)
			_, j := e.last(t)
			if s.sc.running == nil {
				t.Fatal("no job running after the first press")
			}
			tc.do(s)
			if j.cancelled != 1 {
				t.Errorf("second press cancelled %d times, want 1", j.cancelled)
			}
			j.finish(s, job.Update{Kind: job.Cancelled})
			if len(e.reqs) != 1 {
				t.Errorf("%d jobs started, want 1", len(e.reqs))
			}
		})
	}

	t.Run("Ctrl+O asks for the content", func(t *testing.T) {
		var asked []string
		s := newTestStudio(t, Options{}, func(title, _ string) (string, error) {
			asked = append(asked, title)
			return "", errPickCancelled
		})
		press(s, shortcutOpen)
		s.pending.Wait()
		if strings.Join(asked, ",") != "Open content image" {
			t.Errorf("dialogs asked: %q, want one for the content image", asked)
		}
	})

	for _, sc := range []fyne.Shortcut{shortcutExport, shortcutExportAlt} {
		t.Run(sc.ShortcutName()+" exports the result", func(t *testing.T) {
			s, e, _, _ := readyStudio(t)
			var asked int
			s.saveAs = func(string, string, string) (string, error) { asked++; return "", errPickCancelled }
			press(s, sc) // nothing to export yet
			s.pending.Wait()
			if asked != 0 {
				t.Fatal("export asked where to save before there was a result")
			}
			s.onUI(func() { test.Tap(s.sc.start) })
			_, j := e.last(t)
			j.finish(s, job.Update{Kind: job.Done, Image: image.NewRGBA(image.Rect(0, 0, 4, 4)), Iteration: 1})
			press(s, sc)
			s.pending.Wait()
			if asked != 1 {
				t.Errorf("save dialog asked %d times, want 1", asked)
			}
		})
	}
}

func TestShortcutsOnOtherTabs(t *testing.T) {
	for _, tc := range []struct {
		tab  int
		want string
	}{
		{1, "Open sample image"},
		{2, "Open image to upscale"},
	} {
		t.Run(Tabs[tc.tab], func(t *testing.T) {
			var asked []string
			s := newTestStudio(t, Options{}, func(title, _ string) (string, error) {
				asked = append(asked, title)
				return "", errPickCancelled
			})
			s.onUI(func() { s.tabs.SelectIndex(tc.tab) })
			press(s, shortcutOpen)
			s.pending.Wait()
			if strings.Join(asked, ",") != tc.want {
				t.Errorf("dialogs asked: %q, want %q", asked, tc.want)
			}
		})
	}
}

func TestTabOption(t *testing.T) {
	dir := t.TempDir()
	sample, img := filepath.Join(dir, "sample.png"), filepath.Join(dir, "img.png")
	writePNG(t, sample, 20, 20)
	writePNG(t, img, 30, 20)
	for i, name := range Tabs {
		t.Run(name, func(t *testing.T) {
			s := newTestStudio(t, Options{Tab: name, Sample: sample, Image: img}, noPick(t))
			s.pending.Wait()
			if got := s.tabs.SelectedIndex(); got != i {
				t.Errorf("tab %d shown, want %d", got, i)
			}
			if s.sample.path != sample || s.lowRes.path != img {
				t.Errorf("sample %q and image %q, want %q and %q", s.sample.path, s.lowRes.path, sample, img)
			}
		})
	}
}

func TestAutostartOnOtherTabs(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img.png")
	writePNG(t, img, 32, 32)
	for _, tc := range []struct {
		opts Options
		want job.Kind // "" = no job
	}{
		{Options{Tab: "texture", Sample: img, Autostart: true}, job.KindTexture},
		{Options{Tab: "upscale", Image: img, Autostart: true}, job.KindUpscale},
		{Options{Tab: "upscale", Image: img}, ""},
		{Options{Tab: "texture", Image: img, Autostart: true}, ""}, // no sample
	} {
		t.Run(fmt.Sprintf("%+v", tc.opts), func(t *testing.T) {
			e := &fakeEngine{}
			s := newStudio(test.NewTempApp(t), tc.opts, noPick(t))
			var mu sync.Mutex
			s.onUI = func(f func()) { mu.Lock(); defer mu.Unlock(); f() }
			s.engine = e
			s.onUI(s.preload)
			// The job starts, if at all, as the image is shown.
			waitFor(t, s, func() bool { return s.sample.path != "" || s.lowRes.path != "" })
			e.mu.Lock()
			defer func() {
				e.mu.Unlock()
				s.pending.Wait()
			}()
			switch {
			case tc.want == "" && len(e.reqs) != 0:
				t.Errorf("started %+v, want nothing", e.reqs[0])
			case tc.want != "" && (len(e.reqs) != 1 || e.reqs[0].Kind != tc.want):
				t.Errorf("started %+v, want one %s job", e.reqs, tc.want)
			}
			for _, j := range e.jobs {
				j.updates <- job.Update{Kind: job.Cancelled}
				close(j.updates)
			}
		})
	}
}
