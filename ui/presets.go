package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
)

// Presets are the Style tab's settings saved under a name, as JSON files
// in the "presets" folder of the studio's configuration folder (see
// configDir); the last session's settings are kept there too, as
// last.json, and come back at the next start.
const (
	presetsFolder   = "presets"
	lastSessionName = "last" // last.json: reserved, not a preset
	settingsVersion = 1
	maxPresetName   = 64
	// autosaveDelay gathers a slider's drag into one write of last.json.
	autosaveDelay = 400 * time.Millisecond
)

// styleSettings are the Style tab's settings as saved in a preset or in
// last.json. Unknown or out-of-range values fall back to the defaults
// field by field when applied.
type styleSettings struct {
	Version int `json:"version"`
	// StyleRatio is the style/content ratio (style strength).
	StyleRatio float64 `json:"style_ratio"`
	// TVWeight is the total-variation weight; nil: the network's default;
	// negative: off.
	TVWeight    *float64 `json:"tv_weight,omitempty"`
	StyleScale  float64  `json:"style_scale"`
	KeepColours bool     `json:"keep_colours"`
	Size        int      `json:"size"`
	Iterations  int      `json:"iterations"`
	Scales      int      `json:"scales"` // 0: automatic
	Seed        int64    `json:"seed"`
	Network     string   `json:"network"` // "" or "auto": the best present
	Morph       float64  `json:"morph"`
	// Styles are the style images with their weights and groups; presets
	// only (last.json leaves the images to the command line and the
	// person).
	Styles []presetStyle `json:"styles,omitempty"`
}

// presetStyle is one style image of a preset.
type presetStyle struct {
	Path   string  `json:"path"`
	Weight float64 `json:"weight"`
	Group  string  `json:"group"` // "A" or "B"
}

// defaultStyleSettings are the settings of a fresh Style tab.
func defaultStyleSettings() styleSettings {
	return styleSettings{Version: settingsVersion, StyleRatio: roundTo(ratioOf(defaultRatioPos), 4), StyleScale: job.DefaultStyleScale,
		Size: job.DefaultSize, Iterations: qualityIters[1]}
}

// settingsStore keeps last.json up to date: each change stores a snapshot
// and (re)arms a short timer whose goroutine writes the latest one.
type settingsStore struct {
	on       bool // restoreSettings ran: changes are saved (UI goroutine)
	applying bool // applySettings is setting the controls (UI goroutine)

	mu      sync.Mutex
	pending *styleSettings // the snapshot not yet written
	timer   *time.Timer
	write   sync.Mutex // one write of last.json at a time
}

// presetsDir is the folder of the presets and of last.json.
func presetsDir() (string, error) {
	dir, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, presetsFolder), nil
}

// currentSettings reads the controls; withStyles adds the style list.
// UI goroutine.
func (s *studio) currentSettings(withStyles bool) styleSettings {
	c := &s.sc
	st := defaultStyleSettings()
	st.StyleRatio = roundTo(s.styleRatio(), 4)
	if c.tvTouched {
		st.TVWeight = job.Float(roundTo(tvOf(c.tv.Value), 4))
	}
	st.StyleScale = s.styleScaleValue()
	st.KeepColours = c.colours.Checked
	st.Size, _ = strconv.Atoi(c.size.Selected)
	st.Iterations = qualityIters[max(c.quality.SelectedIndex(), 0)]
	st.Scales, _ = strconv.Atoi(c.scales.Selected)
	st.Seed, _ = strconv.ParseInt(strings.TrimSpace(c.seed.Text), 10, 64)
	if c.network.Selected != "auto" {
		st.Network = c.network.Selected
	}
	st.Morph = s.morphValue()
	if withStyles {
		for _, it := range c.styles {
			path := it.path
			if abs, err := filepath.Abs(path); err == nil {
				path = abs // a preset outlives the folder the studio started in
			}
			st.Styles = append(st.Styles, presetStyle{Path: path, Weight: weightOf(it), Group: groupNames[it.group]})
		}
	}
	return st
}

// roundTo rounds v to digits significant digits (the sliders' logarithmic
// scales leave float noise).
func roundTo(v float64, digits int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	p, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64)
	return p
}

