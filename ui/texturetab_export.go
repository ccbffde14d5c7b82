package ui

// What the tabs share: following a job's updates and exporting its result.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
	"atelier/engine/service"
)

// tabRun is the job state of the Texture or Upscale tab. UI goroutine only.
type tabRun struct {
	running  Job           // nil when none runs
	id       int           // increases with every start; stale updates are dropped
	result   *job.Update   // the last finished job's Done update
	frameGap time.Duration // least time between two updates shown
}

// startTab starts req for a tab: it explains a refusal in a dialog, and
// otherwise records the job in r and follows it, showing each update with
// apply(id, u) on the UI goroutine. UI goroutine.
func (s *studio) startTab(r *tabRun, req job.Request, apply func(id int, u job.Update)) bool {
	if s.engine == nil {
		s.showError(errors.New("the engine is not available in this build"))
		return false
	}
	j, err := s.engine.Start(s.ctx, req)
	if err != nil {
		if errors.Is(err, service.ErrBusy) {
			err = errors.New("another job is running (on this or another tab): stop it first")
		}
		s.showError(job.Plain(err))
		return false
	}
	r.id++
	r.running, r.result = j, nil
	s.pending.Add(1)
	go s.followTab(r.id, j, r.frameGap, apply)
	return true
}

// followTab reads j's updates until the final one, showing at most one per
// gap (the service keeps only the latest, so waiting drops stale ones
// instead of queueing them for the UI), each through onUI, which waits.
func (s *studio) followTab(id int, j Job, gap time.Duration, apply func(id int, u job.Update)) {
	defer s.pending.Done()
	ch := j.Updates()
	var last time.Time
	for u := range ch {
		if !u.Kind.Final() && !last.IsZero() {
			if wait := gap - time.Since(last); wait > 0 {
				time.Sleep(wait)
				select {
				case v, ok := <-ch:
					if ok {
						u = merge(u, v)
					}
				default:
				}
			}
		}
		last = time.Now()
		s.onUI(func() { apply(id, u) })
	}
}

// exportSpec says what exportImage saves and where it reports.
type exportSpec struct {
	result *job.Update    // the Done update: Image and Metadata
	name   string         // suggested file name
	status *widget.Label  // says what happened
	button *widget.Button // disabled while the native dialog is up
}

// exportImage asks where to save spec's result and saves it there, with
// its metadata, never replacing a file without asking. UI goroutine.
func (s *studio) exportImage(spec exportSpec) {
	if spec.result == nil || spec.result.Image == nil {
		return
	}
	if s.saveAs == nil {
		s.exportImageWithFyne(spec)
		return
	}
	spec.button.Disable()
	s.pending.Add(1)
	ask, dir := s.saveAs, s.lastDir
	go func() {
		defer s.pending.Done()
		path, err := ask("Export the result", dir, spec.name)
		s.onUI(func() {
			spec.button.Enable()
			switch {
			case err == nil:
				s.saveImageTo(spec, path)
			case errors.Is(err, errPickCancelled):
			default:
				fyne.LogError("native save dialog failed; using Fyne's from now on", err)
				s.saveAs = nil
				s.exportImageWithFyne(spec)
			}
		})
	}()
}

// exportImageWithFyne is the fallback save dialog drawn by Fyne.
func (s *studio) exportImageWithFyne(spec exportSpec) {
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
			// Fyne created the file (empty) to hand us a writer.
			if st, err := os.Stat(path); err == nil && st.Size() == 0 {
				_ = os.Remove(path)
			}
			s.saveImageTo(spec, path)
			return
		}
		// Fyne asked before overwriting and created the file empty
		// otherwise; the writer replaces it atomically.
		s.writeImage(spec, path, true)
	}, s.window)
	d.SetFileName(spec.name)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg"}))
	if s.lastDir != "" {
		if dir, err := storage.ListerForURI(storage.NewFileURI(s.lastDir)); err == nil {
			d.SetLocation(dir)
		}
	}
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// saveImageTo saves at path (".png" added when it names neither PNG nor
// JPEG), asking first when a file is there already.
func (s *studio) saveImageTo(spec exportSpec, path string) {
	if !imageExt(path) {
		path += ".png"
	}
	if _, err := os.Stat(path); err == nil {
		dialog.ShowConfirm("Replace the file?",
			fmt.Sprintf("%q already exists. Replace it with the result?", filepath.Base(path)),
			func(ok bool) {
				if ok {
					s.writeImage(spec, path, true)
				}
			}, s.window)
		return
	}
	s.writeImage(spec, path, false)
}

// writeImage saves through s.save off the UI goroutine.
func (s *studio) writeImage(spec exportSpec, path string, overwrite bool) {
	if s.save == nil {
		s.showError(errors.New("saving is not available in this build"))
		return
	}
	res := spec.result
	spec.status.SetText("Saving " + filepath.Base(path) + "…")
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		err := s.save(path, res.Image, res.Metadata, overwrite)
		s.onUI(func() {
			if err != nil {
				spec.status.SetText("Not saved.")
				s.showError(fmt.Errorf("could not save %q: %v", filepath.Base(path), job.Plain(err)))
				return
			}
			spec.status.SetText("Saved " + path)
		})
	}()
}

// exportName suggests a file name: the input's base name with suffix and
// ".png" ("brick-texture.png"); fallback when there is no input.
func exportName(input, suffix, fallback string) string {
	if input == "" {
		return fallback
	}
	base := filepath.Base(input)
	return strings.TrimSuffix(base, filepath.Ext(base)) + suffix + ".png"
}
