// Package ui is Atelier's studio window, built with Fyne. It talks to the
// engine only through its job types and never imports numeric code.
package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"atelier/assets"
)

// AppID is the application identifier, as in FyneApp.toml.
const AppID = "io.atelier.studio"

// ErrNoDisplay is returned by Run when there is no graphical display to
// open a window on.
var ErrNoDisplay = errors.New("ui: no graphical display found (DISPLAY and WAYLAND_DISPLAY are unset)")

// Options are the start-up choices given on the command line. The zero
// value opens an empty studio.
type Options struct {
	// Content is an image file to open as the content image at start;
	// "" opens none.
	Content string
	// Style is an image file to open as the style image at start; "" opens
	// none.
	Style string
	// Autostart asks to start stylising once both images are open; with
	// Tab "texture" or "upscale" it starts that tab's job instead, once
	// Sample or Image is open.
	Autostart bool
	// Sample is an image file to open as the Texture tab's sample; ""
	// opens none.
	Sample string
	// Image is an image file to open on the Upscale tab; "" opens none.
	Image string
	// Tab names the tab shown at start (one of Tabs); "" shows the Style
	// tab.
	Tab string
	// LatencyProbe, when not "", names a JSON file where the studio writes
	// how long fyne.Do callbacks waited while the engine worked (see
	// LatencyStats).
	LatencyProbe string
	// ProbeFor is how long the probe measures while jobs run before it
	// writes its file; 0 measures until the window closes. The file is
	// also written when the window closes first.
	ProbeFor time.Duration
}

// Tabs are the names Options.Tab accepts, in the order of the tabs.
var Tabs = []string{"style", "texture", "upscale"}

// Services are what the studio needs from the rest of the program.
type Services struct {
	// Engine runs the jobs; nil leaves Start explaining that there is no
	// engine.
	Engine Engine
	// Save writes exported results; nil makes Export explain that saving
	// is not available.
	Save SaveFunc
}

// Run opens the studio window and blocks until the window is closed or ctx
// is cancelled; it must be called from the main goroutine. It returns
// ctx.Err() when ctx ended the session, ErrNoDisplay without a display.
// The studio has no engine: use RunWith to run jobs.
func Run(ctx context.Context, opts Options) error {
	return RunWith(ctx, opts, Services{})
}

