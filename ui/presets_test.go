package ui

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
)

// configIn points the studio's configuration folder at a new temporary
// folder and returns its presets folder.
func configIn(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(ConfigDirEnv, dir)
	return filepath.Join(dir, presetsFolder)
}

// changeEverything moves every Style tab setting off its default.
func changeEverything(s *studio) {
	c := &s.sc
	c.ratio.SetValue(0.8)
	c.tv.SetValue(0.3)
	c.styleScale.SetValue(1.5)
	c.colours.SetChecked(true)
	c.size.SetSelected("768")
	c.quality.SetSelectedIndex(2)
	c.scales.SetSelected("2")
	c.seed.SetText("1234")
	c.network.SetSelected(job.NetworkResNet50)
	c.morph.SetValue(0.35)
}

func TestFreshSettingsAreTheDefaults(t *testing.T) {
	configIn(t)
	s := newTestStudio(t, Options{}, noPick(t))
	if got, want := s.currentSettings(true), defaultStyleSettings(); !reflect.DeepEqual(got, want) {
		t.Errorf("a fresh Style tab reads\n%+v\nwant the defaults\n%+v", got, want)
	}
}

func TestPresetRoundTrip(t *testing.T) {
	dir := configIn(t)
	s, _, _, first := morphStudio(t) // two styles, the second in B
	s.onUI(func() {
		changeEverything(s)
		s.sc.styles[0].weight.SetValue(0.7)
	})
	want := s.currentSettings(true)
	if reflect.DeepEqual(want, defaultStyleSettings()) {
		t.Fatal("the settings did not change")
	}
	var err error
	s.onUI(func() { err = s.savePreset("  Starry mix ") })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Starry mix.json")); err != nil {
		t.Fatalf("the preset file: %v", err)
	}

	fresh := newTestStudio(t, Options{Style: first}, noPick(t))
	fresh.pending.Wait()
	var names []string
	names, err = presetNames()
	if err != nil || len(names) != 1 || names[0] != "Starry mix" {
		t.Fatalf("presets %v (%v), want [Starry mix]", names, err)
	}
	fresh.onUI(func() { err = fresh.loadPreset("Starry mix") })
	if err != nil {
		t.Fatal(err)
	}
	fresh.pending.Wait()
	if got := fresh.currentSettings(true); !reflect.DeepEqual(got, want) {
		t.Errorf("after loading, the settings are\n%+v\nwant\n%+v", got, want)
	}
	if n := len(fresh.sc.styles); n != 2 {
		t.Errorf("%d styles after loading, want the preset's 2 (replacing the one open)", n)
	}

	// A style opened by a relative path is saved with its absolute one.
	t.Chdir(filepath.Dir(first))
	fresh.onUI(func() { fresh.addStyle(filepath.Base(first), fresh.sc.styles[0].pv) })
	if got := fresh.currentSettings(true).Styles; got[len(got)-1].Path != first {
		t.Errorf("a style opened as %q is saved as %q, want %q", filepath.Base(first), got[len(got)-1].Path, first)
	}

	fresh.onUI(func() { err = fresh.loadPreset("nothing") })
	if err == nil || !strings.Contains(err.Error(), `no preset called "nothing"`) {
		t.Errorf("loading a missing preset: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{\"size\": "), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh.onUI(func() { err = fresh.loadPreset("broken") })
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("loading a damaged preset: %v", err)
	}
}

