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
// count to a multiple of 32):
//   weights  u[((f*MB + mb)*KB + kb)*512 + r*32 + k]: frequency f, rows
//            16mb+r, columns 32kb+k, as 16x32 bfloat16 AMX tiles, in three
//            planes, h, m and l, or two, h and l, one after the other;
//   inputs   v[(f*cinPad + c)*ldv + t], float32, as the input transform
//            writes them (winograd_kernels.h); the products split them as
//            they go (wg_amx_stage), once per frequency and 32 tiles, into
//            tiles of channel pairs (channels 2p, 2p+1 in the low and high
//            halves of a 32-bit word), the VNNI layout AMX wants for its
//            second operand;
//   products m[(f*coutPad + o)*ldv + t], float32, as for the float32 path.
//
// Splitting the inputs in the products rather than in the input transform
// keeps the transformed inputs at 4 bytes a value instead of 6 (three
// parts; 4 with two): the input transform, bound by the memory it writes,
// and the products, which read their split tiles from a small staging area
// instead of from the whole chunk's planes, both move less data (VGG's
// convolutions at 256 px, forward and backward, timed alternately against
// splitting in the transform: 0.66-0.90 of the time).

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

// wg_split_pair splits the float32 values a and b (even and odd channel of
// a pair) into planes bfloat16 planes (3: h, m, l; 2: h, l) and stores
// them as 16 channel-pair words in each plane, plane words apart from d.
WG_INLINE void wg_split_pair(wg_v16 a, wg_v16 b, int planes, uint32_t *d, long plane) {
	if (planes == 3) {
		wg_u16v ah, am, al, bh, bm, bl;
		wg_bf16_split3(a, &ah, &am, &al);
		wg_bf16_split3(b, &bh, &bm, &bl);
		*(wg_u16vu *)d = bh | (ah >> 16);
		*(wg_u16vu *)(d + plane) = bm | (am >> 16);
		*(wg_u16vu *)(d + 2 * plane) = bl | (al >> 16);
		return;
	}
	const wg_u16v ah = wg_bf16(a), bh = wg_bf16(b);
	const wg_u16v al = wg_bf16(a - (wg_v16)ah), bl = wg_bf16(b - (wg_v16)bh);
	*(wg_u16vu *)d = bh | (ah >> 16);
	*(wg_u16vu *)(d + plane) = bl | (al >> 16);
}

#if WG_HAVE_AMX
// Every processor with AMX has AVX-512, which the input split uses.
#define WG_AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f")))

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

// wg_amx_stage splits the float32 inputs of channel block k (32 channels)
// of tiles n0..n0+15 (and n0+16..n0+31 when wide) of one frequency, vf
// pointing at channel 0 of tile n0 with rows ldv apart, into st: for plane
// p (h, m, l or h, l) and half s (tiles 0-15 or 16-31), a 16x16 tile of
// channel pairs at st[((k*planes + p)*2 + s)*256].
WG_INLINE void wg_amx_stage(const float *vf, long ldv, int k, int planes, int wide, uint32_t *st) {
	uint32_t *sk = st + (long)k * planes * 512;
	for (int r = 0; r < 16; r++) {
		const float *ra = vf + (long)(32 * k + 2 * r) * ldv, *rb = ra + ldv;
		for (int s = 0; s <= wide; s++)
			wg_split_pair(wg_load(ra + 16 * s), wg_load(rb + 16 * s), planes, sk + s * 256 + r * 16, 512);
	}
}

// The products of a 32x32 block of the output run as stages of four tile
// products, one per accumulator (tiles 0-3), of 16-row weight tiles in 4
// and 5 by 16-tile input tiles in 6 and 7; a block only 16 tiles wide
// (wide is 0) uses accumulators 0 and 1 and input tile 6 only; the input
// tiles come from the staging area. AMX has no
// renamed tile registers: a tile load waits until the products before it
// have read the register. So a stage orders its products to free first the
// registers the next stage reloads, and the loads go between its products,
// where each has two products' time before it is needed, instead of all at
// the stage boundary, where the next products would wait for them.
// Weight and staged input tiles alike are 1 KiB, 64 bytes a row.
#define WG_LD(r, p) _tile_loadd(r, p, 64)
// WG_NEXT_B runs a stage and loads the input tiles at p for the next.
#define WG_NEXT_B(p)                                                                               \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		WG_LD(6, p);                                                                       \
		if (wide) {                                                                        \
			_tile_dpbf16ps(2, 4, 7);                                                   \
			_tile_dpbf16ps(3, 5, 7);                                                   \
			WG_LD(7, (p) + 256);                                                        \
		}                                                                                  \
	} while (0)
