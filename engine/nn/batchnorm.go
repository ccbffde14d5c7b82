package nn

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// FoldBatchNorm folds an inference-mode batch normalisation that follows c
// into c's weight and bias, in place: with s = gamma/sqrt(variance+eps),
// w' = w*s per output channel and b' = (b-mean)*s + beta (b = 0 when c has
// no bias; a bias parameter is then added). Every slice must have one value
// per output channel and variance+eps must be positive; otherwise c is left
// unchanged and the error wraps ErrShape.
func FoldBatchNorm(c *Conv2D, gamma, beta, mean, variance []float32, eps float32) error {
	if c == nil || c.weight == nil {
		return fmt.Errorf("nn: fold batch norm: %w: no convolution weight", ErrShape)
	}
	w := c.weight.Value
	out := w.Shape[0]
	for _, s := range [][]float32{gamma, beta, mean, variance} {
		if len(s) != out {
			return fmt.Errorf("nn: fold batch norm: %w: %d values for %d output channels", ErrShape, len(s), out)
		}
	}
	scale := make([]float64, out)
	for o := range scale {
		v := float64(variance[o]) + float64(eps)
		if !(v > 0) {
			return fmt.Errorf("nn: fold batch norm: %w: variance+eps %g at channel %d is not positive", ErrShape, v, o)
		}
		scale[o] = float64(gamma[o]) / math.Sqrt(v)
	}
	per := w.Len() / out
	for o, s := range scale {
		row := w.Data[o*per : (o+1)*per]
		for i, v := range row {
			row[i] = float32(float64(v) * s)
		}
	}
	if c.bias == nil {
		c.bias = NewParam("bias", tensor.New(out))
	}
	b := c.bias.Value.Data
	for o, s := range scale {
		b[o] = float32((float64(b[o])-float64(mean[o]))*s + float64(beta[o]))
	}
	c.WeightsChanged()
	return nil
}
