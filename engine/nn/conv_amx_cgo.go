//go:build cgo && !purego

package nn

/*
#cgo CFLAGS: -O3 -Wno-psabi
#include "winograd_kernels.h"
#include "winograd_amx.h"
#include "conv_amx.h"
*/
import "C"

import "unsafe"

// caPack packs channels [0, cin) of x (h x w) as rows [iy0, iy0+rows) of
// the image zero-padded by pt rows and pl columns, wp wide, into pairs from
// q0 of v (conv_amx.h).
func caPack(x []float32, cin, h, w, pt, pl, wp, iy0, rows int, v []float32, q0, kp, ldv, planes int) {
	if len(x) < cin*h*w || q0+(cin+1)/2 > kp || rows*wp+16 > ldv || len(v) < planes*kp*ldv {
		panic("nn: AMX convolution buffers too small")
	}
	C.ca_pack((*C.float)(unsafe.Pointer(&x[0])), C.int(cin), C.int(h), C.int(w), C.int(pt), C.int(pl), C.int(wp),
		C.int(iy0), C.int(rows), (*C.uint32_t)(unsafe.Pointer(&v[0])), C.long(q0), C.long(kp), C.long(ldv), C.int(planes))
}

// caZero clears pairs [q0, q1) of v for the first n words of each row.
func caZero(v []float32, q0, q1, kp, ldv, n, planes int) {
	if q1 <= q0 {
		return
	}
	if q1 > kp || n > ldv || len(v) < planes*kp*ldv {
		panic("nn: AMX convolution buffers too small")
	}
	C.ca_zero((*C.uint32_t)(unsafe.Pointer(&v[0])), C.long(q0), C.long(q1), C.long(kp), C.long(ldv), C.long(n), C.int(planes))
}

// caProducts computes the 32-row blocks [q0, q1) of m = sum over taps of
// u[t] v shifted by toff[t], for nq blocks of 32 padded pixels, with kb
// 32-wide blocks of channels (conv_amx.h).
func caProducts(u []uint16, v, m []float32, q0, q1, mb, kb, nq, ldv int, toff []int64, planes int) {
	taps := len(toff)
	if len(u) < planes*taps*mb*kb*512 || len(m) < mb*16*ldv || len(v) < planes*kb*16*ldv || nq*32+int(toff[taps-1]) > ldv {
		panic("nn: AMX convolution buffers too small")
	}
	C.ca_products((*C.uint16_t)(unsafe.Pointer(&u[0])), (*C.uint32_t)(unsafe.Pointer(&v[0])), (*C.float)(unsafe.Pointer(&m[0])),
		C.int(q0), C.int(q1), C.int(mb), C.int(kb), C.int(nq), C.long(ldv), C.int(taps), (*C.long)(unsafe.Pointer(&toff[0])), C.int(planes))
}

// caOutput writes cout rows of products (ldm apart), rows image rows of wp
// padded pixels of which ow are real, to y (ystride apart), adding bias
// and the residual r (either may be nil) and clamping at zero when relu.
func caOutput(m []float32, ldm, cout, rows, wp, ow int, bias, r []float32, relu bool, y []float32, ystride int) {
	if rows <= 0 {
		return
	}
	n := (rows-1)*ow + ow
	if len(m) < (cout-1)*ldm+rows*wp || len(y) < (cout-1)*ystride+n || r != nil && len(r) < (cout-1)*ystride+n || bias != nil && len(bias) < cout {
		panic("nn: AMX convolution output buffers too small")
	}
	rl := C.int(0)
	if relu {
		rl = 1
	}
	C.ca_output((*C.float)(unsafe.Pointer(&m[0])), C.long(ldm), C.int(cout), C.int(rows), C.int(wp), C.int(ow), cPtr(bias), cPtr(r), rl,
		(*C.float)(unsafe.Pointer(&y[0])), C.long(ystride))
}
