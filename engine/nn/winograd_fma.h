// Winograd products with AVX-512 FMA for engine/nn (winograd_cgo.go),
// included after winograd_kernels.h: the path for processors with AVX-512
// but no AMX (AMD Zen 4 and 5, Intel before Sapphire Rapids).
//
// Each frequency f is one product M[f] = U[f] V[f] of a rows x k matrix of
// transformed weights by a k x n matrix of transformed inputs, in float32
// throughout. OpenBLAS's sgemm packs both operands on every call, which
// for these small products (a deep layer at 256 px has n = 64 tiles for
// k = 512) costs as much as the arithmetic; here the weights are packed
// once, when they are transformed, and the inputs are read where the input
// transform wrote them.
//
// Layouts:
//   weights  u[f*rows*k + r0*k + c*p + (r - r0)]: frequency f, rows in
//            panels of 8 (r0 a multiple of 8; p = 8, or fewer for the last
//            panel), each panel k columns of p rows, so that one step of
//            the product reads p consecutive values;
//   inputs   v[f*vstride + c*ldv + t] and products m[f*mstride + r*ldv + t],
//            as the transforms read and write them (winograd_kernels.h).
//
// A micro-kernel keeps an MR x NR block of products in registers (MR rows,
// NR = 16*NV tiles: 24 accumulators at 8 x 48, 16 at 8 x 32 or 16 x 16)
// and adds one column of weights times one row of inputs per step: NV
// vector loads and MR broadcasts per MR*NV FMAs. Tiles past n are read as zero (masked
// loads) and not stored.

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define WG_FMA_TARGET __attribute__((target("avx512f,fma")))
#define WG_FMA_PANEL 8

// wg_fma_init reports whether the processor has AVX-512F.
static int wg_fma_init(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

// wg_fma_block computes rows [0, mr) and vectors [0, nv) of one block of
// products: c[i*ldc + 16j + l] = sum_p a(i, p) b[p*ldb + 16j + l], where
// a(i, p) is a[(i/8)*8*k + p*pw + i%8] (panels of 8 rows, pw wide: 8, or
// mr for a single narrower panel). mask[j] selects the tiles of vector j
// that exist. Step p < mr*nv prefetches one destination line for writing.
// Unless pf is NULL, step p prefetches the mr floats at
// pf + p*mr (the next weights) into L1 and, for p < npv, the cache line at
// pv + 16p (a share of the next frequency's inputs) into L2. Inlined with
// constant mr and nv.
WG_INLINE void wg_fma_block(const int mr, const int nv, const int pw, const float *a, int k,
                            const float *b, long ldb, float *c, long ldc, const __mmask16 *mask,
                            const float *pf, const float *pv, int npv) WG_FMA_TARGET;
WG_INLINE void wg_fma_block(const int mr, const int nv, const int pw, const float *a, int k,
                            const float *b, long ldb, float *c, long ldc, const __mmask16 *mask,
                            const float *pf, const float *pv, int npv) {
	__m512 acc[16][3];
#pragma GCC unroll 16
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 3
		for (int j = 0; j < nv; j++) acc[i][j] = _mm512_setzero_ps();
	const long panel = 8L * k;
	for (int p = 0; p < k; p++) {
		__m512 x[3];
#pragma GCC unroll 3
		for (int j = 0; j < nv; j++) x[j] = _mm512_maskz_loadu_ps(mask[j], b + p * ldb + 16 * j);
		const float *ap = a + (long)p * pw;
		// The first steps fetch the block's destination lines for writing,
		// so that its stores at the end do not wait for them (products of
		// deep layers, whose destinations are out of L2: 0.93-0.97 of the
		// time, timed alternately).
		if (p < mr * nv) _mm_prefetch((const char *)(c + (p / nv) * ldc + 16 * (p % nv)), _MM_HINT_ET0);
		if (pf) {
			_mm_prefetch((const char *)(pf + (long)p * mr), _MM_HINT_T0);
			if (p < npv) _mm_prefetch((const char *)(pv + 16L * p), _MM_HINT_T1);
		}
#pragma GCC unroll 16
		for (int i = 0; i < mr; i++) {
			const __m512 w = _mm512_set1_ps(ap[(i / 8) * panel + i % 8]);
#pragma GCC unroll 3
			for (int j = 0; j < nv; j++) acc[i][j] = _mm512_fmadd_ps(w, x[j], acc[i][j]);
		}
	}
#pragma GCC unroll 16
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 3
		for (int j = 0; j < nv; j++) _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], acc[i][j]);
}

