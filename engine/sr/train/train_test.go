package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/model"
	"atelier/engine/sr"
	"atelier/engine/tensor"
)

// synthImages writes n w x h images of random gratings (sums of
// sinusoids up to a third of a cycle per pixel, which bicubic enlargement
// blurs in a way a network can learn to undo) plus a sharp-edged square
// into a temporary folder and returns their paths.
func synthImages(t *testing.T, n, w, h int, seed uint64) []string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 7))
	var paths []string
	for i := range n {
		img := tensor.New(1, 3, h, w)
		for range 5 {
			f := 0.05 + 0.28*rng.Float64()
			th := rng.Float64() * math.Pi
			fx, fy := 2*math.Pi*f*math.Cos(th), 2*math.Pi*f*math.Sin(th)
			ph := rng.Float64() * 2 * math.Pi
			amp := [3]float64{rng.Float64() * 25, rng.Float64() * 25, rng.Float64() * 25}
			for c := range 3 {
				for y := range h {
					for x := range w {
						img.Data[(c*h+y)*w+x] += float32(amp[c] * math.Sin(fx*float64(x)+fy*float64(y)+ph))
					}
				}
			}
		}
		x0, y0 := rng.IntN(w/2), rng.IntN(h/2)
		for c := range 3 {
			v := rng.Float32() * 80
			for y := range h {
				for x := range w {
					k := (c*h+y)*w + x
					img.Data[k] += 128
					if x >= x0 && x < x0+w/3 && y >= y0 && y < y0+h/3 {
						img.Data[k] += v - 40
					}
				}
			}
		}
		p := filepath.Join(dir, "synth"+string(rune('a'+i))+".png")
		if err := imageio.SaveTensor(p, img, nil, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// randomInput returns a [1,3,h,w] image in 0..255.
func randomInput(h, w int, seed uint64) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 3))
	x := tensor.New(1, 3, h, w)
	for i := range x.Data {
		x.Data[i] = float32(rng.IntN(256))
	}
	return x
}

// TestSaveOpenRoundTrip checks that a saved network, opened by sr the way
// the shipped weights are, computes bicubic plus the network's own output.
func TestSaveOpenRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		scale int
		build func(*rand.Rand) (*Net, error)
	}{
		{"srcnn", 3, NewSRCNN},
		{"srnet-x2", 2, func(r *rand.Rand) (*Net, error) { return NewSRNet(r, 2, 8, 1) }},
		{"srnet-x4", 4, func(r *rand.Rand) (*Net, error) { return NewSRNet(r, 4, 8, 2) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			net, err := c.build(rng)
			if err != nil {
				t.Fatal(err)
			}
			// The last convolution starts at zero: give it weights, so the
			// correction is large enough to see.
			for _, p := range net.Params()[len(net.Params())-2:] {
				for i := range p.Value.Data {
					p.Value.Data[i] = 0.1 * float32(rng.NormFloat64())
				}
			}
			const H, W = 45, 41
			in := randomInput(H, W, 5)
			s := c.scale
			bic, err := sr.Resample(in, W*s, H*s)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range bic.Data {
				bic.Data[i] = min(max(v, 0), 255)
			}
			want := bic.Clone()
			if net.InChannels == 1 {
				y := tensor.New(1, 1, H*s, W*s)
				sr.LumaInto(y.Data, bic)
				out, err := net.Forward(y)
				if err != nil {
					t.Fatal(err)
				}
				m := len(out.Data)
				for ch := range 3 {
					for i, v := range out.Data {
						want.Data[ch*m+i] += 255.0 * 255 / 219 * v
					}
				}
			} else {
				x := in.Clone()
				for i := range x.Data {
					x.Data[i] /= 255
				}
				out, err := net.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range out.Data {
					want.Data[i] += 255 * v
				}
			}
			for i, v := range want.Data {
				want.Data[i] = min(max(v, 0), 255)
			}
			if d := tensor.MaxAbsDiff(want, bic); d < 1 {
				t.Fatalf("the network changes bicubic by only %v levels: the test would prove nothing", d)
			}
			dir := filepath.Join(t.TempDir(), c.name)
			if err := net.Save(dir, "test"); err != nil {
				t.Fatal(err)
			}
			u, err := sr.OpenModelDir(dir, s, sr.Options{Tile: -1})
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.Upscale(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The upscaler mirrors the image outwards where the network saw
			// zero padding here: compare away from the edges.
			e := u.ReceptiveMargin() * s
			if net.InChannels == 1 {
				e = u.ReceptiveMargin()
			}
			if 2*e >= W*s-8 {
				t.Fatalf("margin %d leaves nothing to compare", e)
			}
			var d float64
			for ch := range 3 {
				for y := e; y < H*s-e; y++ {
					for x := e; x < W*s-e; x++ {
						i := (ch*H*s+y)*W*s + x
						d = max(d, math.Abs(float64(got.Data[i]-want.Data[i])))
					}
				}
			}
			// The upscaler runs its convolutions with reduced AMX precision
			// (graph.SetReducedPrecision: about 1e-4 of the output scale,
			// some hundredths of a level); training keeps float32.
			if d > 0.05 {
				t.Errorf("opened model differs from the trained one by %v levels %d pixels or more from the edges", d, e)
			}
			// LoadInto restores the same weights into a fresh network.
			fresh, err := c.build(rand.New(rand.NewPCG(9, 9)))
			if err != nil {
				t.Fatal(err)
			}
			if err := fresh.LoadInto(dir); err != nil {
				t.Fatal(err)
			}
			for i, p := range fresh.Params() {
				if d := tensor.MaxAbsDiff(p.Value, net.Params()[i].Value); d != 0 {
					t.Errorf("parameter %d differs by %v after LoadInto", i, d)
				}
			}
		})
	}
}

