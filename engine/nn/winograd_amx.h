// Winograd products on Intel AMX for engine/nn (winograd_cgo.go), included
// after winograd_kernels.h.
//
// Each float32 operand x is split into three bfloat16 values, h = bf16(x),
// m = bf16(x - h) and l = bf16(x - h - m), which together carry 24
// significant bits, as many as float32. A product a*b is computed from the
// six partial products whose size reaches 2^-18 of it (ah*bh, ah*bm, am*bh,
// ah*bl, al*bh, am*bm; "bf16x6") with float32 accumulation in the AMX tiles:
// float32 accuracy at a fraction of the cost of float32 FMA.
//
// A reduced-precision mode ("bf16x3") splits in two, h and l = bf16(x-h)
// (16 significant bits), and computes ah*bh + ah*bl + al*bh: half the tile
// products and two thirds of the data, with errors near 2^-17 of each
// product that the Winograd output transform amplifies to about 1e-4 of
// the output scale.
//
// Layouts (all sizes padded: cout and cin to multiples of 32, the tile
// count to a multiple of 32; each operand is three planes, h, m and l, or
// two, h and l, one after the other):
//   weights  u[((f*MB + mb)*KB + kb)*512 + r*32 + k]: frequency f, rows
//            16mb+r, columns 32kb+k, as 16x32 bfloat16 AMX tiles;
//   inputs   v[(f*KP + p)*ldv + t]: channel pair p (channels 2p, 2p+1 in
//            the low and high halves of a 32-bit word) of tile t, the VNNI
//            layout AMX wants for its second operand;
//   products m[(f*coutPad + o)*ldv + t], float32, as for the float32 path.

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define WG_HAVE_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

typedef uint32_t wg_u16v __attribute__((vector_size(64)));
typedef uint32_t wg_u16vu __attribute__((vector_size(64), aligned(4)));

// wg_bf16 rounds x to bfloat16 (to nearest even), as float32 bits.
WG_INLINE wg_u16v wg_bf16(wg_v16 x) {
	wg_u16v b = (wg_u16v)x;
	return (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
}

// wg_bf16_split3 returns the bit patterns of h, m and l (see above) in the
// upper halves of 32-bit lanes.
WG_INLINE void wg_bf16_split3(wg_v16 x, wg_u16v *h, wg_u16v *m, wg_u16v *l) {
	*h = wg_bf16(x);
	x -= (wg_v16)*h;
	*m = wg_bf16(x);
	x -= (wg_v16)*m;
	*l = wg_bf16(x);
}

// wg4_input_pairs transforms channels [c0, c1) (c0 even) of x (masked by
// mask, if not NULL) for the tiles [t0, t1) into the split bfloat16 pair
// layout (planes, 3 or 2, of 36*kp*ldv words from v). Channels at or past
// cin up to c1 are zero.
WG_CLONES static void wg4_input_pairs(const float *x, const float *mask, int c0, int c1, int cin,
                                      int h, int w, long t0, long t1, uint32_t *v, long kp,
                                      long ldv, int planes) {
	const int tw = (w + 3) / 4;
	const long fstride = kp * ldv, plane = 36 * fstride;
	uint32_t *vh = v, *vm = v + plane, *vl = v + (planes - 1) * plane;
	float buf[6][80] __attribute__((aligned(64)));
	wg_v16 a[36], b[36];
	for (int c = c0; c < c1; c += 2) {
		const long p = c / 2;
		if (c >= cin) {
			for (int f = 0; f < 36; f++) {
				for (int pl = 0; pl < planes; pl++)
					memset(v + pl * plane + f * fstride + p * ldv, 0, sizeof(uint32_t) * ldv);
			}
			continue;
		}
		const long hw = (long)h * w;
		const float *xa = x + c * hw, *ma = mask ? mask + c * hw : 0;
		const float *xb = c + 1 < cin ? xa + hw : 0, *mb = mask && xb ? ma + hw : 0;
		WG_GROUPS(tw, t0, t1, {
			wg4_group(xa, ma, h, w, ty, tx0, buf, a);
			if (xb) {
				wg4_group(xb, mb, h, w, ty, tx0, buf, b);
			} else {
				for (int f = 0; f < 36; f++) b[f] = wg_splat(0);
			}
			for (int f = 0; f < 36; f++) {
				const long at = f * fstride + p * ldv + i;
				if (planes == 3) {
					wg_u16v ah, am, al, bh, bm, bl;
					wg_bf16_split3(a[f], &ah, &am, &al);
					wg_bf16_split3(b[f], &bh, &bm, &bl);
					*(wg_u16vu *)(vh + at) = bh | (ah >> 16);
					*(wg_u16vu *)(vm + at) = bm | (am >> 16);
					*(wg_u16vu *)(vl + at) = bl | (al >> 16);
				} else {
					wg_u16v ah = wg_bf16(a[f]), bh = wg_bf16(b[f]);
					wg_u16v al = wg_bf16(a[f] - (wg_v16)ah), bl = wg_bf16(b[f] - (wg_v16)bh);
					*(wg_u16vu *)(vh + at) = bh | (ah >> 16);
					*(wg_u16vu *)(vl + at) = bl | (al >> 16);
				}
			}
		})
	}
}

#if WG_HAVE_AMX
#define WG_AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

typedef struct {
	uint8_t palette, start;
	uint8_t reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} wg_tilecfg;

// wg_amx_init asks the kernel for the AMX tile state and reports whether
// AMX-BF16 can be used by this process.
static int wg_amx_init(void) {
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
	if (!((d >> 24) & 1) || !((d >> 22) & 1)) return 0; // AMX-TILE, AMX-BF16
	// ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA (Linux 5.16+).
	if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) return 0;
	return 1;
}

