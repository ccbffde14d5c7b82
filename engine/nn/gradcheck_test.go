package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"atelier/engine/tensor"
)

// Shared gradient-checking helpers for the layer tests of this package.
//
// checkLayerGrad compares a layer's analytic gradients with float64 central
// differences of the scalar loss L = sum(y * r), where y = l.Forward(x) and r
// is a fixed pseudo-random tensor of y's shape. Both dL/dx (returned by
// Backward(r)) and every Param.Grad are checked. The forward pass stays
// float32: the loss is summed in float64 and the perturbation is large enough
// (gradEps, relative to the value) that float32 rounding stays well below the
// tolerance. Layers with kinks (ReLU, max pooling) need inputs that keep
// every value more than gradEps away from a kink.

const (
	// gradEps is the central-difference step, relative to max(1, |v|).
	gradEps = 1e-2
)

// gradMaxChecks bounds the elements perturbed per tensor; larger tensors are
// checked on a fixed random subset that always includes both ends. It is
// smaller under the race detector (gradcheck_race_test.go), which slows the
// many perturbed forward passes down about fifteen-fold.
const gradMaxChecks = 400 / raceCheckDivisor

// checkLayerGrad fails t when any checked gradient entry g (analytic) and n
// (numeric) differ by more than tol*max(|g|, |n|, 0.05*s), where s is the
// largest analytic magnitude of that tensor's gradient. tol around 1e-2 suits
// float32 layers.
func checkLayerGrad(t *testing.T, l Layer, x *tensor.Tensor, tol float64) {
	t.Helper()
	for _, e := range layerGradErrors(l, x, tol) {
		t.Error(e)
	}
}

// layerGradErrors does the work of checkLayerGrad and returns at most a few
// messages per tensor describing mismatches (none when the gradients agree).
func layerGradErrors(l Layer, x *tensor.Tensor, tol float64) []string {
	var errs []string
	if w, ok := l.(WeightGradSetter); ok {
		w.SetWeightGrad(true)
	}
	var params []*Param
	if p, ok := l.(Parametrised); ok {
		params = p.Params()
	}
	xOrig := x.Clone()

	y := l.Forward(x)
	rng := rand.New(rand.NewSource(int64(7 + len(y.Data))))
	r := tensor.New(y.Shape...)
	for i := range r.Data {
		r.Data[i] = float32(rng.Float64()*2 - 1)
	}
	loss := func() float64 {
		y := l.Forward(x)
		s := 0.0
		for i, v := range y.Data {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}

	ZeroGrads(params)
	dx := l.Backward(r.Clone())
	if !tensor.ShapeEqual(dx.Shape, x.Shape) {
		return []string{fmt.Sprintf("dx shape %v, want input shape %v", dx.Shape, x.Shape)}
	}
	if d := tensor.MaxAbsDiff(x, xOrig); d != 0 {
		errs = append(errs, fmt.Sprintf("forward/backward modified the input (max change %g)", d))
	}
	anaX := dx.Clone()
	anaP := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		if p.Grad == nil {
			errs = append(errs, fmt.Sprintf("param %q has a nil Grad with weight gradients on", p.Name))
			continue
		}
		anaP[i] = p.Grad.Clone()
	}

	errs = append(errs, compareNumeric("dL/dx", x.Data, anaX.Data, loss, tol)...)
	// Layers that cache values derived from their weights (Conv2D's
	// Winograd transforms) are told about every perturbation.
	paramLoss := loss
	if wc, ok := l.(interface{ WeightsChanged() }); ok {
		paramLoss = func() float64 {
			wc.WeightsChanged()
			return loss()
		}
	}
	for i, p := range params {
		if anaP[i] == nil {
			continue
		}
		errs = append(errs, compareNumeric("dL/d"+p.Name, p.Value.Data, anaP[i].Data, paramLoss, tol)...)
	}
	if wc, ok := l.(interface{ WeightsChanged() }); ok {
		wc.WeightsChanged() // the values are restored
	}
	return errs
}

