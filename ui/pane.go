package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// pane is one titled image area with an Open button and a caption.
type pane struct {
	role    string // what the image is for, e.g. "content image"
	path    string // file shown now; "" while empty
	loads   int    // loads started, to drop results a later load superseded
	image   *canvas.Image
	empty   *widget.Label // shown instead of the image while none is open
	caption *widget.Label
	open    *widget.Button
	object  fyne.CanvasObject
}

// newPane builds an empty pane; onOpen runs when its Open button is tapped.
func newPane(title, role string, onOpen func()) *pane {
	p := &pane{role: role}
	p.image = canvas.NewImageFromImage(nil)
	p.image.FillMode = canvas.ImageFillContain
	p.image.SetMinSize(fyne.NewSize(240, 180))
	p.empty = widget.NewLabelWithStyle("No "+role+" open.", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	p.caption = widget.NewLabel(" ")
	p.caption.Truncation = fyne.TextTruncateEllipsis
	p.open = widget.NewButtonWithIcon("Open "+role+"…", theme.FolderOpenIcon(), onOpen)
	heading := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	frame := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	frame.CornerRadius = theme.InputRadiusSize()
	p.object = container.NewBorder(
		container.NewBorder(nil, nil, heading, p.open),
		p.caption, nil, nil,
		container.NewStack(frame, container.NewCenter(p.empty), container.NewPadded(p.image)),
	)
	return p
}

// show displays pv, read from path. Call on the UI goroutine.
func (p *pane) show(path string, pv *preview) {
	p.path = path
	p.image.Image = pv.img
	p.image.Refresh()
	p.empty.Hide()
	p.caption.SetText(fmt.Sprintf("%s — %d × %d %s", filepath.Base(path), pv.width, pv.height, strings.ToUpper(pv.format)))
}

// clear empties the pane. Call on the UI goroutine.
func (p *pane) clear() {
	p.loads++ // drop a load in flight
	p.path = ""
	p.image.Image = nil
	p.image.Refresh()
	p.empty.Show()
	p.caption.SetText(" ")
}
