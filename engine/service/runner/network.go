package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"atelier/engine/features"
	"atelier/engine/job"
	"atelier/engine/model"
	"atelier/weights"
)

// Registry names of the feature networks, best first.
const (
	ModelVGG19Full    = "vgg19-full"
	ModelResNet50     = "resnet50-imagenet"
	ModelVGG19Partial = "vgg19-partial"
)

// ErrNoNetwork reports that no feature network of the kind asked for is on
// disk.
var ErrNoNetwork = errors.New("runner: no feature network")

// Network is a feature network found on disk.
type Network struct {
	// Model is its registry name (ModelVGG19Full, ...).
	Model string
	// Kind is job.NetworkVGG19 or job.NetworkResNet50.
	Kind string
	// Dir is the folder holding its model.json.
	Dir string
}

// Finder looks for feature networks in the models cache and the shared
// reference folder.
type Finder struct {
	Registry *model.Registry
	Store    *model.Store
}

// DefaultFinder reads the embedded manifest and uses the default folders
// (model.CacheDir, and model.SharedDir when there is one).
func DefaultFinder() (*Finder, error) {
	reg, err := model.ParseRegistry(weights.Manifest)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	root, err := model.CacheDir()
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	shared, _ := model.SharedDir() // none in installed copies
	return &Finder{Registry: reg, Store: &model.Store{Root: root, Shared: shared}}, nil
}

// candidates lists, best first, the models that can serve a network kind.
func candidates(kind string) ([]string, error) {
	switch kind {
	case job.NetworkAuto:
		return []string{ModelVGG19Full, ModelResNet50, ModelVGG19Partial}, nil
	case job.NetworkVGG19:
		return []string{ModelVGG19Full, ModelVGG19Partial}, nil
	case job.NetworkResNet50:
		return []string{ModelResNet50}, nil
	}
	return nil, fmt.Errorf("runner: %q is not a feature network (vgg19 or resnet50)", kind)
}

// Find returns the best network of the kind asked for (job.NetworkAuto:
// the full VGG19, else ResNet-50, else the partial VGG19) that is present
// on disk. The error wraps ErrNoNetwork and says how to fetch one.
func (f *Finder) Find(kind string) (Network, error) {
	names, err := candidates(kind)
	if err != nil {
		return Network{}, err
	}
	for _, name := range names {
		e, err := f.Registry.Lookup(name)
		if err != nil {
			continue
		}
		if dir, ok := f.present(e); ok {
			k := job.NetworkVGG19
			if name == ModelResNet50 {
				k = job.NetworkResNet50
			}
			return Network{Model: name, Kind: k, Dir: dir}, nil
		}
	}
	var hint string
	switch kind {
	case job.NetworkResNet50:
		hint = "ResNet-50 is not downloaded: " + features.ResNet50FetchHint
	case job.NetworkVGG19:
		hint = "VGG19 is not downloaded: " + features.VGG19FetchHint
	default:
		hint = "no feature network is downloaded: fetch one with `atelier models fetch vgg19-full` or `atelier models fetch resnet50-imagenet`"
	}
	return Network{}, noNetworkError{"runner: " + hint}
}

// noNetworkError says which network is missing and how to get it; it
// matches ErrNoNetwork.
type noNetworkError struct{ msg string }

func (e noNetworkError) Error() string        { return e.msg }
func (e noNetworkError) Is(target error) bool { return target == ErrNoNetwork }

// present reports where e's files are, when every one of them is there. A
// development-only model is also looked for under the cache, for copies
// placed there by hand.
func (f *Finder) present(e *model.Entry) (string, bool) {
	if f.Store == nil {
		return "", false
	}
	if st := f.Store.Status(e); st.State == model.Present && st.Dir != "" {
		return st.Dir, true
	}
	if e.DevelopmentOnly && f.Store.Root != "" {
		dir := filepath.Join(f.Store.Root, e.Name)
		if allFiles(dir, e) {
			return dir, true
		}
	}
	return "", false
}

func allFiles(dir string, e *model.Entry) bool {
	for _, file := range e.Files {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(file.Path))); err != nil {
			return false
		}
	}
	return len(e.Files) > 0
}

// Load reads the network's weights: VGG19 as it is, ResNet-50 with the
// softmax feature transform that Gram losses need.
func Load(n Network) (features.Extractor, error) {
	switch n.Kind {
	case job.NetworkVGG19:
		// Style transfer needs no pre-activation taps: the fused network
		// is faster and keeps half the activations.
		net, err := features.LoadVGG19(n.Dir, features.VGG19Options{FuseReLU: true})
		if err != nil {
			return nil, fmt.Errorf("runner: loading %s: %w", n.Model, err)
		}
		return net, nil
	case job.NetworkResNet50:
		net, err := features.LoadResNet50(n.Dir, features.ResNet50Options{Softmax: true})
		if err != nil {
			return nil, fmt.Errorf("runner: loading %s: %w", n.Model, err)
		}
		return net, nil
	}
	return nil, fmt.Errorf("runner: %q is not a feature network (vgg19 or resnet50)", n.Kind)
}

// String names the network for messages ("vgg19-partial (relu1_1 ..
// relu3_4 only)").
func (n Network) String() string {
	if n.Model == ModelVGG19Partial {
		return n.Model + " (the first three blocks only)"
	}
	return strings.TrimSpace(n.Model)
}
