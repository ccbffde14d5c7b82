package app

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goListDeps returns every package the given patterns depend on,
// their tests and themselves included.
func goListDeps(t *testing.T, patterns ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check imports: %v", err)
	}
	root := repoRoot(t)
	statSources(t, root)
	cmd := exec.Command(goBin, append([]string{"list", "-deps", "-test"}, patterns...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps -test %v: %v\n%s", patterns, err, msg)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps -test %v listed nothing", patterns)
	}
	return deps
}

// TestEngineNeverImportsFyne keeps the GUI toolkit out of the engine.
func TestEngineNeverImportsFyne(t *testing.T) {
	deps := goListDeps(t, "./engine/...")
	sawEngine := false
	for _, d := range deps {
		if strings.HasPrefix(d, "atelier/engine/") {
			sawEngine = true
		}
		if strings.HasPrefix(d, "fyne.io/") || strings.Contains(d, "sqweek/dialog") || strings.Contains(d, "go-gl/") {
			t.Errorf("the engine depends on GUI package %s", d)
		}
	}
	if !sawEngine {
		t.Error("go list found no engine packages: the check would be empty")
	}
}

// TestUIImportsNoNumericCode keeps the numeric engine out of the UI: it may
// use the engine's job types, not its tensors and layers.
func TestUIImportsNoNumericCode(t *testing.T) {
	numeric := []string{"tensor", "nn", "model", "graph", "features", "style", "texture", "fastnet", "sr"}
	sawFyne := false
	for _, d := range goListDeps(t, "./ui/...") {
		if strings.HasPrefix(d, "fyne.io/fyne/v2") {
			sawFyne = true
		}
		for _, n := range numeric {
			if d == "atelier/engine/"+n || strings.HasPrefix(d, "atelier/engine/"+n+"/") {
				t.Errorf("the UI depends on numeric package %s", d)
			}
		}
	}
	if !sawFyne {
		t.Error("go list shows the UI without Fyne: the check is looking at the wrong packages")
	}
}

// statSources stats every Go file of the module. go test caches a result
// keyed on the files the test itself touched, not on what the go list
// subprocess read; touching them here makes an edit anywhere rerun the test.
func statSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
