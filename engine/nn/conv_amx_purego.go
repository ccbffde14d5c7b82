//go:build !cgo || purego

package nn

func caPack(x []float32, cin, h, w, pt, pl, wp, iy0, rows int, v []float32, q0, kp, ldv, planes int) {
	panic("nn: AMX convolution in a build without cgo")
}

func caZero(v []float32, q0, q1, kp, ldv, n, planes int) {
	panic("nn: AMX convolution in a build without cgo")
}

func caProducts(u []uint16, v, m []float32, q0, q1, mb, kb, nq, ldv int, toff []int64, planes int) {
	panic("nn: AMX convolution in a build without cgo")
}

func caOutput(m []float32, ldm, cout, rows, wp, ow int, bias, r []float32, relu bool, y []float32, ystride int) {
	panic("nn: AMX convolution in a build without cgo")
}
