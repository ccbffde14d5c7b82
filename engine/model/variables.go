package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"atelier/engine/tensor"
)

// Variables is a per-variable manifest (the deeplearn.js checkpoint format
// the ml5 style networks use): manifest.json maps each variable name to a
// file of raw little-endian float32 values and a shape.
type Variables struct {
	Path  string // manifest.json
	specs map[string]*variableSpec
	names []string
}

type variableSpec struct {
	file   string
	shape  []int
	status string // why the data cannot be read; empty when it can
}

// OpenVariables loads a per-variable manifest from its manifest.json (or
// the folder holding it). A variable whose file is missing or has the wrong
// size is listed but unavailable.
func OpenVariables(path string) (*Variables, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "manifest.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	var raw map[string]struct {
		Filename string `json:"filename"`
		Shape    []int  `json:"shape"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("model: %s: %w (%v)", path, ErrFormat, err)
	}
	v := &Variables{Path: path, specs: map[string]*variableSpec{}}
	dir := filepath.Dir(path)
	for name, r := range raw {
		if r.Filename == "" || !filepath.IsLocal(filepath.FromSlash(r.Filename)) {
			return nil, fmt.Errorf("model: %s: variable %q: file name %q is not inside the folder: %w", path, name, r.Filename, ErrFormat)
		}
		n, err := volume(r.Shape)
		if err != nil {
			return nil, fmt.Errorf("model: %s: variable %q: %v: %w", path, name, err, ErrFormat)
		}
		s := &variableSpec{file: r.Filename, shape: r.Shape}
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(r.Filename)))
		switch {
		case errors.Is(err, os.ErrNotExist):
			s.status = "file is missing"
		case err != nil:
			return nil, fmt.Errorf("model: %w", err)
		case st.Size() != int64(n)*4:
			s.status = fmt.Sprintf("file holds %d bytes, shape %v needs %d", st.Size(), r.Shape, int64(n)*4)
		}
		v.specs[name] = s
		v.names = append(v.names, name)
	}
	sort.Slice(v.names, func(i, j int) bool { return naturalLess(v.names[i], v.names[j]) })
	return v, nil
}

// Names lists the variables in natural order (Variable, Variable_1,
// Variable_2, ..., Variable_10), which is the order they were created in.
func (v *Variables) Names() []string { return append([]string(nil), v.names...) }

// Shape returns a variable's shape as the manifest gives it.
func (v *Variables) Shape(name string) ([]int, bool) {
	s, ok := v.specs[name]
	if !ok {
		return nil, false
	}
	return append([]int(nil), s.shape...), true
}

// Unavailable maps each unreadable variable's file to the reason.
func (v *Variables) Unavailable() map[string]string {
	out := map[string]string{}
	for _, s := range v.specs {
		if s.status != "" {
			out[s.file] = s.status
		}
	}
	return out
}

// Tensor reads a variable. Errors wrap ErrNoWeight or ErrUnavailable and name
// the file.
func (v *Variables) Tensor(name string) (*tensor.Tensor, error) {
	s, ok := v.specs[name]
	if !ok {
		return nil, fmt.Errorf("model: %s: variable %q: %w", v.Path, name, ErrNoWeight)
	}
	path := filepath.Join(filepath.Dir(v.Path), filepath.FromSlash(s.file))
	if s.status != "" {
		return nil, fmt.Errorf("model: variable %q: %s: %s: %w", name, path, s.status, ErrUnavailable)
	}
	n := tensor.Volume(s.shape)
	b := make([]byte, 4*n)
	if err := readAt(path, b, 0); err != nil {
		return nil, fmt.Errorf("model: variable %q: %w", name, err)
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return &tensor.Tensor{Shape: append([]int(nil), s.shape...), Data: data}, nil
}

// naturalLess orders strings with embedded numbers by value ("a_2" < "a_10").
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := leadingNumber(a)
			nb, rb := leadingNumber(b)
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func leadingNumber(s string) (uint64, string) {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		n = math.MaxUint64
	}
	return n, s[i:]
}
