package model

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tarball builds an npm-style .tgz holding the given files.
func tarball(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func sri(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// fakePacker "packs" a prepared tarball and counts its calls.
type fakePacker struct {
	tgz   []byte
	name  string
	calls int
}

func (p *fakePacker) pack(ctx context.Context, spec, dir string) (string, error) {
	p.calls++
	path := filepath.Join(dir, p.name)
	return path, os.WriteFile(path, p.tgz, 0o644)
}

func TestFetchNPM(t *testing.T) {
	modelJSON, shard := []byte(`{"modelTopology":{}}`), bytes.Repeat([]byte{1, 2, 3}, 1000)
	tgz := tarball(t, map[string][]byte{
		"package/package.json":             []byte(`{}`),
		"package/models/x2/model.json":     modelJSON,
		"package/models/x2/group1-shard1":  shard,
		"package/models/x4/model.json":     []byte("other"),
		"package/models/x2/../../evil.txt": []byte("never extracted"),
	})
	entry := func(name, path string) *Entry {
		return &Entry{Name: name, Source: Source{Type: SourceNPM, Package: "@s/p", Version: "1.0.0", Path: path, Tarball: "s-p-1.0.0.tgz", Integrity: sri(tgz)},
			Files: []File{{Path: "model.json", Size: int64(len(modelJSON)), SHA256: sha(modelJSON)}, {Path: "group1-shard1", Size: int64(len(shard)), SHA256: sha(shard)}}}
	}
	e := entry("m-x2", "package/models/x2")
	s := &Store{Root: t.TempDir()}
	p := &fakePacker{tgz: tgz, name: "s-p-1.0.0.tgz"}
	var told []string
	opts := FetchOptions{Packer: p.pack, OnFile: func(e *Entry, f File) { told = append(told, f.Path) }}
	if st := s.Status(e); st.State != Missing {
		t.Fatalf("before fetch: %v", st.State)
	}
	if err := s.Fetch(context.Background(), e, opts); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Root, "m-x2", "group1-shard1")); !bytes.Equal(got, shard) {
		t.Fatal("extracted shard differs")
	}
	if _, err := os.Stat(filepath.Join(s.Root, "evil.txt")); err == nil {
		t.Fatal("a file outside the model's list was extracted")
	}
	if st := s.Status(e); st.State != Present || !st.Verified {
		t.Fatalf("after fetch: %+v", st)
	}
	if len(told) != 2 {
		t.Fatalf("OnFile told %v", told)
	}
	// Already there: no second pack.
	if err := s.Fetch(context.Background(), e, opts); err != nil || p.calls != 1 {
		t.Fatalf("refetch: %v, %d packs", err, p.calls)
	}

	// A corrupted file: Verify names it with both hashes; Fetch repairs it.
	bad := filepath.Join(s.Root, "m-x2", "group1-shard1")
	corrupt := append([]byte(nil), shard...)
	corrupt[5] ^= 1
	writeFile(t, bad, corrupt)
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(bad, later, later); err != nil {
		t.Fatal(err)
	}
	checks, err := s.Verify(e)
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Verify: %v", err)
	}
	wantErr(t, err, bad, "expected SHA-256 "+sha(shard), "got "+sha(corrupt))
	if checks[0].Err != nil || checks[1].Err == nil || checks[1].Got != sha(corrupt) {
		t.Fatalf("checks %+v", checks)
	}
	if st := s.Status(e); st.State != Present || st.Verified {
		t.Fatalf("a same-size corrupt file: %+v", st)
	}
	if err := s.Fetch(context.Background(), e, opts); err != nil || p.calls != 2 {
		t.Fatalf("repair: %v, %d packs", err, p.calls)
	}
	if _, err := s.Verify(e); err != nil {
		t.Fatal(err)
	}
	// A missing file makes the model partial, and Verify reports it.
	os.Remove(filepath.Join(s.Root, "m-x2", "model.json"))
	if st := s.Status(e); st.State != Partial {
		t.Fatalf("one file missing: %v", st.State)
	}
	if _, err := s.Verify(e); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Verify with a missing file: %v", err)
	}

	t.Run("shared tarball packed once", func(t *testing.T) {
		s := &Store{Root: t.TempDir()}
		p := &fakePacker{tgz: tgz, name: "s-p-1.0.0.tgz"}
		x4 := entry("m-x4", "package/models/x4")
		x4.Files = []File{{Path: "model.json", Size: 5, SHA256: sha([]byte("other"))}}
		opts := FetchOptions{Packer: p.pack, TarballDir: t.TempDir()}
		for _, e := range []*Entry{entry("m-x2", "package/models/x2"), x4} {
			if err := s.Fetch(context.Background(), e, opts); err != nil {
				t.Fatal(err)
			}
		}
		if p.calls != 1 {
			t.Fatalf("%d packs, want 1", p.calls)
		}
	})
	t.Run("tarball integrity", func(t *testing.T) {
		e := entry("m", "package/models/x2")
		e.Source.Integrity = sri([]byte("something else"))
		err := (&Store{Root: t.TempDir()}).Fetch(context.Background(), e, FetchOptions{Packer: (&fakePacker{tgz: tgz, name: "t.tgz"}).pack})
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("%v, want ErrHashMismatch", err)
		}
		wantErr(t, err, "t.tgz", "integrity")
	})
	t.Run("tarball lacks a file", func(t *testing.T) {
		e := entry("m", "package/models/x2")
		e.Files = append(e.Files, File{Path: "group1-shard2", Size: 1, SHA256: sha([]byte{0})})
		err := (&Store{Root: t.TempDir()}).Fetch(context.Background(), e, FetchOptions{Packer: (&fakePacker{tgz: tgz, name: "t.tgz"}).pack})
		wantErr(t, err, "package/models/x2/group1-shard2")
	})
	t.Run("wrong bytes in the tarball", func(t *testing.T) {
		e := entry("m", "package/models/x2")
		e.Files[1].SHA256 = sha([]byte("not the shard"))
		s := &Store{Root: t.TempDir()}
		err := s.Fetch(context.Background(), e, FetchOptions{Packer: (&fakePacker{tgz: tgz, name: "t.tgz"}).pack})
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("%v", err)
		}
		wantErr(t, err, filepath.Join(s.Root, "m", "group1-shard1"))
		if _, err := os.Stat(filepath.Join(s.Root, "m", "group1-shard1")); !os.IsNotExist(err) {
			t.Fatal("a file with the wrong hash was put in place")
		}
	})
	t.Run("packer fails", func(t *testing.T) {
		err := (&Store{Root: t.TempDir()}).Fetch(context.Background(), entry("m", "package/models/x2"), FetchOptions{
			Packer: func(ctx context.Context, spec, dir string) (string, error) { return "", errors.New("npm exploded") },
		})
		wantErr(t, err, "npm exploded")
	})
}

