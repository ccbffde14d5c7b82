// Convolution as one matrix product on Intel AMX for engine/nn
// (conv_amx_cgo.go), included after winograd_kernels.h and winograd_amx.h,
// whose bfloat16 splitting and tile products it reuses with a single
// "frequency".
//
// A stride-1 convolution with zero padding is a sum over the kernel taps
// (ky, kx) of 1x1 convolutions of the shifted input. The input is packed
// once per chunk of output rows, padded to wp = ow + kw - 1 columns, in the
// split bfloat16 pair layout the products read (v[q*ldv + j] holds channels
// 2q and 2q+1 of padded pixel j in the low and high halves of a 32-bit
// word), one plane after the other. The products are computed on the
// padded grid too (output j = row*wp + col, the columns past ow wasted), so
// that tap (ky, kx) reads its operand at the fixed offset ky*wp + kx: no
// im2col matrix, and each input value is packed once instead of kh*kw
// times.

// ca_pack packs channels [0, cin) of x (h x w) into pairs from q0 of v
// (planes of kp*ldv words) as rows [iy0, iy0+rows) of the image padded by pt
// rows on top and pl columns on the left, each wp words wide (zero outside
// the image), one after the other from word 0 of each pair's row. An odd
// last channel pairs with zeros. Words from rows*wp up to ldv are zeroed.
WG_CLONES static void ca_pack(const float *x, int cin, int h, int w, int pt, int pl, int wp, int iy0,
                              int rows, uint32_t *v, long q0, long kp, long ldv, int planes) {
	const long n = (long)rows * wp, plane = kp * ldv;
	float t[2][wp + 16] __attribute__((aligned(64)));
	for (int c = 0; c < cin; c += 2) {
		uint32_t *vh = v + (q0 + c / 2) * ldv;
		for (int r = 0; r < rows; r++) {
			const int iy = iy0 + r - pt;
			for (int s = 0; s < 2; s++) {
				float *d = t[s];
				if (c + s >= cin || iy < 0 || iy >= h) {
					memset(d, 0, sizeof(float) * (wp + 16));
					continue;
				}
				const float *src = x + ((long)(c + s) * h + iy) * w;
				const int a = pl < wp ? pl : wp, b = pl + w < wp ? pl + w : wp;
				memset(d, 0, sizeof(float) * a);
				memcpy(d + a, src, sizeof(float) * (b - a));
				memset(d + b, 0, sizeof(float) * (wp + 16 - b));
			}
			const long at = (long)r * wp;
			for (int i = 0; i < wp; i += 16)
				wg_split_pair(wg_load(t[0] + i), wg_load(t[1] + i), planes, vh + at + i, plane);
		}
		// The last row's vectors may have run past n: clear from n on.
		for (int pl2 = 0; pl2 < planes; pl2++)
			memset(v + pl2 * plane + (q0 + c / 2) * ldv + n, 0, sizeof(uint32_t) * (ldv - n));
	}
}

