// Package app is Atelier's composition root: it reads the command line,
// owns the root context (cancelled on SIGINT and SIGTERM) and either opens
// the studio window or runs a headless command.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"atelier/ui"
)

// Version is Atelier's version; FyneApp.toml carries the same number.
const Version = "0.1.0"

// Exit codes returned by Main.
const (
	exitOK          = 0
	exitFailed      = 1   // the command ran and failed
	exitUsage       = 2   // the command line was wrong
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM
)

// errUsage marks errors caused by a wrong command line: Main prints them
// with a pointer to the help and exits with status 2. Commands return
// usageErrorf(...) or wrap errUsage with fmt.Errorf("%w: ...", errUsage).
var errUsage = errors.New("wrong command line")

// usageError is a wrong-command-line error whose message stands alone.
type usageError struct{ msg string }

func (e usageError) Error() string        { return e.msg }
func (e usageError) Is(target error) bool { return target == errUsage }

// usageErrorf returns an error matching errUsage with the given message.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// flagError rephrases the flag package's parse errors as plain sentences.
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return usageErrorf("there is no option %s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return usageErrorf("option %s needs a value", name)
	}
	return usageErrorf("%s", msg)
}

// helpOrUsage turns a flag-parsing error into the command's outcome: for
// -h/--help it prints help and fs's options to stdout and reports helped;
// any other mistake becomes a usage error.
func helpOrUsage(fs *flag.FlagSet, err error, help string, stdout io.Writer) (helped bool, _ error) {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return true, nil
	}
	return false, flagError(err)
}

// Main runs Atelier with the command-line arguments that follow the program
// name and returns the process exit status. It never calls os.Exit.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer spareProcessor()()
	return cli{stdout: os.Stdout, stderr: os.Stderr, studio: openStudio}.run(ctx, args)
}

// cli dispatches one command line. studio opens the window (openStudio outside
// tests).
type cli struct {
	stdout, stderr io.Writer
	studio         func(context.Context, ui.Options) error
}

// command is one headless verb.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the verbs; "help" is handled by cli.run itself.
var commands = map[string]command{
	"stylize": {"repaint a photo in the manner of style images (atelier help stylize)", runStylize},
	"upscale": {"enlarge an image with a super-resolution network (atelier help upscale)", runUpscale},
	"texture": {"synthesise a texture from a sample, any size, optionally tileable (atelier help texture)", runTexture},
	"sr-eval": {"measure upscaling methods on a folder of images (PSNR, SSIM)", runSREval},
	"train":   {"train Atelier's own super-resolution networks (atelier help train)", runTrain},
	"models":  {"list, fetch and verify model weights", runModels},
	"bench":   {"time the numeric engine (e.g. atelier bench vgg --size 256)", runBench},
	"version": {"print the version", runVersion},
}

func (c cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return c.finish(ctx, "", c.runStudio(ctx, args))
	}
	verb, rest := args[0], args[1:]
	if verb == "help" {
		if len(rest) > 0 {
			if cmd, ok := commands[rest[0]]; ok {
				return c.finish(ctx, rest[0], cmd.run(ctx, []string{"--help"}, c.stdout, c.stderr))
			}
			fmt.Fprintf(c.stderr, "atelier: there is no command called %q.\n\n", rest[0])
			c.usage(c.stderr)
			return exitUsage
		}
		c.usage(c.stdout)
		return exitOK
	}
	cmd, ok := commands[verb]
	if !ok {
		fmt.Fprintf(c.stderr, "atelier: %q is not a command Atelier knows.\n\n", verb)
		c.usage(c.stderr)
		return exitUsage
	}
	return c.finish(ctx, verb, cmd.run(ctx, rest, c.stdout, c.stderr))
}

// runStudio parses the window's flags and opens it.
func (c cli) runStudio(ctx context.Context, args []string) error {
	var opts ui.Options
	fs := flag.NewFlagSet("atelier", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	studioFlags(fs, &opts)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(c.stdout)
			return nil
		}
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("%q is not an option; commands such as \"models\" come first", fs.Arg(0))
	}
	if err := checkStudioOptions(opts); err != nil {
		return err
	}
	defer softMemoryLimit(studioMemoryLimit)()
	return c.studio(ctx, opts)
}

// studioMemoryLimit is the Go heap's soft limit while the studio window is
// open, unless GOMEMLIMIT says otherwise: the window runs the same jobs as
// `atelier stylize` and `atelier upscale`, and holds them to the larger of
// those commands' limits, so that the buffers of finished tiles, scales
// and previews are collected before the heap doubles.
const studioMemoryLimit = max(stylizeMemoryLimit, upscaleSoftMemory)

// finish turns a command's error into an exit status, printing it as one
// line.
func (c cli) finish(ctx context.Context, verb string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintln(c.stderr, "atelier: interrupted.")
		return exitInterrupted
	case errors.Is(err, errUsage):
		fmt.Fprintf(c.stderr, "atelier: %s.\n", oneLine(err))
		hint := "atelier help"
		if verb != "" {
			hint = "atelier help " + verb
		}
		fmt.Fprintf(c.stderr, "Run %q for the options.\n", hint)
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "atelier: %s.\n", oneLine(err))
		if errors.Is(err, ui.ErrNoDisplay) {
			fmt.Fprintln(c.stderr, "The commands listed by \"atelier help\" work without one.")
		}
		return exitFailed
	}
}

// oneLine renders err as a single line without a trailing full stop.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	return strings.TrimRight(s, ".")
}

func (c cli) usage(w io.Writer) {
	fmt.Fprintf(w, `Atelier %s: a studio for neural style transfer, texture synthesis and super-resolution.

Usage:
  atelier [--content IMAGE] [--style IMAGE] [--autostart]
          [--sample IMAGE] [--image IMAGE] [--tab style|texture|upscale]
          [--probe-latency FILE [--probe-for DURATION]]
        open the studio window, optionally with images already open
`, Version)
	for _, name := range []string{"stylize", "texture", "upscale", "sr-eval", "train", "models", "bench", "version"} {
		fmt.Fprintf(w, "  atelier %-9s %s\n", name, commands[name].summary)
	}
	fmt.Fprintf(w, "  atelier help [COMMAND]\n        show this help, or a command's options\n")
}

func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 && args[0] != "--help" && args[0] != "-h" {
		return usageErrorf("version takes no arguments")
	}
	_, err := fmt.Fprintf(stdout, "atelier %s\n", Version)
	return err
}
