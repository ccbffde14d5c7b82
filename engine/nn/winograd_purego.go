//go:build !cgo || purego

package nn

// wgInput transforms channels [c0, c1) of x for tile rows [ty0, ty1) into v
// (layout in winograd_kernels.h); this build has only the Go transforms.
func wgInput(x []float32, c0, c1, cin, h, w, ty0, ty1 int, v []float32, ldv int) {
	wgInputGo(x, c0, c1, cin, h, w, ty0, ty1, v, ldv)
}

// wgOutput inverse-transforms output channels [o0, o1) of m for tile rows
// [ty0, ty1) into y, adding bias (may be nil) and applying ReLU when relu.
func wgOutput(m []float32, o0, o1, cout, h, w, ty0, ty1, ldm int, bias []float32, relu bool, y []float32) {
	wgOutputGo(m, o0, o1, cout, h, w, ty0, ty1, ldm, bias, relu, y)
}