// applySettings sets the controls to st, each value that is missing or
// out of range taking its default (the style list is left alone: see
// replaceStyles). UI goroutine.
func (s *studio) applySettings(st styleSettings) {
	c := &s.sc
	def := defaultStyleSettings()
	c.prefs.applying = true
	defer func() { c.prefs.applying = false }()

	ratio := st.StyleRatio
	if !(ratio > 0) || math.IsInf(ratio, 0) {
		ratio = def.StyleRatio
	}
	c.ratio.SetValue(clamp01((math.Log10(ratio) - ratioLogMin) / ratioLogSpan))

	switch tv := st.TVWeight; {
	case tv == nil || math.IsNaN(*tv) || math.IsInf(*tv, 0):
		c.tv.SetValue((1 - tvLogMin) / tvLogSpan)
		c.tvTouched = false
	case *tv <= 0:
		c.tv.SetValue(0)
		c.tvTouched = true
	default:
		c.tv.SetValue(max(clamp01((math.Log10(*tv)-tvLogMin)/tvLogSpan), c.tv.Step))
		c.tvTouched = true
	}
	s.showTV()

	scale := st.StyleScale
	if !(scale > 0) || math.IsInf(scale, 0) {
		scale = def.StyleScale
	}
	c.styleScale.SetValue(min(max(scale, minStyleScale), maxStyleScale))
	c.colours.SetChecked(st.KeepColours)

	size := strconv.Itoa(st.Size)
	if !slices.Contains(sizeChoices, size) {
		size = strconv.Itoa(def.Size)
	}
	c.size.SetSelected(size)
	q := slices.Index(qualityIters, st.Iterations)
	if q < 0 {
		q = slices.Index(qualityIters, def.Iterations)
	}
	c.quality.SetSelectedIndex(q)
	if st.Scales >= 1 && st.Scales < len(scaleChoices) {
		c.scales.SetSelected(strconv.Itoa(st.Scales))
	} else {
		c.scales.SetSelected("auto")
	}
	if st.Seed != 0 {
		c.seed.SetText(strconv.FormatInt(st.Seed, 10))
	} else {
		c.seed.SetText("")
	}
	network := st.Network
	if network == "" || !slices.Contains(networkChoices, network) {
		network = "auto"
	}
	c.network.SetSelected(network)
	morph := st.Morph
	if math.IsNaN(morph) {
		morph = 0
	}
	c.morph.SetValue(clamp01(morph))
	s.showRatio()
	s.showStyleScale()
	s.showMorph()
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return min(max(v, 0), 1)
}

// readSettings reads a settings file.
func readSettings(path string) (styleSettings, error) {
	var st styleSettings
	data, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("ui: reading %s: %w", filepath.Base(path), err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return styleSettings{}, fmt.Errorf("ui: reading %s: %w", filepath.Base(path), err)
	}
	return st, nil
}

// writeSettings writes st to path through a temporary file renamed over
// it, so that a crash never leaves half a file.
func writeSettings(path string, st styleSettings) (err error) {
	fail := func(err error) error { return fmt.Errorf("ui: writing %s: %w", filepath.Base(path), err) }
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fail(err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	f, err := os.CreateTemp(dir, ".preset-*.tmp")
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, werr := f.Write(append(data, '\n'))
	if err := errors.Join(werr, f.Close()); err != nil {
		return fail(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fail(err)
	}
	return nil
}

// restoreSettings applies last.json, when there is one, and saves every
// later change of the settings there. A damaged file leaves the defaults
// (and is replaced at the next change). UI goroutine; the composition
// root calls it before the window shows.
func (s *studio) restoreSettings() {
	c := &s.sc
	c.prefs.on = true
	dir, err := presetsDir()
	if err != nil {
		fyne.LogError("the settings of the last session cannot be kept", err)
		return
	}
	st, err := readSettings(filepath.Join(dir, lastSessionName+".json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		fyne.LogError("the settings of the last session are damaged; using the defaults", err)
		st = defaultStyleSettings()
	}
	st.Styles = nil
	s.applySettings(st)
}

// settingsChanged stores the settings for last.json once the changes
// settle. UI goroutine.
func (s *studio) settingsChanged() {
	p := &s.sc.prefs
	if !p.on || p.applying {
		return
	}
	st := s.currentSettings(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = &st
	if p.timer == nil {
		p.timer = time.AfterFunc(autosaveDelay, p.flush)
	} else {
		p.timer.Reset(autosaveDelay)
	}
}

// flushSettings writes the settings not yet saved now; the composition
// root calls it when the window has closed.
func (s *studio) flushSettings() {
	p := &s.sc.prefs
	p.mu.Lock()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.flush()
}

// flush writes the pending snapshot, if any, to last.json.
func (p *settingsStore) flush() {
	p.write.Lock()
	defer p.write.Unlock()
	p.mu.Lock()
	st := p.pending
	p.pending = nil
	p.mu.Unlock()
	if st == nil {
		return
	}
	dir, err := presetsDir()
	if err == nil {
		err = writeSettings(filepath.Join(dir, lastSessionName+".json"), *st)
	}
	if err != nil {
		fyne.LogError("could not keep the settings for the next session", err)
	}
}

// checkPresetName returns name trimmed, or a plain sentence saying why it
// cannot name a preset.
func checkPresetName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errors.New("give the preset a name")
	case len(name) > maxPresetName:
		return "", fmt.Errorf("a preset name has at most %d characters", maxPresetName)
	case strings.EqualFold(name, lastSessionName):
		return "", fmt.Errorf("%q is kept for the last session's settings: choose another name", lastSessionName)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" -_", r) {
			return "", errors.New(`a preset name may hold letters, digits, spaces, "-" and "_" only`)
		}
	}
	return name, nil
}

// presetPath is the file of the preset name (already checked).
func presetPath(name string) (string, error) {
	dir, err := presetsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".json"), nil
}

