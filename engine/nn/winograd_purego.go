//go:build !cgo || purego

package nn

// wgInput transforms channels [c0, c1) of x (masked by mask unless nil)
// for tiles [t0, t1) into v, frequencies fstride floats apart (layout in
// winograd_kernels.h); channels at or past cin are zero. This build has
// only the Go transforms.
func wgInput(x, mask []float32, c0, c1, cin, h, w, t0, t1 int, v []float32, fstride, ldv int) {
	wgInputGo(x, mask, c0, c1, cin, h, w, t0, t1, v, fstride, ldv)
}

// wgOutput inverse-transforms output channels [o0, o1) of m (frequencies
// fstride floats apart) for tiles [t0, t1) into y, adding bias (may be nil)
// and applying ReLU when relu.
func wgOutput(m []float32, o0, o1, fstride, h, w, t0, t1, ldm int, bias []float32, relu bool, y []float32) {
	wgOutputGo(m, o0, o1, fstride, h, w, t0, t1, ldm, bias, relu, y)
}

// wgAMX is false: AMX needs the C kernels.
const wgAMX = false

func wgProductsAMX(u []uint16, v, m, st []float32, f0, f1, q0, q1, mb, kb, n, ldv, planes, group int) {
	panic("nn: AMX Winograd path in a build without cgo")
}

// wgFMA is false: the FMA products need the C kernels.
const wgFMA = false

func wgProductsFMA(u, v, m []float32, f0, f1, o0, o1, rows, k, n, ldv, vstride, mstride int) {
	panic("nn: FMA Winograd path in a build without cgo")
}

// d3Native is false: the direct path needs the C kernels.
const d3Native = false

func d3Rows(x, mask []float32, cin, h, w int, wr, bias []float32, cout int, relu bool, y []float32, y0, y1 int, scratch []float32, sw int) {
	panic("nn: direct convolution path in a build without cgo")
}
