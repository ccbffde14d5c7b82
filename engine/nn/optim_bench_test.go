package nn

import (
	"fmt"
	"math"
	"testing"
)

// BenchmarkLBFGSStep measures the optimiser's own cost per step (two-loop
// recursion and line-search bookkeeping) on a cheap diagonal quadratic, for
// image-sized vectors and a full history.
func BenchmarkLBFGSStep(b *testing.B) {
	for _, sz := range []struct{ px, hist int }{{256, 100}, {512, 20}} {
		n := 3 * sz.px * sz.px
		b.Run(fmt.Sprintf("%dpx-history%d", sz.px, sz.hist), func(b *testing.B) {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(math.Sin(float64(i)))
			}
			f := func(x, g []float32) float64 {
				s := 0.0
				for i, v := range x {
					h := float32(1 + i%7)
					g[i] = h * v
					s += float64(h * v * v)
				}
				return s / 2
			}
			o := NewLBFGS(n, sz.hist)
			o.TolChange = 0
			for i := 0; o.count < sz.hist && i < 10*sz.hist; i++ {
				x[0] += 1e-3
				o.Step(x, f)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				x[0] += 1e-3
				o.Step(x, f)
			}
		})
	}
}
