package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
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

// Choices of the Texture tab.
var (
	textureMethodChoices = []string{"Neural (Gram matrices, VGG19)", "Patch-based (fast, no network)"}
	textureMethods       = []string{job.TextureGram, job.TexturePatch}
	textureSizeChoices   = []string{"128 × 128", "256 × 256", "384 × 384", "512 × 512", "768 × 768", "1024 × 1024", "512 × 256", "1024 × 512"}
)

// textureTab is the Texture tab: its settings, run buttons and live view.
// It is also the tab's menu and shortcut actions (studio.textureActs).
// UI goroutine only.
type textureTab struct {
	s *studio

	method   *widget.Select
	size     *widget.Select
	tileable *widget.Check
	seed     *widget.Entry

	start, stop, exportBtn *widget.Button

	output      *canvas.Image
	outputEmpty *widget.Label
	progress    *widget.ProgressBar
	status      *widget.Label
	notice      *widget.Label

	frame *image.RGBA // the newest frame, untiled; nil before the first
	run   tabRun
}

// buildTextureTab makes the Texture tab around the sample pane.
func (s *studio) buildTextureTab() fyne.CanvasObject {
	c := &textureTab{s: s}
	s.textureActs = c
	c.run.frameGap = time.Second / 15
	c.method = widget.NewSelect(textureMethodChoices, nil)
	c.method.SetSelectedIndex(0)
	c.size = widget.NewSelect(textureSizeChoices, nil)
	c.size.SetSelected("256 × 256")
	c.tileable = widget.NewCheck("Tileable (wraps around seamlessly; preview shown 2 × 2)", func(bool) { c.showFrame() })
	c.seed = widget.NewEntry()
	c.seed.SetPlaceHolder("random")

	c.start = widget.NewButtonWithIcon("Start", theme.MediaPlayIcon(), c.startJob)
	c.start.Importance = widget.HighImportance
	c.stop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), c.stopJob)
	c.stop.Disable()
	c.exportBtn = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), c.exportResult)
	c.exportBtn.Disable()

	form := widget.NewForm(
		widget.NewFormItem("Method", c.method),
		widget.NewFormItem("Output size", c.size),
		widget.NewFormItem("", c.tileable),
		widget.NewFormItem("Seed", c.seed),
	)
	hint := widget.NewLabel("The sample's pixel scale is the texture's: a sample with small features gives a fine texture. " +
		"The neural method takes minutes at 256 px; the patch method seconds.")
	hint.Wrapping = fyne.TextWrapWord
	hint.Importance = widget.LowImportance
	left := container.NewBorder(nil, container.NewGridWithColumns(2, c.start, c.stop), nil, nil,
		container.NewVScroll(container.NewVBox(s.sample.object, form, hint)))

	c.output = canvas.NewImageFromImage(nil)
	c.output.FillMode = canvas.ImageFillContain
	c.output.ScaleMode = canvas.ImageScaleFastest // keep the texture's pixels crisp
	c.output.SetMinSize(fyne.NewSize(320, 320))
	c.outputEmpty = widget.NewLabelWithStyle("The texture appears here as it forms.", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	c.progress = widget.NewProgressBar()
	c.status = widget.NewLabel("Ready.")
	c.status.Truncation = fyne.TextTruncateEllipsis
	c.notice = widget.NewLabel("")
	c.notice.Wrapping = fyne.TextWrapWord
	frame := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	right := container.NewBorder(
		widget.NewLabelWithStyle("Texture", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewVBox(c.progress, container.NewBorder(nil, nil, nil, c.exportBtn, c.status), c.notice),
		nil, nil,
		container.NewStack(frame, container.NewCenter(c.outputEmpty), container.NewPadded(c.output)),
	)
	split := container.NewHSplit(left, right)
	split.Offset = 0.4
	return split
}

// textureRequest builds the job the Texture tab's controls describe.
func (c *textureTab) request() (job.Request, error) {
	s := c.s
	if s.sample.path == "" {
		return job.Request{}, errors.New("Open a texture sample first.")
	}
	w, h, err := parseTextureSize(c.size.Selected)
	if err != nil {
		return job.Request{}, err
	}
	var seed int64
	if t := strings.TrimSpace(c.seed.Text); t != "" {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil || v < 0 {
			return job.Request{}, fmt.Errorf("The seed must be a whole number (or empty for a random one), not %q.", t)
		}
		seed = v
	}
	o := &job.TextureOptions{
		Examples: []job.Source{{Path: s.sample.path}},
		Width:    w,
		Height:   h,
		Method:   textureMethods[max(c.method.SelectedIndex(), 0)],
		Tileable: c.tileable.Checked,
		Seed:     seed,
	}
	return job.Request{Kind: job.KindTexture, Texture: o}, nil
}

// parseTextureSize reads "W × H".
func parseTextureSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(s, "×")
	w, err1 := strconv.Atoi(strings.TrimSpace(ws))
	h, err2 := strconv.Atoi(strings.TrimSpace(hs))
	if !ok || err1 != nil || err2 != nil || w < 1 || h < 1 {
		return 0, 0, fmt.Errorf("%q is not an output size", s)
	}
	return w, h, nil
}

