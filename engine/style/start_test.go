package style

import (
	"context"
	"errors"
	"testing"

	"atelier/engine/imageio"
	"atelier/engine/tensor"
)

// TestStartImage checks that Request.Start replaces Init: the first scale
// starts from it, resized to the scale's size, and a malformed one is
// refused.
func TestStartImage(t *testing.T) {
	net := partialVGG(t)
	start := sharedImage(t, starry, 2*small) // another picture, at another size
	for _, tc := range []struct {
		name  string
		start *tensor.Tensor
		init  Init
	}{
		{"over content init", start, InitContent},
		{"over noise init", start, InitNoise},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := smallReq(t, 2)
			req.Scales = 1
			req.Init = tc.init
			req.Start = tc.start
			r, err := newRunner(context.Background(), net, req)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.startScale(0); err != nil {
				t.Fatal(err)
			}
			_, _, h, w := r.content.Dims()
			want, err := imageio.Resize(start, w, h)
			if err != nil {
				t.Fatal(err)
			}
			if !sameBits(r.x, want) {
				t.Errorf("the run starts %g away from the starting image", tensor.MaxAbsDiff(r.x, want))
			}
			if sameBits(r.x, r.content) {
				t.Error("the run starts from the content image")
			}
			if &r.x.Data[0] == &start.Data[0] {
				t.Error("the run optimises the caller's starting tensor in place")
			}
		})
	}
	req := smallReq(t, 2)
	req.Start = tensor.New(1, 1, 8, 8)
	if _, err := newRunner(context.Background(), net, req); !errors.Is(err, ErrRequest) {
		t.Errorf("a grey [1,1,8,8] starting image gave %v, want ErrRequest", err)
	}
}
