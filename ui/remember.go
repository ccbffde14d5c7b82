package ui

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"
)

// The studio remembers its window size and the images opened lately in
// two small JSON files in configDir.
const (
	windowFile = "window.json"
	recentFile = "recent.json"
	// maxRecent is how many images File > Open recent lists.
	maxRecent = 10
)

// defaultWindowSize is the window's size on first start.
var defaultWindowSize = fyne.NewSize(1100, 720)

// windowState is window.json.
type windowState struct {
	Width  float32 `json:"width"`
	Height float32 `json:"height"`
}

// recentState is recent.json.
type recentState struct {
	Files []string `json:"files"` // newest first
}

// remember loads the recent images and restores the window size; from
// now on the studio saves both as they change (tests of other parts leave
// it off, so they never touch the person's settings).
func (s *studio) remember() {
	s.remembers = true
	s.recent = loadRecent()
	s.refreshRecentMenu()
	s.restoreWindowSize()
}

// restoreWindowSize gives the window the size it had when it last closed,
// within reason (a damaged file or a tiny size is ignored).
func (s *studio) restoreWindowSize() {
	var st windowState
	if err := loadConfigJSON(windowFile, &st); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fyne.LogError("window size not restored", err)
		}
		return
	}
	if st.Width < 400 || st.Height < 300 || st.Width > 16384 || st.Height > 16384 {
		return
	}
	s.window.Resize(fyne.NewSize(st.Width, st.Height))
}

// saveWindowSize remembers the window's size for the next start.
func (s *studio) saveWindowSize() {
	if !s.remembers {
		return
	}
	sz := s.window.Canvas().Size()
	if sz.Width <= 0 || sz.Height <= 0 {
		return
	}
	if err := saveConfigJSON(windowFile, windowState{Width: sz.Width, Height: sz.Height}); err != nil {
		fyne.LogError("window size not saved", err)
	}
}

// loadRecent returns the remembered recent images that still exist,
// newest first.
func loadRecent() []string {
	var st recentState
	if err := loadConfigJSON(recentFile, &st); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fyne.LogError("recent files not read", err)
		}
		return nil
	}
	var out []string
	for _, f := range st.Files {
		if len(out) == maxRecent {
			break
		}
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() && filepath.IsAbs(f) {
			out = append(out, f)
		}
	}
	return out
}

// addRecent puts path first among the recent images, saves the list and
// updates the menu. UI goroutine.
func (s *studio) addRecent(path string) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	list := []string{path}
	for _, f := range s.recent {
		if f != path && len(list) < maxRecent {
			list = append(list, f)
		}
	}
	s.recent = list
	s.refreshRecentMenu()
	if !s.remembers {
		return
	}
	if err := saveConfigJSON(recentFile, recentState{Files: list}); err != nil {
		fyne.LogError("recent files not saved", err)
	}
}
