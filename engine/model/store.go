package model

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// stampName is the file, inside a model folder, that records the SHA-256 of
// every file as last verified ("<sha256>  <path>" lines, as sha256sum
// writes them). For files whose hash the manifest does not pin, it is the
// trust-on-first-use record.
const stampName = ".atelier-verified"

// Store places registry entries on disk: downloaded models under Root, one
// folder per model; development-only entries in place under Shared.
type Store struct {
	Root   string // the models cache (CacheDir)
	Shared string // the shared reference folder (SharedDir); empty when there is none
}

// Dir is the folder holding an entry's files ("" for a development-only
// entry when there is no shared folder).
func (s *Store) Dir(e *Entry) string {
	if e.Source.Type == SourceShared {
		if s.Shared == "" {
			return ""
		}
		return filepath.Join(s.Shared, filepath.FromSlash(e.Source.Path))
	}
	return filepath.Join(s.Root, e.Name)
}

// State summarises how much of a model is on disk.
type State int

// States of a model on disk.
const (
	Missing State = iota // no file present
	Partial              // some files present (or of the wrong size)
	Present              // every file present with its manifest size
)

func (s State) String() string {
	switch s {
	case Present:
		return "present"
	case Partial:
		return "partial"
	}
	return "missing"
}

// Status describes a model on disk, from file sizes and the stamp (no
// hashing: see Verify).
type Status struct {
	State    State
	Dir      string
	Have     int      // files present with the right size
	Problems []string // "group9-shard1of2: missing", "model.json: 12 bytes, want 20"
	// Verified is true when the stamp records the manifest's hashes for
	// every file (for unpinned files: any recorded hash) and no file was
	// modified after the stamp was written.
	Verified bool
}

// Status checks which files of e are present.
func (s *Store) Status(e *Entry) Status {
	st := Status{Dir: s.Dir(e)}
	if st.Dir == "" {
		st.Problems = append(st.Problems, "no shared folder")
		return st
	}
	missing := 0
	for _, f := range e.Files {
		fi, err := os.Stat(filepath.Join(st.Dir, filepath.FromSlash(f.Path)))
		switch {
		case err != nil:
			missing++
			st.Problems = append(st.Problems, f.Path+": missing")
		case !fi.Mode().IsRegular():
			st.Problems = append(st.Problems, f.Path+": not a regular file")
		case f.Size > 0 && fi.Size() != f.Size:
			st.Problems = append(st.Problems, fmt.Sprintf("%s: %d bytes, want %d", f.Path, fi.Size(), f.Size))
		default:
			st.Have++
		}
	}
	switch {
	case st.Have == len(e.Files):
		st.State = Present
	case missing < len(e.Files):
		st.State = Partial
	}
	if st.State == Present {
		st.Verified = stampCovers(st.Dir, e)
	}
	return st
}

// stampCovers reports whether the stamp in dir vouches for every file of e.
func stampCovers(dir string, e *Entry) bool {
	stamp, err := readStamp(dir)
	if err != nil || stamp == nil {
		return false
	}
	sst, err := os.Stat(filepath.Join(dir, stampName))
	if err != nil {
		return false
	}
	for _, f := range e.Files {
		got, ok := stamp[f.Path]
		if !ok || (f.SHA256 != "" && got != f.SHA256) {
			return false
		}
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || fi.ModTime().After(sst.ModTime()) {
			return false
		}
	}
	return true
}

// FileCheck is the outcome of hashing one file.
type FileCheck struct {
	Path   string
	Got    string // SHA-256 of the file on disk; empty when it could not be read
	Want   string // the manifest's hash, or the recorded one for unpinned files; empty when neither exists
	Pinned bool   // Want comes from the manifest
	Err    error  // nil when the file matches (or is unpinned and unrecorded)
}

// Verify hashes every file of e. The returned error joins one error per
// file that is missing or differs (wrapping os.ErrNotExist, ErrSizeMismatch
// or ErrHashMismatch). When everything matches and the folder is writable,
// the stamp is rewritten, recording hashes of unpinned files.
func (s *Store) Verify(e *Entry) ([]FileCheck, error) {
	dir := s.Dir(e)
	if dir == "" {
		return nil, fmt.Errorf("model: %s: development-only model and no shared folder: %w", e.Name, ErrNotPresent)
	}
	stamp, err := readStamp(dir)
	if err != nil {
		return nil, err
	}
	var errs []error
	checks := make([]FileCheck, 0, len(e.Files))
	for _, f := range e.Files {
		c := FileCheck{Path: f.Path, Want: f.SHA256, Pinned: f.SHA256 != ""}
		if !c.Pinned {
			c.Want = stamp[f.Path]
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		size, sum, err := hashFile(path)
		switch {
		case err != nil:
			c.Err = fmt.Errorf("model: %s: %w", e.Name, err)
		case f.Size > 0 && size != f.Size:
			c.Got = sum
			c.Err = fmt.Errorf("model: %s: %s is %d bytes, want %d: %w", e.Name, path, size, f.Size, ErrSizeMismatch)
		default:
			c.Got = sum
			if c.Want != "" && sum != c.Want {
				c.Err = hashMismatch(path, c.Want, sum)
			}
		}
		if c.Err != nil {
			errs = append(errs, c.Err)
		}
		checks = append(checks, c)
	}
	if len(errs) > 0 {
		return checks, errors.Join(errs...)
	}
	if e.Source.Type != SourceShared {
		_ = writeStamp(dir, checks) // best effort: a read-only cache still verifies
	}
	return checks, nil
}

func hashMismatch(path, want, got string) error {
	return fmt.Errorf("model: %s: expected SHA-256 %s, got %s: %w", path, want, got, ErrHashMismatch)
}

// hashFile returns the size and hex SHA-256 of a file.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// readStamp returns path -> hash from a model folder's stamp (nil, nil when
// there is none).
func readStamp(dir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, stampName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, path, ok := strings.Cut(sc.Text(), "  ")
		if ok && len(sum) == 64 {
			out[path] = sum
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("model: read %s: %w", filepath.Join(dir, stampName), err)
	}
	return out, nil
}

// writeStamp records the checked hashes atomically.
func writeStamp(dir string, checks []FileCheck) error {
	var b strings.Builder
	for _, c := range checks {
		fmt.Fprintf(&b, "%s  %s\n", c.Got, c.Path)
	}
	path := filepath.Join(dir, stampName)
	tmp := path + ".part"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("model: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}