// WG_PF_AHEAD is how far ahead (in bfloat16 values, whole tiles) the
// products prefetch the weight tiles they stream from memory.
#define WG_PF_AHEAD (2 * 512)

// wg_prefetch_a prefetches one 1 KiB weight tile at each of h, l and, with
// three planes, m, and rowblk values past each (the second row block), into
// L1. Near the end of the weights the addresses may lie past them:
// prefetches never fault.
WG_INLINE void wg_prefetch_a(const uint16_t *h, const uint16_t *m, const uint16_t *l, long rowblk,
                             int planes) {
	for (int i = 0; i < 512; i += 32) {
		_mm_prefetch((const char *)(h + i), _MM_HINT_T0);
		_mm_prefetch((const char *)(h + rowblk + i), _MM_HINT_T0);
		if (planes == 3) {
			_mm_prefetch((const char *)(m + i), _MM_HINT_T0);
			_mm_prefetch((const char *)(m + rowblk + i), _MM_HINT_T0);
		}
		_mm_prefetch((const char *)(l + i), _MM_HINT_T0);
		_mm_prefetch((const char *)(l + rowblk + i), _MM_HINT_T0);
	}
}

// The products of a 32x32 block of the output run as stages of four tile
// products, one per accumulator (tiles 0-3), of 16-row weight tiles in 4
// and 5 by 16-tile input tiles in 6 and 7; a block only 16 tiles wide
// (wide is 0) uses accumulators 0 and 1 and input tile 6 only. AMX has no
// renamed tile registers: a tile load waits until the products before it
// have read the register. So a stage orders its products to free first the
// registers the next stage reloads, and the loads go between its products,
// where each has two products' time before it is needed, instead of all at
// the stage boundary, where the next products would wait for them.
#define WG_LA(r, p) _tile_loadd(r, p, 64)
#define WG_LB(r, p) _tile_loadd(r, p, sb)
// WG_NEXT_B runs a stage and loads the input tiles at p for the next.
#define WG_NEXT_B(p)                                                                               \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		WG_LB(6, p);                                                                       \
		if (wide) {                                                                        \
			_tile_dpbf16ps(2, 4, 7);                                                   \
			_tile_dpbf16ps(3, 5, 7);                                                   \
			WG_LB(7, (p) + 16);                                                        \
		}                                                                                  \
	} while (0)
// WG_NEXT_A runs a stage and loads the weight tiles at p for the next.
#define WG_NEXT_A(p)                                                                               \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		if (wide) _tile_dpbf16ps(2, 4, 7);                                                 \
		WG_LA(4, p);                                                                       \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		if (wide) _tile_dpbf16ps(3, 5, 7);                                                 \
		WG_LA(5, (p) + rowblk);                                                            \
	} while (0)
// WG_NEXT_AB runs a stage and loads both operands, pa and pb, for the next.
#define WG_NEXT_AB(pa, pb)                                                                         \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		WG_LB(6, pb);                                                                      \
		if (wide) _tile_dpbf16ps(2, 4, 7);                                                 \
		WG_LA(4, pa);                                                                      \
		if (wide) _tile_dpbf16ps(3, 5, 7);                                                 \
		WG_LA(5, (pa) + rowblk);                                                           \
		if (wide) WG_LB(7, (pb) + 16);                                                     \
	} while (0)
// WG_LAST runs the last stage of a block.
#define WG_LAST()                                                                                  \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		if (wide) {                                                                        \
			_tile_dpbf16ps(2, 4, 7);                                                   \
			_tile_dpbf16ps(3, 5, 7);                                                   \
		}                                                                                  \
	} while (0)

