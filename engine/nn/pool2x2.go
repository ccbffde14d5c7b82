package nn

// The 2x2, stride-2, unpadded max pooling of VGG runs over whole shares of
// planes at once: pool_cgo.go with the vectorised kernels of
// pool_kernels.h, pool_purego.go with the Go loops below.

// maxPool2x2PlanesGo is maxPool2x2Planes with maxPool2x2 plane by plane.
func maxPool2x2PlanesGo(x, y []float32, arg []int32, n, h, w, oh, ow int) {
	for p := 0; p < n; p++ {
		maxPool2x2(x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow], arg[p*oh*ow:(p+1)*oh*ow], w, oh, ow)
	}
}

// maxPool2x2BackwardPlanesGo is maxPool2x2BackwardPlanes with
// maxPool2x2Backward plane by plane.
func maxPool2x2BackwardPlanesGo(dx, g []float32, arg []int32, n, h, w, oh, ow int) {
	for p := 0; p < n; p++ {
		maxPool2x2Backward(dx[p*h*w:(p+1)*h*w], g[p*oh*ow:(p+1)*oh*ow], arg[p*oh*ow:(p+1)*oh*ow], h, w, oh, ow)
	}
}