#if WG_HAVE_AMX
// ca_products computes, for the 32-row blocks [q0, q1) of the outputs and
// nq 32-wide blocks of padded pixels, m = sum over the taps t of u[t] v
// shifted by toff[t] words, with kb 32-wide blocks of input channels. u
// holds planes (3: bf16x6, or 2: bf16x3, see winograd_amx.h) of
// taps*mb*kb*512 bfloat16 values, v planes of kb*16*ldv channel pairs.
WG_AMX_TARGET static void ca_products(const uint16_t *u, const uint32_t *v, float *m, int q0, int q1,
                                      int mb, int kb, int nq, long ldv, int taps, const long *toff,
                                      int planes) {
	wg_tilecfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.palette = 1;
	for (int i = 0; i < 8; i++) {
		cfg.rows[i] = 16;
		cfg.colsb[i] = 64;
	}
	_tile_loadconfig(&cfg);
	const long kp = (long)kb * 16, coutPad = (long)mb * 16, sb = ldv * 4;
	const long uplane = (long)taps * mb * kb * 512, vplane = kp * ldv;
	const long rowblk = (long)kb * 512;
	for (int q = q0; q < q1; q++) {
		float *mq = m + 32L * q * ldv;
		for (int nb = 0; nb < nq; nb++) {
			const long n0 = 32L * nb;
			_tile_zero(0);
			_tile_zero(1);
			_tile_zero(2);
			_tile_zero(3);
			for (int t = 0; t < taps; t++) {
				const uint16_t *ah = u + ((long)(t * mb + 2 * q) * kb) * 512;
				const uint16_t *am = ah + uplane, *al = ah + (planes - 1) * uplane;
				for (int k = 0; k < kb; k++) {
					const uint32_t *bh = v + 16L * k * ldv + n0 + toff[t];
					const uint32_t *bm = bh + vplane, *bl = bh + (planes - 1) * vplane;
					const long ak = 512L * k;
#define CA_TDP4()                                                                                  \
	do {                                                                                       \
		_tile_dpbf16ps(0, 4, 6);                                                           \
		_tile_dpbf16ps(1, 5, 6);                                                           \
		_tile_dpbf16ps(2, 4, 7);                                                           \
		_tile_dpbf16ps(3, 5, 7);                                                           \
	} while (0)
					_tile_loadd(4, ah + ak, 64);
					_tile_loadd(5, ah + rowblk + ak, 64);
					_tile_loadd(6, bh, sb);
					_tile_loadd(7, bh + 16, sb);
					CA_TDP4(); // ah bh
					_tile_loadd(6, bl, sb);
					_tile_loadd(7, bl + 16, sb);
					CA_TDP4(); // ah bl
					if (planes == 3) {
						_tile_loadd(6, bm, sb);
						_tile_loadd(7, bm + 16, sb);
						CA_TDP4(); // ah bm
						_tile_loadd(4, am + ak, 64);
						_tile_loadd(5, am + rowblk + ak, 64);
						CA_TDP4(); // am bm
						_tile_loadd(6, bh, sb);
						_tile_loadd(7, bh + 16, sb);
						CA_TDP4(); // am bh
					} else {
						_tile_loadd(6, bh, sb);
						_tile_loadd(7, bh + 16, sb);
					}
					_tile_loadd(4, al + ak, 64);
					_tile_loadd(5, al + rowblk + ak, 64);
					CA_TDP4(); // al bh
#undef CA_TDP4
				}
			}
			_tile_stored(0, mq + n0, sb);
			_tile_stored(1, mq + 16 * ldv + n0, sb);
			_tile_stored(2, mq + n0 + 16, sb);
			_tile_stored(3, mq + 16 * ldv + n0 + 16, sb);
		}
	}
	_tile_release();
	(void)coutPad;
}
#else
static void ca_products(const uint16_t *u, const uint32_t *v, float *m, int q0, int q1, int mb,
                        int kb, int nq, long ldv, int taps, const long *toff, int planes) {}
#endif

// ca_output writes rows [0, cout) of the products m (ldm floats apart), a
// block of rows image rows wp padded pixels each of which the first ow are
// real, to y (rows ystride floats apart; pixel (r, x) at r*ow + x), adding
// bias and the residual r (either may be NULL; r laid out as y) and
// clamping at zero when relu is set.
WG_CLONES static void ca_output(const float *m, long ldm, int cout, int rows, int wp, int ow,
                                const float *bias, const float *r, int relu, float *y,
                                long ystride) {
	for (int o = 0; o < cout; o++) {
		const float b = bias ? bias[o] : 0;
		for (int row = 0; row < rows; row++) {
			const float *mo = m + o * ldm + (long)row * wp;
			const float *ro = r ? r + o * ystride + (long)row * ow : 0;
			float *yo = y + o * ystride + (long)row * ow;
			if (ro) {
				for (int i = 0; i < ow; i++) {
					float s = mo[i] + b + ro[i];
					yo[i] = relu && s < 0 ? 0 : s;
				}
			} else {
				for (int i = 0; i < ow; i++) {
					float s = mo[i] + b;
					yo[i] = relu && s < 0 ? 0 : s;
				}
			}
		}
	}
}

// ca_zero clears pairs [q0, q1) of every plane of v for the first n words
// of each row.
static void ca_zero(uint32_t *v, long q0, long q1, long kp, long ldv, long n, int planes) {
	for (int pl = 0; pl < planes; pl++)
		for (long q = q0; q < q1; q++) memset(v + pl * kp * ldv + q * ldv, 0, sizeof(uint32_t) * n);
}
