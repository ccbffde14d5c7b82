package ui

import (
	"errors"
	"fmt"
	"image"
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
	scaleChoices   = []string{"auto", "1", "2", "3", "4"}
	networkChoices = []string{"auto", job.NetworkVGG19, job.NetworkResNet50}
)

// Slider scales: the style ratio runs 0.1..1000 and the total-variation
// weight 0.001..100, both logarithmically over 0..1.
const (
	ratioLogMin, ratioLogSpan = -1.0, 4.0
	tvLogMin, tvLogSpan       = -3.0, 5.0
	// defaultRatioPos is the ratio slider's step nearest the networks'
	// default style/content ratio, 20 (100/5 and 20/1): 10^(−1+4×0.575) ≈ 19.95.
	defaultRatioPos = 0.575
	minStyleScale   = 0.25 // the style scale slider's range
	maxStyleScale   = 2.0
)

// styleItem is one style image in the Style tab's list.
type styleItem struct {
	path     string
	pv       *preview // shown in the style pane when it is the latest left
	group    int      // groupA or groupB (see morph.go)
	groupBtn *widget.Button
	weight   *widget.Slider
	remove   *widget.Button
	row      fyne.CanvasObject
}

// styleControls are the Style tab's settings, run buttons and live view.
type styleControls struct {
	styles    []*styleItem
	styleList *fyne.Container

	ratio, tv, styleScale, morph                *widget.Slider
	ratioLabel, tvLabel, scaleLabel, morphLabel *widget.Label
	tvTouched                                   bool // false: the network's default TV weight
	colours                                     *widget.Check
	size, quality, scales                       *widget.Select
	network                                     *widget.Select
	seed                                        *widget.Entry

	start, stop, cont, export *widget.Button
	savePreset, loadPreset    *widget.Button

	output      *canvas.Image
	compare     *compareView // the output with the before/after split
	compareOn   *widget.Check
	outputEmpty *widget.Label
	curve       *lossCurve
	progress    *widget.ProgressBar
	status      *widget.Label
	notice      *widget.Label

	running    Job          // nil when no job runs; UI goroutine only
	runA, runB []*styleItem // the running job's Styles and MorphTo, in order
	runID      int          // increases with every start; stale updates are dropped
	result     *job.Update  // the last finished job's Done update
	last       *image.RGBA  // the newest picture of the last job, for Continue
	canCont    bool         // the last job ended Done or Cancelled with a picture
	curveBase  int          // the loss curve's iteration where the running job began
	frameGap   time.Duration
	autostart  bool // start once the preloaded images are open

	prefs settingsStore // where the settings persist (presets.go)
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
	c.frameGap = time.Second / 8
	c.styleList = container.NewVBox()

	c.ratioLabel = widget.NewLabel("")
	c.ratio = widget.NewSlider(0, 1)
	c.ratio.Step = 0.005
	c.ratio.Value = defaultRatioPos
	c.ratio.OnChanged = func(float64) {
		s.showRatio()
		s.steer(job.Params{StyleRatio: job.Float(s.styleRatio())})
		s.settingsChanged()
	}

	c.tvLabel = widget.NewLabel("")
	c.tv = widget.NewSlider(0, 1)
	c.tv.Step = 0.01
	c.tv.Value = (1 - tvLogMin) / tvLogSpan // 10, VGG19's default
	c.tv.OnChanged = func(float64) {
		c.tvTouched = true
		s.showTV()
		s.steer(job.Params{TVWeight: job.Float(tvOf(c.tv.Value))})
		s.settingsChanged()
	}

	// The style scale cannot change under a running job (the style
	// targets are built at that scale): it applies at the next Start.
	c.scaleLabel = widget.NewLabel("")
	c.styleScale = widget.NewSlider(minStyleScale, maxStyleScale)
	c.styleScale.Step = 0.05
	c.styleScale.Value = job.DefaultStyleScale
	c.styleScale.OnChanged = func(float64) { s.showStyleScale(); s.settingsChanged() }

	c.morphLabel = widget.NewLabel("")
	c.morph = widget.NewSlider(0, 1)
	c.morph.Step = 0.01
	c.morph.OnChanged = func(float64) { s.showMorph(); s.steerMorph(); s.settingsChanged() }
	s.showRatio()
	s.showTV()
	s.showStyleScale()
	s.showMorph()

	c.colours = widget.NewCheck("Keep the content's colours", func(on bool) {
		s.steer(job.Params{Colour: job.Colour(colourMode(on))})
		s.settingsChanged()
	})
	changed := func(string) { s.settingsChanged() }
	c.size = widget.NewSelect(sizeChoices, nil)
	c.size.SetSelected("512")
	c.quality = widget.NewSelect(qualityChoices, nil)
	c.quality.SetSelectedIndex(1)
	c.scales = widget.NewSelect(scaleChoices, nil)
	c.scales.SetSelected("auto")
	c.network = widget.NewSelect(networkChoices, nil)
	c.network.SetSelected("auto")
	c.seed = widget.NewEntry()
	c.seed.SetPlaceHolder("0")
	for _, sel := range []*widget.Select{c.size, c.quality, c.scales, c.network} {
		sel.OnChanged = changed
	}
	c.seed.OnChanged = changed

	c.start = widget.NewButtonWithIcon("Start", theme.MediaPlayIcon(), s.startJob)
	c.start.Importance = widget.HighImportance
	c.stop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), s.stopJob)
	c.stop.Disable()
	c.cont = widget.NewButtonWithIcon("Continue", theme.MediaFastForwardIcon(), s.continueJob)
	c.cont.Disable()
	c.export = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), s.exportResult)
	c.export.Disable()
	c.savePreset = widget.NewButtonWithIcon("Save preset…", theme.DocumentSaveIcon(), s.askSavePreset)
	c.loadPreset = widget.NewButtonWithIcon("Load preset…", theme.FolderOpenIcon(), s.askLoadPreset)

	form := widget.NewForm(
		widget.NewFormItem("Morph A → B", container.NewBorder(nil, nil, nil, c.morphLabel, c.morph)),
		widget.NewFormItem("Style strength", container.NewBorder(nil, nil, nil, c.ratioLabel, c.ratio)),
		widget.NewFormItem("Style scale", container.NewBorder(nil, nil, nil, c.scaleLabel, c.styleScale)),
		widget.NewFormItem("Smoothness (TV)", container.NewBorder(nil, nil, nil, c.tvLabel, c.tv)),
		widget.NewFormItem("Colours", c.colours),
		widget.NewFormItem("Output size", c.size),
		widget.NewFormItem("Quality", c.quality),
		widget.NewFormItem("Scales", c.scales),
		widget.NewFormItem("Seed", c.seed),
		widget.NewFormItem("Network", c.network),
	)
	stylesHeading := widget.NewLabelWithStyle("Styles (weights mix them; A/B: morph groups)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	// The panes are shorter here than on the other tabs, so that the
	// settings fit; Start and Stop stay in view below the scrolling part.
	s.content.image.SetMinSize(fyne.NewSize(200, 110))
	s.style.image.SetMinSize(fyne.NewSize(200, 110))
	s.style.open.SetText("Add style image…")
	left := container.NewBorder(nil, container.NewGridWithColumns(3, c.start, c.stop, c.cont), nil, nil,
		container.NewVScroll(container.NewVBox(
			s.content.object, s.style.object, stylesHeading, c.styleList, form,
			container.NewGridWithColumns(2, c.savePreset, c.loadPreset),
		)))

	c.output = canvas.NewImageFromImage(nil)
	c.output.FillMode = canvas.ImageFillContain
	// Fastest: the GPU scales the frame with a linear filter. Smooth would
	// rescale every frame in software (Catmull-Rom) on the UI goroutine.
	c.output.ScaleMode = canvas.ImageScaleFastest
	c.output.SetMinSize(fyne.NewSize(320, 320))
	c.compare = newCompareView(c.output)
	c.compareOn = widget.NewCheck("Before/after", func(on bool) {
		if on {
			c.compare.setSplit(0.5)
		}
		c.compare.setComparing(on)
	})
	c.outputEmpty = widget.NewLabelWithStyle("The result appears here as it forms.", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	c.curve = newLossCurve()
	c.progress = widget.NewProgressBar()
	c.status = widget.NewLabel("Ready.")
	c.status.Truncation = fyne.TextTruncateEllipsis
	c.notice = widget.NewLabel("")
	c.notice.Wrapping = fyne.TextWrapWord
	frame := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	right := container.NewBorder(
		widget.NewLabelWithStyle("Result", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewVBox(c.curve, c.progress,
			container.NewBorder(nil, nil, nil, container.NewHBox(c.compareOn, c.export), c.status), c.notice),
		nil, nil,
		container.NewStack(frame, container.NewCenter(c.outputEmpty), container.NewPadded(c.compare)),
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

// styleScaleValue is the style scale slider's value, rounded to
// hundredths.
func (s *studio) styleScaleValue() float64 { return math.Round(s.sc.styleScale.Value*100) / 100 }

func (s *studio) showStyleScale() {
	s.sc.scaleLabel.SetText(fmt.Sprintf("%.2f×", s.styleScaleValue()))
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
	it.groupBtn = widget.NewButton(groupNames[it.group], func() { s.toggleGroup(it) })
	it.remove = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { s.removeStyle(it) })
	if c.running != nil {
		it.remove.Disable()
		it.groupBtn.Disable()
	}
	it.row = container.NewBorder(nil, nil, thumb, container.NewHBox(it.groupBtn, it.remove), container.NewVBox(name, it.weight))
	c.styles = append(c.styles, it)
	c.styleList.Add(it.row)
	s.showMorph()
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
	s.showMorph()
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
	scales, _ := strconv.Atoi(c.scales.Selected) // "auto": 0
	o := &job.StylizeOptions{
		Content:    job.Source{Path: s.content.path},
		Size:       size,
		StyleRatio: s.styleRatio(),
		StyleScale: s.styleScaleValue(),
		Colour:     colourMode(c.colours.Checked),
		Iterations: qualityIters[max(c.quality.SelectedIndex(), 0)],
		Scales:     scales,
		Seed:       seed,
	}
	if c.tvTouched {
		o.TVWeight = tvOf(c.tv.Value)
	}
	if n := c.network.Selected; n != "auto" {
		o.Network = n
	}
	a, b := s.groups()
	for _, it := range a {
		o.Styles = append(o.Styles, job.Style{Source: job.Source{Path: it.path}, Weight: weightOf(it)})
	}
	for _, it := range b {
		o.MorphTo = append(o.MorphTo, job.Style{Source: job.Source{Path: it.path}, Weight: weightOf(it)})
	}
	if len(b) > 0 {
		o.Morph = s.morphValue()
	}
	return job.Request{Kind: job.KindStylize, Stylize: o}, nil
}

// startJob starts the job the controls describe. UI goroutine.
func (s *studio) startJob() { s.launch(false) }

// continueJob starts the job the controls describe from the last job's
// newest picture, at full size (one scale), its loss curve going on from
// where the last one stopped. UI goroutine.
func (s *studio) continueJob() {
	if s.sc.canCont && s.sc.last != nil {
		s.launch(true)
	}
}

// launch starts a job, a fresh one or one continuing from the last
// picture.
func (s *studio) launch(continuing bool) {
	c := &s.sc
	if c.running != nil {
		return
	}
	req, err := s.request()
	if err == nil && continuing {
		req.Stylize.Start = &job.Source{Image: c.last}
		req.Stylize.Scales = 1
	}
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
	c.running = j
	c.runA, c.runB = s.groups()
	c.result = nil
	if continuing {
		c.curveBase = c.curve.lastIteration()
	} else {
		c.curveBase = 0
		c.curve.reset()
		c.compare.setBefore(s.content.image.Image)
	}
	c.last, c.canCont = nil, false
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
	for _, w := range []fyne.Disableable{c.start, c.size, c.quality, c.scales, c.network, c.seed, c.styleScale,
		c.loadPreset, s.style.open, s.content.open} {
		if on {
			w.Disable()
		} else {
			w.Enable()
		}
	}
	for _, it := range c.styles {
		if on {
			it.remove.Disable()
			it.groupBtn.Disable()
		} else {
			it.remove.Enable()
			it.groupBtn.Enable()
		}
	}
	if on {
		c.stop.Enable()
	} else {
		c.stop.Disable()
	}
	if !on && c.canCont {
		c.cont.Enable()
	} else {
		c.cont.Disable()
	}
}

// observe notes what the Style tab keeps of update u of the job shown:
// the newest picture (for Continue), the losses (for the curve), and
// whether the job can be continued. Called by apply before it shows u.
func (s *studio) observe(u job.Update) {
	c := &s.sc
	if u.Frame != nil {
		c.last = u.Frame
	}
	if u.Kind == job.Done && u.Image != nil {
		c.last = u.Image // full size
	}
	if (u.Kind == job.Progress || u.Kind == job.Frame) && u.Iteration > 0 {
		c.curve.add(c.curveBase+u.Iteration, u.Losses)
	}
	if u.Kind.Final() {
		c.curve.flush()
		c.canCont = u.Kind != job.Error && c.last != nil
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
