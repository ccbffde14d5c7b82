package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	sqdialog "github.com/sqweek/dialog"

	"atelier/engine/job"
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

// exportResult asks where to save the last result and saves it there.
func (s *studio) exportResult() {
	if s.sc.result == nil || s.sc.result.Image == nil {
		return
	}
	name := "atelier.png"
	if s.content.path != "" {
		base := filepath.Base(s.content.path)
		name = strings.TrimSuffix(base, filepath.Ext(base)) + "-stylized.png"
	}
	if s.saveAs == nil {
		s.exportWithFyne(name)
		return
	}
	s.sc.export.Disable()
	s.pending.Add(1)
	ask, dir := s.saveAs, s.lastDir
	go func() {
		defer s.pending.Done()
		path, err := ask("Export the result", dir, name)
		s.onUI(func() {
			s.sc.export.Enable()
			switch {
			case err == nil:
				s.saveTo(path)
			case errors.Is(err, errPickCancelled):
			default:
				fyne.LogError("native save dialog failed; using Fyne's from now on", err)
				s.saveAs = nil
				s.exportWithFyne(name)
			}
		})
	}()
}

// exportWithFyne is the fallback save dialog drawn by Fyne.
func (s *studio) exportWithFyne(name string) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			s.showError(err)
			return
		}
		if w == nil {
			return
		}
		path := w.URI().Path()
		_ = w.Close()
		if !imageExt(path) {
			// Fyne created the file (empty) to hand us a writer; an empty
			// file holds nothing to lose. Save beside it with ".png".
			if st, err := os.Stat(path); err == nil && st.Size() == 0 {
				_ = os.Remove(path)
			}
			s.saveTo(path)
			return
		}
		// Fyne asked before overwriting an existing file, and created the
		// file empty otherwise; the engine's writer replaces it atomically.
		s.write(path, true)
	}, s.window)
	d.SetFileName(name)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg"}))
	if s.lastDir != "" {
		if dir, err := storage.ListerForURI(storage.NewFileURI(s.lastDir)); err == nil {
			d.SetLocation(dir)
		}
	}
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// saveTo saves the result at path (".png" added when it names neither
// PNG nor JPEG), asking first when a file is there already.
func (s *studio) saveTo(path string) {
	if !imageExt(path) {
		path += ".png"
	}
	if _, err := os.Stat(path); err == nil {
		dialog.ShowConfirm("Replace the file?",
			fmt.Sprintf("%q already exists. Replace it with the result?", filepath.Base(path)),
			func(ok bool) {
				if ok {
					s.write(path, true)
				}
			}, s.window)
		return
	}
	s.write(path, false)
}

// write saves the result through s.save off the UI goroutine.
func (s *studio) write(path string, overwrite bool) {
	res := s.sc.result
	switch {
	case res == nil:
		s.showError(errors.New("there is nothing to save"))
		return
	case s.save == nil:
		s.showError(errors.New("saving is not available in this build"))
		return
	}
	s.sc.status.SetText("Saving " + filepath.Base(path) + "…")
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		err := s.save(path, res.Image, res.Metadata, overwrite)
		s.onUI(func() {
			if err != nil {
				s.sc.status.SetText("Not saved.")
				s.showError(fmt.Errorf("could not save %q: %v", filepath.Base(path), job.Plain(err)))
				return
			}
			s.sc.status.SetText("Saved " + path)
		})
	}()
}

// imageExt reports whether path ends in an extension the writer knows.
func imageExt(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}