// presetNames lists the saved presets, sorted.
func presetNames() ([]string, error) {
	dir, err := presetsDir()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ui: listing the presets: %w", err)
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || strings.HasPrefix(name, ".") || name == lastSessionName {
			continue
		}
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return names, nil
}

// savePreset saves the settings and the style list as preset name,
// replacing one of that name. UI goroutine.
func (s *studio) savePreset(name string) error {
	name, err := checkPresetName(name)
	if err != nil {
		return err
	}
	path, err := presetPath(name)
	if err != nil {
		return err
	}
	if err := writeSettings(path, s.currentSettings(true)); err != nil {
		return fmt.Errorf("could not save the preset %q: %v", name, errors.Unwrap(err))
	}
	s.sc.status.SetText(fmt.Sprintf("Saved the preset %q.", name))
	return nil
}

// loadPreset sets the controls to preset name; when it has styles, they
// replace the list once their images are open. Not while a job runs.
// UI goroutine.
func (s *studio) loadPreset(name string) error {
	if s.sc.running != nil {
		return errors.New("stop the running job before loading a preset")
	}
	path, err := presetPath(name)
	if err != nil {
		return err
	}
	st, err := readSettings(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("there is no preset called %q", name)
	case err != nil:
		return fmt.Errorf("could not load the preset %q: the file is damaged", name)
	}
	s.applySettings(st)
	s.settingsChanged()
	if len(st.Styles) > 0 {
		s.replaceStyles(st.Styles)
	}
	s.sc.status.SetText(fmt.Sprintf("Loaded the preset %q.", name))
	return nil
}

// replaceStyles opens the preset's style images off the UI goroutine,
// then replaces the style list with those that opened, explaining the
// others in a dialog.
func (s *studio) replaceStyles(list []presetStyle) {
	s.style.loads++ // a pane load in flight must not add to the new list
	ticket := s.style.loads
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		pvs := make([]*preview, len(list))
		var failed []string
		for i, ps := range list {
			pv, err := loadPreview(ps.Path)
			if err != nil {
				failed = append(failed, err.Error())
				continue
			}
			pvs[i] = pv
		}
		s.onUI(func() {
			c := &s.sc
			if ticket != s.style.loads || c.running != nil {
				return // superseded, or a job started meanwhile
			}
			for len(c.styles) > 0 {
				s.removeStyle(c.styles[0])
			}
			for i, ps := range list {
				if pvs[i] == nil {
					continue
				}
				s.addStyle(ps.Path, pvs[i])
				it := c.styles[len(c.styles)-1]
				it.weight.SetValue(min(max(ps.Weight, 0), 1))
				if ps.Group == groupNames[groupB] {
					s.toggleGroup(it)
				}
				s.style.show(ps.Path, pvs[i])
			}
			if len(failed) > 0 {
				s.showError(fmt.Errorf("some styles of the preset could not be opened:\n%s", strings.Join(failed, "\n")))
			}
		})
	}()
}

// askSavePreset asks for a name and saves the preset, asking before it
// replaces one.
func (s *studio) askSavePreset() {
	entry := widget.NewEntry()
	entry.SetPlaceHolder("e.g. Starry mix")
	d := dialog.NewForm("Save preset", "Save", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", entry)}, func(ok bool) {
		if !ok {
			return
		}
		name, err := checkPresetName(entry.Text)
		if err != nil {
			s.showError(err)
			return
		}
		save := func() {
			if err := s.savePreset(name); err != nil {
				s.showError(err)
			}
		}
		if path, err := presetPath(name); err == nil {
			if _, err := os.Stat(path); err == nil {
				dialog.ShowConfirm("Replace the preset?", fmt.Sprintf("A preset called %q exists. Replace it?", name),
					func(yes bool) {
						if yes {
							save()
						}
					}, s.window)
				return
			}
		}
		save()
	}, s.window)
	entry.OnSubmitted = func(string) { d.Submit() }
	d.Resize(fyne.NewSize(380, d.MinSize().Height))
	d.Show()
	s.window.Canvas().Focus(entry)
}

// askLoadPreset offers the saved presets and loads the one chosen.
func (s *studio) askLoadPreset() {
	names, err := presetNames()
	if err != nil {
		s.showError(err)
		return
	}
	if len(names) == 0 {
		dialog.ShowInformation("No presets", "There are no presets yet: save the settings with Save preset… first.", s.window)
		return
	}
	sel := widget.NewSelect(names, nil)
	sel.SetSelectedIndex(0)
	d := dialog.NewForm("Load preset", "Load", "Cancel", []*widget.FormItem{widget.NewFormItem("Preset", sel)}, func(ok bool) {
		if !ok || sel.Selected == "" {
			return
		}
		if err := s.loadPreset(sel.Selected); err != nil {
			s.showError(err)
		}
	}, s.window)
	d.Resize(fyne.NewSize(380, d.MinSize().Height))
	d.Show()
}
