package nn

import (
	"fmt"
	"testing"
)

// BenchmarkConv2D measures a 64->64 channel 3x3 "same" convolution (VGG's
// conv1_2) forward, and forward plus backward with and without weight
// gradients, per image size.
func BenchmarkConv2D(b *testing.B) {
	for _, size := range []int{128, 256} {
		x := randTensor(1, 1, 64, size, size)
		w := randTensor(2, 64, 64, 3, 3)
		bias := randTensor(3, 64)
		c := NewConv2D(w, bias, ConvOpts{Pad: PadSame})
		dy := randTensor(4, 1, 64, size, size)
		b.Run(fmt.Sprintf("forward/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Forward(x)
			}
		})
		for _, wg := range []bool{false, true} {
			b.Run(fmt.Sprintf("forward+backward/wgrad=%v/%d", wg, size), func(b *testing.B) {
				c.SetWeightGrad(wg)
				b.ReportAllocs()
				for b.Loop() {
					c.Forward(x)
					c.Backward(dy)
				}
			})
		}
	}
}

// TestConv2DSteadyStateDoesNotAllocate checks that, once its buffers exist,
// a convolution iterates without allocating (banded im2col, reflect
// padding, batch of two).
func TestConv2DSteadyStateDoesNotAllocate(t *testing.T) {
	x := randTensor(1, 2, 32, 40, 40)
	c := NewConv2D(randTensor(2, 16, 32, 3, 3), randTensor(3, 16), ConvOpts{Pad: PadReflect, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1})
	dy := randTensor(4, 2, 16, 40, 40)
	step := func() {
		c.Forward(x)
		c.Backward(dy)
	}
	step()
	if n := testing.AllocsPerRun(3, step); n != 0 {
		t.Fatalf("%v allocations per forward+backward", n)
	}
}
