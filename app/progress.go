package app

import (
	"fmt"
	"io"
	"strings"
	"time"

	"atelier/engine/job"
)

// jobBar shows a job's progress on stderr. On a terminal it redraws one
// line in place (bar, iteration, scale, losses, time left) at most every
// 100 ms; elsewhere (a log file, a pipe) it prints plain lines: one per
// stage, one per scale, and one every few seconds while iterating.
type jobBar struct {
	w   io.Writer
	tty bool
	// now is time.Now outside tests.
	now func() time.Time

	drawn     bool // a terminal line is on screen, not yet ended
	lastDraw  time.Time
	lastLine  time.Time
	stage     string
	scale     int
	lastIter  int
	lineWidth int
}

// plainEvery is how often plain-line output reports iterations.
const plainEvery = 5 * time.Second

func (b *jobBar) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// update shows u (a progress or frame update).
func (b *jobBar) update(u job.Update) {
	for _, n := range u.Notices {
		b.clearLine()
		fmt.Fprintf(b.w, "note: %s\n", n)
	}
	now := b.clock()
	newStage := u.Stage != "" && u.Stage != b.stage && u.Iteration == 0
	if u.Stage != "" {
		b.stage = u.Stage
	}
	if b.tty {
		if newStage || u.Iteration != b.lastIter && (now.Sub(b.lastDraw) >= 100*time.Millisecond || u.Iteration == u.Total) {
			b.lastDraw, b.lastIter = now, u.Iteration
			b.draw(u)
		}
		return
	}
	switch {
	case newStage:
		fmt.Fprintf(b.w, "%s\n", b.stage)
	case u.Iteration == 0 || u.Iteration == b.lastIter:
		return
	case u.Scale != b.scale, b.lastIter == 0, u.Iteration == u.Total, now.Sub(b.lastLine) >= plainEvery:
		fmt.Fprintf(b.w, "%s\n", describe(u))
	default:
		return
	}
	b.lastLine, b.lastIter, b.scale = now, u.Iteration, u.Scale
}

// draw redraws the terminal line.
func (b *jobBar) draw(u job.Update) {
	var line string
	if u.Iteration == 0 || u.Total == 0 {
		line = b.stage + "..."
	} else {
		const width = 20
		fill := min(max(int(u.Fraction()*width), 0), width)
		line = fmt.Sprintf("[%s%s] %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), describe(u))
	}
	pad := ""
	if n := b.lineWidth - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(b.w, "\r%s%s", line, pad)
	b.lineWidth = len(line)
	b.drawn = true
}

// describe is one progress line: "iteration 12/200 (scale 2/3), loss
// 1.23e+05 (content 4.1e+04, style 8.2e+04), 12s, about 1m40s left".
func describe(u job.Update) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "iteration %d/%d", u.Iteration, u.Total)
	if u.Scales > 1 {
		fmt.Fprintf(&sb, " (scale %d/%d)", u.Scale, u.Scales)
	}
	fmt.Fprintf(&sb, ", loss %.3g (content %.3g, style %.3g)", u.Losses.Total, u.Losses.Content, u.Losses.Style)
	fmt.Fprintf(&sb, ", %s", roundDuration(u.Elapsed))
	if u.ETA > 0 {
		fmt.Fprintf(&sb, ", about %s left", roundDuration(u.ETA))
	}
	return sb.String()
}

// clearLine ends the terminal line being redrawn, so that other text can
// be printed.
func (b *jobBar) clearLine() {
	if b.tty && b.drawn {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", b.lineWidth))
		b.drawn, b.lineWidth = false, 0
	}
}

// finish ends the progress display.
func (b *jobBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn, b.lineWidth = false, 0
	}
}

// roundDuration rounds d for people: 850ms, 12.3s, 4m05s, 3h05m.
func roundDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	if r := d.Round(100 * time.Millisecond); r < time.Minute {
		return r.String()
	}
	if r := d.Round(time.Second); r < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(r.Minutes()), int(r.Seconds())%60)
	}
	r := d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(r.Hours()), int(r.Minutes())%60)
}