func TestFetchURL(t *testing.T) {
	files := map[string][]byte{"/m/model.json": []byte(`{"a":1}`), "/m/w.bin": bytes.Repeat([]byte{9}, 5000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	e := &Entry{Name: "v", Source: Source{Type: SourceURL, BaseURL: srv.URL + "/m/", HowToGet: "Copy it from a machine with internet."},
		Files: []File{{Path: "model.json"}, {Path: "w.bin", Size: 5000, SHA256: sha(files["/m/w.bin"])}}}
	s := &Store{Root: t.TempDir()}
	if err := s.Fetch(context.Background(), e, FetchOptions{Downloader: fastDownloader(nil)}); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(e); st.State != Present || !st.Verified {
		t.Fatalf("status %+v", st)
	}
	checks, err := s.Verify(e)
	if err != nil || checks[0].Pinned || checks[0].Want != sha(files["/m/model.json"]) {
		t.Fatalf("unpinned file should be checked against its first-download hash: %+v %v", checks, err)
	}
	// The trust-on-first-use record catches a later change.
	writeFile(t, filepath.Join(s.Root, "v", "model.json"), []byte(`{"a":2}`))
	if _, err := s.Verify(e); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("changed unpinned file: %v", err)
	}

	t.Run("upstream changed an unpinned file", func(t *testing.T) {
		files["/m/model.json"] = []byte(`{"a":3}`)
		os.Remove(filepath.Join(s.Root, "v", "model.json"))
		err := s.Fetch(context.Background(), e, FetchOptions{Downloader: fastDownloader(nil)})
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("%v, want ErrHashMismatch against the first download's hash", err)
		}
		wantErr(t, err, "recorded on the first download", filepath.Join(s.Root, "v"))
		// Deleting the model folder accepts the new file.
		os.RemoveAll(filepath.Join(s.Root, "v"))
		if err := s.Fetch(context.Background(), e, FetchOptions{Downloader: fastDownloader(nil)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("offline", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		e := *e
		e.Source.BaseURL = dead.URL + "/m/"
		d := fastDownloader(nil)
		d.Retries = -1
		err := (&Store{Root: t.TempDir()}).Fetch(context.Background(), &e, FetchOptions{Downloader: d})
		wantErr(t, err, "model.json", "Copy it from a machine with internet.")
		if !strings.Contains(err.Error(), dead.URL) {
			t.Fatalf("error %q does not name the URL", err)
		}
	})
}