// wg_amx_products computes, for frequencies [f0, f1) and 32-row blocks
// [q0, q1) of the products, m = u v (bf16x6 with planes 3, bf16x3 with 2,
// see above) over kb 32-wide blocks of the input channels and the first n
// tiles, in 32-wide blocks; a last block of at most 16 tiles is computed
// 16 wide (its other half would be padding: VGG's conv5_1 at 256 px has
// 16 tiles). u holds planes planes of nf*mb*kb*512 bfloat16 values, v as
// many of nf*kb*16*ldv channel pairs (nf frequencies: 36 for Winograd).
WG_AMX_TARGET static void wg_amx_products(const uint16_t *u, const uint32_t *v, float *m, int f0,
                                          int f1, int q0, int q1, int mb, int kb, int n,
                                          long ldv, int nf, int planes) {
	wg_tilecfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.palette = 1;
	for (int i = 0; i < 8; i++) {
		cfg.rows[i] = 16;
		cfg.colsb[i] = 64;
	}
	_tile_loadconfig(&cfg);
	const long kp = (long)kb * 16, coutPad = (long)mb * 16, sb = ldv * 4;
	const long uplane = (long)nf * mb * kb * 512, vplane = (long)nf * kp * ldv;
	const long rowblk = (long)kb * 512; // one 16-row block of A tiles
	const int nq = (n + 31) / 32;
	for (int f = f0; f < f1; f++) {
		for (int q = q0; q < q1; q++) {
			const uint16_t *ah = u + ((long)(f * mb + 2 * q) * kb) * 512;
			const uint16_t *am = ah + uplane, *al = ah + (planes - 1) * uplane;
			float *mq = m + (f * coutPad + 32L * q) * ldv;
			for (int nb = 0; nb < nq; nb++) {
				const long n0 = 32L * nb;
				const int wide = n - n0 > 16;
				_tile_zero(0); // rows 0-15, tiles 0-15
				_tile_zero(1); // rows 16-31, tiles 0-15
				_tile_zero(2); // rows 0-15, tiles 16-31
				_tile_zero(3); // rows 16-31, tiles 16-31
				const uint32_t *b0 = v + f * kp * ldv + n0;
				WG_LA(4, ah);
				WG_LA(5, ah + rowblk);
				WG_LB(6, b0 + (planes - 1) * vplane);
				if (wide) WG_LB(7, b0 + (planes - 1) * vplane + 16);
				for (int k = 0; k < kb; k++) {
					const uint32_t *bh = b0 + 16L * k * ldv;
					const uint32_t *bm = bh + vplane, *bl = bh + (planes - 1) * vplane;
					const long ak = 512L * k;
					if (nb == 0) // the weights come from memory: fetch ahead
						wg_prefetch_a(ah + ak + WG_PF_AHEAD, am + ak + WG_PF_AHEAD,
						              al + ak + WG_PF_AHEAD, rowblk, planes);
					// Stages ah bl, ah bm, am bm, am bh, al bh, ah bh
					// (bf16x3: ah bl, ah bh, al bh): one operand changes
					// from each to the next, and its new tiles load as
					// soon as their registers are free.
					if (planes == 3) {
						WG_NEXT_B(bm);      // ah bl
						WG_NEXT_A(am + ak); // ah bm
						WG_NEXT_B(bh);      // am bm
						WG_NEXT_A(al + ak); // am bh
						WG_NEXT_A(ah + ak); // al bh
					} else {
						WG_NEXT_B(bh);      // ah bl
						WG_NEXT_A(al + ak); // ah bh
					}
					if (k + 1 < kb) { // the last stage, then ah bl of the next k
						WG_NEXT_AB(ah + ak + 512, bl + 16L * ldv);
					} else {
						WG_LAST();
					}
				}
				_tile_stored(0, mq + n0, sb);
				_tile_stored(1, mq + 16 * ldv + n0, sb);
				if (wide) {
					_tile_stored(2, mq + n0 + 16, sb);
					_tile_stored(3, mq + 16 * ldv + n0 + 16, sb);
				}
			}
		}
	}
#undef WG_LA
#undef WG_LB
#undef WG_NEXT_A
#undef WG_NEXT_B
#undef WG_NEXT_AB
#undef WG_LAST
	_tile_release();
}
#else
// No AMX on this platform: the products below are never called.
static int wg_amx_init(void) { return 0; }
static void wg_amx_products(const uint16_t *u, const uint32_t *v, float *m, int f0, int f1, int q0,
                            int q1, int mb, int kb, int n, long ldv, int nf, int planes) {}
#endif
