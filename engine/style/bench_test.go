package style

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkStyleIteration times one evaluation of the Gatys objective
// (partial VGG19 forward to relu3_2, style and content losses, backward to
// the pixels, total variation) on tubingen x starry_night: the unit of
// work of an iteration (an L-BFGS iteration takes one or a few).
func BenchmarkStyleIteration(b *testing.B) {
	net := partialVGG(b)
	for _, side := range []int{256, 512} {
		b.Run(fmt.Sprint(side), func(b *testing.B) {
			req := Request{Content: sharedImage(b, tubingen, side), Styles: styles(sharedImage(b, starry, side)), Scales: 1}
			r, err := newRunner(context.Background(), net, req)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.startScale(0); err != nil {
				b.Fatal(err)
			}
			if _, err := r.sync(); err != nil {
				b.Fatal(err)
			}
			grad := make([]float32, len(r.x.Data))
			r.obj.eval(r.x.Data, grad) // size the buffers
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.obj.eval(r.x.Data, grad)
			}
		})
	}
}
