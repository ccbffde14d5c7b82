package ui

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
)

// Choices of the Style tab's selects.
var (
	sizeChoices    = []string{"256", "512", "768", "1024"}
	qualityChoices = []string{"Draft (50 iterations)", "Good (200 iterations)", "Fine (500 iterations)"}
	qualityIters   = []int{50, 200, 500}
	networkChoices = []string{"auto", job.NetworkVGG19, job.NetworkResNet50}
)

// Slider scales: the style ratio runs 0.1..1000 and the total-variation
// weight 0.001..100, both logarithmically over 0..1.
const (
	ratioLogMin, ratioLogSpan = -1.0, 4.0
	tvLogMin, tvLogSpan       = -3.0, 5.0
	defaultRatio              = 20.0 // the networks' default style/content ratio (100/5 and 20/1)
)

// styleItem is one style image in the Style tab's list.
type styleItem struct {
	path   string
	pv     *preview // shown in the style pane when it is the latest left
	weight *widget.Slider
	remove *widget.Button
	row    fyne.CanvasObject
}

// styleControls are the Style tab's settings, run buttons and live view.
type styleControls struct {
	styles    []*styleItem
	styleList *fyne.Container

	ratio, tv           *widget.Slider
	ratioLabel, tvLabel *widget.Label
	tvTouched           bool // false: the network's default TV weight
	colours             *widget.Check
	size, quality       *widget.Select
	network             *widget.Select
	seed                *widget.Entry

	start, stop, export *widget.Button

	output      *canvas.Image
	outputEmpty *widget.Label
	progress    *widget.ProgressBar
	status      *widget.Label
	notice      *widget.Label

	running   Job         // nil when no job runs; UI goroutine only
	runStyles int         // number of styles of the running job
	runID     int         // increases with every start; stale updates are dropped
	result    *job.Update // the last finished job's Done update
	frameGap  time.Duration
	autostart bool // start once the preloaded images are open
}

func ratioOf(pos float64) float64 { return math.Pow(10, ratioLogMin+ratioLogSpan*pos) }
func tvOf(pos float64) float64 {
	if pos <= 0 {
		return -1 // off
	}
	return math.Pow(10, tvLogMin+tvLogSpan*pos)
}

