package nn

import (
	"fmt"
	"testing"

	"atelier/engine/tensor"
)

// BenchmarkConv2D measures a 64->64 channel 3x3 "same" convolution (VGG's
// conv1_2) forward, and forward plus backward with and without weight
// gradients, per image size, on the im2col core and on the Winograd path
// that Conv2D dispatches such convolutions to by default.
func BenchmarkConv2D(b *testing.B) {
	for _, wino := range []bool{false, true} {
		path := "im2col"
		if wino {
			path = "winograd"
		}
		b.Run(path, func(b *testing.B) { benchConv2D(b, wino) })
	}
}

func benchConv2D(b *testing.B, wino bool) {
	for _, size := range []int{128, 256} {
		x := randTensor(1, 1, 64, size, size)
		w := randTensor(2, 64, 64, 3, 3)
		bias := randTensor(3, 64)
		c := NewConv2D(w, bias, ConvOpts{Pad: PadSame})
		c.SetWinograd(wino)
		dy := randTensor(4, 1, 64, size, size)
		b.Run(fmt.Sprintf("forward/%d", size), func(b *testing.B) {
			c.Forward(x) // buffers are made before the timed loop
			b.ReportAllocs()
			for b.Loop() {
				c.Forward(x)
			}
		})
		for _, wg := range []bool{false, true} {
			b.Run(fmt.Sprintf("forward+backward/wgrad=%v/%d", wg, size), func(b *testing.B) {
				c.SetWeightGrad(wg)
				c.Forward(x)
				c.Backward(dy)
				b.ReportAllocs()
				for b.Loop() {
					c.Forward(x)
					c.Backward(dy)
				}
			})
		}
	}
}

// TestConvFamilySteadyStateDoesNotAllocate checks that, once their buffers
// exist, the layers of the convolution family iterate without allocating
// (banded im2col, reflect padding, batch of two). The pure-Go gonum sgemm
// allocates on its own, so the check needs the OpenBLAS backend.
func TestConvFamilySteadyStateDoesNotAllocate(t *testing.T) {
	if tensor.Backend() != "openblas" {
		t.Skipf("the %s sgemm allocates internally", tensor.Backend())
	}
	reflect1 := ConvOpts{Pad: PadReflect, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	for _, tc := range []struct {
		name string
		l    Layer
		x    []int
	}{
		{"conv2d", NewConv2D(randTensor(2, 16, 32, 3, 3), randTensor(3, 16), reflect1), []int{2, 32, 40, 40}},
		{"conv2d_direct3", NewConv2D(randTensor(2, 8, 3, 3, 3), randTensor(3, 8), ConvOpts{Pad: PadSame}), []int{2, 3, 20, 20}},
		{"conv2d_1x1", NewConv2D(randTensor(2, 16, 32, 1, 1), randTensor(3, 16), ConvOpts{}), []int{2, 32, 20, 20}},
		{"conv_transpose2d", NewConvTranspose2D(randTensor(2, 32, 16, 3, 3), randTensor(3, 16), ConvTransposeOpts{Stride: 2, Pad: PadSame}), []int{2, 32, 20, 20}},
		{"depthwise", NewDepthwiseConv2D(randTensor(2, 64, 1, 3, 3), randTensor(3, 64), ConvOpts{Pad: PadSame}), []int{2, 32, 20, 20}},
		{"pad2d", NewPad2D(PadReflect, 2, 2, 2, 2), []int{2, 8, 20, 20}},
		{"dense", NewDense(randTensor(2, 8*4*4, 10), randTensor(3, 10)), []int{2, 8, 4, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(1, tc.x...)
			dy := randTensor(4, tc.l.Forward(x).Shape...)
			step := func() {
				tc.l.Forward(x)
				tc.l.Backward(dy)
			}
			step()
			if n := testing.AllocsPerRun(3, step); n != 0 {
				t.Fatalf("%v allocations per forward+backward", n)
			}
		})
	}
}
