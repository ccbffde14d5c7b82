package ui

import (
	"errors"
	"fmt"
	"image"
	"os"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
)

// fallbackUpscaleMethods is the catalog when the engine cannot list its
// methods: bicubic, which needs no model.
var fallbackUpscaleMethods = []job.UpscaleMethod{{
	Name: "bicubic", Description: "bicubic interpolation; no model needed",
	Scales: []job.UpscaleScale{{Factor: 2, Present: true}, {Factor: 3, Present: true}, {Factor: 4, Present: true}, {Factor: 8, Present: true}},
}}

// upscaleLister is what an Engine offers when it can list the upscale
// methods (the service's does).
type upscaleLister interface {
	UpscaleMethods() []job.UpscaleMethod
}

// UpscaleMethods lists the service's upscale methods and which models are
// downloaded.
func (e serviceEngine) UpscaleMethods() []job.UpscaleMethod { return e.s.UpscaleMethods() }

// upscaleTab is the Upscale tab: method and scale, run buttons, progress
// and the before/after view. It is also the tab's menu and shortcut actions
// (studio.upscaleActs). UI goroutine only.
type upscaleTab struct {
	s *studio

	methods []job.UpscaleMethod // the catalog shown
	method  *methodSelect
	scale   *widget.Select
	about   *widget.Label // the method's description, or how to get its model

	start, cancel, exportBtn *widget.Button

	view      *zoomCompare
	split     *widget.Slider
	zoom      *widget.Slider
	zoomLabel *widget.Label
	progress  *widget.ProgressBar
	status    *widget.Label
	notice    *widget.Label

	run      tabRun
	input    string      // the file the running or last job enlarged
	factor   int         // and by how much
	original *image.RGBA // that file decoded, for the before side; nil until read
}

// methodSelect is a Select that refreshes its options (the catalog of
// methods, which changes when a model is fetched) each time it opens.
type methodSelect struct {
	widget.Select
	onOpen func()
}

func newMethodSelect(changed func(string), onOpen func()) *methodSelect {
	m := &methodSelect{onOpen: onOpen}
	m.OnChanged = changed
	m.PlaceHolder = "(Select one)"
	m.ExtendBaseWidget(m)
	return m
}

// Tapped implements fyne.Tappable: refresh, then open the list.
func (m *methodSelect) Tapped(e *fyne.PointEvent) {
	if m.onOpen != nil {
		m.onOpen()
	}
	m.Select.Tapped(e)
}

// buildUpscaleTab makes the Upscale tab around the image pane.
func (s *studio) buildUpscaleTab() fyne.CanvasObject {
	c := &upscaleTab{s: s}
	s.upscaleActs = c
	c.run.frameGap = time.Second / 15
	c.method = newMethodSelect(func(string) { c.methodChanged() }, c.refreshMethods)
	c.scale = widget.NewSelect(nil, func(string) { c.scaleChanged() })
	c.about = widget.NewLabel("")
	c.about.Wrapping = fyne.TextWrapWord

	c.start = widget.NewButtonWithIcon("Start", theme.MediaPlayIcon(), c.startJob)
	c.start.Importance = widget.HighImportance
	c.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), c.cancelJob)
	c.cancel.Disable()
	c.exportBtn = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), c.exportResult)
	c.exportBtn.Disable()

	form := widget.NewForm(
		widget.NewFormItem("Method", c.method),
		widget.NewFormItem("Scale", c.scale),
	)
	left := container.NewBorder(nil, container.NewGridWithColumns(2, c.start, c.cancel), nil, nil,
		container.NewVScroll(container.NewVBox(s.lowRes.object, form, c.about)))

	c.view = newZoomCompare()
	c.split = widget.NewSlider(0, 1)
	c.split.Step = 0.01
	c.split.Value = 0.5
	c.split.OnChanged = func(f float64) { c.view.setSplit(f) }
	c.zoom = widget.NewSlider(0, 1)
	c.zoom.Step = 0.001
	c.zoomLabel = widget.NewLabel("")
	c.zoom.OnChanged = func(f float64) { c.view.setZoom(f); c.showZoom() }
	c.view.OnZoom = func(f float64) { c.zoom.SetValue(f) }
	c.progress = widget.NewProgressBar()
	c.status = widget.NewLabel("Ready.")
	c.status.Truncation = fyne.TextTruncateEllipsis
	c.notice = widget.NewLabel("")
	c.notice.Wrapping = fyne.TextWrapWord
	heading := widget.NewLabelWithStyle("Before (bicubic) | after — drag across the picture; tap to zoom there",
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	heading.Truncation = fyne.TextTruncateEllipsis
	controls := widget.NewForm(
		widget.NewFormItem("Compare", c.split),
		widget.NewFormItem("Zoom", container.NewBorder(nil, nil, nil, c.zoomLabel, c.zoom)),
	)
	frame := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	right := container.NewBorder(heading,
		container.NewVBox(controls, c.progress, container.NewBorder(nil, nil, nil, c.exportBtn, c.status), c.notice),
		nil, nil,
		container.NewStack(frame, container.NewPadded(c.view)),
	)
	c.refreshMethods()
	c.showZoom()
	split := container.NewHSplit(left, right)
	split.Offset = 0.36
	return split
}

