// Winograd F(4x4, 3x3) data transforms for engine/nn (winograd_cgo.go).
//
// The transforms run on 16 tiles of one tile row at a time, one tile per
// vector lane, written with GCC vector extensions and compiled for AVX-512,
// AVX2 and baseline x86-64 (target_clones picks one at load time).
//
// Layouts: an image is cin planes of h*w floats. Tile (ty, tx) covers output
// rows 4ty..4ty+3 and columns 4tx..4tx+3, and reads input rows 4ty-1..4ty+4
// and columns 4tx-1..4tx+4 (zero outside the image: padding 1). Tiles are
// numbered t = ty*tw + tx with tw = ceil(w/4); a chunk is a range [t0, t1)
// of them. The transformed input V holds frequency f (0..35) of channel c of
// tile t0+i at v[f*fstride + c*ldv + i], fstride >= rows*ldv with rows >= cin
// (the AMX products want the channels padded to a multiple of 32, as zero
// rows); the products M use the same layout with cout rows or more. The
// transforms work on groups of 16 tiles of one tile row, so the last group
// of a chunk may reach up to 15 lanes past t1: ldv must cover that reach
// (wgExtent in winograd_transform.go). Where fstride is a multiple of 4 KiB the 36 frequencies of a
// tile map to the same set of the L1 cache, and on AMD Zen 5 the input
// transform then took two to three times as long; the float32 paths
// therefore add a cache line to it (wgSkew in winograd.go).

#include <stdint.h>
#include <string.h>

typedef float wg_v16 __attribute__((vector_size(64)));
typedef float wg_v16u __attribute__((vector_size(64), aligned(4)));
typedef int32_t wg_i16 __attribute__((vector_size(64)));

#if defined(__x86_64__) && !defined(WG_NO_CLONES)
#define WG_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WG_CLONES
#endif
#define WG_INLINE static inline __attribute__((always_inline))

WG_INLINE wg_v16 wg_load(const float *p) { return *(const wg_v16u *)p; }
WG_INLINE void wg_store(float *p, wg_v16 v) { *(wg_v16u *)p = v; }
WG_INLINE wg_v16 wg_splat(float s) { return (wg_v16){0} + s; }

#if defined(__GNUC__) && !defined(__clang__) && !defined(WG_NO_BUILTIN_SHUFFLE)
#define WG_SHUFFLE 1
// wg_phase returns lane l = p[4l + k] for l = 0..15 (k = 0..3), reading 64
// floats from p.
WG_INLINE wg_v16 wg_phase(const float *p, int k) {
	const wg_i16 pick = {0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28};
	const wg_i16 join = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
	wg_i16 idx = pick + k;
	wg_v16 lo = __builtin_shuffle(wg_load(p), wg_load(p + 16), idx);
	wg_v16 hi = __builtin_shuffle(wg_load(p + 32), wg_load(p + 48), idx);
	return __builtin_shuffle(lo, hi, join);
}

// wg_interleave writes p[4l + k] = q[k][l] for l = 0..15, k = 0..3.
WG_INLINE void wg_interleave(float *p, wg_v16 q0, wg_v16 q1, wg_v16 q2, wg_v16 q3) {
	const wg_i16 zlo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
	const wg_i16 zhi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
	const wg_i16 plo = {0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23};
	const wg_i16 phi = {8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31};
	wg_v16 a0 = __builtin_shuffle(q0, q1, zlo), a1 = __builtin_shuffle(q0, q1, zhi);
	wg_v16 b0 = __builtin_shuffle(q2, q3, zlo), b1 = __builtin_shuffle(q2, q3, zhi);
	wg_store(p, __builtin_shuffle(a0, b0, plo));
	wg_store(p + 16, __builtin_shuffle(a0, b0, phi));
	wg_store(p + 32, __builtin_shuffle(a1, b1, plo));
	wg_store(p + 48, __builtin_shuffle(a1, b1, phi));
}
#else
// Portable versions for compilers without GCC's __builtin_shuffle (clang).
WG_INLINE wg_v16 wg_phase(const float *p, int k) {
	float t[16];
	for (int l = 0; l < 16; l++) t[l] = p[4 * l + k];
	return wg_load(t);
}

