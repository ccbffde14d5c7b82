package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"atelier/engine/tensor"
)

// WeightSpec is one entry of a TF.js weights manifest, placed in its group.
type WeightSpec struct {
	Name         string
	Shape        []int // as stored (HWIO for conv kernels)
	DType        string
	Quantization *Quantization // nil when stored at full precision
	Group        int           // index of the manifest group holding the data
	Offset       int64         // byte offset in the group's concatenated shards
	Size         int64         // stored bytes
}

// Unavailable records why the weights of one manifest group cannot be read.
type Unavailable struct {
	Group  int      // group index in the manifest
	File   string   // the shard file at fault (the first missing one, or the group's last shard when sizes disagree)
	Reason string   // "file is missing", "shards hold 10 bytes, weights need 16", ...
	Names  []string // the weights that are unavailable because of it
}

func (u Unavailable) String() string { return u.File + ": " + u.Reason }

type weightGroup struct {
	paths  []string // as listed in the manifest
	sizes  []int64  // file sizes found at open time
	need   int64    // bytes the group's weights take
	status *Unavailable
}

// Weights holds the weights manifest of a TF.js model and reads each weight
// from its shards on demand. It keeps no weight data in memory.
type Weights struct {
	dir    string
	source string // model.json path, for messages
	order  []string
	specs  map[string]*WeightSpec
	groups []*weightGroup
}

type jsonGroup struct {
	Paths   []string     `json:"paths"`
	Weights []jsonWeight `json:"weights"`
}

type jsonWeight struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *Quantization `json:"quantization"`
}

// parseWeightsManifest validates a weightsManifest; source names the file in
// messages. The shards are not looked at (see attach).
func parseWeightsManifest(raw json.RawMessage, source string) (*Weights, error) {
	w := &Weights{source: source, specs: map[string]*WeightSpec{}}
	if len(raw) == 0 || string(raw) == "null" {
		return w, nil
	}
	var groups []jsonGroup
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("model: %s: weightsManifest: %w (%v)", source, ErrFormat, err)
	}
	for gi, g := range groups {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("model: %s: weightsManifest group %d: %s: %w", source, gi+1, fmt.Sprintf(format, args...), ErrFormat)
		}
		if len(g.Paths) == 0 && len(g.Weights) > 0 {
			return nil, bad("no shard paths")
		}
		for _, p := range g.Paths {
			if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) {
				return nil, bad("shard path %q is not inside the model folder", p)
			}
		}
		wg := &weightGroup{paths: g.Paths}
		var off int64
		for _, jw := range g.Weights {
			if jw.Name == "" {
				return nil, bad("weight without a name")
			}
			if _, dup := w.specs[jw.Name]; dup {
				return nil, bad("weight %q listed twice", jw.Name)
			}
			n, err := volume(jw.Shape)
			if err != nil {
				return nil, bad("weight %q: %v", jw.Name, err)
			}
			if jw.Quantization != nil && jw.Quantization.DType != "float16" {
				if jw.Quantization.Scale == 0 && jw.Quantization.Min == 0 {
					return nil, bad("weight %q: %s quantisation without scale", jw.Name, jw.Quantization.DType)
				}
			}
			eb, err := storedBytes(jw.DType, jw.Quantization)
			if err != nil {
				return nil, fmt.Errorf("model: %s: weightsManifest group %d: weight %q: %w", source, gi+1, jw.Name, err)
			}
			size := int64(n) * int64(eb)
			spec := &WeightSpec{
				Name: jw.Name, Shape: append([]int{}, jw.Shape...), DType: jw.DType,
				Quantization: jw.Quantization, Group: gi, Offset: off, Size: size,
			}
			off += size
			w.specs[jw.Name] = spec
			w.order = append(w.order, jw.Name)
		}
		wg.need = off
		w.groups = append(w.groups, wg)
	}
	return w, nil
}

// attach points w at the shard folder and checks every group's shards: a
// missing file or a size that disagrees with the manifest makes that group
// unavailable. It returns an error only for I/O failures other than a
// missing file.
func (w *Weights) attach(dir string) error {
	w.dir = dir
	for gi, g := range w.groups {
		g.sizes = make([]int64, len(g.paths))
		g.status = nil
		var have int64
		for i, p := range g.paths {
			st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
			switch {
			case errors.Is(err, os.ErrNotExist):
				if g.status == nil {
					g.status = &Unavailable{Group: gi, File: p, Reason: "file is missing"}
				}
				continue
			case err != nil:
				return fmt.Errorf("model: %w", err)
			case !st.Mode().IsRegular():
				if g.status == nil {
					g.status = &Unavailable{Group: gi, File: p, Reason: "not a regular file"}
				}
				continue
			}
			g.sizes[i] = st.Size()
			have += st.Size()
		}
		if g.status == nil && have != g.need {
			what := "short"
			if have > g.need {
				what = "too long"
			}
			g.status = &Unavailable{Group: gi, File: g.paths[len(g.paths)-1],
				Reason: fmt.Sprintf("shards %s are %s: they hold %d bytes, the weights need %d", strings.Join(g.paths, "+"), what, have, g.need)}
		}
		if g.status != nil {
			for _, name := range w.order {
				if w.specs[name].Group == gi {
					g.status.Names = append(g.status.Names, name)
				}
			}
		}
	}
	return nil
}

