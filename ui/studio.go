// Package ui is Atelier's studio window, built with Fyne. It talks to the
// engine only through its job types and never imports numeric code.
package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"

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
	// Autostart asks to start stylising once both images are open.
	Autostart bool
}

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
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	s := newStudio(a, opts, nativePick)
	s.engine, s.save, s.saveAs = svc.Engine, svc.Save, nativeSave
	jobCtx, cancelJobs := context.WithCancel(ctx)
	defer cancelJobs()
	s.ctx = jobCtx
	s.restoreSettings() // the Style tab's settings of the last session
	s.preload()
	stop := context.AfterFunc(ctx, func() { fyne.Do(a.Quit) })
	defer stop()
	s.window.ShowAndRun()
	s.flushSettings()
	return ctx.Err()
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
	s.window.Resize(fyne.NewSize(1100, 720))
	return s
}

// preload starts loading the images named on the command line; with
// Autostart and both images named, the job starts once both are open.
func (s *studio) preload() {
	s.sc.autostart = s.opts.Autostart && s.opts.Content != "" && s.opts.Style != ""
	if s.opts.Content != "" {
		s.load(s.content, s.opts.Content)
	}
	if s.opts.Style != "" {
		s.load(s.style, s.opts.Style)
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
				s.sc.autostart = false
				dialog.ShowError(err, s.window)
				return
			}
			p.show(path, pv)
			s.lastDir = filepath.Dir(path)
			if p == s.style {
				s.addStyle(path, pv)
			}
			if s.sc.autostart && s.content.path != "" && len(s.sc.styles) > 0 {
				s.sc.autostart = false
				s.startJob()
			}
		})
	}()
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