// WG_NEXT_A runs a stage and loads the weight tiles at p for the next.
#define WG_NEXT_A(p)                                                                               \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		if (wide) _tile_dpbf16ps(2, 4, 7);                                                 \
		WG_LD(4, p);                                                                       \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		if (wide) _tile_dpbf16ps(3, 5, 7);                                                 \
		WG_LD(5, (p) + rowblk);                                                            \
	} while (0)
// WG_NEXT_AB runs a stage and loads both operands, pa and pb, for the next.
#define WG_NEXT_AB(pa, pb)                                                                         \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		WG_LD(6, pb);                                                                      \
		if (wide) _tile_dpbf16ps(2, 4, 7);                                                 \
		WG_LD(4, pa);                                                                      \
		if (wide) _tile_dpbf16ps(3, 5, 7);                                                 \
		WG_LD(5, (pa) + rowblk);                                                           \
		if (wide) WG_LD(7, (pb) + 256);                                                     \
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
// 16 tiles). u holds planes planes of nf*mb*kb*512 bfloat16 values, v
// nf*kb*32 rows of ldv float32 inputs (nf frequencies: 36 for Winograd).
// For each frequency the inputs are split into st group 32-tile blocks at
// a time (group*kb*planes*512 words), by the first row block as it goes,
// and every row block then runs over them: its weight tiles, loaded once
// from memory, serve all of them.
WG_AMX_TARGET static void wg_amx_products(const uint16_t *u, const float *v, float *m, int f0,
                                          int f1, int q0, int q1, int mb, int kb, int n,
                                          long ldv, int nf, int planes, uint32_t *st,
                                          int group) {
	wg_tilecfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.palette = 1;
	for (int i = 0; i < 8; i++) {
		cfg.rows[i] = 16;
		cfg.colsb[i] = 64;
	}
	_tile_loadconfig(&cfg);
	const long coutPad = (long)mb * 16, cinPad = (long)kb * 32, sb = ldv * 4;
	const long uplane = (long)nf * mb * kb * 512;
	const long rowblk = (long)kb * 512;        // one 16-row block of A tiles
	const long sblk = (long)kb * planes * 512; // one 32-tile block of staged inputs
	const int nq = (n + 31) / 32;
	for (int f = f0; f < f1; f++) {
		for (int g0 = 0; g0 < nq; g0 += group) {
			const int g1 = g0 + group < nq ? g0 + group : nq;
			for (int q = q0; q < q1; q++) {
				const uint16_t *ah = u + ((long)(f * mb + 2 * q) * kb) * 512;
				const uint16_t *am = ah + uplane, *al = ah + (planes - 1) * uplane;
				float *mq = m + (f * coutPad + 32L * q) * ldv;
				for (int nb = g0; nb < g1; nb++) {
					const long n0 = 32L * nb;
					const int wide = n - n0 > 16;
					uint32_t *b0 = st + (nb - g0) * sblk;
					// The first row block splits the inputs, block k+1
					// while the products of block k run.
					const float *vf = q == q0 ? v + f * cinPad * ldv + n0 : 0;
					if (vf) wg_amx_stage(vf, ldv, 0, planes, wide, b0);
					_tile_zero(0); // rows 0-15, tiles 0-15
					_tile_zero(1); // rows 16-31, tiles 0-15
					_tile_zero(2); // rows 0-15, tiles 16-31
					_tile_zero(3); // rows 16-31, tiles 16-31
					WG_LD(4, ah);
					WG_LD(5, ah + rowblk);
					WG_LD(6, b0 + (planes - 1) * 512);
					if (wide) WG_LD(7, b0 + (planes - 1) * 512 + 256);
					for (int k = 0; k < kb; k++) {
						const uint32_t *bh = b0 + k * planes * 512L;
						const uint32_t *bm = bh + 512, *bl = bh + (planes - 1) * 512;
						const long ak = 512L * k;
						if (nb == g0) // the weights come from memory: fetch ahead
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
							if (vf) wg_amx_stage(vf, ldv, k + 1, planes, wide, b0);
							WG_NEXT_AB(ah + ak + 512, bl + planes * 512);
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
	}
#undef WG_LD
#undef WG_NEXT_A
#undef WG_NEXT_B
#undef WG_NEXT_AB
#undef WG_LAST
	_tile_release();
}
#else
// No AMX on this platform: the products below are never called.
static int wg_amx_init(void) { return 0; }
static void wg_amx_products(const uint16_t *u, const float *v, float *m, int f0, int f1, int q0,
                            int q1, int mb, int kb, int n, long ldv, int nf, int planes,
                            uint32_t *st, int group) {}
#endif