// Names lists the weights in manifest order, available or not.
func (w *Weights) Names() []string { return append([]string(nil), w.order...) }

// Spec returns the manifest entry of a weight.
func (w *Weights) Spec(name string) (WeightSpec, bool) {
	s, ok := w.specs[name]
	if !ok {
		return WeightSpec{}, false
	}
	c := *s
	c.Shape = append([]int(nil), s.Shape...)
	return c, true
}

// Available reports whether the weight is listed and its data can be read.
func (w *Weights) Available(name string) bool {
	s, ok := w.specs[name]
	return ok && w.dir != "" && w.groups[s.Group].status == nil
}

// Unavailable lists the groups whose data cannot be read, in manifest order.
func (w *Weights) Unavailable() []Unavailable {
	var out []Unavailable
	for _, g := range w.groups {
		if g.status != nil {
			u := *g.status
			u.Names = append([]string(nil), u.Names...)
			out = append(out, u)
		}
	}
	return out
}

// Tensor reads a weight as float32 in its stored shape (int32 and quantised
// values are converted). The caller owns the result.
func (w *Weights) Tensor(name string) (*tensor.Tensor, error) {
	s, b, err := w.read(name)
	if err != nil {
		return nil, err
	}
	data := make([]float32, tensor.Volume(s.Shape))
	decodeFloat32(data, b, s.DType, s.Quantization)
	return &tensor.Tensor{Shape: append([]int(nil), s.Shape...), Data: data}, nil
}

// Int32s reads an int32 weight exactly (graph models keep paddings, axes and
// shapes in int32 constants; float32 cannot hold every int32).
func (w *Weights) Int32s(name string) ([]int32, error) {
	s, b, err := w.read(name)
	if err != nil {
		return nil, err
	}
	if s.DType != "int32" {
		return nil, fmt.Errorf("model: %s: weight %q is %s, not int32: %w", w.source, name, s.DType, ErrUnsupported)
	}
	out := make([]int32, tensor.Volume(s.Shape))
	if s.Quantization != nil {
		f := make([]float32, len(out))
		decodeFloat32(f, b, s.DType, s.Quantization)
		for i, v := range f {
			out[i] = int32(v)
		}
		return out, nil
	}
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// read returns the stored bytes of a weight.
func (w *Weights) read(name string) (*WeightSpec, []byte, error) {
	s, ok := w.specs[name]
	if !ok {
		return nil, nil, fmt.Errorf("model: %s: weight %q: %w", w.source, name, ErrNoWeight)
	}
	if w.dir == "" {
		return nil, nil, fmt.Errorf("model: %s: weight %q: no shard folder: %w", w.source, name, ErrUnavailable)
	}
	g := w.groups[s.Group]
	if g.status != nil {
		return nil, nil, fmt.Errorf("model: weight %q: %s: %s: %w", name, filepath.Join(w.dir, g.status.File), g.status.Reason, ErrUnavailable)
	}
	b := make([]byte, s.Size)
	pos, filled := int64(0), int64(0) // pos: start of the current shard in the group
	for i, p := range g.paths {
		start, end := pos, pos+g.sizes[i]
		pos = end
		lo, hi := max(start, s.Offset), min(end, s.Offset+s.Size)
		if lo >= hi {
			continue
		}
		path := filepath.Join(w.dir, filepath.FromSlash(p))
		if err := readAt(path, b[filled:filled+hi-lo], lo-start); err != nil {
			return nil, nil, fmt.Errorf("model: weight %q: %w", name, err)
		}
		filled += hi - lo
	}
	if filled != s.Size {
		return nil, nil, fmt.Errorf("model: weight %q: shards of group %d hold %d of %d bytes: %w", name, s.Group+1, filled, s.Size, ErrUnavailable)
	}
	return s, b, nil
}

func readAt(path string, b []byte, off int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("%s: file shrank: read %d of %d bytes at offset %d: %w", path, n, len(b), off, ErrUnavailable)
	}
	return err
}
