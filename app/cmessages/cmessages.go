// Package cmessages keeps Fyne from logging "Error parsing user locale C"
// at start-up, headless commands included, when the locale is C.UTF-8 (the
// default of many containers and CI runners). Import it for its side
// effect, from any package of the binary.
//
// Fyne's lang package reads the locale in its package initialiser; the
// locale library it uses treats "C" as no locale but splits "C.UTF-8" into
// the language "C", which is not a language tag. Messages in C.UTF-8 are
// those of C, so when LC_MESSAGES decides (LC_ALL unset) and the locale
// variable in force is C.<charset> or POSIX.<charset>, this package sets
// LC_MESSAGES to C: nothing else changes, the character set included.
//
// Go initialises packages in import-path order among those whose imports
// are ready (Go 1.21 and later); this package imports only os and strings,
// and "atelier/..." sorts before "fyne.io/..." and "github.com/...", so
// its initialiser runs before Fyne's.
package cmessages

import (
	"os"
	"strings"
)

func init() {
	if k, v, ok := fix(os.Getenv); ok {
		_ = os.Setenv(k, v)
	}
}

// fix returns the variable to set, and its value, for the environment that
// getenv reads; ok is false when nothing needs changing.
func fix(getenv func(string) string) (key, value string, ok bool) {
	if getenv("LC_ALL") != "" || getenv("LANGUAGE") != "" {
		return "", "", false
	}
	loc := getenv("LC_MESSAGES")
	if loc == "" {
		loc = getenv("LANG")
	}
	lang, charset, found := strings.Cut(loc, ".")
	if !found || charset == "" || (lang != "C" && lang != "POSIX") {
		return "", "", false
	}
	return "LC_MESSAGES", "C", true
}
