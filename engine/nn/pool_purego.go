//go:build !cgo || purego

package nn

// maxPool2x2Planes pools n planes of h x w inputs in x into y and records
// the winners in arg, with maxPool2x2 plane by plane.
func maxPool2x2Planes(x, y []float32, arg []int32, n, h, w, oh, ow int) {
	maxPool2x2PlanesGo(x, y, arg, n, h, w, oh, ow)
}

// maxPool2x2BackwardPlanes writes the input gradients dx of n planes with
// maxPool2x2Backward plane by plane.
func maxPool2x2BackwardPlanes(dx, g []float32, arg []int32, n, h, w, oh, ow int) {
	maxPool2x2BackwardPlanesGo(dx, g, arg, n, h, w, oh, ow)
}
