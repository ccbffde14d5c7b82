package nn

import (
	"fmt"
	"runtime"
	"testing"

	"atelier/engine/tensor"
)

// TestSpanRunnerCovers checks that the shares cover the range once, for
// ranges below, at and above the grain.
func TestSpanRunnerCovers(t *testing.T) {
	var s spanRunner
	for _, n := range []int{0, 1, 99, 100, 101, 1000, 12345} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			hits := make([]int32, n)
			s.run(n, 100, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					hits[i]++
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("element %d visited %d times", i, h)
				}
			}
		})
	}
}

// TestParallelReLUAndMaxPool checks that ReLU and max pooling on tensors
// large enough to be split over the cores give the single-goroutine
// results, and that warm passes allocate nothing.
func TestParallelReLUAndMaxPool(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: nothing runs in parallel")
	}
	x := randTensor(1, 1, 5, 96, 160) // 76800 values: two shares
	dy := randTensor(2, x.Shape...)
	r := NewReLU()
	y := r.Forward(x)
	dx := r.Backward(dy)
	wantY, wantDX := make([]float32, len(x.Data)), make([]float32, len(x.Data))
	reluForward(wantY, x.Data)
	reluBackward(wantDX, dy.Data, wantY)
	if !equalF32(y.Data, wantY) || !equalF32(dx.Data, wantDX) {
		t.Error("parallel ReLU differs from the serial loops")
	}

	p := NewMaxPool2D(2, 2, 0)
	py := p.Forward(x)
	pdy := randTensor(3, py.Shape...)
	pdx := p.Backward(pdy).Clone()
	serial := NewMaxPool2D(2, 2, 0)
	serial.par = spanRunner{}
	sy := tensor.New(py.Shape...)
	serial.y, serial.arg, serial.inShape = sy, make([]int32, len(sy.Data)), p.inShape
	serial.x = x
	serial.forwardPlanes(0, 5)
	serial.dx, serial.dy = tensor.New(x.Shape...), pdy
	serial.backwardPlanes(0, 5)
	if !equalF32(py.Data, sy.Data) || !equalF32(pdx.Data, serial.dx.Data) {
		t.Error("parallel max pooling differs from one pass over all planes")
	}

	if a := testing.AllocsPerRun(5, func() {
		r.Backward(dy)
		r.Forward(x)
		p.Backward(pdy)
		p.Forward(x)
	}); a != 0 {
		t.Errorf("%v allocations per warm pass", a)
	}
}

// TestMaxPool2x2Backward checks the 2x2 fast path of the backward pass
// against scattering the gradient onto a cleared plane, for even and odd
// sizes and a plane full of stale values.
func TestMaxPool2x2Backward(t *testing.T) {
	for _, sz := range [][2]int{{8, 6}, {7, 9}, {5, 5}, {2, 3}} {
		h, w := sz[0], sz[1]
		t.Run(fmt.Sprintf("%dx%d", h, w), func(t *testing.T) {
			x := randTensor(int64(h*w), 1, 2, h, w)
			p := NewMaxPool2D(2, 2, 0)
			y := p.Forward(x)
			dy := randTensor(7, y.Shape...)
			want := make([]float32, len(x.Data))
			plane := len(y.Data) / 2
			for pl := 0; pl < 2; pl++ {
				for i, a := range p.arg[pl*plane : (pl+1)*plane] {
					want[pl*h*w+int(a)] += dy.Data[pl*plane+i]
				}
			}
			p.dx = tensor.New(x.Shape...)
			for i := range p.dx.Data {
				p.dx.Data[i] = 99 // stale values the pass must overwrite
			}
			got := p.Backward(dy)
			if !equalF32(got.Data, want) {
				t.Errorf("gradient %v, want %v", got.Data, want)
			}
		})
	}
}
