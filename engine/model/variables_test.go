package model

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestJohnsonVariablesFromShared(t *testing.T) {
	v, err := OpenVariables(filepath.Join(sharedModels(t), "johnson-ml5", "la_muse"))
	if err != nil {
		t.Fatal(err)
	}
	names := v.Names()
	if len(names) != 48 || names[0] != "Variable" || names[1] != "Variable_1" || names[10] != "Variable_10" || names[47] != "Variable_47" {
		t.Fatalf("names %v", names)
	}
	if len(v.Unavailable()) != 0 {
		t.Fatalf("unavailable %v", v.Unavailable())
	}
	shapes := map[string][]int{
		"Variable":    {9, 9, 3, 32},
		"Variable_1":  {32},
		"Variable_3":  {3, 3, 32, 64},
		"Variable_6":  {3, 3, 64, 128},
		"Variable_9":  {3, 3, 128, 128},
		"Variable_39": {3, 3, 64, 128}, // transposed conv: [h, w, out, in]
		"Variable_45": {9, 9, 32, 3},
		"Variable_47": {3},
	}
	for name, want := range shapes {
		got, err := v.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Shape) != len(want) {
			t.Fatalf("%s shape %v, want %v", name, got.Shape, want)
		}
		for i := range want {
			if got.Shape[i] != want[i] {
				t.Fatalf("%s shape %v, want %v", name, got.Shape, want)
			}
		}
	}
	last, _ := v.Tensor("Variable_46")
	if !near(last.Data[0], -0.1899486482143402) || !near(last.Data[2], -0.33661773800849915) {
		t.Fatalf("Variable_46 = %v", last.Data)
	}
}

func TestVariablesBadFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok", "manifest.json"), []byte(`{
		"v": {"filename": "v", "shape": [2]},
		"short": {"filename": "short", "shape": [2, 2]},
		"gone": {"filename": "gone", "shape": [1]}}`))
	writeFile(t, filepath.Join(dir, "ok", "v"), f32bytes(1, 2))
	writeFile(t, filepath.Join(dir, "ok", "short"), f32bytes(1, 2, 3))
	v, err := OpenVariables(filepath.Join(dir, "ok"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Tensor("v"); err != nil || got.Data[1] != 2 {
		t.Fatalf("v = %v, %v", got, err)
	}
	_, err = v.Tensor("short")
	wantErr(t, err, filepath.Join(dir, "ok", "short"), "12 bytes", "16")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v does not wrap ErrUnavailable", err)
	}
	_, err = v.Tensor("gone")
	wantErr(t, err, "gone", "missing")
	if _, err := v.Tensor("nope"); !errors.Is(err, ErrNoWeight) {
		t.Fatalf("unknown variable: %v", err)
	}

	for name, js := range map[string]string{
		"corrupt": `{"v": {"filename": `,
		"escape":  `{"v": {"filename": "../v", "shape": [1]}}`,
		"shape":   `{"v": {"filename": "v", "shape": [-1]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name, "manifest.json")
			writeFile(t, p, []byte(js))
			_, err := OpenVariables(p)
			wantErr(t, err, "manifest.json")
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%v does not wrap ErrFormat", err)
			}
		})
	}
	if _, err := OpenVariables(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing manifest: %v", err)
	}
}