// wg_fma_panel computes rows [r0, r0+mr) of one frequency's product for
// the tiles [0, n), in column blocks of at most three vectors, split
// evenly (64 tiles: two blocks of 32 rather than 48 and 16). The weights
// of those rows are at a (one panel, or two full panels for mr = 16). The
// first block prefetches the weights that follow them, the next panel,
// which a product too large for the caches reads from memory at a pace
// the hardware prefetcher does not keep up with, and npv lines of the next
// frequency's inputs from pv.
WG_FMA_TARGET static void wg_fma_panel(int mr, const float *a, int k, const float *b, long ldb,
                                       float *c, long ldc, int n, const float *pv, int npv) {
	const int nvec = (n + 15) / 16;
	const int blocks = (nvec + 2) / 3;
	int vec = 0;
	for (int blk = 0; blk < blocks; blk++) {
		const int nv = (nvec - vec) / (blocks - blk) + ((nvec - vec) % (blocks - blk) ? 1 : 0);
		__mmask16 mask[3];
		for (int j = 0; j < 3; j++) {
			const int left = n - 16 * (vec + j);
			mask[j] = j >= nv || left <= 0 ? 0 : left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
		}
		const float *pf = blk == 0 ? a + (long)mr * k : 0;
		const float *bb = b + 16L * vec;
		float *cc = c + 16L * vec;
		switch (nv * 100 + mr) {
#define WG_FMA_CASE(NV, MR, PW) \
	case NV * 100 + MR: wg_fma_block(MR, NV, PW, a, k, bb, ldb, cc, ldc, mask, pf, pv, npv); break;
#define WG_FMA_CASES(NV)                                                                           \
	WG_FMA_CASE(NV, 1, 1) WG_FMA_CASE(NV, 2, 2) WG_FMA_CASE(NV, 3, 3) WG_FMA_CASE(NV, 4, 4)     \
	WG_FMA_CASE(NV, 5, 5) WG_FMA_CASE(NV, 6, 6) WG_FMA_CASE(NV, 7, 7) WG_FMA_CASE(NV, 8, 8)
			WG_FMA_CASES(1)
			WG_FMA_CASES(2)
			WG_FMA_CASES(3)
			WG_FMA_CASE(1, 16, 8)
#undef WG_FMA_CASES
#undef WG_FMA_CASE
		}
		vec += nv;
	}
}

// wg_fma_products computes rows [o0, o1) (o0 a multiple of 8, o1 one too
// or rows) of the products of frequencies [f0, f1) for the tiles [0, n):
// rows rows of k columns of weights u (packed, above) times the inputs v
// (k rows per frequency, vstride floats apart), into m (rows rows per
// frequency, mstride apart), rows ldv apart in both.
WG_FMA_TARGET static void wg_fma_products(const float *u, const float *v, float *m, int f0, int f1,
                                          int o0, int o1, int rows, int k, int n, long ldv,
                                          long vstride, long mstride) {
	// With a single vector of tiles, two panels at a time: 16 accumulators
	// instead of 8, for the same loads of inputs.
	const int pair = n <= 16;
	// The panels of one frequency share out the prefetching of the next
	// frequency's inputs, which the input transform left in L3 or memory
	// (with them in cache the products ran 1.2 times as fast).
	const int step = pair ? 2 * WG_FMA_PANEL : WG_FMA_PANEL;
	const int panels = (o1 - o0 + step - 1) / step;
	const long lines = ((long)k * ldv + 15) / 16;
	long share = (lines + panels - 1) / panels;
	if (share > k) share = k;
	for (int f = f0; f < f1; f++) {
		const float *uf = u + (long)f * rows * k;
		const float *vf = v + f * vstride;
		float *mf = m + f * mstride;
		const float *vn = f + 1 < f1 ? vf + vstride : 0;
		long line = 0;
		for (int r0 = o0; r0 < o1;) {
			int mr = o1 - r0 < WG_FMA_PANEL ? o1 - r0 : WG_FMA_PANEL;
			if (pair && o1 - r0 >= 2 * WG_FMA_PANEL) mr = 2 * WG_FMA_PANEL;
			const int npv = !vn || line >= lines ? 0 : (int)(lines - line < share ? lines - line : share);
			wg_fma_panel(mr, uf + (long)r0 * k, k, vf, ldv, mf + r0 * ldv, ldv, n, vn ? vn + 16 * line : 0, npv);
			line += npv;
			r0 += mr;
		}
	}
}
#else
static int wg_fma_init(void) { return 0; }
static void wg_fma_products(const float *u, const float *v, float *m, int f0, int f1, int o0,
                            int o1, int rows, int k, int n, long ldv, long vstride,
                            long mstride) {}
#endif
