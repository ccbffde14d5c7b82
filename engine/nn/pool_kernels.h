// 2x2, stride-2, unpadded max pooling (VGG's) for engine/nn (pool_cgo.go):
// the vectorised versions of maxPool2x2 and maxPool2x2Backward in pool.go,
// with the same results bit for bit, 16 outputs at a time, compiled for
// AVX-512, AVX2 and baseline x86-64 like winograd_kernels.h.
//
// Layouts: planes of h x w inputs one after another, their oh x ow outputs
// and winners (arg: the index of the winning input in its plane) likewise.

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && !defined(MP_NO_CLONES)
#define MP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MP_CLONES
#endif
#define MP_INLINE static inline __attribute__((always_inline))

// mp_bits and mp_float reinterpret a float32 and its bits.
MP_INLINE uint32_t mp_bits(float f) {
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

MP_INLINE float mp_float(uint32_t u) {
	float f;
	memcpy(&f, &u, 4);
	return f;
}

// mp_max is Go's max for two float32s: NaN if either is, +0 for -0 and +0.
MP_INLINE float mp_max(float a, float b) {
	if (a != a) return a;
	if (b != b) return b;
	if (a == b) return mp_float(mp_bits(a) & mp_bits(b));
	return a > b ? a : b;
}

// mp_row pools output row i of one plane, scalar, for outputs [j0, ow).
MP_INLINE void mp_row(const float *r0, const float *r1, float *o, int32_t *a, int32_t base,
                      int32_t w, int j0, int ow) {
	for (int j = j0; j < ow; j++) {
		const float v0 = r0[2 * j], v1 = r0[2 * j + 1], v2 = r1[2 * j], v3 = r1[2 * j + 1];
		const int32_t i01 = v1 > v0 ? 1 : 0, i23 = v3 > v2 ? w + 1 : w;
		const float m01 = mp_max(v0, v1), m23 = mp_max(v2, v3);
		o[j] = mp_max(m01, m23);
		a[j] = base + 2 * j + (m23 > m01 ? i23 : i01);
	}
}

#if defined(__GNUC__) && !defined(__clang__)
typedef float mp_v16 __attribute__((vector_size(64)));
typedef float mp_v16u __attribute__((vector_size(64), aligned(4)));
typedef int32_t mp_i16 __attribute__((vector_size(64)));
typedef int32_t mp_i16u __attribute__((vector_size(64), aligned(4)));

// mp_sel is c ? a : b lane by lane, for c all ones or zero (C has no
// vector ?:).
MP_INLINE mp_i16 mp_sel(mp_i16 c, mp_i16 a, mp_i16 b) { return (a & c) | (b & ~c); }

// mp_vmax is mp_max on 16 lanes.
MP_INLINE mp_v16 mp_vmax(mp_v16 a, mp_v16 b) {
	mp_i16 ai = (mp_i16)a, bi = (mp_i16)b;
	mp_i16 m = mp_sel(b > a, bi, ai);
	m = mp_sel(a == b, ai & bi, m);
	m = mp_sel(b != b, bi, m);
	return (mp_v16)mp_sel(a != a, ai, m);
}
#define MP_VECTOR 1
#endif

// mp2_forward pools n planes.
MP_CLONES static void mp2_forward(const float *in, float *out, int32_t *arg, long n, int h, int w,
                                  int oh, int ow) {
	for (long p = 0; p < n; p++) {
		const float *x = in + p * (long)h * w;
		for (int i = 0; i < oh; i++) {
			const float *r0 = x + (long)2 * i * w, *r1 = r0 + w;
			float *o = out + (p * oh + i) * (long)ow;
			int32_t *a = arg + (p * oh + i) * (long)ow;
			const int32_t base = 2 * i * w;
			int j = 0;
#ifdef MP_VECTOR
			const mp_i16 even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
			const mp_i16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
			for (; j + 16 <= ow; j += 16) {
				const mp_v16 x0 = *(const mp_v16u *)(r0 + 2 * j), x1 = *(const mp_v16u *)(r0 + 2 * j + 16);
				const mp_v16 y0 = *(const mp_v16u *)(r1 + 2 * j), y1 = *(const mp_v16u *)(r1 + 2 * j + 16);
				const mp_v16 v0 = __builtin_shuffle(x0, x1, even), v1 = __builtin_shuffle(x0, x1, even + 1);
				const mp_v16 v2 = __builtin_shuffle(y0, y1, even), v3 = __builtin_shuffle(y0, y1, even + 1);
				const mp_i16 i01 = (v1 > v0) & 1, i23 = w + ((v3 > v2) & 1);
				const mp_v16 m01 = mp_vmax(v0, v1), m23 = mp_vmax(v2, v3);
				*(mp_v16u *)(o + j) = mp_vmax(m01, m23);
				*(mp_i16u *)(a + j) = base + 2 * (j + lane) + mp_sel(m23 > m01, i23, i01);
			}
#endif
			mp_row(r0, r1, o, a, base, w, j, ow);
		}
	}
}

// mp2_backward writes the input gradients of n planes from the output
// gradients g and the winners arg: each input gets its window's gradient
// or 0; the row and column no window covers (odd sizes) get 0.
MP_CLONES static void mp2_backward(float *dx, const float *g, const int32_t *arg, long n, int h,
                                   int w, int oh, int ow) {
	for (long p = 0; p < n; p++) {
		float *d = dx + p * (long)h * w;
		for (int i = 0; i < oh; i++) {
			float *r0 = d + (long)2 * i * w, *r1 = r0 + w;
			const float *gi = g + (p * oh + i) * (long)ow;
			const int32_t *a = arg + (p * oh + i) * (long)ow;
			const int32_t base = 2 * i * w;
			int j = 0;
#ifdef MP_VECTOR
			const mp_i16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
			const mp_i16 lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
			const mp_i16 hi = lo + 8;
			for (; j + 16 <= ow; j += 16) {
				const mp_i16 v = *(const mp_i16u *)(gi + j);
				const mp_i16 k = *(const mp_i16u *)(a + j) - base - 2 * (j + lane);
				const mp_v16 e0 = (mp_v16)(v & (k == 0)), e1 = (mp_v16)(v & (k == 1));
				const mp_v16 e2 = (mp_v16)(v & (k == w)), e3 = (mp_v16)(v & (k == w + 1));
				*(mp_v16u *)(r0 + 2 * j) = __builtin_shuffle(e0, e1, lo);
				*(mp_v16u *)(r0 + 2 * j + 16) = __builtin_shuffle(e0, e1, hi);
				*(mp_v16u *)(r1 + 2 * j) = __builtin_shuffle(e2, e3, lo);
				*(mp_v16u *)(r1 + 2 * j + 16) = __builtin_shuffle(e2, e3, hi);
			}
#endif
			for (; j < ow; j++) {
				const int32_t k = a[j] - base - 2 * j;
				const uint32_t v = mp_bits(gi[j]);
				r0[2 * j] = mp_float(k == 0 ? v : 0);
				r0[2 * j + 1] = mp_float(k == 1 ? v : 0);
				r1[2 * j] = mp_float(k == w ? v : 0);
				r1[2 * j + 1] = mp_float(k == w + 1 ? v : 0);
			}
			if (2 * ow < w) {
				memset(r0 + 2 * ow, 0, sizeof(float) * (w - 2 * ow));
				memset(r1 + 2 * ow, 0, sizeof(float) * (w - 2 * ow));
			}
		}
		if (2 * oh < h) memset(d + (long)2 * oh * w, 0, sizeof(float) * (long)(h - 2 * oh) * w);
	}
}
