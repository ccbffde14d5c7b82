package ui

import "fyne.io/fyne/v2"

// buildTextureTab makes the Texture tab around the sample pane.
func (s *studio) buildTextureTab() fyne.CanvasObject {
	return s.sample.object
}
