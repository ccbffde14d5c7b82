package style

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/model"
	"atelier/engine/tensor"
)

// sharedDir returns the shared reference folder or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, err := model.SharedDir()
	if err != nil {
		t.Skipf("no shared reference folder (set ATELIER_SHARED): %v", err)
	}
	return d
}

var vgg struct {
	once sync.Once
	net  *features.VGG19
	err  error
}

// partialVGG returns the partial VGG19 of the shared folder, with fused
// ReLUs as the stylize runner loads it (loaded once per test binary), or
// skips the test. Extractors are not safe for
// concurrent use: tests that use it must not run in parallel.
func partialVGG(t testing.TB) *features.VGG19 {
	t.Helper()
	dir := filepath.Join(sharedDir(t), "models", "vgg19-tfjs")
	if _, err := os.Stat(filepath.Join(dir, "model.json")); err != nil {
		t.Skipf("VGG19 weights not found: %v", err)
	}
	vgg.once.Do(func() { vgg.net, vgg.err = features.LoadVGG19(dir, features.VGG19Options{FuseReLU: true}) })
	if vgg.err != nil {
		t.Fatal(vgg.err)
	}
	return vgg.net
}

var imgCache sync.Map // rel or "rel@side" -> *tensor.Tensor

// sharedImage loads an image of the shared folder with its longer side
// scaled to side; the caller must not modify it. Each file is decoded once
// per test binary (at most 512 px), then resized per size.
func sharedImage(t testing.TB, rel string, side int) *tensor.Tensor {
	t.Helper()
	key := fmt.Sprint(rel, "@", side)
	if v, ok := imgCache.Load(key); ok {
		return v.(*tensor.Tensor)
	}
	var orig *tensor.Tensor
	if v, ok := imgCache.Load(rel); ok {
		orig = v.(*tensor.Tensor)
	} else {
		img, err := imageio.Load(filepath.Join(sharedDir(t), "images", rel), imageio.Options{MaxSide: 512})
		if err != nil {
			t.Fatal(err)
		}
		orig = img.RGB
		imgCache.Store(rel, orig)
	}
	out, err := imageio.ResizeLong(orig, side)
	if err != nil {
		t.Fatal(err)
	}
	imgCache.Store(key, out)
	return out
}

const (
	tubingen = "content/tubingen.jpg"
	starry   = "style/starry_night.jpg"
	scream   = "style/the_scream.jpg"
	matisse  = "style/woman-with-hat-matisse.jpg"
)

// sameBits reports whether two tensors hold identical float32 values.
func sameBits(a, b *tensor.Tensor) bool {
	if a == nil || b == nil || !a.SameShape(b) {
		return false
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return false
		}
	}
	return true
}

var resnet struct {
	once sync.Once
	net  *features.ResNet50
	err  error
}

// cachedResNet returns ResNet-50 with the softmax transform from the model
// cache, or skips the test.
func cachedResNet(t testing.TB) *features.ResNet50 {
	t.Helper()
	c, err := model.CacheDir()
	if err != nil {
		t.Skipf("no model cache: %v", err)
	}
	dir := filepath.Join(c, "resnet50-imagenet")
	if _, err := os.Stat(filepath.Join(dir, "model.json")); err != nil {
		t.Skipf("ResNet-50 is not in the model cache (%s): %v", dir, err)
	}
	resnet.once.Do(func() {
		resnet.net, resnet.err = features.LoadResNet50(dir, features.ResNet50Options{Softmax: true})
	})
	if resnet.err != nil {
		t.Fatal(resnet.err)
	}
	return resnet.net
}
