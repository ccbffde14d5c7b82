package ui

import "fyne.io/fyne/v2"

// buildUpscaleTab makes the Upscale tab around the image pane.
func (s *studio) buildUpscaleTab() fyne.CanvasObject {
	return s.lowRes.object
}