WG_INLINE void wg_interleave(float *p, wg_v16 q0, wg_v16 q1, wg_v16 q2, wg_v16 q3) {
	for (int l = 0; l < 16; l++) {
		p[4 * l] = q0[l];
		p[4 * l + 1] = q1[l];
		p[4 * l + 2] = q2[l];
		p[4 * l + 3] = q3[l];
	}
}
#endif

// wg_bt applies B^T of F(4x4, 3x3) to six values z0..z5.
#define WG_BT(z0, z1, z2, z3, z4, z5, t)                                       \
	do {                                                                   \
		wg_v16 four = wg_splat(4), five = wg_splat(5), two = wg_splat(2); \
		wg_v16 a_ = (z4) - four * (z2), b_ = (z3) - four * (z1);          \
		wg_v16 c_ = (z4) - (z2), d_ = two * ((z3) - (z1));                \
		(t)[0] = four * (z0) - five * (z2) + (z4);                        \
		(t)[1] = a_ + b_;                                                 \
		(t)[2] = a_ - b_;                                                 \
		(t)[3] = c_ + d_;                                                 \
		(t)[4] = c_ - d_;                                                 \
		(t)[5] = four * (z1) - five * (z3) + (z5);                        \
	} while (0)

// wg_at applies A^T of F(4x4, 3x3) to six values m0..m5.
#define WG_AT(m0, m1, m2, m3, m4, m5, o)                                       \
	do {                                                                   \
		wg_v16 p_ = (m1) + (m2), q_ = (m1) - (m2);                        \
		wg_v16 r_ = (m3) + (m4), s_ = (m3) - (m4);                        \
		(o)[0] = (m0) + p_ + r_;                                          \
		(o)[1] = q_ + wg_splat(2) * s_;                                   \
		(o)[2] = p_ + wg_splat(4) * r_;                                   \
		(o)[3] = q_ + wg_splat(8) * s_ + (m5);                            \
	} while (0)

static const float wg_zeros[80];

// wg_row returns a pointer to 68 values of input row `row` from column col0
// (col0 + i for i = 0..67), zero outside the image; with a mask plane mc,
// values where the mask is not positive are zero too (a fused ReLU
// backward). buf receives the row when it cannot be read in place.
WG_INLINE const float *wg_row(const float *xc, const float *mc, int h, int w, int row, int col0,
                              float *buf) {
	if (row < 0 || row >= h) return wg_zeros;
	const float *src = xc + (long)row * w;
	const int inside = col0 >= 0 && col0 + 68 <= w;
	if (mc) {
		const float *msk = mc + (long)row * w;
		if (inside) {
			for (int i = 0; i < 68; i++) buf[i] = msk[col0 + i] > 0 ? src[col0 + i] : 0.0f;
		} else {
			for (int i = 0; i < 68; i++) {
				const int c = col0 + i;
				buf[i] = c >= 0 && c < w && msk[c] > 0 ? src[c] : 0.0f;
			}
		}
		return buf;
	}
	if (inside) return src + col0;
	const int lo = col0 < 0 ? 0 : col0;
	const int hi = col0 + 68 < w ? col0 + 68 : w;
	memset(buf, 0, sizeof(float) * 80);
	if (hi > lo) memcpy(buf + (lo - col0), src + lo, sizeof(float) * (hi - lo));
	return buf;
}

// wg4_group transforms the 16 tiles (ty, tx0 .. tx0+15) of one channel
// plane xc (masked by mc unless NULL), storing frequency f (0..35) at
// dst + f*fstride. buf is scratch for rows at the edges.
#ifdef WG_SHUFFLE
// wg_masked returns the 16 values at p, zero where m (unless NULL) is not
// positive.
WG_INLINE wg_v16 wg_masked(const float *p, const float *m) {
	wg_v16 v = wg_load(p);
	if (m) v = (wg_v16)((wg_i16)v & (wg_load(m) > wg_splat(0)));
	return v;
}

