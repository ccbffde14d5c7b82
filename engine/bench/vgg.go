// Package bench builds and times the networks behind `atelier bench`: the
// convolutional part of VGG19 up to relu5_1, the workload of Gatys style
// transfer, run forward and back to its input as the optimiser does.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"time"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// ErrSize reports an image size the benchmark cannot run.
var ErrSize = errors.New("bench: bad image size")

// vggToRelu51 lists VGG19's layers up to relu5_1: output channels of each
// 3x3 convolution (each followed by a ReLU) and 0 for a 2x2 max pooling.
var vggToRelu51 = []int{64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512}

// VGG19ToRelu51 returns VGG19's layers conv1_1 .. relu5_1 (13 convolutions
// of 3x3 with padding 1, each followed by a ReLU and fused with it, and four
// 2x2 max poolings) for 3-channel input, with random He-scaled weights and
// small random biases drawn from seed. Weight gradients are off: the benchmark,
// like style transfer, needs only the gradient for the input.
func VGG19ToRelu51(seed int64) *nn.Sequential { return vgg(seed, 1) }

// vgg builds VGG19ToRelu51 with every channel count but the input's divided
// by div (tests under the race detector use narrower networks).
func vgg(seed int64, div int) *nn.Sequential {
	rng := rand.New(rand.NewSource(seed))
	net := &nn.Sequential{}
	cin := 3
	for _, cout := range vggToRelu51 {
		cout /= div
		if cout == 0 {
			net.Layers = append(net.Layers, nn.NewMaxPool2D(2, 2, 0))
			continue
		}
		w := tensor.New(cout, cin, 3, 3)
		scale := math.Sqrt(2.0 / float64(cin*9))
		for i := range w.Data {
			w.Data[i] = float32(rng.NormFloat64() * scale)
		}
		b := tensor.New(cout)
		for i := range b.Data {
			b.Data[i] = float32(rng.Float64()*0.02 - 0.01)
		}
		pad := nn.ConvOpts{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		net.Layers = append(net.Layers, nn.NewConv2DReLU(nn.NewConv2D(w, b, pad)))
		cin = cout
	}
	net.SetWeightGrad(false)
	return net
}

// VGGResult holds the timings of one VGG benchmark run.
type VGGResult struct {
	Size   int
	Fwd    time.Duration // best forward pass
	FwdBwd time.Duration // best forward pass followed by the backward pass to the input
	// Out is the shape of the relu5_1 output.
	Out []int
}

// VGGOptions configures RunVGG. Zero values take the defaults.
type VGGOptions struct {
	Size   int // image side in pixels (required, at least 16)
	Iters  int // timed iterations of each kind; default 3
	Warmup int // untimed iterations before timing; default 1
	Seed   int64
	// Progress, when set, is called after every timed iteration with its
	// kind ("fwd" or "fwdbwd") and duration.
	Progress func(kind string, d time.Duration)

	widthDiv int // tests: divide the channel counts (0 means 1)
}

// RunVGG times VGG19ToRelu51 on one random size x size image: forward
// passes, then forward passes each followed by a backward pass from
// dL/dy = 1 to the input. It reports the best time of each kind, the figure
// least disturbed by other work on the machine. It checks ctx between
// iterations.
func RunVGG(ctx context.Context, o VGGOptions) (VGGResult, error) {
	if o.Size < 16 || o.Size > 1<<14 {
		return VGGResult{}, fmt.Errorf("%w: %d px (want 16 to 16384; pooling four times needs at least 16)", ErrSize, o.Size)
	}
	if o.Iters <= 0 {
		o.Iters = 3
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = 1
	}
	net := vgg(o.Seed, max(o.widthDiv, 1))
	x := tensor.New(1, 3, o.Size, o.Size)
	rng := rand.New(rand.NewSource(o.Seed + 1))
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	var dy *tensor.Tensor
	res := VGGResult{Size: o.Size}
	fwdbwd := func() {
		y := net.Forward(x)
		if dy == nil || !dy.SameShape(y) {
			dy = tensor.New(y.Shape...)
			for i := range dy.Data {
				dy.Data[i] = 1
			}
			res.Out = append([]int(nil), y.Shape...)
		}
		net.Backward(dy)
	}
	fwd := func() { net.Forward(x) }
	for i := 0; i < o.Warmup; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		fwdbwd()
	}
	var err error
	if res.Fwd, err = best(ctx, o, "fwd", fwd); err != nil {
		return res, err
	}
	if res.FwdBwd, err = best(ctx, o, "fwdbwd", fwdbwd); err != nil {
		return res, err
	}
	return res, nil
}

func best(ctx context.Context, o VGGOptions, kind string, f func()) (time.Duration, error) {
	ts := make([]time.Duration, 0, o.Iters)
	for i := 0; i < o.Iters; i++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t0 := time.Now()
		f()
		d := time.Since(t0)
		ts = append(ts, d)
		if o.Progress != nil {
			o.Progress(kind, d)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts[0], nil
}