// refreshMethods reads the engine's catalog again, keeping the choice.
func (c *upscaleTab) refreshMethods() {
	methods := fallbackUpscaleMethods
	if l, ok := c.s.engine.(upscaleLister); ok {
		if m := l.UpscaleMethods(); len(m) > 0 {
			methods = m
		}
	}
	c.methods = methods
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = m.Name
	}
	c.method.Options = names
	prev := c.method.Selected
	if _, ok := c.lookup(prev); !ok {
		prev = names[0]
		// The default: Atelier's own pixel-loss network (built in, fast,
		// the best PSNR here), else bicubic.
		for _, name := range []string{"bicubic", "pixel"} {
			if _, ok := c.lookup(name); ok {
				prev = name
			}
		}
	}
	if prev != c.method.Selected {
		c.method.SetSelected(prev) // calls methodChanged
	} else {
		c.method.Refresh()
		c.methodChanged()
	}
}

func (c *upscaleTab) lookup(name string) (job.UpscaleMethod, bool) {
	for _, m := range c.methods {
		if m.Name == name {
			return m, true
		}
	}
	return job.UpscaleMethod{}, false
}

// scaleLabel is how a factor appears in the scale list.
func scaleLabel(s job.UpscaleScale) string {
	l := fmt.Sprintf("×%d", s.Factor)
	if !s.Present {
		l += " (model not downloaded)"
	}
	return l
}

// factorOf reads the factor back from a scale label.
func factorOf(label string) int {
	num, _, _ := strings.Cut(strings.TrimPrefix(label, "×"), " ")
	f, _ := strconv.Atoi(num)
	return f
}

// methodChanged offers the chosen method's scales, keeping the factor
// when the method has it.
func (c *upscaleTab) methodChanged() {
	m, ok := c.lookup(c.method.Selected)
	if !ok {
		return
	}
	keep := factorOf(c.scale.Selected)
	labels := make([]string, len(m.Scales))
	chosen := ""
	for i, sc := range m.Scales {
		labels[i] = scaleLabel(sc)
		if sc.Factor == keep || (chosen == "" && keep == 0 && sc.Factor == 4) {
			chosen = labels[i]
		}
	}
	c.scale.Options = labels
	if chosen == "" && len(labels) > 0 {
		chosen = labels[0]
	}
	if chosen != c.scale.Selected {
		c.scale.SetSelected(chosen) // calls scaleChanged
	} else {
		c.scale.Refresh()
		c.scaleChanged()
	}
}

// chosen returns the method and scale chosen.
func (c *upscaleTab) chosen() (job.UpscaleMethod, job.UpscaleScale, bool) {
	m, ok := c.lookup(c.method.Selected)
	if !ok {
		return m, job.UpscaleScale{}, false
	}
	sc, ok := m.Scale(factorOf(c.scale.Selected))
	return m, sc, ok
}

// scaleChanged describes the choice, or explains how to get a missing
// model, and enables Start only when the choice can run.
func (c *upscaleTab) scaleChanged() {
	m, sc, ok := c.chosen()
	switch {
	case !ok:
		c.about.SetText("")
	case !sc.Present:
		c.about.SetText(fmt.Sprintf("%s ×%d needs the model %s, which is not downloaded. Get it with\n\n    %s\n\n(or `make models` for all of them), then choose it again.",
			m.Name, sc.Factor, sc.Model, sc.FetchCommand()))
	default:
		c.about.SetText(m.Description + ".")
	}
	if c.run.running == nil {
		if ok && sc.Present {
			c.start.Enable()
		} else {
			c.start.Disable()
		}
	}
}

// request builds the job the controls describe.
func (c *upscaleTab) request() (job.Request, error) {
	if c.s.lowRes.path == "" {
		return job.Request{}, errors.New("Open an image to upscale first.")
	}
	m, sc, ok := c.chosen()
	if !ok {
		return job.Request{}, errors.New("Choose a method and a scale first.")
	}
	if !sc.Present {
		return job.Request{}, fmt.Errorf("%s ×%d needs the model %s: get it with `%s`.", m.Name, sc.Factor, sc.Model, sc.FetchCommand())
	}
	return job.Request{Kind: job.KindUpscale, Upscale: &job.UpscaleOptions{
		Input: job.Source{Path: c.s.lowRes.path}, Factor: sc.Factor, Method: m.Name,
	}}, nil
}

// startJob starts the upscale the controls describe, and reads the input
// at full size for the before side meanwhile. UI goroutine.
func (c *upscaleTab) startJob() {
	if c.run.running != nil {
		return
	}
	c.refreshMethods() // a model may have been fetched or removed meanwhile
	req, err := c.request()
	if err != nil {
		c.s.showError(err)
		return
	}
	if !c.s.startTab(&c.run, req, c.apply) {
		return
	}
	c.factor = req.Upscale.Factor
	if c.input != req.Upscale.Input.Path {
		c.input, c.original = req.Upscale.Input.Path, nil
		c.readOriginal(c.run.id, c.input)
	}
	c.view.setImages(c.original, nil)
	c.exportBtn.Disable()
	c.progress.SetValue(0)
	c.notice.SetText("")
	c.status.SetText("Starting…")
	c.setRunning(true)
}

