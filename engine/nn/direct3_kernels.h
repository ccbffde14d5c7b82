// Direct 3x3 convolutions (stride 1, zero padding 1) with few channels on
// one side, for engine/nn (direct3.go), included after winograd_kernels.h
// (whose vector helpers it uses).
//
// Winograd's per-frequency products degenerate when one side has only a
// handful of channels (VGG's conv1_1 reads 3, and its input gradient
// writes 3): a matrix product with 3 rows or a depth of 3 runs far below
// the processor's peak. Here each output value is a plain sum of cin*9
// products, 32 pixels of a row and 4 output channels at a time in eight
// vector accumulators, with the weights broadcast from memory.
//
// Layouts: x is cin planes of h*w floats, y cout planes. The weights are
// arranged in groups of 4 outputs: wr[((g*cin + c)*9 + ky*3 + kx)*4 + j] is
// the weight of input c at tap (ky, kx) for output 4g+j (zero past cout).
// Scratch s holds three padded copies of rows per input channel,
// s[(c*3 + slot)*sw + 1 + col], with zeros at col = -1 and from col = w on;
// input row r lies in slot r mod 3.

// d3_fill copies row r of every input channel (zero outside the image, and
// where mask, unless NULL, is not positive) into its slot of s.
WG_INLINE void d3_fill(const float *x, const float *mask, int cin, int h, int w, int r, float *s,
                       long sw) {
	const int slot = ((r % 3) + 3) % 3;
	for (int c = 0; c < cin; c++) {
		float *d = s + ((long)c * 3 + slot) * sw;
		if (r < 0 || r >= h) {
			memset(d, 0, sizeof(float) * sw);
			continue;
		}
		const long row = ((long)c * h + r) * w;
		const float *src = x + row, *m = mask ? mask + row : 0;
		if (r + 1 < h) {
			// The next row of this channel, which the next call copies:
			// the planes lie far apart, in pieces the hardware prefetchers
			// do not foresee.
			for (int i = 0; i < w; i += 16) {
				__builtin_prefetch(src + w + i, 0, 3);
				if (m) __builtin_prefetch(m + w + i, 0, 3);
			}
		}
		d[0] = 0;
		if (m) {
			for (int i = 0; i < w; i++) d[1 + i] = m[i] > 0 ? src[i] : 0.0f;
		} else {
			memcpy(d + 1, src, sizeof(float) * w);
		}
		memset(d + 1 + w, 0, sizeof(float) * (sw - 1 - w));
	}
}

// d3_rows computes output rows [y0, y1): y[o] = bias[o] (none if NULL) plus
// the convolution of x (masked by mask unless NULL) with the weights wr,
// clamped at zero when relu. s is scratch of cin*3*sw floats, sw >= w+34.
WG_CLONES static void d3_rows(const float *x, const float *mask, int cin, int h, int w,
                              const float *wr, const float *bias, int cout, int relu, float *y,
                              int y0, int y1, float *s, long sw) {
	const wg_v16 zero = wg_splat(0);
	float tmp[32] __attribute__((aligned(64)));
	for (int r = y0; r < y1; r++) {
		if (r == y0) {
			d3_fill(x, mask, cin, h, w, r - 1, s, sw);
			d3_fill(x, mask, cin, h, w, r, s, sw);
		}
		d3_fill(x, mask, cin, h, w, r + 1, s, sw);
		const long s0 = (((r - 1) % 3) + 3) % 3, s1 = r % 3, s2 = (r + 1) % 3;
		for (int x0 = 0; x0 < w; x0 += 32) {
			for (int g = 0; 4 * g < cout; g++) {
				wg_v16 a[4][2];
				for (int j = 0; j < 4; j++) {
					const int o = 4 * g + j;
					a[j][0] = a[j][1] = wg_splat(bias && o < cout ? bias[o] : 0.0f);
				}
				const float *wg = wr + (long)g * cin * 36;
				for (int c = 0; c < cin; c++) {
					const float *rows[3] = {s + (c * 3 + s0) * sw + x0, s + (c * 3 + s1) * sw + x0,
					                        s + (c * 3 + s2) * sw + x0};
					const float *wc = wg + c * 36;
#pragma GCC unroll 3
					for (int ky = 0; ky < 3; ky++) {
#pragma GCC unroll 3
						for (int kx = 0; kx < 3; kx++) {
							const wg_v16 v0 = wg_load(rows[ky] + kx), v1 = wg_load(rows[ky] + kx + 16);
							const float *wt = wc + (ky * 3 + kx) * 4;
#pragma GCC unroll 4
							for (int j = 0; j < 4; j++) {
								// A scalar times a vector: one FMA with
								// the weight broadcast from memory.
								a[j][0] += wt[j] * v0;
								a[j][1] += wt[j] * v1;
							}
						}
					}
				}
				for (int j = 0; j < 4 && 4 * g + j < cout; j++) {
					if (relu) {
						a[j][0] = (wg_v16)((wg_i16)a[j][0] & (a[j][0] > zero));
						a[j][1] = (wg_v16)((wg_i16)a[j][1] & (a[j][1] > zero));
					}
					float *dst = y + ((long)(4 * g + j) * h + r) * w + x0;
					if (x0 + 32 <= w) {
						wg_store(dst, a[j][0]);
						wg_store(dst + 16, a[j][1]);
					} else {
						wg_store(tmp, a[j][0]);
						wg_store(tmp + 16, a[j][1]);
						memcpy(dst, tmp, sizeof(float) * (w - x0));
					}
				}
			}
		}
	}
}