// RunWith is Run with the engine and the save function the studio uses.
// A job still running when the window closes is cancelled.
func RunWith(ctx context.Context, opts Options, svc Services) error {
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" &&
		os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ErrNoDisplay
	}
	if opts.Tab != "" && !slices.Contains(Tabs, opts.Tab) {
		return fmt.Errorf("ui: there is no %q tab (the tabs are %s)", opts.Tab, strings.Join(Tabs, ", "))
	}
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	s := newStudio(a, opts, nativePick)
	s.engine, s.save, s.saveAs = svc.Engine, svc.Save, nativeSave
	s.engineChanged()
	jobCtx, cancelJobs := context.WithCancel(ctx)
	defer cancelJobs()
	s.ctx = jobCtx
	s.remember()
	s.window.SetOnDropped(func(pos fyne.Position, uris []fyne.URI) { s.dropped(pos, uris) })
	if opts.LatencyProbe != "" {
		s.probe = newLatencyProbe(opts.LatencyProbe, opts.ProbeFor, fyne.Do, s.busy)
		go s.probe.run()
	}
	s.restoreSettings() // the Style tab's settings of the last session
	s.preload()
	stop := context.AfterFunc(ctx, func() { fyne.Do(s.window.Close) })
	defer stop()
	s.window.SetOnClosed(s.saveWindowSize)
	s.window.ShowAndRun()
	s.flushSettings()
	var err error
	if s.probe != nil {
		err = s.probe.close()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// studio is the main window and its controllers.
type studio struct {
	window fyne.Window
	tabs   *container.AppTabs
	opts   Options

	content, style *pane // Style tab
	sample         *pane // Texture tab
	lowRes         *pane // Upscale tab
	panes          []*pane

	// onUI runs f on the UI goroutine and waits: fyne.DoAndWait, except in
	// tests, where Fyne's test driver would run f on the calling goroutine.
	onUI    func(f func())
	pick    picker         // nil once the native dialog has failed: Fyne's is used
	lastDir string         // folder of the last image opened; UI goroutine only
	pending sync.WaitGroup // image loads, file choices, saves and job watchers in flight

	engine Engine          // runs jobs; nil: none
	save   SaveFunc        // writes exported results
	saveAs saver           // nil once the native save dialog has failed
	ctx    context.Context // parent of the jobs' contexts
	sc     styleControls   // the Style tab's settings and live view

	// Keyboard shortcuts and the File menu act on the tab shown: these
	// are its actions (nil: open the tab's image only; see tabActions).
	textureActs, upscaleActs tabActions
	menu                     *fyne.MainMenu
	recentMenu               *fyne.Menu
	recent                   []string      // recently opened images, newest first
	remembers                bool          // window size and recent images are saved
	autostartTab             bool          // start the Texture or Upscale job once its image is open
	probe                    *latencyProbe // nil unless Options.LatencyProbe
}

// newStudio builds the window (not yet shown) for app a; preload then opens
// the images named in opts.
func newStudio(a fyne.App, opts Options, pick picker) *studio {
	s := &studio{window: a.NewWindow("Atelier"), opts: opts, pick: pick, onUI: fyne.DoAndWait, ctx: context.Background()}
	s.content = s.newPane("Content", "content image")
	s.style = s.newPane("Style", "style image")
	s.sample = s.newPane("Texture sample", "sample image")
	s.lowRes = s.newPane("Image to upscale", "image to upscale")

	s.tabs = container.NewAppTabs(
		container.NewTabItem("Style", s.buildStyleTab()),
		container.NewTabItem("Texture", s.buildTextureTab()),
		container.NewTabItem("Upscale", s.buildUpscaleTab()),
	)
	s.window.SetContent(s.tabs)
	s.window.Resize(defaultWindowSize)
	s.buildMenu()
	s.addShortcuts()
	if i := slices.Index(Tabs, opts.Tab); i > 0 {
		s.tabs.SelectIndex(i)
	}
	return s
}

// preload starts loading the images named on the command line; with
// Autostart and both images named, the job starts once both are open.
func (s *studio) preload() {
	s.sc.autostart = s.opts.Autostart && s.opts.Content != "" && s.opts.Style != "" &&
		(s.opts.Tab == "" || s.opts.Tab == "style")
	s.autostartTab = s.opts.Autostart && (s.opts.Tab == "texture" && s.opts.Sample != "" ||
		s.opts.Tab == "upscale" && s.opts.Image != "")
	if s.opts.Content != "" {
		s.load(s.content, s.opts.Content)
	}
	if s.opts.Style != "" {
		s.load(s.style, s.opts.Style)
	}
	if s.opts.Sample != "" {
		s.load(s.sample, s.opts.Sample)
	}
	if s.opts.Image != "" {
		s.load(s.lowRes, s.opts.Image)
	}
}

func (s *studio) newPane(title, role string) *pane {
	var p *pane
	p = newPane(title, role, func() { s.choose(p) })
	s.panes = append(s.panes, p)
	return p
}

// choose asks for a file for p and loads it. While the native dialog is up
// the Open buttons are disabled, so only one dialog is open at a time.
func (s *studio) choose(p *pane) {
	if s.pick == nil {
		s.chooseWithFyne(p)
		return
	}
	s.setOpenEnabled(false)
	s.pending.Add(1)
	pick, dir := s.pick, s.lastDir
	go func() {
		defer s.pending.Done()
		path, err := pick("Open "+p.role, dir)
		s.onUI(func() {
			s.setOpenEnabled(true)
			switch {
			case err == nil:
				s.load(p, path)
			case errors.Is(err, errPickCancelled):
			default:
				fyne.LogError("native file dialog failed; using Fyne's from now on", err)
				s.pick = nil
				s.chooseWithFyne(p)
			}
		})
	}()
}

// chooseWithFyne is the fallback file chooser drawn by Fyne itself.
func (s *studio) chooseWithFyne(p *pane) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			dialog.ShowError(err, s.window)
			return
		}
		if r == nil { // cancelled
			return
		}
		path := r.URI().Path()
		_ = r.Close()
		s.load(p, path)
	}, s.window)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".gif"}))
	if s.lastDir != "" {
		if dir, err := storage.ListerForURI(storage.NewFileURI(s.lastDir)); err == nil {
			d.SetLocation(dir)
		}
	}
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// load decodes path off the UI goroutine, then shows it in p or explains in
// an error dialog why it could not.
// Only the latest load into a pane is shown, whichever finishes first.
func (s *studio) load(p *pane, path string) {
	p.loads++
	ticket := p.loads
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		pv, err := loadPreview(path)
		s.onUI(func() {
			if ticket != p.loads {
				return // superseded by a later choice
			}
			if err != nil {
				s.sc.autostart, s.autostartTab = false, false
				dialog.ShowError(err, s.window)
				return
			}
			s.opened(p, path, pv)
		})
	}()
}

// engineChanged tells the tabs that list what the engine offers (the
// Upscale tab's methods) to read it again and pick their defaults from it:
// the tabs are built before the engine is attached. UI goroutine.
func (s *studio) engineChanged() {
	if c, ok := s.upscaleActs.(*upscaleTab); ok {
		c.method.Selected = ""
		c.refreshMethods()
	}
}

// inputWatcher is a tab that shows its input before any job runs.
type inputWatcher interface {
	// inputOpened is told that path was opened as the tab's input. UI
	// goroutine.
	inputOpened(path string)
}

// actionsFor is the tab whose input pane p is: the Texture or Upscale
// tab's actions, nil for the Style tab's panes.
func (s *studio) actionsFor(p *pane) tabActions {
	switch p {
	case s.sample:
		return s.textureActs
	case s.lowRes:
		return s.upscaleActs
	}
	return nil
}

// opened shows pv, decoded from path, in p, and does what opening an
// image there implies: a style joins the list, the file joins the recent
// ones, and a pending autostart starts. UI goroutine.
func (s *studio) opened(p *pane, path string, pv *preview) {
	p.show(path, pv)
	s.lastDir = filepath.Dir(path)
	s.addRecent(path)
	if p == s.style {
		s.addStyle(path, pv)
	}
	if w, ok := s.actionsFor(p).(inputWatcher); ok {
		w.inputOpened(path)
	}
	if s.sc.autostart && s.content.path != "" && len(s.sc.styles) > 0 {
		s.sc.autostart = false
		s.startJob()
	}
	if s.autostartTab && p != s.content && p == s.mainPane() {
		s.autostartTab = false
		s.actions().startStop()
	}
}

func (s *studio) setOpenEnabled(on bool) {
	for _, p := range s.panes {
		if on {
			p.open.Enable()
		} else {
			p.open.Disable()
		}
	}
}

// busy reports whether a job runs and what it does, for the latency
// probe. UI goroutine.
func (s *studio) busy() (bool, string) {
	if s.sc.running == nil {
		return false, ""
	}
	return true, "stylize " + s.sc.size.Selected + " px"
}