// buildStyleTab makes the Style tab's widgets around the content and
// style panes.
func (s *studio) buildStyleTab() fyne.CanvasObject {
	c := &s.sc
	c.frameGap = time.Second / 15
	c.styleList = container.NewVBox()

	c.ratioLabel = widget.NewLabel("")
	c.ratio = widget.NewSlider(0, 1)
	c.ratio.Step = 0.005
	c.ratio.Value = (math.Log10(defaultRatio) - ratioLogMin) / ratioLogSpan
	c.ratio.OnChanged = func(float64) { s.showRatio(); s.steer(job.Params{StyleRatio: job.Float(s.styleRatio())}) }

	c.tvLabel = widget.NewLabel("")
	c.tv = widget.NewSlider(0, 1)
	c.tv.Step = 0.01
	c.tv.Value = (1 - tvLogMin) / tvLogSpan // 10, VGG19's default
	c.tv.OnChanged = func(float64) {
		c.tvTouched = true
		s.showTV()
		s.steer(job.Params{TVWeight: job.Float(tvOf(c.tv.Value))})
	}
	s.showRatio()
	s.showTV()

	c.colours = widget.NewCheck("Keep the content's colours", func(on bool) {
		s.steer(job.Params{Colour: job.Colour(colourMode(on))})
	})
	c.size = widget.NewSelect(sizeChoices, nil)
	c.size.SetSelected("512")
	c.quality = widget.NewSelect(qualityChoices, nil)
	c.quality.SetSelectedIndex(1)
	c.network = widget.NewSelect(networkChoices, nil)
	c.network.SetSelected("auto")
	c.seed = widget.NewEntry()
	c.seed.SetPlaceHolder("0")

	c.start = widget.NewButtonWithIcon("Start", theme.MediaPlayIcon(), s.startJob)
	c.start.Importance = widget.HighImportance
	c.stop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), s.stopJob)
	c.stop.Disable()
	c.export = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), s.exportResult)
	c.export.Disable()

	form := widget.NewForm(
		widget.NewFormItem("Style strength", container.NewBorder(nil, nil, nil, c.ratioLabel, c.ratio)),
		widget.NewFormItem("Smoothness (TV)", container.NewBorder(nil, nil, nil, c.tvLabel, c.tv)),
		widget.NewFormItem("Colours", c.colours),
		widget.NewFormItem("Output size", c.size),
		widget.NewFormItem("Quality", c.quality),
		widget.NewFormItem("Seed", c.seed),
		widget.NewFormItem("Network", c.network),
	)
	stylesHeading := widget.NewLabelWithStyle("Styles (weights mix them)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	// The panes are shorter here than on the other tabs, so that the
	// settings fit; Start and Stop stay in view below the scrolling part.
	s.content.image.SetMinSize(fyne.NewSize(200, 110))
	s.style.image.SetMinSize(fyne.NewSize(200, 110))
	s.style.open.SetText("Add style image…")
	left := container.NewBorder(nil, container.NewGridWithColumns(2, c.start, c.stop), nil, nil,
		container.NewVScroll(container.NewVBox(
			s.content.object, s.style.object, stylesHeading, c.styleList, form,
		)))

	c.output = canvas.NewImageFromImage(nil)
	c.output.FillMode = canvas.ImageFillContain
	c.output.ScaleMode = canvas.ImageScaleSmooth
	c.output.SetMinSize(fyne.NewSize(320, 320))
	c.outputEmpty = widget.NewLabelWithStyle("The result appears here as it forms.", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	c.progress = widget.NewProgressBar()
	c.status = widget.NewLabel("Ready.")
	c.status.Truncation = fyne.TextTruncateEllipsis
	c.notice = widget.NewLabel("")
	c.notice.Wrapping = fyne.TextWrapWord
	frame := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	right := container.NewBorder(
		widget.NewLabelWithStyle("Result", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewVBox(c.progress, container.NewBorder(nil, nil, nil, c.export, c.status), c.notice),
		nil, nil,
		container.NewStack(frame, container.NewCenter(c.outputEmpty), container.NewPadded(c.output)),
	)
	split := container.NewHSplit(left, right)
	split.Offset = 0.42
	return split
}

func (s *studio) styleRatio() float64 { return ratioOf(s.sc.ratio.Value) }

func (s *studio) showRatio() {
	s.sc.ratioLabel.SetText(fmt.Sprintf("%6.1f", s.styleRatio()))
}

func (s *studio) showTV() {
	c := &s.sc
	switch {
	case !c.tvTouched:
		c.tvLabel.SetText("default")
	case c.tv.Value <= 0:
		c.tvLabel.SetText("off")
	default:
		c.tvLabel.SetText(strconv.FormatFloat(tvOf(c.tv.Value), 'g', 2, 64))
	}
}

func colourMode(keep bool) job.ColourMode {
	if keep {
		return job.ColourLuminance
	}
	return job.ColourStyle
}

// addStyle appends the style image at path (already decoded as pv) to
// the list, with weight 1. Call on the UI goroutine.
func (s *studio) addStyle(path string, pv *preview) {
	c := &s.sc
	it := &styleItem{path: path, pv: pv}
	thumb := canvas.NewImageFromImage(fitRGBA(pv.img, 96))
	thumb.FillMode = canvas.ImageFillContain
	thumb.SetMinSize(fyne.NewSize(56, 56))
	name := widget.NewLabel(filepath.Base(path))
	name.Truncation = fyne.TextTruncateEllipsis
	it.weight = widget.NewSlider(0, 1)
	it.weight.Step = 0.05
	it.weight.Value = 1
	it.weight.OnChanged = func(float64) { s.steerMix() }
	it.remove = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { s.removeStyle(it) })
	if c.running != nil {
		it.remove.Disable()
	}
	it.row = container.NewBorder(nil, nil, thumb, it.remove, container.NewVBox(name, it.weight))
	c.styles = append(c.styles, it)
	c.styleList.Add(it.row)
}

// removeStyle drops it from the list (not while a job runs: its mix has
// one weight per style it started with).
func (s *studio) removeStyle(it *styleItem) {
	c := &s.sc
	if c.running != nil {
		return
	}
	for i, x := range c.styles {
		if x == it {
			c.styles = append(c.styles[:i], c.styles[i+1:]...)
			c.styleList.Remove(it.row)
			break
		}
	}
	switch {
	case len(c.styles) == 0:
		s.style.clear()
	case s.style.path == it.path:
		last := c.styles[len(c.styles)-1]
		s.style.show(last.path, last.pv)
	}
}

// weightOf is it's slider value, rounded to hundredths (the slider's
// steps leave float noise).
func weightOf(it *styleItem) float64 { return math.Round(it.weight.Value*100) / 100 }

// steer sends p to the running job, if any.
func (s *studio) steer(p job.Params) {
	if s.sc.running != nil {
		s.sc.running.Steer(p)
	}
}

// steerMix sends the style weights to the running job when they still
// match its styles and at least one is positive.
func (s *studio) steerMix() {
	c := &s.sc
	if c.running == nil || len(c.styles) != c.runStyles {
		return
	}
	mix := make([]float64, len(c.styles))
	positive := false
	for i, it := range c.styles {
		mix[i] = weightOf(it)
		positive = positive || mix[i] > 0
	}
	if positive {
		c.running.Steer(job.Params{StyleMix: mix})
	}
}

// request builds the job the controls describe.
func (s *studio) request() (job.Request, error) {
	c := &s.sc
	if s.content.path == "" {
		return job.Request{}, errors.New("Open a content image first.")
	}
	if len(c.styles) == 0 {
		return job.Request{}, errors.New("Add at least one style image first.")
	}
	var seed int64
	if t := strings.TrimSpace(c.seed.Text); t != "" {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return job.Request{}, fmt.Errorf("The seed must be a whole number, not %q.", t)
		}
		seed = v
	}
	size, _ := strconv.Atoi(c.size.Selected)
	o := &job.StylizeOptions{
		Content:    job.Source{Path: s.content.path},
		Size:       size,
		StyleRatio: s.styleRatio(),
		Colour:     colourMode(c.colours.Checked),
		Iterations: qualityIters[max(c.quality.SelectedIndex(), 0)],
		Seed:       seed,
	}
	if c.tvTouched {
		o.TVWeight = tvOf(c.tv.Value)
	}
	if n := c.network.Selected; n != "auto" {
		o.Network = n
	}
	for _, it := range c.styles {
		o.Styles = append(o.Styles, job.Style{Source: job.Source{Path: it.path}, Weight: weightOf(it)})
	}
	return job.Request{Kind: job.KindStylize, Stylize: o}, nil
}

