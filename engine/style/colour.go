package style

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// Luma weights of ITU-R BT.601: the Y of both YIQ and YCbCr.
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// checkRGB panics unless t is [1,3,H,W]; callers validate user input first.
func checkRGB(t *tensor.Tensor, what string) (h, w int) {
	if t == nil || len(t.Shape) != 4 || t.Shape[0] != 1 || t.Shape[1] != 3 || len(t.Data) != tensor.Volume(t.Shape) {
		panic(fmt.Sprintf("style: %s is %v, want RGB [1,3,H,W]", what, t))
	}
	return t.Shape[2], t.Shape[3]
}

// PreserveColour writes into dst (reused when large enough, see
// tensor.Ensure) the image with the luminance of result and the chroma of
// content, both RGB [1,3,H,W] in 0..255 of one size, and returns it.
//
// This is the luminance-only transfer of Gatys et al., "Preserving Color in
// Neural Artistic Style Transfer" (2016), applied after the optimisation:
// with Y the BT.601 luma, the result's Y is recombined with the content's
// chroma (I and Q of YIQ, equally Cb and Cr of YCbCr). Because gray
// (1,1,1) has luma 1 and no chroma in both spaces, this is exactly
//
//	out = content + (Y(result) − Y(content))·(1,1,1),
//
// clamped to 0..255. Clamping alters the chroma of pixels whose new
// luminance does not fit the content's colour (very saturated colours made
// much lighter or darker); everywhere else the content's chroma is kept to
// float rounding.
func PreserveColour(dst, result, content *tensor.Tensor) *tensor.Tensor {
	h, w := checkRGB(result, "the result")
	ch, cw := checkRGB(content, "the content")
	if h != ch || w != cw {
		panic(fmt.Sprintf("style: PreserveColour of a %dx%d result with a %dx%d content", w, h, cw, ch))
	}
	dst = tensor.Ensure(dst, 1, 3, h, w)
	hw := h * w
	r, g, b := result.Data[:hw], result.Data[hw:2*hw], result.Data[2*hw:3*hw]
	cr, cg, cb := content.Data[:hw], content.Data[hw:2*hw], content.Data[2*hw:3*hw]
	dr, dg, db := dst.Data[:hw], dst.Data[hw:2*hw], dst.Data[2*hw:3*hw]
	for i := range hw {
		dy := float32(lumaR*(r[i]-cr[i]) + lumaG*(g[i]-cg[i]) + lumaB*(b[i]-cb[i]))
		dr[i] = clamp255(cr[i] + dy)
		dg[i] = clamp255(cg[i] + dy)
		db[i] = clamp255(cb[i] + dy)
	}
	return dst
}

func clamp255(v float32) float32 { return min(max(v, 0), 255) }

// MatchMethod selects how MatchColour maps one colour distribution onto
// another.
type MatchMethod int

const (
	// MatchPCA uses the symmetric square roots, A = Σr^½·Σs^-½ (the
	// "image analogies" colour transfer Gatys et al. 2016 use): it rotates
	// the colours least.
	MatchPCA MatchMethod = iota
	// MatchCholesky uses the Cholesky factors, A = Lr·Ls⁻¹.
	MatchCholesky
)

// colourStats holds the mean and covariance of an image's RGB pixels.
type colourStats struct {
	mean [3]float64
	cov  [3][3]float64
}

// statsOf computes the colour mean and covariance of an RGB [1,3,H,W] image.
func statsOf(img *tensor.Tensor) colourStats {
	h, w := checkRGB(img, "the image")
	hw := h * w
	var st colourStats
	ch := [3][]float32{img.Data[:hw], img.Data[hw : 2*hw], img.Data[2*hw : 3*hw]}
	for c := range 3 {
		var s float64
		for _, v := range ch[c] {
			s += float64(v)
		}
		st.mean[c] = s / float64(hw)
	}
	for i := range hw {
		d := [3]float64{float64(ch[0][i]) - st.mean[0], float64(ch[1][i]) - st.mean[1], float64(ch[2][i]) - st.mean[2]}
		for a := range 3 {
			for b := a; b < 3; b++ {
				st.cov[a][b] += d[a] * d[b]
			}
		}
	}
	for a := range 3 {
		for b := a; b < 3; b++ {
			st.cov[a][b] /= float64(hw)
			st.cov[b][a] = st.cov[a][b]
		}
	}
	return st
}