func TestPresetDialogs(t *testing.T) {
	dir := configIn(t)
	s, _, _, _ := readyStudio(t)
	s.onUI(func() { test.Tap(s.sc.loadPreset) })
	if got := overlayText(s.window); !strings.Contains(got, "There are no presets yet") {
		t.Errorf("Load preset with none saved shows %q", got)
	}
	s.onUI(func() {
		s.window.Canvas().Overlays().Top().Hide()
		s.window.Canvas().Overlays().Remove(s.window.Canvas().Overlays().Top())
		s.sc.size.SetSelected("256")
		test.Tap(s.sc.savePreset)
	})
	name, ok := s.window.Canvas().Focused().(*widget.Entry)
	if !ok {
		t.Fatal("Save preset does not put the focus in the name entry")
	}
	s.onUI(func() {
		test.Type(name, "small")
		name.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Return saves
	})
	if _, err := os.Stat(filepath.Join(dir, "small.json")); err != nil {
		t.Fatalf("the preset typed into the dialog was not saved: %v", err)
	}
	s.onUI(func() {
		s.sc.size.SetSelected("1024")
		test.Tap(s.sc.loadPreset)
	})
	if got := overlayText(s.window); !strings.Contains(got, "small") {
		t.Fatalf("the Load preset dialog shows %q, want the preset", got)
	}
	s.onUI(func() { tapButton(t, s, "Load") })
	s.pending.Wait() // the preset's style is opened again
	if got := s.sc.size.Selected; got != "256" {
		t.Errorf("size %s after loading the preset from the dialog, want 256", got)
	}
	// Saving under the same name asks first.
	s.onUI(func() { test.Tap(s.sc.savePreset) })
	name = s.window.Canvas().Focused().(*widget.Entry)
	s.onUI(func() {
		test.Type(name, "small")
		name.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	if got := overlayText(s.window); !strings.Contains(got, `A preset called "small" exists. Replace it?`) {
		t.Errorf("saving over a preset shows %q, want a question", got)
	}
}

func TestPresetNames(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"Starry mix", "Starry mix", ""},
		{" trimmed_1-b ", "trimmed_1-b", ""},
		{"Été", "Été", ""},
		{"", "", "give the preset a name"},
		{"last", "", "kept for the last session"},
		{"LAST", "", "kept for the last session"},
		{"../escape", "", "letters, digits"},
		{"a/b", "", "letters, digits"},
		{".hidden", "", "letters, digits"},
		{strings.Repeat("x", maxPresetName+1), "", "at most"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := checkPresetName(tc.in)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Errorf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("got %q, %v; want an error saying %q", got, err, tc.err)
			}
		})
	}
}

// TestLastSessionComesBack: a change is saved to last.json and restored
// by the next studio; the images are not.
func TestLastSessionComesBack(t *testing.T) {
	dir := configIn(t)
	s, _, _, _ := readyStudio(t)
	s.onUI(s.restoreSettings) // nothing saved yet: the defaults stay
	s.onUI(func() { changeEverything(s) })
	want := s.currentSettings(false)
	s.flushSettings()
	if _, err := os.Stat(filepath.Join(dir, "last.json")); err != nil {
		t.Fatalf("last.json: %v", err)
	}
	next := newTestStudio(t, Options{}, noPick(t))
	next.onUI(next.restoreSettings)
	if got := next.currentSettings(true); !reflect.DeepEqual(got, want) {
		t.Errorf("the next session starts with\n%+v\nwant\n%+v", got, want)
	}
	next.flushSettings()
}

// TestCorruptLastSession: a damaged or nonsensical last.json leaves the
// defaults, never a crash.
func TestCorruptLastSession(t *testing.T) {
	def := defaultStyleSettings()
	for _, tc := range []struct {
		name, data string
		want       func(*styleSettings)
	}{
		{"not JSON", "{\"size\": 7", nil},
		{"binary", "\x00\xff\xfe garbage", nil},
		{"wrong types", `{"size": "big", "morph": [1]}`, nil},
		{"empty", "", nil},
		{"out of range", `{"style_ratio": -3, "tv_weight": 1e300, "style_scale": 99, "size": 99999, "iterations": 7,
			"scales": 40, "network": "alexnet", "morph": 5}`,
			func(st *styleSettings) { st.TVWeight, st.StyleScale, st.Morph = job.Float(100), maxStyleScale, 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := configIn(t)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "last.json"), []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			s := newTestStudio(t, Options{}, noPick(t))
			s.onUI(s.restoreSettings)
			want := def
			if tc.want != nil {
				tc.want(&want)
			}
			if got := s.currentSettings(false); !reflect.DeepEqual(got, want) {
				t.Errorf("settings\n%+v\nwant\n%+v", got, want)
			}
			s.flushSettings()
		})
	}
}
