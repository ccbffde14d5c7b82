package ui

import (
	"errors"
	"fmt"
	"runtime"

	sqdialog "github.com/sqweek/dialog"
)

// errPickCancelled is returned by a picker when the person closed the
// dialog without choosing a file.
var errPickCancelled = errors.New("ui: file choice cancelled")

// picker asks for an image file to open, with title as the dialog's title,
// starting in folder startDir ("" lets the dialog choose). It returns errPickCancelled when nothing was chosen, and any other error
// when it could not ask at all (the studio then falls back to Fyne's own
// file dialog).
type picker func(title, startDir string) (path string, err error)

// nativePick shows the desktop's own file chooser (GTK on Linux) through
// sqweek/dialog. It blocks, so call it off the UI goroutine. (On Linux
// sqweek/dialog ignores the title.)
func nativePick(title, startDir string) (path string, err error) {
	// sqweek/dialog panics when GTK could not start (no X server, say).
	defer func() {
		if r := recover(); r != nil {
			path, err = "", fmt.Errorf("ui: native file dialog unavailable: %v", r)
		}
	}()
	// Keep every GTK call of one dialog on one OS thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := sqdialog.File().Title(title).Filter("Images (PNG, JPEG, GIF)", "png", "jpg", "jpeg", "gif")
	if startDir != "" {
		b = b.SetStartDir(startDir)
	}
	path, err = b.Load()
	if errors.Is(err, sqdialog.ErrCancelled) {
		return "", errPickCancelled
	}
	if err != nil {
		return "", fmt.Errorf("ui: native file dialog: %w", err)
	}
	return path, nil
}