// startJob starts the job the controls describe. UI goroutine.
func (s *studio) startJob() {
	c := &s.sc
	if c.running != nil {
		return
	}
	req, err := s.request()
	if err == nil && s.engine == nil {
		err = errors.New("The engine is not available in this build.")
	}
	if err != nil {
		s.showError(err)
		return
	}
	j, err := s.engine.Start(s.ctx, req)
	if err != nil {
		s.showError(job.Plain(err))
		return
	}
	c.runID++
	c.running, c.runStyles = j, len(c.styles)
	c.result = nil
	c.export.Disable()
	c.progress.SetValue(0)
	c.notice.SetText("")
	c.status.SetText("Starting…")
	s.setRunning(true)
	s.pending.Add(1)
	go s.watch(c.runID, j)
}

// stopJob cancels the running job; its Cancelled update ends it.
func (s *studio) stopJob() {
	c := &s.sc
	if c.running == nil {
		return
	}
	c.running.Cancel()
	c.stop.Disable()
	c.status.SetText("Stopping…")
}

// setRunning switches the controls between editing and running.
func (s *studio) setRunning(on bool) {
	c := &s.sc
	for _, w := range []fyne.Disableable{c.start, c.size, c.quality, c.network, c.seed, s.style.open, s.content.open} {
		if on {
			w.Disable()
		} else {
			w.Enable()
		}
	}
	for _, it := range c.styles {
		if on {
			it.remove.Disable()
		} else {
			it.remove.Enable()
		}
	}
	if on {
		c.stop.Enable()
	} else {
		c.stop.Disable()
	}
}

// showError explains err in a dialog; err should be a plain sentence.
func (s *studio) showError(err error) {
	msg := strings.TrimRight(err.Error(), ".") + "."
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	dialog.ShowError(errors.New(msg), s.window)
}