// startTexture starts the job the controls describe. UI goroutine.
func (c *textureTab) startJob() {
	s := c.s
	if c.run.running != nil {
		return
	}
	req, err := c.request()
	if err != nil {
		s.showError(err)
		return
	}
	if !s.startTab(&c.run, req, c.apply) {
		return
	}
	c.exportBtn.Disable()
	c.progress.SetValue(0)
	c.notice.SetText("")
	c.status.SetText("Starting…")
	c.setRunning(true)
}

// stopTexture cancels the running texture job; its Cancelled update ends
// it.
func (c *textureTab) stopJob() {
	if c.run.running == nil {
		return
	}
	c.run.running.Cancel()
	c.stop.Disable()
	c.status.SetText("Stopping…")
}

// setTextureRunning switches the controls between editing and running.
func (c *textureTab) setRunning(on bool) {
	for _, w := range []fyne.Disableable{c.start, c.method, c.size, c.tileable, c.seed, c.s.sample.open} {
		if on {
			w.Disable()
		} else {
			w.Enable()
		}
	}
	if on {
		c.stop.Enable()
	} else {
		c.stop.Disable()
	}
}

// applyTexture shows one update of texture job id. UI goroutine.
func (c *textureTab) apply(id int, u job.Update) {
	if id != c.run.id {
		return
	}
	if u.Frame != nil {
		c.frame = u.Frame
		c.showFrame()
	}
	addNotices(c.notice, u.Notices)
	switch u.Kind {
	case job.Progress, job.Frame:
		c.progress.SetValue(u.Fraction())
		c.status.SetText(progressText(u))
		return
	case job.Done:
		c.progress.SetValue(1)
		if u.Frame == nil && u.Image != nil {
			c.frame = fitRGBA(u.Image, previewSide/2)
			c.showFrame()
		}
		c.run.result = &u
		msg := fmt.Sprintf("Done: %d iterations in %s", u.Iteration, roundDuration(u.Elapsed))
		if seed, ok := recordedSeed(u.Metadata); ok {
			msg += fmt.Sprintf(", seed %d", seed)
		}
		c.status.SetText(msg + ".")
		if u.Image != nil {
			c.exportBtn.Enable()
		}
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

// showTextureFrame shows the newest frame, 2 × 2 when tileable is on so
// that the seams (or their absence) show. UI goroutine.
func (c *textureTab) showFrame() {
	if c.frame == nil {
		return
	}
	img := c.frame
	if c.tileable.Checked {
		img = tile2x2(img)
	}
	c.output.Image = img
	c.output.Refresh()
	c.outputEmpty.Hide()
}

// tile2x2 returns a new image holding img twice across and twice down.
func tile2x2(img *image.RGBA) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, 2*w, 2*h))
	for _, at := range []image.Point{{0, 0}, {w, 0}, {0, h}, {w, h}} {
		draw.Draw(out, image.Rectangle{Min: at, Max: at.Add(image.Pt(w, h))}, img, b.Min, draw.Src)
	}
	return out
}

// recordedSeed reads the seed from a result's settings.
func recordedSeed(meta map[string]string) (int64, bool) {
	var o job.TextureOptions
	if err := json.Unmarshal([]byte(meta[job.MetadataSettingsKey]), &o); err != nil || o.Seed == 0 {
		return 0, false
	}
	return o.Seed, true
}

// exportResult saves the last texture.
func (c *textureTab) exportResult() {
	c.s.exportImage(exportSpec{result: c.run.result, name: exportName(c.s.sample.path, "-texture", "texture.png"),
		status: c.status, button: c.exportBtn})
}

// open asks for a sample (tabActions).
func (c *textureTab) open() {
	if !c.s.sample.open.Disabled() {
		c.s.choose(c.s.sample)
	}
}

// export saves the result when there is one (tabActions).
func (c *textureTab) export() {
	if !c.exportBtn.Disabled() {
		c.exportResult()
	}
}

// startStop starts a job, or stops the one running (tabActions).
func (c *textureTab) startStop() {
	if c.run.running != nil {
		c.stopJob()
	} else {
		c.startJob()
	}
}
