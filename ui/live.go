package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
)

// watch follows the Style tab's job j (see followTab), at most about 8
// updates a second (frameGap).
func (s *studio) watch(id int, j Job) {
	s.followTab(id, j, s.sc.frameGap, s.apply)
}

// addNotices appends notices, one per line, to what label says.
func addNotices(label *widget.Label, notices []string) {
	if len(notices) > 0 {
		label.SetText(strings.TrimSpace(label.Text + "\n" + strings.Join(notices, "\n")))
	}
}

// merge returns the newer update v, keeping u's frame and notices when v
// lacks them.
func merge(u, v job.Update) job.Update {
	if v.Frame == nil {
		v.Frame = u.Frame
	}
	if len(u.Notices) > 0 {
		v.Notices = append(append([]string(nil), u.Notices...), v.Notices...)
	}
	return v
}

// apply shows one update of job id. UI goroutine.
func (s *studio) apply(id int, u job.Update) {
	c := &s.sc
	if id != c.runID {
		return // a job the studio no longer shows
	}
	s.observe(u)
	if u.Frame != nil {
		c.output.Image = u.Frame
		c.output.Refresh()
		c.outputEmpty.Hide()
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
			c.output.Image = u.Image
			c.output.Refresh()
			c.outputEmpty.Hide()
		}
		c.result = &u
		c.status.SetText(fmt.Sprintf("Done: %d iterations in %s.", u.Iteration, roundDuration(u.Elapsed)))
		if u.Image != nil {
			c.export.Enable()
		}
	case job.Cancelled:
		c.status.SetText("Cancelled")
	case job.Error:
		c.status.SetText("Failed.")
		err := u.Err
		if err == nil {
			err = fmt.Errorf("the job failed for an unknown reason")
		}
		s.showError(job.Plain(err))
	}
	c.running = nil
	s.setRunning(false)
}

// progressText says where a running job is: "Iteration 12 of 200 (scale
// 1 of 2) — about 1m20s left".
func progressText(u job.Update) string {
	if u.Total <= 0 || (u.Iteration == 0 && u.Stage != "") {
		if u.Stage != "" {
			return strings.ToUpper(u.Stage[:1]) + u.Stage[1:] + "…"
		}
		return "Starting…"
	}
	t := fmt.Sprintf("Iteration %d of %d", u.Iteration, u.Total)
	if u.Scales > 1 {
		t += fmt.Sprintf(" (scale %d of %d)", u.Scale, u.Scales)
	}
	if u.ETA > 0 {
		t += " — about " + roundDuration(u.ETA).String() + " left"
	}
	return t
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
