package bench

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// BenchmarkVGGLayers times every layer of VGG19ToRelu51 on its own, forward
// and backward, at the size in ATELIER_BENCH_SIZE (default 256), and logs a
// table of the best time of each over the b.N passes (go test -bench
// VGGLayers -v). It is the per-layer breakdown behind `atelier bench vgg`.
func BenchmarkVGGLayers(b *testing.B) {
	size := 256
	if s, err := strconv.Atoi(os.Getenv("ATELIER_BENCH_SIZE")); err == nil && s >= 16 {
		size = s
	}
	net := VGG19ToRelu51(1)
	x := tensor.New(1, 3, size, size)
	rng := rand.New(rand.NewSource(2))
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	nl := len(net.Layers)
	fwd := make([]time.Duration, nl)
	bwd := make([]time.Duration, nl)
	ins := make([]*tensor.Tensor, nl)
	var dy *tensor.Tensor
	b.ReportAllocs()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		h := x
		for i, l := range net.Layers {
			ins[i] = h
			t0 := time.Now()
			h = l.Forward(h)
			if d := time.Since(t0); it == 0 || d < fwd[i] {
				fwd[i] = d
			}
		}
		if dy == nil {
			dy = tensor.New(h.Shape...)
			for i := range dy.Data {
				dy.Data[i] = 1
			}
		}
		g := dy
		for i := nl - 1; i >= 0; i-- {
			t0 := time.Now()
			g = net.Layers[i].Backward(g)
			if d := time.Since(t0); it == 0 || d < bwd[i] {
				bwd[i] = d
			}
		}
	}
	b.StopTimer()
	var tf, tb time.Duration
	var sb strings.Builder
	conv := 0
	block, idx := 1, 0
	for i, l := range net.Layers {
		name := ""
		if _, ok := l.(*nn.MaxPool2D); ok {
			name = fmt.Sprintf("pool%d", block)
			block, idx = block+1, 0
		} else {
			idx++
			conv++
			name = fmt.Sprintf("conv%d_%d", block, idx)
		}
		s := ins[i].Shape
		fmt.Fprintf(&sb, "%-8s in %4dx%3dx%3d  fwd %7.2f ms  bwd %7.2f ms\n", name, s[1], s[2], s[3],
			float64(fwd[i].Microseconds())/1000, float64(bwd[i].Microseconds())/1000)
		tf += fwd[i]
		tb += bwd[i]
	}
	fmt.Fprintf(&sb, "sum of bests: fwd %.2f ms, bwd %.2f ms, total %.2f ms", float64(tf.Microseconds())/1000,
		float64(tb.Microseconds())/1000, float64((tf+tb).Microseconds())/1000)
	b.Log("per layer, best of the passes:\n" + sb.String()) // one entry: benchmark logs keep only a few
}
