package nn

// Portable Go versions of the Winograd F(4x4, 3x3) data transforms of
// winograd_kernels.h, with the same layouts. Builds without cgo use them,
// and tests check the vectorised C transforms against them.

// wgInputGo transforms channels [c0, c1) of x (zero where mask, unless
// nil, is not positive) for tiles [t0, t1) into v[f*fstride + c*ldv + t-t0];
// channels at or past cin are zero.
func wgInputGo(x, mask []float32, c0, c1, cin, h, w, t0, t1 int, v []float32, fstride, ldv int) {
	tw := (w + wgTile - 1) / wgTile
	var d [6][6]float32
	var t [6][6]float32
	for c := c0; c < c1; c++ {
		if c >= cin {
			for f := range wgFreqs {
				clear(v[f*fstride+c*ldv : f*fstride+(c+1)*ldv])
			}
			continue
		}
		xc := x[c*h*w : (c+1)*h*w]
		var mc []float32
		if mask != nil {
			mc = mask[c*h*w : (c+1)*h*w]
		}
		for ti := t0; ti < t1; ti++ {
			ty, tx := ti/tw, ti%tw
			{
				for r := 0; r < 6; r++ {
					row := ty*wgTile + r - 1
					for s := 0; s < 6; s++ {
						col := tx*wgTile + s - 1
						if row < 0 || row >= h || col < 0 || col >= w || mc != nil && !(mc[row*w+col] > 0) {
							d[r][s] = 0
						} else {
							d[r][s] = xc[row*w+col]
						}
					}
				}
				for s := 0; s < 6; s++ {
					z0, z1, z2, z3, z4, z5 := d[0][s], d[1][s], d[2][s], d[3][s], d[4][s], d[5][s]
					t[0][s], t[1][s], t[2][s], t[3][s], t[4][s], t[5][s] = wgBT(z0, z1, z2, z3, z4, z5)
				}
				base := c*ldv + ti - t0
				for k := 0; k < 6; k++ {
					o0, o1, o2, o3, o4, o5 := wgBT(t[k][0], t[k][1], t[k][2], t[k][3], t[k][4], t[k][5])
					f := base + k*6*fstride
					v[f] = o0
					v[f+fstride] = o1
					v[f+2*fstride] = o2
					v[f+3*fstride] = o3
					v[f+4*fstride] = o4
					v[f+5*fstride] = o5
				}
			}
		}
	}
}

// wgExtent is how many values of a row of the transformed inputs or
// products the vectorised transforms touch for the tiles [t0, t1) of an
// image w pixels wide: they work on groups of 16 tiles of one tile row,
// and the last group may reach up to 15 tiles past t1 (none when the row
// length and t0 and t1 are multiples of 16).
func wgExtent(w, t0, t1 int) int {
	if t1 <= t0 {
		return 0
	}
	tw := (w + wgTile - 1) / wgTile
	s := max(t0, (t1-1)/tw*tw) // start of the last group's row within the chunk
	last := s + (t1-1-s)/16*16
	return last - t0 + 16
}

// wgBT applies B^T of F(4x4, 3x3) to six values.
func wgBT(z0, z1, z2, z3, z4, z5 float32) (t0, t1, t2, t3, t4, t5 float32) {
	a, b := z4-4*z2, z3-4*z1
	c, d := z4-z2, 2*(z3-z1)
	return 4*z0 - 5*z2 + z4, a + b, a - b, c + d, c - d, 4*z1 - 5*z3 + z5
}

// wgAT applies A^T of F(4x4, 3x3) to six values.
func wgAT(m0, m1, m2, m3, m4, m5 float32) (o0, o1, o2, o3 float32) {
	p, q := m1+m2, m1-m2
	r, s := m3+m4, m3-m4
	return m0 + p + r, q + 2*s, p + 4*r, q + 8*s + m5
}

// wgOutputGo inverse-transforms output channels [o0, o1) of m (frequencies
// fstride floats apart) for tiles [t0, t1) into y, adding bias (may be nil)
// and applying ReLU when relu.
func wgOutputGo(m []float32, o0, o1, fstride, h, w, t0, t1, ldm int, bias []float32, relu bool, y []float32) {
	tw := (w + wgTile - 1) / wgTile
	var t [4][6]float32
	for oc := o0; oc < o1; oc++ {
		yc := y[oc*h*w : (oc+1)*h*w]
		var b float32
		if bias != nil {
			b = bias[oc]
		}
		for ti := t0; ti < t1; ti++ {
			ty, tx := ti/tw, ti%tw
			{
				base := oc*ldm + ti - t0
				for s := 0; s < 6; s++ {
					p := base + s*fstride
					t[0][s], t[1][s], t[2][s], t[3][s] = wgAT(m[p], m[p+6*fstride], m[p+12*fstride],
						m[p+18*fstride], m[p+24*fstride], m[p+30*fstride])
				}
				for k := 0; k < 4; k++ {
					row := ty*wgTile + k
					if row >= h {
						break
					}
					var o [4]float32
					o[0], o[1], o[2], o[3] = wgAT(t[k][0], t[k][1], t[k][2], t[k][3], t[k][4], t[k][5])
					for j, val := range o {
						col := tx*wgTile + j
						if col >= w {
							break
						}
						val += b
						if relu && !(val > 0) {
							val = 0
						}
						yc[row*w+col] = val
					}
				}
			}
		}
	}
}
