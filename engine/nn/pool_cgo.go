//go:build cgo && !purego

package nn

/*
#cgo CFLAGS: -O3 -Wno-psabi
#include "pool_kernels.h"
*/
import "C"

import "unsafe"

// maxPool2x2Planes pools n planes of h x w inputs in x into y and records
// the winners in arg, as maxPool2x2 does plane by plane, with the
// vectorised kernel of pool_kernels.h.
func maxPool2x2Planes(x, y []float32, arg []int32, n, h, w, oh, ow int) {
	if n <= 0 || oh <= 0 || ow <= 0 {
		return
	}
	if len(x) < n*h*w || len(y) < n*oh*ow || len(arg) < n*oh*ow || 2*oh > h || 2*ow > w {
		panic("nn: max pooling buffers do not match the planes")
	}
	C.mp2_forward((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), (*C.int32_t)(unsafe.Pointer(&arg[0])),
		C.long(n), C.int(h), C.int(w), C.int(oh), C.int(ow))
}

// maxPool2x2BackwardPlanes writes the input gradients dx of n planes from
// the output gradients g and the winners arg, as maxPool2x2Backward does
// plane by plane.
func maxPool2x2BackwardPlanes(dx, g []float32, arg []int32, n, h, w, oh, ow int) {
	if n <= 0 || h <= 0 || w <= 0 {
		return
	}
	if len(dx) < n*h*w || len(g) < n*oh*ow || len(arg) < n*oh*ow || 2*oh > h || 2*ow > w {
		panic("nn: max pooling buffers do not match the planes")
	}
	var gp *C.float
	var ap *C.int32_t
	if oh > 0 && ow > 0 {
		gp, ap = (*C.float)(unsafe.Pointer(&g[0])), (*C.int32_t)(unsafe.Pointer(&arg[0]))
	}
	C.mp2_backward((*C.float)(unsafe.Pointer(&dx[0])), gp, ap, C.long(n), C.int(h), C.int(w), C.int(oh), C.int(ow))
}
