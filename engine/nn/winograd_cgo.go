//go:build cgo && !purego

package nn

/*
#cgo CFLAGS: -O3 -Wno-psabi
#include "winograd_kernels.h"
*/
import "C"

import "unsafe"

// wgInput transforms channels [c0, c1) of x for tile rows [ty0, ty1) into v
// (layout in winograd_kernels.h).
func wgInput(x []float32, c0, c1, cin, h, w, ty0, ty1 int, v []float32, ldv int) {
	if wgUseGo {
		wgInputGo(x, c0, c1, cin, h, w, ty0, ty1, v, ldv)
		return
	}
	if c1 <= c0 || ty1 <= ty0 {
		return
	}
	C.wg4_input((*C.float)(unsafe.Pointer(&x[0])), C.int(c0), C.int(c1), C.int(cin), C.int(h), C.int(w),
		C.int(ty0), C.int(ty1), (*C.float)(unsafe.Pointer(&v[0])), C.long(ldv))
}

// wgOutput inverse-transforms output channels [o0, o1) of m for tile rows
// [ty0, ty1) into y, adding bias (may be nil) and applying ReLU when relu.
func wgOutput(m []float32, o0, o1, cout, h, w, ty0, ty1, ldm int, bias []float32, relu bool, y []float32) {
	if wgUseGo {
		wgOutputGo(m, o0, o1, cout, h, w, ty0, ty1, ldm, bias, relu, y)
		return
	}
	if o1 <= o0 || ty1 <= ty0 {
		return
	}
	var b *C.float
	if bias != nil {
		b = (*C.float)(unsafe.Pointer(&bias[0]))
	}
	r := C.int(0)
	if relu {
		r = 1
	}
	C.wg4_output((*C.float)(unsafe.Pointer(&m[0])), C.int(o0), C.int(o1), C.int(cout), C.int(h), C.int(w),
		C.int(ty0), C.int(ty1), C.long(ldm), b, r, (*C.float)(unsafe.Pointer(&y[0])))
}