// wg_row66 is wg_row for the version of wg4_group below, which reads 66
// values (col0 + i for i = 0..65) at offsets 0, 16, 32, 48 and 50. It
// builds the rows it cannot read in place from whole vectors instead of
// copies: a masked row inside the image, and a row at the left or right
// edge of an image whose width is a multiple of 16 (with col0 + 1 a
// multiple of 16, as chunks of whole 16-tile groups give), from the
// 16-column pieces of the row that lie inside it. Other rows go through
// wg_row. (Timed against wg_row alone, best of many: the input transform
// of VGG's layers took 0.85-1.0 of the time.)
WG_INLINE const float *wg_row66(const float *xc, const float *mc, int h, int w, int row, int col0,
                                float *buf) {
	if (row < 0 || row >= h) return wg_zeros;
	const float *src = xc + (long)row * w, *msk = mc ? mc + (long)row * w : 0;
	if (col0 >= 0 && col0 + 66 <= w) {
		if (!msk) return src + col0;
		for (int j = 0; j < 4; j++) wg_store(buf + 16 * j, wg_masked(src + col0 + 16 * j, msk + col0 + 16 * j));
		wg_store(buf + 50, wg_masked(src + col0 + 50, msk + col0 + 50));
		return buf;
	}
	const int base = col0 - 15; // first column of piece 0
	if ((w & 15) || (base & 15)) return wg_row(xc, mc, h, w, row, col0, buf);
	// Piece k holds columns base + 16k .. base + 16k + 15, all inside the
	// image for lo <= k < hi, all outside otherwise.
	const int lo = base < 0 ? -base / 16 : 0, hi = (w - base) / 16;
	wg_v16 piece[6];
	for (int k = 0; k < 6; k++)
		piece[k] = k >= lo && k < hi ? wg_masked(src + base + 16 * k, msk ? msk + base + 16 * k : 0) : wg_splat(0);
	// Column col0 + 16j is lane 15 of piece j.
	const wg_i16 join = {15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
	for (int j = 0; j < 5; j++) wg_store(buf + 16 * j, __builtin_shuffle(piece[j], piece[j + 1], join));
	return buf;
}

// This version runs the column pass first, on the rows as they lie in
// memory (five vectors each: columns 0-63 and 50-65), and then takes the
// six phases of each of its outputs apart with ten shuffles: a fifth of
// the vector operations and a sixth of the loads of the one below, all in
// registers.
WG_INLINE void wg4_group(const float *xc, const float *mc, int h, int w, int ty, int tx0,
                         float (*buf)[80], float *dst, long fstride) {
	const int col0 = 4 * tx0 - 1;
	const float *rows[6];
#pragma GCC unroll 6
	for (int r = 0; r < 6; r++) rows[r] = wg_row66(xc, mc, h, w, 4 * ty + r - 1, col0, buf[r]);
	// Column pass on whole vectors: t[k][j] = sum_r BT[k][r] row_r[16j ..].
	static const int offs[5] = {0, 16, 32, 48, 50};
	wg_v16 t[6][5];
#pragma GCC unroll 5
	for (int j = 0; j < 5; j++) {
		const int o = offs[j];
		wg_v16 c[6];
		WG_BT(wg_load(rows[0] + o), wg_load(rows[1] + o), wg_load(rows[2] + o), wg_load(rows[3] + o),
		      wg_load(rows[4] + o), wg_load(rows[5] + o), c);
#pragma GCC unroll 6
		for (int k = 0; k < 6; k++) t[k][j] = c[k];
	}
	// Phases: lane l of z[s] is t[k][4l + s], s = 0..5 (16 tiles).
	const wg_i16 lo01 = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29};
	const wg_i16 lo23 = lo01 + 2;
	const wg_i16 jlo = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
	const wg_i16 jhi = jlo + 8;
	const wg_i16 next = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 30};