// compareNumeric perturbs v (in place, restored afterwards) to estimate the
// gradient of loss numerically and compares it with ana.
func compareNumeric(name string, v, ana []float32, loss func() float64, tol float64) []string {
	if len(v) != len(ana) {
		return []string{fmt.Sprintf("%s: gradient has %d values, want %d", name, len(ana), len(v))}
	}
	scale := 0.0
	for _, g := range ana {
		scale = math.Max(scale, math.Abs(float64(g)))
	}
	idx := checkIndices(len(v))
	var errs []string
	bad := 0
	for _, i := range idx {
		orig := v[i]
		h := float32(gradEps * math.Max(1, math.Abs(float64(orig))))
		v[i] = orig + h
		hp := float64(v[i]) - float64(orig) // the step actually taken in float32
		lp := loss()
		v[i] = orig - h
		hm := float64(orig) - float64(v[i])
		lm := loss()
		v[i] = orig
		num := (lp - lm) / (hp + hm)
		g := float64(ana[i])
		lim := tol * math.Max(math.Max(math.Abs(g), math.Abs(num)), math.Max(0.05*scale, 1e-6))
		if math.Abs(g-num) > lim || math.IsNaN(g) {
			bad++
			if bad <= 3 {
				errs = append(errs, fmt.Sprintf("%s[%d]: analytic %.6g, numeric %.6g", name, i, g, num))
			}
		}
	}
	if bad > 3 {
		errs = append(errs, fmt.Sprintf("%s: %d of %d checked entries differ", name, bad, len(idx)))
	}
	return errs
}

// checkIndices returns every index below n, or a fixed random subset of
// gradMaxChecks indices that includes 0 and n-1.
func checkIndices(n int) []int {
	if n <= gradMaxChecks {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	rng := rand.New(rand.NewSource(int64(n)))
	idx := append([]int{0, n - 1}, rng.Perm(n)[:gradMaxChecks-2]...)
	return idx
}

// randTensor returns a tensor of the given shape with values uniform in
// [-1, 1), reproducible from seed.
func randTensor(seed int64, shape ...int) *tensor.Tensor {
	rng := rand.New(rand.NewSource(seed))
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.Float64()*2 - 1)
	}
	return t
}

// scaleLayer is y = a*x with a scalar parameter a; badBackward makes its
// input gradient wrong so the checker's own test can see it fail.
type scaleLayer struct {
	a           *Param
	x, y, dx    *tensor.Tensor
	badBackward bool
}

func (s *scaleLayer) Forward(x *tensor.Tensor) *tensor.Tensor {
	s.x = x
	s.y = tensor.Ensure(s.y, x.Shape...)
	for i, v := range x.Data {
		s.y.Data[i] = s.a.Value.Data[0] * v * v
	}
	return s.y
}

func (s *scaleLayer) Backward(dy *tensor.Tensor) *tensor.Tensor {
	s.dx = tensor.Ensure(s.dx, dy.Shape...)
	k := float32(2)
	if s.badBackward {
		k = 2.1
	}
	for i, g := range dy.Data {
		s.dx.Data[i] = k * s.a.Value.Data[0] * s.x.Data[i] * g
		s.a.Grad.Data[0] += g * s.x.Data[i] * s.x.Data[i]
	}
	return s.dx
}

func (s *scaleLayer) Params() []*Param { return []*Param{s.a} }

func TestGradCheckerDetectsErrors(t *testing.T) {
	x := randTensor(1, 2, 3, 4, 5)
	good := &scaleLayer{a: NewParam("a", tensor.FromData([]float32{1.5}, 1))}
	checkLayerGrad(t, good, x, 1e-2)

	bad := &scaleLayer{a: NewParam("a", tensor.FromData([]float32{1.5}, 1)), badBackward: true}
	if errs := layerGradErrors(bad, x, 1e-2); len(errs) == 0 {
		t.Error("a 5% error in dL/dx went unnoticed")
	}
}
