package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestMaxPool2x2PlanesMatchesGo checks the 2x2 pooling used by MaxPool2D
// (vectorised with cgo) against the Go loops bit for bit, forward and
// backward, on data full of ties, signed zeros and NaNs, for sizes with
// and without odd edges and rows shorter and longer than a vector.
func TestMaxPool2x2PlanesMatchesGo(t *testing.T) {
	for _, sz := range [][2]int{{2, 2}, {3, 5}, {4, 32}, {5, 33}, {6, 34}, {7, 67}, {16, 64}, {9, 70}, {2, 130}} {
		h, w := sz[0], sz[1]
		t.Run(fmt.Sprintf("%dx%d", h, w), func(t *testing.T) {
			const n = 3
			oh, ow := h/2, w/2
			rng := rand.New(rand.NewSource(int64(h*1000 + w)))
			x := make([]float32, n*h*w)
			for i := range x {
				switch r := rng.Intn(20); {
				case r == 0:
					x[i] = float32(math.NaN())
				case r == 1:
					x[i] = float32(math.Copysign(0, -1))
				case r == 2:
					x[i] = 0
				default:
					x[i] = float32(rng.Intn(5) - 2) // many ties
				}
			}
			y, arg := make([]float32, n*oh*ow), make([]int32, n*oh*ow)
			wantY, wantArg := make([]float32, n*oh*ow), make([]int32, n*oh*ow)
			maxPool2x2Planes(x, y, arg, n, h, w, oh, ow)
			maxPool2x2PlanesGo(x, wantY, wantArg, n, h, w, oh, ow)
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(wantY[i]) || arg[i] != wantArg[i] {
					t.Fatalf("output %d: %v (winner %d), want %v (winner %d)", i, y[i], arg[i], wantY[i], wantArg[i])
				}
			}
			g := make([]float32, n*oh*ow)
			for i := range g {
				g[i] = float32(rng.NormFloat64())
			}
			dx, wantDx := make([]float32, n*h*w), make([]float32, n*h*w)
			for i := range dx { // stale values must be overwritten
				dx[i], wantDx[i] = 7, 7
			}
			maxPool2x2BackwardPlanes(dx, g, arg, n, h, w, oh, ow)
			maxPool2x2BackwardPlanesGo(wantDx, g, wantArg, n, h, w, oh, ow)
			for i := range dx {
				if math.Float32bits(dx[i]) != math.Float32bits(wantDx[i]) {
					t.Fatalf("input gradient %d: %v, want %v", i, dx[i], wantDx[i])
				}
			}
		})
	}
}
