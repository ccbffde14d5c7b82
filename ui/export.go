package ui

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	sqdialog "github.com/sqweek/dialog"
)

// saver asks where to save a file, starting in startDir with name
// suggested. It returns errPickCancelled when nothing was chosen and any
// other error when it could not ask (the studio then uses Fyne's dialog).
type saver func(title, startDir, name string) (path string, err error)

// nativeSave shows the desktop's own save dialog through sqweek/dialog.
// It blocks, so call it off the UI goroutine.
func nativeSave(title, startDir, name string) (path string, err error) {
	defer func() {
		if r := recover(); r != nil {
			path, err = "", fmt.Errorf("ui: native file dialog unavailable: %v", r)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := sqdialog.File().Title(title).Filter("PNG image", "png").Filter("JPEG image", "jpg", "jpeg")
	if startDir != "" {
		b = b.SetStartDir(startDir)
	}
	if name != "" {
		b = b.SetStartFile(name)
	}
	path, err = b.Save()
	if errors.Is(err, sqdialog.ErrCancelled) {
		return "", errPickCancelled
	}
	if err != nil {
		return "", fmt.Errorf("ui: native file dialog: %w", err)
	}
	return path, nil
}

// exportResult asks where to save the Style tab's last result and saves
// it there (see exportImage).
func (s *studio) exportResult() {
	s.exportImage(exportSpec{
		result: s.sc.result,
		name:   exportName(s.content.path, "-stylized", "atelier.png"),
		status: s.sc.status,
		button: s.sc.export,
	})
}

// imageExt reports whether path ends in an extension the writer knows.
func imageExt(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}
