//go:build cgo && !purego

package nn

/*
#cgo CFLAGS: -O3 -Wno-psabi
#include "winograd_kernels.h"
#include "winograd_amx.h"
#include "winograd_fma.h"
#include "direct3_kernels.h"
*/
import "C"

import (
	"os"
	"unsafe"
)

// wgAMX reports whether new Winograd engines compute their products on AMX
// tiles: the processor has AMX-BF16, the kernel granted the tile state, and
// ATELIER_AMX is not "0".
var wgAMX = os.Getenv("ATELIER_AMX") != "0" && C.wg_amx_init() == 1

// wgFMA reports whether new Winograd engines compute the products that do
// not run on AMX with the AVX-512 FMA kernels of winograd_fma.h instead of
// sgemm: the processor has AVX-512F and ATELIER_FMA is not "0".
var wgFMA = os.Getenv("ATELIER_FMA") != "0" && C.wg_fma_init() == 1

// wgInput transforms channels [c0, c1) of x (masked by mask unless nil)
// for tiles [t0, t1) into v, frequencies fstride floats apart (layout in
// winograd_kernels.h); channels at or past cin are zero.
func wgInput(x, mask []float32, c0, c1, cin, h, w, t0, t1 int, v []float32, fstride, ldv int) {
	if wgUseGo {
		wgInputGo(x, mask, c0, c1, cin, h, w, t0, t1, v, fstride, ldv)
		return
	}
	if c1 <= c0 || t1 <= t0 {
		return
	}
	if c1*ldv > fstride || wgExtent(w, t0, t1) > ldv || len(v) < (wgFreqs-1)*fstride+c1*ldv {
		panic("nn: winograd input buffer too small")
	}
	C.wg4_input((*C.float)(unsafe.Pointer(&x[0])), cPtr(mask), C.int(c0), C.int(c1), C.int(cin), C.int(h), C.int(w),
		C.long(t0), C.long(t1), (*C.float)(unsafe.Pointer(&v[0])), C.long(fstride), C.long(ldv))
}

// cPtr returns a C pointer to s[0], or NULL for an empty s.
func cPtr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

// wgOutput inverse-transforms output channels [o0, o1) of m (frequencies
// fstride floats apart) for tiles [t0, t1) into y, adding bias (may be nil)
// and applying ReLU when relu.
func wgOutput(m []float32, o0, o1, fstride, h, w, t0, t1, ldm int, bias []float32, relu bool, y []float32) {
	if wgUseGo {
		wgOutputGo(m, o0, o1, fstride, h, w, t0, t1, ldm, bias, relu, y)
		return
	}
	if o1 <= o0 || t1 <= t0 {
		return
	}
	if o1*ldm > fstride || wgExtent(w, t0, t1) > ldm || len(m) < (wgFreqs-1)*fstride+o1*ldm || len(y) < o1*h*w {
		panic("nn: winograd output buffers too small")
	}
	var b *C.float
	if bias != nil {
		b = (*C.float)(unsafe.Pointer(&bias[0]))
	}
	r := C.int(0)
	if relu {
		r = 1
	}
	C.wg4_output((*C.float)(unsafe.Pointer(&m[0])), C.int(o0), C.int(o1), C.long(fstride), C.int(h), C.int(w),
		C.long(t0), C.long(t1), C.long(ldm), b, r, (*C.float)(unsafe.Pointer(&y[0])))
}

// wgProductsAMX computes the 32-row blocks [q0, q1) of the products of
// frequencies [f0, f1) for the first n tiles from the packed weights u,
// in planes (3: bf16x6, or 2: bf16x3), and the float32 inputs v, kb*32
// rows per frequency, which it splits group 32-tile blocks at a time into
// st, wgStageWords(kb, planes, group) long (winograd_amx.h).
func wgProductsAMX(u []uint16, v, m, st []float32, f0, f1, q0, q1, mb, kb, n, ldv, planes, group int) {
	if planes != 2 && planes != 3 || f0 < 0 || f1 > wgFreqs || len(u) < planes*wgFreqs*mb*kb*512 || len(m) < wgFreqs*mb*16*ldv ||
		len(v) < wgFreqs*kb*32*ldv || n < 0 || roundUp(n, 32) > ldv || group < 1 || len(st) < wgStageWords(kb, planes, group) {
		panic("nn: winograd AMX buffers too small")
	}
	C.wg_amx_products((*C.uint16_t)(unsafe.Pointer(&u[0])), (*C.float)(unsafe.Pointer(&v[0])),
		(*C.float)(unsafe.Pointer(&m[0])), C.int(f0), C.int(f1), C.int(q0), C.int(q1), C.int(mb), C.int(kb), C.int(n), C.long(ldv), wgFreqs, C.int(planes),
		(*C.uint32_t)(unsafe.Pointer(&st[0])), C.int(group))
}

// wgProductsFMA computes rows [o0, o1) (multiples of 8, or o1 = rows) of
// the products of frequencies [f0, f1) for the first n tiles: the packed
// weights u (rows x k per frequency, winograd_fma.h) times the inputs v
// (k rows per frequency, vstride floats apart) into m (rows rows per
// frequency, mstride apart), rows ldv apart in both.
func wgProductsFMA(u, v, m []float32, f0, f1, o0, o1, rows, k, n, ldv, vstride, mstride int) {
	if f0 < 0 || f1 > wgFreqs || f1 <= f0 || o0 < 0 || o1 > rows || o0%8 != 0 || o1%8 != 0 && o1 != rows ||
		len(u) < wgFreqs*rows*k || vstride < k*ldv || mstride < rows*ldv || len(v) < (wgFreqs-1)*vstride+k*ldv ||
		len(m) < (wgFreqs-1)*mstride+rows*ldv || n < 0 || n > ldv {
		panic("nn: winograd FMA buffers too small")
	}
	if o1 <= o0 || n == 0 {
		return
	}
	C.wg_fma_products((*C.float)(unsafe.Pointer(&u[0])), (*C.float)(unsafe.Pointer(&v[0])), (*C.float)(unsafe.Pointer(&m[0])),
		C.int(f0), C.int(f1), C.int(o0), C.int(o1), C.int(rows), C.int(k), C.int(n), C.long(ldv), C.long(vstride), C.long(mstride))
}

// d3Native is true: this build has the direct kernels (direct3_kernels.h).
const d3Native = true

// d3Rows computes output rows [y0, y1) of a direct 3x3 convolution
// (direct3_kernels.h) with scratch rows of sw floats.
func d3Rows(x, mask []float32, cin, h, w int, wr, bias []float32, cout int, relu bool, y []float32, y0, y1 int, scratch []float32, sw int) {
	if sw < w+d3ScratchPad || len(scratch) < cin*3*sw || len(wr) < (cout+d3Group-1)/d3Group*cin*9*d3Group ||
		bias != nil && len(bias) < cout || y0 < 0 || y1 > h {
		panic("nn: direct convolution buffers too small")
	}
	r := C.int(0)
	if relu {
		r = 1
	}
	C.d3_rows((*C.float)(unsafe.Pointer(&x[0])), cPtr(mask), C.int(cin), C.int(h), C.int(w), (*C.float)(unsafe.Pointer(&wr[0])),
		cPtr(bias), C.int(cout), r, (*C.float)(unsafe.Pointer(&y[0])), C.int(y0), C.int(y1),
		(*C.float)(unsafe.Pointer(&scratch[0])), C.long(sw))
}
