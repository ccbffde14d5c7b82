//go:build !purego

package tensor

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef void (*atelier_sgemm_fn)(int, int, int, int, int, int, float, const float*, int,
	const float*, int, float, float*, int);
typedef void (*atelier_threads_fn)(int);
typedef char* (*atelier_core_fn)(void);

static atelier_sgemm_fn atelier_sgemm_ptr;
static atelier_threads_fn atelier_threads_ptr;
static atelier_core_fn atelier_core_ptr;

// atelier_blas_coretype names the OpenBLAS kernel family to use when the
// user has not chosen one. Debian's OpenBLAS 0.3.21 does not recognise
// recent Xeons and falls back to its SSE3 ("Prescott") kernels, five times
// slower than the AVX-512 ones these CPUs run correctly.
static const char* atelier_blas_coretype(void) {
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
	return NULL;
}

// atelier_blas_open loads OpenBLAS at run time, after choosing its kernels.
// It returns NULL on success or a message. chosen receives the core type
// that was set (empty when the user's OPENBLAS_CORETYPE was kept).
static const char* atelier_blas_open(int autoselect, char* chosen, int n) {
	chosen[0] = 0;
	int set = 0;
	if (autoselect && getenv("OPENBLAS_CORETYPE") == NULL) {
		const char* ct = atelier_blas_coretype();
		if (ct != NULL) {
			setenv("OPENBLAS_CORETYPE", ct, 1);
			strncpy(chosen, ct, n - 1);
			chosen[n - 1] = 0;
			set = 1;
		}
	}
	const char* names[] = {"libopenblas.so.0", "libopenblas.so", NULL};
	void* h = NULL;
	for (int i = 0; names[i] != NULL && h == NULL; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	// OpenBLAS has read the variable while loading; child processes must not inherit it.
	if (set) unsetenv("OPENBLAS_CORETYPE");
	if (h == NULL) return dlerror();
	atelier_sgemm_ptr = (atelier_sgemm_fn)dlsym(h, "cblas_sgemm");
	atelier_threads_ptr = (atelier_threads_fn)dlsym(h, "openblas_set_num_threads");
	atelier_core_ptr = (atelier_core_fn)dlsym(h, "openblas_get_corename");
	if (atelier_sgemm_ptr == NULL) return "libopenblas has no cblas_sgemm";
	return NULL;
}

static void atelier_set_threads(int n) { if (atelier_threads_ptr) atelier_threads_ptr(n); }
static const char* atelier_corename(void) { return atelier_core_ptr ? atelier_core_ptr() : ""; }

// CBLAS constants: row major 101, no transpose 111, transpose 112.
static void atelier_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
	const float* b, int ldb, float beta, float* c, int ldc) {
	atelier_sgemm_ptr(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

const backend = "openblas"

// coreChosen is the OpenBLAS core type Atelier selected ("" when the user's
// OPENBLAS_CORETYPE was respected or none was needed).
var coreChosen string

func init() {
	// ATELIER_BLAS_AUTOCORE=0 keeps OpenBLAS's own CPU detection.
	auto := 1
	if os.Getenv("ATELIER_BLAS_AUTOCORE") == "0" {
		auto = 0
	}
	var buf [32]C.char
	if msg := C.atelier_blas_open(C.int(auto), &buf[0], C.int(len(buf))); msg != nil {
		panic(fmt.Sprintf("tensor: cannot load OpenBLAS (install libopenblas0, or build with -tags purego): %s", C.GoString(msg)))
	}
	coreChosen = C.GoString(&buf[0])
	n := 1
	if s := os.Getenv("ATELIER_BLAS_THREADS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	setThreads(n)
}

// CoreName reports the kernel family OpenBLAS is using (for example
// "SkylakeX"), for benchmarks and bug reports.
func CoreName() string { return C.GoString(C.atelier_corename()) }

func setThreads(n int) { C.atelier_set_threads(C.int(n)) }

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	var ta, tb C.int
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	C.atelier_sgemm(ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}
