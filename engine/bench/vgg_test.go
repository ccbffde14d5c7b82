package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
	"time"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// TestVGGInputGradient checks the input gradient of the whole network two
// ways: against the same network on the im2col convolution path (tight),
// and against a central difference of L = sum(relu5_1) along a random
// direction (loose: ReLU and max-pooling kinks make the difference
// approximate, but a wrong pass would be far off).
func TestVGGInputGradient(t *testing.T) {
	net := testNet()
	defer setWinograd(net, true)
	const size = 32
	rng := rand.New(rand.NewSource(4))
	x := tensor.New(1, 3, size, size)
	d := tensor.New(1, 3, size, size)
	for i := range x.Data {
		x.Data[i] = rng.Float32()
		d.Data[i] = float32(rng.NormFloat64())
	}
	y := net.Forward(x)
	if want := []int{1, 512 / raceWidthDiv, 2, 2}; !tensor.ShapeEqual(y.Shape, want) {
		t.Fatalf("relu5_1 shape %v, want %v", y.Shape, want)
	}
	ones := tensor.New(y.Shape...)
	for i := range ones.Data {
		ones.Data[i] = 1
	}
	g := net.Backward(ones).Clone()

	if convs := setWinograd(net, false); convs != 13 {
		t.Fatalf("%d convolutions, want 13", convs)
	}
	net.Forward(x)
	ref := net.Backward(ones)
	scale := 0.0
	for _, v := range ref.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	if e := tensor.MaxAbsDiff(g, ref) / scale; e > 1e-4 {
		t.Errorf("Winograd and im2col input gradients differ: max error %.3g of the largest value", e)
	} else {
		t.Logf("Winograd vs im2col input gradient: max error %.3g of the largest value", e)
	}

	if raceWidthDiv != 1 {
		return // the narrow network's kinks make the central difference too rough
	}
	analytic := 0.0
	for i, v := range g.Data {
		analytic += float64(v) * float64(d.Data[i])
	}
	loss := func(s float32) float64 {
		xs := x.Clone()
		for i := range xs.Data {
			xs.Data[i] += s * d.Data[i]
		}
		sum := 0.0
		for _, v := range net.Forward(xs).Data {
			sum += float64(v)
		}
		return sum
	}
	const eps = 1e-2
	numeric := (loss(eps) - loss(-eps)) / (2 * eps)
	if analytic == 0 || math.Abs(analytic-numeric) > 0.02*math.Abs(numeric) {
		t.Fatalf("directional derivative: backward %.6g, central difference %.6g", analytic, numeric)
	}
}

// testNet is one network shared by the tests: building it and preparing
// its convolutions' weights is most of their cost.
// Under the race detector it is narrower (raceWidthDiv), which keeps the
// package's tests to seconds there too.
var testNet = sync.OnceValue(func() *nn.Sequential { return vgg(3, raceWidthDiv) })

// setWinograd turns the Winograd path of every convolution of net on or
// off and returns how many there are.
func setWinograd(net *nn.Sequential, on bool) int {
	n := 0
	for _, l := range net.Layers {
		if c, ok := l.(*nn.Conv2DReLU); ok {
			c.Conv.SetWinograd(on)
			n++
		}
	}
	return n
}

func TestRunVGG(t *testing.T) {
	var kinds []string
	res, err := RunVGG(context.Background(), VGGOptions{Size: 16, Iters: 2, Warmup: -1, widthDiv: raceWidthDiv,
		Progress: func(kind string, _ time.Duration) { kinds = append(kinds, kind) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fwd <= 0 || res.FwdBwd <= 0 || !tensor.ShapeEqual(res.Out, []int{1, 512 / raceWidthDiv, 1, 1}) {
		t.Fatalf("result %+v", res)
	}
	if len(kinds) != 4 || kinds[0] != "fwd" || kinds[3] != "fwdbwd" {
		t.Fatalf("progress calls %v", kinds)
	}
	if _, err := RunVGG(context.Background(), VGGOptions{Size: 8}); !errors.Is(err, ErrSize) {
		t.Fatalf("size 8: err = %v, want ErrSize", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunVGG(ctx, VGGOptions{Size: 16}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

// TestVGGIterationDoesNotAllocate checks that once warm, a forward and
// backward pass through the network allocates nothing (layers reuse their
// buffers; the convolution workspaces are pooled).
func TestVGGIterationDoesNotAllocate(t *testing.T) {
	if tensor.Backend() != "openblas" {
		t.Skip("the gonum sgemm allocates")
	}
	net := testNet()
	x := tensor.New(1, 3, 40, 40)
	for i := range x.Data {
		x.Data[i] = float32(i%7) / 7
	}
	dy := tensor.New(net.Forward(x).Shape...)
	for i := range dy.Data {
		dy.Data[i] = 1
	}
	net.Backward(dy)
	if a := testing.AllocsPerRun(3, func() {
		net.Forward(x)
		net.Backward(dy)
	}); a != 0 {
		t.Fatalf("%v allocations per forward+backward pass", a)
	}
}

// BenchmarkVGG times a forward+backward pass per image size.
func BenchmarkVGG(b *testing.B) {
	for _, size := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("%dpx", size), func(b *testing.B) {
			net := VGG19ToRelu51(1)
			x := tensor.New(1, 3, size, size)
			for i := range x.Data {
				x.Data[i] = float32(i%13) / 13
			}
			dy := tensor.New(net.Forward(x).Shape...)
			for i := range dy.Data {
				dy.Data[i] = 1
			}
			net.Backward(dy)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				net.Forward(x)
				net.Backward(dy)
			}
		})
	}
}
