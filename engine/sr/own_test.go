package sr

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atelier/engine/model"
	"atelier/engine/tensor"
)

// ownMethods lists every own method and scale of the catalog.
func ownMethods() (out []struct {
	name  string
	scale int
}) {
	for _, m := range Methods() {
		if m.own == nil {
			continue
		}
		for _, s := range m.Scales {
			out = append(out, struct {
				name  string
				scale int
			}{m.Name, s})
		}
	}
	return out
}

func TestOwnMethodsCatalog(t *testing.T) {
	own := ownMethods()
	if len(own) == 0 || own[0].name != "srcnn" {
		t.Fatalf("own methods %v, want srcnn first", own)
	}
	for _, o := range own {
		m, err := LookupMethod(o.name)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Builtin() || m.Model(o.scale) != "" || !m.Supports(o.scale) {
			t.Errorf("%s x%d: builtin %v, model %q, supports %v", o.name, o.scale, m.Builtin(), m.Model(o.scale), m.Supports(o.scale))
		}
	}
	if m, _ := LookupMethod("esrgan-slim"); m.Builtin() {
		t.Error("esrgan-slim claims to be built in")
	}
	if _, err := Open("srcnn", 5, Options{}); !errors.Is(err, ErrScale) {
		t.Errorf("srcnn x5: %v", err)
	}
}