// inputOpened shows the newly opened picture on the before side of the
// view, alone: an earlier result stays exportable but no longer shown.
// A running job keeps its view. UI goroutine.
func (c *upscaleTab) inputOpened(path string) {
	if c.run.running != nil {
		return
	}
	c.input, c.original = path, nil
	c.view.setImages(nil, nil)
	c.readOriginal(-1, path) // no job has this id: the before side only
}

// readOriginal decodes path at full size off the UI goroutine for the
// before side of the view.
func (c *upscaleTab) readOriginal(id int, path string) {
	s := c.s
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		img, err := decodeFull(path)
		s.onUI(func() {
			if err != nil || c.input != path {
				return // the job reports a file it cannot read
			}
			c.original = img
			var after *image.RGBA
			if c.run.result != nil && c.run.id == id {
				after = c.run.result.Image
			}
			c.view.setImages(img, after)
		})
	}()
}

// decodeFull reads an image file whole as a tightly packed RGBA, upright
// (EXIF orientation applied, as the engine does).
func decodeFull(path string) (*image.RGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	return orientRGBA(fitRGBA(img, max(b.Dx(), b.Dy())), fileOrientation(f, format)), nil
}

// cancelJob cancels the running upscale; its Cancelled update ends it.
func (c *upscaleTab) cancelJob() {
	if c.run.running == nil {
		return
	}
	c.run.running.Cancel()
	c.cancel.Disable()
	c.status.SetText("Cancelling…")
}

// setRunning switches the controls between editing and running.
func (c *upscaleTab) setRunning(on bool) {
	for _, w := range []fyne.Disableable{c.method, c.scale, c.s.lowRes.open} {
		if on {
			w.Disable()
		} else {
			w.Enable()
		}
	}
	if on {
		c.start.Disable()
		c.cancel.Enable()
	} else {
		c.cancel.Disable()
		c.scaleChanged() // enables Start when the choice can run
	}
}

// apply shows one update of upscale job id. UI goroutine.
func (c *upscaleTab) apply(id int, u job.Update) {
	if id != c.run.id {
		return
	}
	addNotices(c.notice, u.Notices)
	switch u.Kind {
	case job.Progress, job.Frame:
		c.progress.SetValue(u.Fraction())
		c.status.SetText(tileText(u))
		return
	case job.Done:
		c.progress.SetValue(1)
		c.run.result = &u
		if u.Image != nil {
			c.view.setImages(c.original, u.Image)
			c.exportBtn.Enable()
			b := u.Image.Bounds()
			c.status.SetText(fmt.Sprintf("Done: %d × %d in %s.", b.Dx(), b.Dy(), roundDuration(u.Elapsed)))
		} else {
			c.status.SetText("Done.")
		}
		c.showZoom()
	case job.Cancelled:
		c.status.SetText("Cancelled")
	case job.Error:
		c.status.SetText("Failed.")
		err := u.Err
		if err == nil {
			err = errors.New("the job failed for an unknown reason")
		}
		c.s.showError(job.Plain(err))
	}
	c.run.running = nil
	c.setRunning(false)
}

// tileText says where an upscale is: "Tile 3 of 12 — about 4s left".
func tileText(u job.Update) string {
	if u.Total <= 0 {
		if u.Stage != "" {
			return strings.ToUpper(u.Stage[:1]) + u.Stage[1:] + "…"
		}
		return "Starting…"
	}
	t := fmt.Sprintf("Tile %d of %d", u.Iteration, u.Total)
	if u.ETA > 0 {
		t += " — about " + roundDuration(u.ETA).String() + " left"
	}
	return t
}

// showZoom labels the zoom slider with the magnification shown.
func (c *upscaleTab) showZoom() {
	size := c.view.Size()
	ps := c.view.pixelScale()
	z := c.view.magnification(int(float64(size.Width)*ps), int(float64(size.Height)*ps))
	if c.zoom.Value == 0 {
		c.zoomLabel.SetText("fit")
		return
	}
	c.zoomLabel.SetText(fmt.Sprintf("%d%%", int(z*100+0.5)))
}

// exportResult saves the last result.
func (c *upscaleTab) exportResult() {
	name := exportName(c.input, fmt.Sprintf("-x%d", c.factor), "upscaled.png")
	c.s.exportImage(exportSpec{result: c.run.result, name: name, status: c.status, button: c.exportBtn})
}

// open asks for an image (tabActions).
func (c *upscaleTab) open() {
	if !c.s.lowRes.open.Disabled() {
		c.s.choose(c.s.lowRes)
	}
}

// export saves the result when there is one (tabActions).
func (c *upscaleTab) export() {
	if !c.exportBtn.Disabled() {
		c.exportResult()
	}
}

// startStop starts an upscale, or cancels the one running (tabActions).
func (c *upscaleTab) startStop() {
	if c.run.running != nil {
		c.cancelJob()
	} else {
		c.startJob()
	}
}
