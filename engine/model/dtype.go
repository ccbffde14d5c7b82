package model

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Quantization describes how a TF.js weight is stored in fewer bits:
// uint8 and uint16 values q stand for q*Scale+Min; float16 values are IEEE
// half-precision floats.
type Quantization struct {
	DType         string  `json:"dtype"`
	Scale         float64 `json:"scale"`
	Min           float64 `json:"min"`
	OriginalDType string  `json:"original_dtype,omitempty"`
}

// storedBytes is the number of bytes one element takes in a shard.
func storedBytes(dtype string, q *Quantization) (int, error) {
	if q != nil {
		switch q.DType {
		case "uint8":
			return 1, nil
		case "uint16", "float16":
			return 2, nil
		}
		return 0, fmt.Errorf("%w: quantisation dtype %q", ErrUnsupported, q.DType)
	}
	switch dtype {
	case "float32", "int32":
		return 4, nil
	case "bool":
		return 1, nil
	}
	return 0, fmt.Errorf("%w: dtype %q", ErrUnsupported, dtype)
}

// decodeFloat32 decodes n stored elements from b into dst (len(dst) == n).
// b must hold exactly n*storedBytes bytes.
func decodeFloat32(dst []float32, b []byte, dtype string, q *Quantization) {
	if q != nil {
		round := dtype == "int32"
		switch q.DType {
		case "uint8":
			for i := range dst {
				dst[i] = dequant(float64(b[i]), q, round)
			}
		case "uint16":
			for i := range dst {
				dst[i] = dequant(float64(binary.LittleEndian.Uint16(b[2*i:])), q, round)
			}
		case "float16":
			for i := range dst {
				dst[i] = HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
			}
		}
		return
	}
	switch dtype {
	case "float32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "int32":
		for i := range dst {
			dst[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case "bool":
		for i := range dst {
			if b[i] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	}
}

func dequant(q float64, p *Quantization, round bool) float32 {
	v := q*p.Scale + p.Min
	if round {
		v = math.Round(v)
	}
	return float32(v)
}

// HalfToFloat32 converts an IEEE 754 half-precision value to float32,
// keeping signed zeros, subnormals, infinities and NaNs.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / (1 << 24) // subnormal: mant * 2^-24
		if sign != 0 {
			f = -f
		}
		return f
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// volume multiplies dims, failing on negative dims or a product that would
// not fit a slice length (both only come from bad files).
func volume(shape []int) (int, error) {
	const limit = 1 << 40
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > limit/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	if n > math.MaxInt32*4 {
		return 0, fmt.Errorf("shape %v is too large", shape)
	}
	return n, nil
}
