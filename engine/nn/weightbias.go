package nn

// weightBias holds the weight and optional bias of a convolution or dense
// layer and whether their gradients are wanted; layers embed it for their
// Params and SetWeightGrad.
type weightBias struct {
	weight, bias *Param
	wgrad        bool
}

// Params returns the weight and, when present, the bias.
func (w *weightBias) Params() []*Param {
	var ps []*Param
	if w.weight != nil {
		ps = append(ps, w.weight)
	}
	if w.bias != nil {
		ps = append(ps, w.bias)
	}
	return ps
}

// SetWeightGrad turns the weight and bias gradients on or off.
func (w *weightBias) SetWeightGrad(on bool) { w.wgrad = on }
