package nn

import (
	"testing"

	"atelier/engine/tensor"
)

// TestFusedConv2DSharedScratch runs two fused convolutions of
// concatenations of different widths, one after the other and twice, with
// one Scratch between them (the sgemm/Winograd path, which builds the
// concatenation): each result equals the unfused computation, the scratch
// ends up as one buffer of the larger concatenation, and neither layer
// keeps a concatenation or an input of its own.
func TestFusedConv2DSharedScratch(t *testing.T) {
	const h, w = 9, 11
	shared := &Scratch{}
	type layer struct {
		f    *FusedConv2D
		xs   []*tensor.Tensor
		want *tensor.Tensor
	}
	var layers []layer
	for i, chans := range [][]int{{5, 7}, {6, 4, 9}} {
		var xs []*tensor.Tensor
		cin := 0
		for j, c := range chans {
			xs = append(xs, randTensor(int64(20+10*i+j), 1, c, h, w))
			cin += c
		}
		wt := randTensor(int64(3+i), 8, cin, 3, 3)
		b := randTensor(int64(5+i), 8)
		opt := ConvOpts{Pad: PadSame}
		c := NewConv2D(wt, b, opt)
		c.amx = amxOff
		f := NewFusedConv2D(c, len(chans), false, true)
		f.Scratch = shared
		want := refConv(NewConcat().Forward(xs...), wt, b, opt, 1)
		for k, v := range want.Data {
			want.Data[k] = max(v, 0)
		}
		layers = append(layers, layer{f, xs, want})
	}
	for round := range 2 {
		for i, l := range layers {
			got := l.f.Forward(l.xs...)
			if d := maxDiff(got.Data, l.want.Data); d > 1e-4 {
				t.Fatalf("round %d, layer %d: off by %g", round, i, d)
			}
			if l.f.cat.y != nil || l.f.Conv.x != nil {
				t.Errorf("round %d, layer %d keeps its own concatenation or input", round, i)
			}
		}
	}
	if shared.t == nil || cap(shared.t.Data) != (6+4+9)*h*w {
		t.Errorf("the scratch holds %v, want one buffer of %d values", shared.t, (6+4+9)*h*w)
	}
}
