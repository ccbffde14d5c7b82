package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"atelier/engine/tensor"
)

// NamedWeight is one weight of a layers model to write: its manifest name
// ("conv1/kernel") and its value in the stored layout (HWIO for
// convolution kernels, as Keras keeps them).
type NamedWeight struct {
	Name  string
	Value *tensor.Tensor
}

// ShardName is the single weights file WriteLayersModel writes beside
// model.json.
const ShardName = "group1-shard1of1.bin"

// WriteLayersModel writes a TF.js layers model into dir (created when
// missing): model.json with the Keras model configuration modelConfig (the
// {"class_name": "Functional", "config": {...}} object) and a manifest of
// one group, and ShardName holding the weights as little-endian float32 in
// the order given. Both files are written to temporary names first and
// renamed, so a reader never sees half a model. OpenLayersModel reads the
// result.
func WriteLayersModel(dir string, modelConfig json.RawMessage, weights []NamedWeight, generatedBy string) error {
	if !json.Valid(modelConfig) {
		return fmt.Errorf("model: write %s: the model configuration is not valid JSON: %w", dir, ErrFormat)
	}
	type jw struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
		DType string `json:"dtype"`
	}
	specs := make([]jw, len(weights))
	var n int
	seen := map[string]bool{}
	for i, w := range weights {
		if w.Name == "" || w.Value == nil || len(w.Value.Data) != tensor.Volume(w.Value.Shape) {
			return fmt.Errorf("model: write %s: weight %d (%q) has no name or a value that does not fill its shape: %w", dir, i, w.Name, ErrFormat)
		}
		if seen[w.Name] {
			return fmt.Errorf("model: write %s: weight %q given twice: %w", dir, w.Name, ErrFormat)
		}
		seen[w.Name] = true
		specs[i] = jw{Name: w.Name, Shape: append([]int{}, w.Value.Shape...), DType: "float32"}
		n += len(w.Value.Data)
	}
	bin := make([]byte, 0, 4*n)
	for _, w := range weights {
		for _, v := range w.Value.Data {
			bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
		}
	}
	file := struct {
		Format          string  `json:"format"`
		GeneratedBy     string  `json:"generatedBy"`
		ConvertedBy     *string `json:"convertedBy"`
		ModelTopology   any     `json:"modelTopology"`
		WeightsManifest []any   `json:"weightsManifest"`
	}{
		Format:      "layers-model",
		GeneratedBy: generatedBy,
		ModelTopology: map[string]any{
			"keras_version": "2.10.0", "backend": "tensorflow", "model_config": modelConfig,
		},
		WeightsManifest: []any{map[string]any{"paths": []string{ShardName}, "weights": specs}},
	}
	js, err := json.Marshal(file)
	if err != nil {
		return fmt.Errorf("model: write %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	// The shard first: a model.json never points at a missing or old shard
	// for long.
	if err := writeAtomic(filepath.Join(dir, ShardName), bin); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "model.json"), js)
}

// writeAtomic writes data to a temporary file beside path and renames it.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// MemWeights holds every weight of a layers model in memory, by manifest
// name, in the stored layout. It satisfies graph.WeightSource.
type MemWeights map[string]*tensor.Tensor

// Weight returns a copy of the named weight, or an error wrapping
// ErrNoWeight.
func (m MemWeights) Weight(name string) (*tensor.Tensor, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("model: weight %q: %w", name, ErrNoWeight)
	}
	return t.Clone(), nil
}

// LoadLayersModelFS reads a layers model and all its weights from the
// folder dir of fsys (an embedded file system, say): model.json and the
// shards its manifest lists. A missing shard, or shards shorter or longer
// than the manifest says, is an error wrapping ErrUnavailable that names
// the file.
func LoadLayersModelFS(fsys fs.FS, dir string) (*LayersModel, MemWeights, error) {
	src := path.Join(dir, "model.json")
	data, err := fs.ReadFile(fsys, src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("model: %s: %w", src, ErrUnavailable)
		}
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	lm, err := parseLayers(data, src)
	if err != nil {
		return nil, nil, err
	}
	w := lm.Weights
	groups := make([][]byte, len(w.groups))
	for gi, g := range w.groups {
		var parts []string
		for _, p := range g.paths {
			b, err := fs.ReadFile(fsys, path.Join(dir, p))
			if err != nil {
				return nil, nil, fmt.Errorf("model: %s: shard %s: %w (%v)", src, p, ErrUnavailable, err)
			}
			groups[gi] = append(groups[gi], b...)
			parts = append(parts, p)
		}
		if int64(len(groups[gi])) != g.need {
			return nil, nil, fmt.Errorf("model: %s: shards %s hold %d bytes, the weights need %d: %w",
				src, strings.Join(parts, "+"), len(groups[gi]), g.need, ErrUnavailable)
		}
	}
	mem := MemWeights{}
	for _, name := range w.order {
		s := w.specs[name]
		b := groups[s.Group][s.Offset : s.Offset+s.Size]
		t := tensor.New(s.Shape...)
		decodeFloat32(t.Data, b, s.DType, s.Quantization)
		mem[name] = t
	}
	return lm, mem, nil
}