// TestOwnBeatsBicubic checks every shipped network on one CSet5 image,
// measured as sr-eval measures.
func TestOwnBeatsBicubic(t *testing.T) {
	hr := sharedImage(t, "sr/CSet5/bird.png")
	for _, o := range ownMethods() {
		t.Run(o.name+"-x"+string(rune('0'+o.scale)), func(t *testing.T) {
			if raceEnabled && o.name != "srcnn" {
				t.Skip("the RGB networks are too slow under the race detector")
			}
			lr, ref, err := Downscale(hr, o.scale)
			if err != nil {
				t.Fatal(err)
			}
			measure := func(u Upscaler) float64 {
				out, err := u.Upscale(context.Background(), lr, nil)
				if err != nil {
					t.Fatal(err)
				}
				Quantize(out.Data)
				q, err := Compare(ref, out, o.scale)
				if err != nil {
					t.Fatal(err)
				}
				return q.PSNR
			}
			u, err := Open(o.name, o.scale, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if u.Name() != o.name || u.Scale() != o.scale {
				t.Errorf("opened %s x%d", u.Name(), u.Scale())
			}
			got, bic := measure(u), measure(&Bicubic{Factor: o.scale})
			t.Logf("%s x%d on bird: %.3f dB, bicubic %.3f dB (%+.3f)", o.name, o.scale, got, bic, got-bic)
			// The perceptual net trades PSNR for detail; it must still not be
			// far below bicubic. The others must beat it clearly.
			want := bic + 0.3
			if o.name == "perceptual" {
				want = bic - 1.5
			}
			if got < want {
				t.Errorf("%.3f dB, want at least %.3f (bicubic %.3f)", got, want, bic)
			}
		})
	}
}

func TestOwnTilingMatchesWholeImage(t *testing.T) {
	if raceEnabled {
		t.Skip("whole networks over an image: too slow under the race detector")
	}
	hr := crop(sharedImage(t, "sr/CSet5/bird.png"), 48, 48, 192, 192)
	for _, o := range ownMethods() {
		t.Run(o.name+"-x"+string(rune('0'+o.scale)), func(t *testing.T) {
			lr, _, err := Downscale(hr, o.scale)
			if err != nil {
				t.Fatal(err)
			}
			whole, err := Open(o.name, o.scale, Options{Tile: -1})
			if err != nil {
				t.Fatal(err)
			}
			// Tiles in output pixels for the luma network, input pixels
			// otherwise: about four per axis either way.
			tile := 64
			if u, ok := whole.(*OwnNetwork); ok && !u.Luma() {
				tile = 192 / o.scale / 2
			}
			tiled, err := Open(o.name, o.scale, Options{Tile: tile})
			if err != nil {
				t.Fatal(err)
			}
			a, err := whole.Upscale(context.Background(), lr, nil)
			if err != nil {
				t.Fatal(err)
			}
			var tiles int
			b, err := tiled.Upscale(context.Background(), lr, func(done, total int) { tiles = total })
			if err != nil {
				t.Fatal(err)
			}
			if tiles < 4 {
				t.Errorf("%d tiles, want several", tiles)
			}
			d := tensor.MaxAbsDiff(a, b)
			t.Logf("%d tiles: largest difference %.4f levels", tiles, d)
			if d > 2 {
				t.Errorf("tiled and whole results differ by %.3f levels, more than 2", d)
			}
		})
	}
}

// writeTiny writes a one-convolution model with cin input channels (and,
// when shuffle > 1, a pixel shuffle after a conv to 3*shuffle² channels).
func writeTiny(t *testing.T, dir string, cin, shuffle int) {
	t.Helper()
	cout := 1
	if cin == 3 {
		cout = 3 * shuffle * shuffle
	}
	layers := []any{
		map[string]any{"class_name": "InputLayer", "name": "x", "config": map[string]any{"name": "x", "batch_input_shape": []any{nil, nil, nil, cin}}, "inbound_nodes": []any{}},
		map[string]any{"class_name": "Conv2D", "name": "c", "config": map[string]any{"name": "c", "filters": cout, "kernel_size": []int{3, 3}, "padding": "same", "activation": "linear", "use_bias": true},
			"inbound_nodes": []any{[]any{[]any{"x", 0, 0, map[string]any{}}}}},
	}
	out := "c"
	if shuffle > 1 {
		layers = append(layers, map[string]any{"class_name": "PixelShuffle2x", "name": "ps", "config": map[string]any{"name": "ps", "scale": shuffle},
			"inbound_nodes": []any{[]any{[]any{"c", 0, 0, map[string]any{}}}}})
		out = "ps"
	}
	cfg, err := json.Marshal(map[string]any{"class_name": "Functional", "config": map[string]any{
		"name": "tiny", "layers": layers, "input_layers": []any{[]any{"x", 0, 0}}, "output_layers": []any{[]any{out, 0, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	k := tensor.New(3, 3, cin, cout)
	k.Data[4*cin*cout] = 0.01 // a little of the centre pixel
	if err := model.WriteLayersModel(dir, cfg, []model.NamedWeight{{Name: "c/kernel", Value: k}, {Name: "c/bias", Value: tensor.New(cout)}}, "test"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenModelDir(t *testing.T) {
	root := t.TempDir()
	luma := filepath.Join(root, "luma")
	writeTiny(t, luma, 1, 1)
	rgb2 := filepath.Join(root, "rgb2")
	writeTiny(t, rgb2, 3, 2)
	in := tensor.New(1, 3, 9, 7)
	for i := range in.Data {
		in.Data[i] = float32(i % 200)
	}
	for _, c := range []struct {
		dir   string
		scale int
		luma  bool
	}{{luma, 3, true}, {luma, 2, true}, {rgb2, 2, false}} {
		u, err := OpenModelDir(c.dir, c.scale, Options{})
		if err != nil {
			t.Fatalf("%s x%d: %v", c.dir, c.scale, err)
		}
		if u.Luma() != c.luma {
			t.Errorf("%s: luma %v", c.dir, u.Luma())
		}
		got, err := u.Upscale(context.Background(), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		bic, err := (&Bicubic{Factor: c.scale}).Upscale(context.Background(), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The tiny nets add 1% of their input: close to bicubic, not equal.
		if d := tensor.MaxAbsDiff(got, bic); d == 0 || d > 5 {
			t.Errorf("%s x%d: differs from bicubic by %v", c.dir, c.scale, d)
		}
	}
	// The shipped luma network's correction follows Y: R, G and B move
	// together by 255/219 times the change of Y.
	u, _ := OpenModelDir(luma, 2, Options{})
	got, _ := u.Upscale(context.Background(), in, nil)
	bic, _ := (&Bicubic{Factor: 2}).Upscale(context.Background(), in, nil)
	m := got.Shape[2] * got.Shape[3]
	for i := range m {
		dr, dg, db := got.Data[i]-bic.Data[i], got.Data[m+i]-bic.Data[m+i], got.Data[2*m+i]-bic.Data[2*m+i]
		if bic.Data[i] > 1 && bic.Data[i] < 250 && bic.Data[m+i] > 1 && bic.Data[m+i] < 250 && math.Abs(float64(dr-dg)) > 1e-3 {
			t.Fatalf("pixel %d: R moved %v, G %v, B %v", i, dr, dg, db)
		}
	}
}

func TestOpenModelDirErrors(t *testing.T) {
	root := t.TempDir()
	rgb2 := filepath.Join(root, "rgb2")
	writeTiny(t, rgb2, 3, 2)
	two := filepath.Join(root, "two")
	writeTiny(t, two, 2, 1)
	noShard := filepath.Join(root, "noshard")
	writeTiny(t, noShard, 1, 1)
	if err := os.Remove(filepath.Join(noShard, model.ShardName)); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(root, "garbage")
	if err := os.MkdirAll(garbage, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(garbage, "model.json"), []byte("{\"format\": \"layers-mo"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		dir   string
		scale int
		want  error
		says  string
	}{
		{"missing folder", filepath.Join(root, "nothing"), 2, os.ErrNotExist, "nothing"},
		{"corrupt model.json", garbage, 2, model.ErrFormat, "model.json"},
		{"two input channels", two, 2, model.ErrFormat, "2 input channels"},
		{"wrong scale", rgb2, 4, model.ErrFormat, "enlarges x2"},
		{"missing shard", noShard, 2, ErrModelMissing, model.ShardName},
		{"bad scale", rgb2, 0, ErrScale, "x0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenModelDir(c.dir, c.scale, Options{})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v, want %v mentioning %q", err, c.want, c.says)
			}
		})
	}
}

func TestMirror(t *testing.T) {
	for _, c := range []struct{ i, n, want int }{
		{0, 4, 0}, {3, 4, 3}, {-1, 4, 1}, {-3, 4, 3}, {4, 4, 2}, {6, 4, 0}, {7, 4, 1}, {-7, 4, 1}, {5, 1, 0}, {-2, 2, 0}, {2, 2, 0}, {3, 2, 1},
	} {
		if got := mirror(c.i, c.n); got != c.want {
			t.Errorf("mirror(%d, %d) = %d, want %d", c.i, c.n, got, c.want)
		}
	}
	x := tensor.FromData([]float32{1, 2, 3, 4, 5, 6}, 1, 1, 2, 3)
	p := mirrorPad(x, 2, 10)
	want := []float32{ // rows -2..3 are rows 0 1 0 1 0 1; columns -2..4 are 2 1 0 1 2 1 0
		30, 20, 10, 20, 30, 20, 10,
		60, 50, 40, 50, 60, 50, 40,
		30, 20, 10, 20, 30, 20, 10,
		60, 50, 40, 50, 60, 50, 40,
		30, 20, 10, 20, 30, 20, 10,
		60, 50, 40, 50, 60, 50, 40,
	}
	if !tensor.ShapeEqual(p.Shape, []int{1, 1, 6, 7}) {
		t.Fatalf("shape %v", p.Shape)
	}
	for i, v := range want {
		if p.Data[i] != v {
			t.Fatalf("padded %v, want %v", p.Data, want)
		}
	}
}

func TestFlipTranspose(t *testing.T) {
	x := randomImage(1, 3, 5)
	for a := range 8 {
		y := flipTranspose(x, a, false)
		if a&4 != 0 && !tensor.ShapeEqual(y.Shape, []int{1, 3, 5, 3}) {
			t.Fatalf("a=%d: shape %v", a, y.Shape)
		}
		if back := flipTranspose(y, a, true); tensor.MaxAbsDiff(back, x) != 0 {
			t.Errorf("a=%d: the inverse does not restore the image", a)
		}
		if a != 0 && tensor.MaxAbsDiff(y.Reshape(x.Shape...), x) == 0 {
			t.Errorf("a=%d changed nothing", a)
		}
	}
}

func TestOwnSelfEnsemble(t *testing.T) {
	if raceEnabled {
		t.Skip("whole networks over an image: too slow under the race detector")
	}
	hr := crop(sharedImage(t, "sr/CSet5/bird.png"), 0, 0, 120, 120)
	lr, ref, err := Downscale(hr, 3)
	if err != nil {
		t.Fatal(err)
	}
	var psnr [2]float64
	var calls, last int
	for i, ens := range []bool{false, true} {
		u, err := Open("srcnn", 3, Options{SelfEnsemble: ens, Tile: 64})
		if err != nil {
			t.Fatal(err)
		}
		out, err := u.Upscale(context.Background(), lr, func(done, total int) { calls++; last = total })
		if err != nil {
			t.Fatal(err)
		}
		Quantize(out.Data)
		q, err := Compare(ref, out, 3)
		if err != nil {
			t.Fatal(err)
		}
		psnr[i] = q.PSNR
	}
	t.Logf("srcnn x3 on a crop of bird: %.3f dB, self-ensemble %.3f dB", psnr[0], psnr[1])
	if !(psnr[1] > psnr[0]) || psnr[1] > psnr[0]+1 {
		t.Errorf("self-ensemble %.3f dB against %.3f dB", psnr[1], psnr[0])
	}
	if last < 8 || calls < last {
		t.Errorf("progress: %d calls, total %d", calls, last)
	}
}