// covEps is added to the diagonal of both covariances before they are
// factored, so that a flat or gray image (a singular covariance) gives a
// finite transform. It moves the matched covariance by covEps·(I − A·Aᵀ),
// a fraction of a unit of variance for ordinary images.
const covEps = 0.01

// MatchColour returns a new image: src (RGB [1,3,H,W], 0..255) with its
// colours mapped affinely, x' = A·(x − μs) + μr, so that their mean and
// covariance become those of ref (RGB, any size), clamped to 0..255. The
// method chooses A (see MatchMethod). Gatys et al. (2016) apply this to
// the style image so that the result keeps the content's palette while the
// style's texture is transferred.
func MatchColour(src, ref *tensor.Tensor, method MatchMethod) *tensor.Tensor {
	return matchTo(src, statsOf(ref), method)
}

func matchTo(src *tensor.Tensor, ref colourStats, method MatchMethod) *tensor.Tensor {
	s := statsOf(src)
	a := matchMatrix(s.cov, ref.cov, method)
	h, w := src.Shape[2], src.Shape[3]
	hw := h * w
	out := tensor.New(1, 3, h, w)
	for i := range hw {
		d := [3]float64{
			float64(src.Data[i]) - s.mean[0],
			float64(src.Data[hw+i]) - s.mean[1],
			float64(src.Data[2*hw+i]) - s.mean[2],
		}
		for c := range 3 {
			v := a[c][0]*d[0] + a[c][1]*d[1] + a[c][2]*d[2] + ref.mean[c]
			out.Data[c*hw+i] = float32(min(max(v, 0), 255))
		}
	}
	return out
}

type mat3 = [3][3]float64

// matchMatrix returns A with A·Σs·Aᵀ = Σr (both regularised by covEps).
func matchMatrix(cs, cr mat3, method MatchMethod) mat3 {
	for i := range 3 {
		cs[i][i] += covEps
		cr[i][i] += covEps
	}
	switch method {
	case MatchCholesky:
		return mul3(cholesky3(cr), invLower3(cholesky3(cs)))
	default:
		return mul3(symPow3(cr, 0.5), symPow3(cs, -0.5))
	}
}

func mul3(a, b mat3) mat3 {
	var c mat3
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

// cholesky3 returns the lower-triangular L with L·Lᵀ = a (a symmetric
// positive definite).
func cholesky3(a mat3) mat3 {
	var l mat3
	for i := range 3 {
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				l[i][i] = math.Sqrt(math.Max(s, 1e-12))
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	return l
}

// invLower3 inverts a lower-triangular matrix with a positive diagonal.
func invLower3(l mat3) mat3 {
	var inv mat3
	for j := range 3 {
		inv[j][j] = 1 / l[j][j]
		for i := j + 1; i < 3; i++ {
			var s float64
			for k := j; k < i; k++ {
				s -= l[i][k] * inv[k][j]
			}
			inv[i][j] = s / l[i][i]
		}
	}
	return inv
}

// symPow3 returns a^p for a symmetric positive definite a, through its
// eigendecomposition (cyclic Jacobi).
func symPow3(a mat3, p float64) mat3 {
	v := mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	for sweep := 0; sweep < 50; sweep++ {
		off := a[0][1]*a[0][1] + a[0][2]*a[0][2] + a[1][2]*a[1][2]
		if off < 1e-30*(a[0][0]*a[0][0]+a[1][1]*a[1][1]+a[2][2]*a[2][2]) {
			break
		}
		for i := 0; i < 2; i++ {
			for j := i + 1; j < 3; j++ {
				if a[i][j] == 0 {
					continue
				}
				theta := (a[j][j] - a[i][i]) / (2 * a[i][j])
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				// a = Jᵀ·a·J with the rotation J in the (i, j) plane.
				for k := range 3 {
					aki, akj := a[k][i], a[k][j]
					a[k][i] = c*aki - s*akj
					a[k][j] = s*aki + c*akj
				}
				for k := range 3 {
					aik, ajk := a[i][k], a[j][k]
					a[i][k] = c*aik - s*ajk
					a[j][k] = s*aik + c*ajk
				}
				for k := range 3 {
					vki, vkj := v[k][i], v[k][j]
					v[k][i] = c*vki - s*vkj
					v[k][j] = s*vki + c*vkj
				}
			}
		}
	}
	var out mat3
	for k := range 3 {
		e := math.Pow(math.Max(a[k][k], 1e-12), p)
		for i := range 3 {
			for j := range 3 {
				out[i][j] += v[i][k] * e * v[j][k]
			}
		}
	}
	return out
}