#pragma GCC unroll 6
	for (int k = 0; k < 6; k++) {
		// Tiles 0-7 and 8-15, phases 0 and 1 (a) and 2 and 3 (b).
		const wg_v16 a0 = __builtin_shuffle(t[k][0], t[k][1], lo01), a1 = __builtin_shuffle(t[k][2], t[k][3], lo01);
		const wg_v16 b0 = __builtin_shuffle(t[k][0], t[k][1], lo23), b1 = __builtin_shuffle(t[k][2], t[k][3], lo23);
		wg_v16 z[6];
		z[0] = __builtin_shuffle(a0, a1, jlo);
		z[1] = __builtin_shuffle(a0, a1, jhi);
		z[2] = __builtin_shuffle(b0, b1, jlo);
		z[3] = __builtin_shuffle(b0, b1, jhi);
		// Phases 4 and 5 are 0 and 1 a tile on; the last lane is column 64
		// or 65, lane 14 or 15 of the vector at 50.
		z[4] = __builtin_shuffle(z[0], t[k][4], next);
		z[5] = __builtin_shuffle(z[1], t[k][4], next + (wg_i16){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
		// Row pass: V[k*6+j] = sum_s t[k][s] B[s][j].
		wg_v16 o[6];
		WG_BT(z[0], z[1], z[2], z[3], z[4], z[5], o);
#pragma GCC unroll 6
		for (int j = 0; j < 6; j++) wg_store(dst + (k * 6 + j) * fstride, o[j]);
	}
}
#else
WG_INLINE void wg4_group(const float *xc, const float *mc, int h, int w, int ty, int tx0,
                         float (*buf)[80], float *dst, long fstride) {
	const int col0 = 4 * tx0 - 1;
	const float *rows[6];
	for (int r = 0; r < 6; r++) rows[r] = wg_row(xc, mc, h, w, 4 * ty + r - 1, col0, buf[r]);
	// Column pass: t[k][s] = sum_r BT[k][r] d[r][s].
	wg_v16 t[6][6];
	for (int s = 0; s < 6; s++) {
		const int k = s & 3, off = s & 4;
		wg_v16 z0 = wg_phase(rows[0] + off, k), z1 = wg_phase(rows[1] + off, k);
		wg_v16 z2 = wg_phase(rows[2] + off, k), z3 = wg_phase(rows[3] + off, k);
		wg_v16 z4 = wg_phase(rows[4] + off, k), z5 = wg_phase(rows[5] + off, k);
		wg_v16 o[6];
		WG_BT(z0, z1, z2, z3, z4, z5, o);
		for (int k2 = 0; k2 < 6; k2++) t[k2][s] = o[k2];
	}
	// Row pass: V[k*6+j] = sum_s t[k][s] B[s][j].
	for (int k = 0; k < 6; k++) {
		wg_v16 o[6];
		WG_BT(t[k][0], t[k][1], t[k][2], t[k][3], t[k][4], t[k][5], o);
		for (int j = 0; j < 6; j++) wg_store(dst + (k * 6 + j) * fstride, o[j]);
	}
}
#endif

// WG_GROUPS iterates over the 16-tile groups of the chunk [t0, t1): ty, tx0
// and i (the chunk index of the group's first tile) are set for the body.
// A group never crosses a tile row; it may extend past t1 or the row end.
#define WG_GROUPS(tw, t0, t1, ...)                                                 \
	for (long t_ = (t0); t_ < (t1);) {                                         \
		const int ty = (int)(t_ / (tw)), tx0 = (int)(t_ % (tw));           \
		const long i = t_ - (t0);                                          \
		(void)i;                                                           \
		__VA_ARGS__;                                                       \
		t_ += (tw) - tx0 < 16 ? (tw) - tx0 : 16;                           \
	}

// wg_prefetch_rows prefetches the six input rows of the 16-tile group
// (ty, tx0) of plane xc into the caches: the input transform does this for
// the next channel while it transforms the present one, since each channel
// plane is read in short pieces that the hardware prefetchers, which stop
// at page boundaries, do not foresee.
WG_INLINE void wg_prefetch_rows(const float *xc, int h, int w, int ty, int tx0) {
	int lo = 4 * tx0 - 1, hi = 4 * tx0 + 64;
	if (lo < 0) lo = 0;
	if (hi > w - 1) hi = w - 1;
	for (int r = 0; r < 6; r++) {
		const int row = 4 * ty + r - 1;
		if (row < 0 || row >= h) continue;
		const float *p = xc + (long)row * w;
		for (int col = lo; col < hi + 16; col += 16) __builtin_prefetch(p + (col < hi ? col : hi), 0, 3);
	}
}

// wg4_input transforms channels [c0, c1) of x (masked by mask, if not
// NULL) for the tiles [t0, t1) into v, frequencies fstride floats apart.
// Channels at or past cin up to c1 (padding) are zero.
WG_CLONES static void wg4_input(const float *x, const float *mask, int c0, int c1, int cin, int h,
                                int w, long t0, long t1, float *v, long fstride, long ldv) {
	const int tw = (w + 3) / 4;
	float buf[6][80] __attribute__((aligned(64)));
	for (int c = c0; c < c1; c++) {
		float *vc = v + (long)c * ldv;
		if (c >= cin) {
			for (int f = 0; f < 36; f++) memset(vc + f * fstride, 0, sizeof(float) * ldv);
			continue;
		}
		const float *xc = x + (long)c * h * w;
		const float *mc = mask ? mask + (long)c * h * w : 0;
		const long plane = (long)h * w;
		const int next = c + 1 < c1 && c + 1 < cin;
		WG_GROUPS(tw, t0, t1, {
			if (next) {
				wg_prefetch_rows(xc + plane, h, w, ty, tx0);
				if (mc) wg_prefetch_rows(mc + plane, h, w, ty, tx0);
			}
			// The next group's 36 destination lines, for writing.
			if (i + 16 < ldv)
				for (int f = 0; f < 36; f++) __builtin_prefetch(vc + i + 16 + f * fstride, 1, 3);
			wg4_group(xc, mc, h, w, ty, tx0, buf, vc + i, fstride);
		})
	}
}

// wg4_output inverse-transforms output channels [o0, o1) of the products m
// for the tiles [t0, t1) into y (cout planes of h*w), adding bias (may be
// NULL) and clamping at zero when relu is set. Frequencies are fstride
// floats apart in m.
WG_CLONES static void wg4_output(const float *m, int o0, int o1, long fstride, int h, int w,
                                 long t0, long t1, long ldm, const float *bias, int relu,
                                 float *y) {
	const int tw = (w + 3) / 4;
	float buf[64] __attribute__((aligned(64)));
	const wg_v16 zero = wg_splat(0);
	for (int oc = o0; oc < o1; oc++) {
		float *yc = y + (long)oc * h * w;
		const wg_v16 b = wg_splat(bias ? bias[oc] : 0.0f);
		const float *mc = m + (long)oc * ldm;
		WG_GROUPS(tw, t0, t1, {
			const float *src = mc + i;
			// Column pass: t[k][s] = sum_r AT[k][r] M[r][s].
			wg_v16 t[4][6];
			for (int s = 0; s < 6; s++) {
				wg_v16 o[4];
				WG_AT(wg_load(src + (0 * 6 + s) * fstride), wg_load(src + (1 * 6 + s) * fstride),
				      wg_load(src + (2 * 6 + s) * fstride), wg_load(src + (3 * 6 + s) * fstride),
				      wg_load(src + (4 * 6 + s) * fstride), wg_load(src + (5 * 6 + s) * fstride), o);
				for (int k = 0; k < 4; k++) t[k][s] = o[k];
			}
			// Tiles of this group inside the chunk and the row, and their columns.
			long ntile = (t1) - (t0) - i;
			if (ntile > tw - tx0) ntile = tw - tx0;
			if (ntile > 16) ntile = 16;
			const int col0 = 4 * tx0;
			int ncol = (int)(4 * ntile);
			if (ncol > w - col0) ncol = w - col0;
			for (int k = 0; k < 4; k++) {
				const int row = 4 * ty + k;
				if (row >= h) break;
				wg_v16 o[4];
				WG_AT(t[k][0], t[k][1], t[k][2], t[k][3], t[k][4], t[k][5], o);
				for (int j = 0; j < 4; j++) {
					o[j] += b;
					if (relu) o[j] = (wg_v16)((wg_i16)o[j] & (o[j] > zero));
				}
				float *dst = yc + (long)row * w + col0;
				if (ncol == 64) {
					wg_interleave(dst, o[0], o[1], o[2], o[3]);
				} else {
					wg_interleave(buf, o[0], o[1], o[2], o[3]);
					memcpy(dst, buf, sizeof(float) * ncol);
				}
			}
		})
	}
}