func TestLoadIntoOtherArchitecture(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "srcnn")
	a, err := NewSRCNN(rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(dir, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := NewSRNet(rand.New(rand.NewPCG(1, 1)), 2, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.LoadInto(dir); err == nil || !strings.Contains(err.Error(), "same architecture") {
		t.Fatalf("got %v", err)
	}
	if err := b.LoadInto(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("loaded a missing folder")
	}
}

// TestTrainingReducesLoss trains each architecture briefly on synthetic
// images and measures the loss on one fixed batch before and after: it
// must fall clearly below the loss of plain bicubic, where it starts (the
// last layer starts at zero).
func TestTrainingReducesLoss(t *testing.T) {
	if raceEnabled {
		t.Skip("hundreds of training steps: too slow under the race detector (TestRunEvaluatesAndWrites runs the loop)")
	}
	images := synthImages(t, 3, 96, 80, 1)
	cases := []Config{
		{Arch: ArchSRCNN, Scale: 2, Iters: 150, Batch: 4, Patch: 20, Margin: 4, LR: 3e-3},
		{Arch: ArchSRNet, Scale: 2, Iters: 200, Batch: 4, Patch: 14, Margin: 2, LR: 3e-3, Feats: 8, Blocks: 1},
	}
	for _, cfg := range cases {
		t.Run(cfg.Arch, func(t *testing.T) {
			cfg.Images = images
			cfg.Out = filepath.Join(t.TempDir(), "out")
			tr, err := newTrainer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			in, tgt, _ := tr.batch.next(16)
			in, tgt = in.Clone(), tgt.Clone()
			fixed := func() float64 {
				y, err := tr.net.Forward(in)
				if err != nil {
					t.Fatal(err)
				}
				l, err := tr.lossGrad(y, tgt, nil)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			bicubic, err := tr.lossGrad(tensor.New(tgt.Shape...), tgt, nil) // a zero correction
			if err != nil {
				t.Fatal(err)
			}
			before := fixed()
			for range cfg.Iters {
				if _, err := tr.step(); err != nil {
					t.Fatal(err)
				}
			}
			after := fixed()
			t.Logf("fixed-batch loss %.3g -> %.3g (bicubic %.3g)", before, after, bicubic)
			if math.Abs(before-bicubic) > 1e-3*bicubic || !(after < 0.85*bicubic) {
				t.Errorf("loss %.3g -> %.3g, bicubic %.3g: want to start at bicubic and fall by 15%%", before, after, bicubic)
			}
		})
	}
}

// TestRunEvaluatesAndWrites runs the whole loop briefly with evaluation:
// progress for every iteration, the best model written and loadable.
func TestRunEvaluatesAndWrites(t *testing.T) {
	images := synthImages(t, 2, 64, 48, 2)
	calls := 0
	cfg := Config{Arch: ArchSRNet, Scale: 2, Iters: 6, Batch: 2, Patch: 12, Feats: 4, Blocks: 1,
		Images: images[:1], EvalImages: images[1:], EvalEvery: 3, Out: filepath.Join(t.TempDir(), "out"),
		Progress: func(Status) { calls++ }}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 6 || res.Iterations != 6 || res.BicubicPSNR == 0 || res.BestPSNR == 0 || res.BestIter == 0 || res.Params == 0 {
		t.Errorf("%d progress calls, result %+v", calls, res)
	}
	if _, err := sr.OpenModelDir(cfg.Out, 2, sr.Options{}); err != nil {
		t.Errorf("the written model does not open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	imgs := []string{"a.png"}
	cases := []struct {
		name string
		cfg  Config
	}{
		{"unknown arch", Config{Arch: "vdsr", Scale: 2, Images: imgs, Out: "o"}},
		{"unknown loss", Config{Arch: ArchSRNet, Scale: 2, Images: imgs, Out: "o", Loss: "gan"}},
		{"perceptual srcnn", Config{Arch: ArchSRCNN, Scale: 3, Images: imgs, Out: "o", Loss: LossPerceptual}},
		{"srnet x3", Config{Arch: ArchSRNet, Scale: 3, Images: imgs, Out: "o"}},
		{"srcnn x8", Config{Arch: ArchSRCNN, Scale: 8, Images: imgs, Out: "o"}},
		{"no images", Config{Arch: ArchSRCNN, Scale: 3, Out: "o"}},
		{"no out", Config{Arch: ArchSRCNN, Scale: 3, Images: imgs}},
		{"tiny patch", Config{Arch: ArchSRCNN, Scale: 3, Images: imgs, Out: "o", Patch: 4}},
		{"negative iters", Config{Arch: ArchSRCNN, Scale: 3, Images: imgs, Out: "o", Iters: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Run(context.Background(), c.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
	// Unreadable training images are named in the error.
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.png")
	if err := imageio.SaveTensor(ok, tensor.New(1, 3, 8, 8), nil, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{filepath.Join(dir, "missing.png"), filepath.Join(dir, "notes.txt")} {
		if bad == filepath.Join(dir, "notes.txt") {
			if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Run(context.Background(), Config{Arch: ArchSRCNN, Scale: 3, Images: []string{ok, bad}, Out: filepath.Join(dir, "o")})
		if err == nil || !strings.Contains(err.Error(), filepath.Base(bad)) {
			t.Errorf("%s: %v", filepath.Base(bad), err)
		}
	}
}

// TestPerceptualGradient checks the gradient of the pixel + relu2_2 loss
// with respect to the network output against central differences.
func TestPerceptualGradient(t *testing.T) {
	sh, err := model.SharedDir()
	if err != nil {
		t.Skipf("no shared folder: %v", err)
	}
	vgg, err := features.LoadVGG19(filepath.Join(sh, "models", "vgg19-tfjs"), features.VGG19Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	shape := []int{1, 3, 12, 12}
	y, tgt, base := tensor.New(shape...), tensor.New(shape...), tensor.New(shape...)
	for i := range base.Data {
		base.Data[i] = 0.2 + 0.6*rng.Float32()
		tgt.Data[i] = 0.05 * float32(rng.NormFloat64())
		y.Data[i] = 0.05 * float32(rng.NormFloat64())
	}
	tr := &trainer{vgg: vgg, fw: 0.01}
	loss := func() float64 {
		l, err := tr.lossGrad(y, tgt, base)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l0 := loss()
	grad := tr.dy.Clone()
	pix := 0.0
	for i, v := range y.Data {
		d := float64(v - tgt.Data[i])
		pix += d * d
	}
	if pix /= float64(len(y.Data)); !(l0 > 1.5*pix) {
		t.Fatalf("loss %v hardly exceeds its pixel term %v: the feature term is missing", l0, pix)
	}
	// Along random directions (single coordinates cross too many ReLU
	// kinks for float32 central differences to be sharp).
	const h = 1e-3
	// The typical size of a directional derivative is |grad|; kinks bias
	// the differences by a few per cent of it, a wrong factor by far more.
	var norm float64
	for _, v := range grad.Data {
		norm += float64(v) * float64(v)
	}
	norm = math.Sqrt(norm)
	y0 := y.Clone()
	for k := range 4 {
		d := make([]float32, len(y.Data))
		var want float64
		for i := range d {
			d[i] = float32(rng.NormFloat64())
			want += float64(d[i]) * float64(grad.Data[i])
		}
		step := func(sign float64) float64 {
			for i := range y.Data {
				y.Data[i] = y0.Data[i] + float32(sign*h)*d[i]
			}
			return loss()
		}
		num := (step(1) - step(-1)) / (2 * h)
		copy(y.Data, y0.Data)
		if math.Abs(want-num) > 0.05*norm {
			t.Errorf("direction %d: gradient gives %v, central difference %v (|grad| %v)", k, want, num, norm)
		}
	}
}
