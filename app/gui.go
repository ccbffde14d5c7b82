package app

import (
	"context"
	"flag"
	"slices"
	"strings"
	"time"

	_ "atelier/app/cmessages" // before Fyne reads the locale: no "Error parsing user locale C"
	"atelier/engine/service/runner"
	"atelier/ui"
)

// openStudio opens the studio window with the engine service of this
// process and its image writer (atomic, settings in the metadata).
func openStudio(ctx context.Context, opts ui.Options) error {
	return ui.RunWith(ctx, opts, ui.Services{
		Engine: ui.FromService(runner.New(nil)),
		Save:   runner.SaveImage,
	})
}

// studioFlags defines the studio window's options on fs, filling opts.
func studioFlags(fs *flag.FlagSet, opts *ui.Options) {
	fs.StringVar(&opts.Content, "content", "", "content image to open at start")
	fs.StringVar(&opts.Style, "style", "", "style image to open at start")
	fs.BoolVar(&opts.Autostart, "autostart", false, "start stylising once both images are open")
	fs.StringVar(&opts.Sample, "sample", "", "texture sample to open at start (Texture tab)")
	fs.StringVar(&opts.Image, "image", "", "image to open at start on the Upscale tab")
	fs.StringVar(&opts.Tab, "tab", "", "tab to show at start: "+strings.Join(ui.Tabs, ", ")+" (default style)")
	fs.StringVar(&opts.LatencyProbe, "probe-latency", "",
		"measure how long the window's callbacks wait while a job runs and write the statistics (JSON) to this file")
	fs.DurationVar(&opts.ProbeFor, "probe-for", 0,
		"with --probe-latency: write the file after measuring this long (e.g. 20s) instead of when the window closes")
}

// checkStudioOptions says in a usage error what is wrong with opts.
func checkStudioOptions(opts ui.Options) error {
	if opts.Tab != "" && !slices.Contains(ui.Tabs, opts.Tab) {
		return usageErrorf("--tab must be one of %s, not %q", strings.Join(ui.Tabs, ", "), opts.Tab)
	}
	if opts.ProbeFor < 0 || (opts.ProbeFor > 0 && opts.LatencyProbe == "") {
		return usageErrorf("--probe-for needs --probe-latency FILE and a positive duration")
	}
	if opts.ProbeFor > 24*time.Hour {
		return usageErrorf("--probe-for is limited to a day")
	}
	return nil
}
