package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
)

// Dropping files on the window opens them where an artist expects:
//
//   - Texture and Upscale tabs: the first image becomes the tab's image,
//     wherever it lands.
//   - Style tab, onto the content pane: the first image becomes the
//     content, any others are added as styles.
//   - Style tab, onto the style pane or the list of styles: every image is
//     added as a style.
//   - Style tab, anywhere else: with no content open yet the first image
//     becomes the content and the others styles; with content open, every
//     image is added as a style (adding never replaces anything).
//
// Files that are not images are named in one error dialog; the others
// still open. While a job runs the Style tab's images stay as they are.

// dropTarget is what a drop on the Style tab is aimed at.
type dropTarget int

const (
	dropAnywhere dropTarget = iota
	dropContent
	dropStyles
)

// dropped opens the files in uris, dropped at pos (window coordinates).
// UI goroutine.
func (s *studio) dropped(pos fyne.Position, uris []fyne.URI) {
	var paths []string
	var problems []string
	for _, u := range uris {
		if u == nil {
			continue
		}
		if u.Scheme() != "file" {
			problems = append(problems, fmt.Sprintf("Could not open %q: only files on this computer can be opened.", u.Name()))
			continue
		}
		paths = append(paths, u.Path())
	}
	if len(paths) == 0 {
		s.dropProblems(problems)
		return
	}
	switch s.tabs.SelectedIndex() {
	case 1, 2:
		p := s.mainPane()
		if p.open.Disabled() {
			s.busyNotice()
			return
		}
		s.dropProblems(problems)
		s.load(p, firstImagePath(paths))
		return
	}
	if s.sc.running != nil || s.content.open.Disabled() {
		s.busyNotice()
		return
	}
	target := dropAnywhere
	switch {
	case s.contains(s.content.object, pos):
		target = dropContent
	case s.contains(s.style.object, pos), s.contains(s.sc.styleList, pos):
		target = dropStyles
	}
	s.dropOnStyleTab(target, paths, problems)
}

// dropOnStyleTab decodes paths off the UI goroutine and then places them
// as target asks; problems are added to the error dialog.
func (s *studio) dropOnStyleTab(target dropTarget, paths, problems []string) {
	content := target == dropContent || (target == dropAnywhere && s.content.path == "")
	ticket := s.content.loads
	if content {
		s.content.loads++ // a content image still loading is superseded
		ticket = s.content.loads
	}
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		pvs := make([]*preview, len(paths))
		errs := make([]error, len(paths))
		for i, p := range paths {
			pvs[i], errs[i] = loadPreview(p)
		}
		s.onUI(func() {
			for _, err := range errs {
				if err != nil {
					problems = append(problems, err.Error())
				}
			}
			defer s.dropProblems(problems)
			if s.sc.running != nil {
				s.busyNotice()
				return
			}
			for i, pv := range pvs {
				if pv == nil {
					continue
				}
				switch {
				case content && ticket == s.content.loads:
					content = false
					s.opened(s.content, paths[i], pv)
				case content: // the person opened another content meanwhile
					content = false
				default:
					s.opened(s.style, paths[i], pv)
				}
			}
		})
	}()
}

// dropProblems shows the problems of a drop, one sentence a line, in one
// error dialog; none shows nothing.
func (s *studio) dropProblems(problems []string) {
	if len(problems) == 0 {
		return
	}
	dialog.ShowError(errors.New(strings.Join(problems, "\n")), s.window)
}

// contains reports whether pos, in window coordinates, falls on o.
func (s *studio) contains(o fyne.CanvasObject, pos fyne.Position) bool {
	if o == nil || !o.Visible() {
		return false
	}
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	sz := o.Size()
	return pos.X >= at.X && pos.Y >= at.Y && pos.X < at.X+sz.Width && pos.Y < at.Y+sz.Height
}

// firstImagePath returns the first of paths whose name says it is an image
// the studio reads, or the first path when none does (opening it then
// explains what is wrong).
func firstImagePath(paths []string) string {
	for _, p := range paths {
		if imageExt(p) || strings.HasSuffix(strings.ToLower(p), ".gif") {
			return p
		}
	}
	return paths[0]
}
