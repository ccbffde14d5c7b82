package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"atelier/engine/tensor"
)

// LayersModel is a TF.js layers model: a Keras topology plus its weights.
type LayersModel struct {
	Path         string // model.json, empty for models parsed from bytes
	Format       string // "layers-model" (may be empty in old files)
	GeneratedBy  string
	ConvertedBy  string
	KerasVersion string
	Backend      string
	Topology     *Topology
	Weights      *Weights
}

// Weight reads a weight by name (e.g. "block1_conv1/kernel") in its stored
// shape (conv kernels are HWIO). Errors wrap ErrNoWeight or ErrUnavailable;
// an unavailable weight's error names the file at fault.
func (m *LayersModel) Weight(name string) (*tensor.Tensor, error) { return m.Weights.Tensor(name) }

// OpenLayersModel loads a TF.js layers model from its model.json (or the
// folder holding it) and checks which weight groups are readable.
func OpenLayersModel(path string) (*LayersModel, error) {
	path, data, err := readModelJSON(path)
	if err != nil {
		return nil, err
	}
	m, err := parseLayers(data, path)
	if err != nil {
		return nil, err
	}
	m.Path = path
	if err := m.Weights.attach(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseLayersModel parses model.json content without looking for shards:
// every weight is listed but unavailable.
func ParseLayersModel(data []byte) (*LayersModel, error) { return parseLayers(data, "model.json") }

type jsonModelFile struct {
	Format          string          `json:"format"`
	GeneratedBy     string          `json:"generatedBy"`
	ConvertedBy     json.RawMessage `json:"convertedBy"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest json.RawMessage `json:"weightsManifest"`
}

func parseLayers(data []byte, source string) (*LayersModel, error) {
	var f jsonModelFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("model: %s: %w (%v)", source, ErrFormat, err)
	}
	if f.Format != "" && f.Format != "layers-model" {
		return nil, fmt.Errorf("model: %s: format %q is not a layers model: %w", source, f.Format, ErrFormat)
	}
	var top struct {
		KerasVersion string          `json:"keras_version"`
		Backend      string          `json:"backend"`
		ModelConfig  json.RawMessage `json:"model_config"`
		ClassName    string          `json:"class_name"`
		Config       json.RawMessage `json:"config"`
	}
	if len(bytes.TrimSpace(f.ModelTopology)) == 0 || string(f.ModelTopology) == "null" {
		return nil, fmt.Errorf("model: %s: no modelTopology: %w", source, ErrFormat)
	}
	if err := json.Unmarshal(f.ModelTopology, &top); err != nil {
		return nil, fmt.Errorf("model: %s: modelTopology: %w (%v)", source, ErrFormat, err)
	}
	if len(top.ModelConfig) > 0 && string(top.ModelConfig) != "null" {
		var mc struct {
			ClassName string          `json:"class_name"`
			Config    json.RawMessage `json:"config"`
		}
		if err := json.Unmarshal(top.ModelConfig, &mc); err != nil {
			return nil, fmt.Errorf("model: %s: model_config: %w (%v)", source, ErrFormat, err)
		}
		top.ClassName, top.Config = mc.ClassName, mc.Config
	}
	if !isModelClass(top.ClassName) {
		return nil, fmt.Errorf("model: %s: model class %q is not Sequential, Model or Functional: %w", source, top.ClassName, ErrFormat)
	}
	t, err := parseTopology(top.ClassName, top.Config, 0)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %v: %w", source, err, ErrFormat)
	}
	w, err := parseWeightsManifest(f.WeightsManifest, source)
	if err != nil {
		return nil, err
	}
	return &LayersModel{
		Format: f.Format, GeneratedBy: f.GeneratedBy, ConvertedBy: nameOf(f.ConvertedBy),
		KerasVersion: top.KerasVersion, Backend: top.Backend, Topology: t, Weights: w,
	}, nil
}

// readModelJSON accepts a model.json path or its folder.
func readModelJSON(path string) (string, []byte, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "model.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return path, nil, fmt.Errorf("model: %w", err)
	}
	return path, data, nil
}
