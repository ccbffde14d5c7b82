// Package kerasref is a slow, independent interpreter of Keras layer graphs
// in float64 and in Keras' own NHWC layout, written straight from the Keras
// layer definitions with direct loops (no im2col, no BLAS, no weight
// layout conversion, no batch-norm folding). Tests use it as an oracle for
// graph.FromKeras and the feature extractors built on it.
package kerasref

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"atelier/engine/model"
	"atelier/engine/tensor"
)

// Weights reads a weight by its Keras name in its stored shape;
// *model.LayersModel implements it.
type Weights interface {
	Weight(name string) (*tensor.Tensor, error)
}

// Tensor is an NHWC float64 tensor; 2-D values (after Flatten, Dense) have
// H = W = 1.
type Tensor struct {
	N, H, W, C int
	D          []float64
}

// New returns a zero tensor.
func New(n, h, w, c int) *Tensor {
	return &Tensor{N: n, H: h, W: w, C: c, D: make([]float64, n*h*w*c)}
}

func (t *Tensor) at(n, y, x, c int) float64 { return t.D[((n*t.H+y)*t.W+x)*t.C+c] }

// FromNCHW converts an NCHW float32 tensor to NHWC float64.
func FromNCHW(x *tensor.Tensor) *Tensor {
	n, c, h, w := x.Dims()
	t := New(n, h, w, c)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					t.D[((b*h+y)*w+xx)*c+ch] = float64(x.Data[((b*c+ch)*h+y)*w+xx])
				}
			}
		}
	}
	return t
}

// NCHWValue returns the element of t that an NCHW tensor of t's data holds
// at (n, c, y, x).
func (t *Tensor) NCHWValue(n, c, y, x int) float64 { return t.at(n, y, x, c) }

// RelDiff returns max|got - want| / max|want| for an NCHW float32 tensor got
// holding the same values as t, or an error when the shapes differ. A 2-D
// got [N, F] is compared with t flattened in NHWC order when H = W = 1.
func (t *Tensor) RelDiff(got *tensor.Tensor) (float64, error) {
	var n, c, h, w int
	switch len(got.Shape) {
	case 4:
		n, c, h, w = got.Dims()
	case 2:
		n, c, h, w = got.Shape[0], got.Shape[1], 1, 1
	default:
		return 0, fmt.Errorf("kerasref: cannot compare shape %v", got.Shape)
	}
	if n != t.N || c != t.C || h != t.H || w != t.W {
		return 0, fmt.Errorf("kerasref: got shape %v, reference NHWC [%d %d %d %d]", got.Shape, t.N, t.H, t.W, t.C)
	}
	maxDiff, maxAbs := 0.0, 0.0
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					want := t.at(b, y, x, ch)
					d := math.Abs(float64(got.Data[((b*c+ch)*h+y)*w+x]) - want)
					if d > maxDiff || math.IsNaN(d) {
						maxDiff = d
					}
					maxAbs = math.Max(maxAbs, math.Abs(want))
				}
			}
		}
	}
	if maxAbs == 0 {
		return maxDiff, nil
	}
	return maxDiff / maxAbs, nil
}

// Run evaluates the topology on input (NHWC) and returns the output of
// every layer computed, by layer name; a Conv2D or Dense with an activation
// also gives its output before the activation under name+"/preact". Only the
// ancestors of outputs are computed.
func Run(t *model.Topology, w Weights, input *Tensor, outputs []string) (map[string]*Tensor, error) {
	return RunWith(t, w, input, outputs, Options{})
}

// Options changes how Run interprets some layers.
type Options struct {
	// MaxPoolAsAvg evaluates MaxPooling2D layers as average pooling.
	MaxPoolAsAvg bool
}

// RunWith is Run with options.
func RunWith(t *model.Topology, w Weights, input *Tensor, outputs []string, opts Options) (map[string]*Tensor, error) {
	r := &runner{t: t, w: w, out: map[string]*Tensor{}, opts: opts}
	var in *model.Layer
	for _, l := range t.Layers {
		if l.ClassName == "InputLayer" {
			in = l
		}
	}
	if in == nil {
		return nil, errors.New("kerasref: no InputLayer")
	}
	r.out[in.Name] = input
	for _, o := range outputs {
		if _, err := r.eval(strings.TrimSuffix(o, "/preact")); err != nil {
			return nil, err
		}
	}
	return r.out, nil
}

type runner struct {
	t    *model.Topology
	w    Weights
	out  map[string]*Tensor
	opts Options
}

func (r *runner) weight(l *model.Layer, name string) ([]float64, []int, error) {
	full := l.Name + "/" + name
	c, _ := r.w.(*cached)
	if c != nil {
		if d, ok := c.f64[full]; ok {
			return d, c.m[full].Shape, nil
		}
	}
	t, err := r.w.Weight(full)
	if err != nil {
		return nil, nil, err
	}
	d := make([]float64, len(t.Data))
	for i, v := range t.Data {
		d[i] = float64(v)
	}
	if c != nil {
		c.f64[full] = d
	}
	return d, t.Shape, nil
}

func (r *runner) eval(name string) (*Tensor, error) {
	if o, ok := r.out[name]; ok {
		return o, nil
	}
	l := r.t.Layer(name)
	if l == nil {
		return nil, fmt.Errorf("kerasref: no layer %q", name)
	}
	var ins []*Tensor
	for _, n := range l.InboundNames() {
		x, err := r.eval(n)
		if err != nil {
			return nil, err
		}
		ins = append(ins, x)
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("kerasref: layer %q has no inputs", name)
	}
	y, err := r.layer(l, ins)
	if err != nil {
		return nil, fmt.Errorf("kerasref: layer %q (%s): %w", name, l.ClassName, err)
	}
	r.out[name] = y
	return y, nil
}

func (r *runner) layer(l *model.Layer, ins []*Tensor) (*Tensor, error) {
	x := ins[0]
	switch l.ClassName {
	case "Conv2D":
		y, err := r.conv(l, x)
		if err != nil {
			return nil, err
		}
		return r.activate(l, y)
	case "Dense":
		y, err := r.dense(l, x)
		if err != nil {
			return nil, err
		}
		return r.activate(l, y)
	case "Activation":
		return activation(l.Activation, x)
	case "ReLU":
		var c struct {
			NegativeSlope float64 `json:"negative_slope"`
		}
		if err := l.DecodeConfig(&c); err != nil {
			return nil, err
		}
		return leaky(x, c.NegativeSlope), nil
	case "LeakyReLU":
		c := struct {
			Alpha float64 `json:"alpha"`
		}{Alpha: 0.3}
		if err := l.DecodeConfig(&c); err != nil {
			return nil, err
		}
		return leaky(x, c.Alpha), nil
	case "BatchNormalization":
		return r.batchNorm(l, x)
	case "Add":
		y := New(x.N, x.H, x.W, x.C)
		for _, in := range ins {
			if len(in.D) != len(y.D) {
				return nil, errors.New("shapes differ")
			}
			for i, v := range in.D {
				y.D[i] += v
			}
		}
		return y, nil
	case "Concatenate":
		c := 0
		for _, in := range ins {
			c += in.C
		}
		y := New(x.N, x.H, x.W, c)
		for p := 0; p < x.N*x.H*x.W; p++ {
			off := 0
			for _, in := range ins {
				copy(y.D[p*c+off:p*c+off+in.C], in.D[p*in.C:(p+1)*in.C])
				off += in.C
			}
		}
		return y, nil
	case "ZeroPadding2D":
		top, bottom, left, right, err := l.ZeroPadding()
		if err != nil {
			return nil, err
		}
		y := New(x.N, x.H+top+bottom, x.W+left+right, x.C)
		for n := 0; n < x.N; n++ {
			for yy := 0; yy < x.H; yy++ {
				for xx := 0; xx < x.W; xx++ {
					for c := 0; c < x.C; c++ {
						y.D[((n*y.H+yy+top)*y.W+xx+left)*y.C+c] = x.at(n, yy, xx, c)
					}
				}
			}
		}
		return y, nil
	case "MaxPooling2D", "AveragePooling2D":
		return pool(l, x, l.ClassName == "MaxPooling2D" && !r.opts.MaxPoolAsAvg)
	case "GlobalAveragePooling2D":
		y := New(x.N, 1, 1, x.C)
		for n := 0; n < x.N; n++ {
			for c := 0; c < x.C; c++ {
				s := 0.0
				for p := 0; p < x.H*x.W; p++ {
					s += x.D[(n*x.H*x.W+p)*x.C+c]
				}
				y.D[n*x.C+c] = s / float64(x.H*x.W)
			}
		}
		return y, nil
	case "Flatten":
		return &Tensor{N: x.N, H: 1, W: 1, C: x.H * x.W * x.C, D: x.D}, nil
	case "UpSampling2D": // nearest: every pixel repeated fy x fx times
		fy, fx := pair(l.Size, 2)
		y := New(x.N, x.H*fy, x.W*fx, x.C)
		for n := 0; n < x.N; n++ {
			for yy := 0; yy < y.H; yy++ {
				for xx := 0; xx < y.W; xx++ {
					for c := 0; c < x.C; c++ {
						y.D[((n*y.H+yy)*y.W+xx)*y.C+c] = x.at(n, yy/fy, xx/fx, c)
					}
				}
			}
		}
		return y, nil
	case "Dropout":
		return x, nil
	}
	return nil, errors.New("unsupported class")
}

// activate applies l's fused activation, recording the pre-activation.
func (r *runner) activate(l *model.Layer, y *Tensor) (*Tensor, error) {
	if l.Activation == "" || l.Activation == "linear" {
		return y, nil
	}
	r.out[l.Name+"/preact"] = y
	return activation(l.Activation, y)
}

func activation(act string, x *Tensor) (*Tensor, error) {
	y := New(x.N, x.H, x.W, x.C)
	switch act {
	case "linear", "":
		copy(y.D, x.D)
	case "relu":
		return leaky(x, 0), nil
	case "tanh":
		for i, v := range x.D {
			y.D[i] = math.Tanh(v)
		}
	case "sigmoid":
		for i, v := range x.D {
			y.D[i] = 1 / (1 + math.Exp(-v))
		}
	case "softmax": // over the last (channel) axis
		for p := 0; p < x.N*x.H*x.W; p++ {
			row, out := x.D[p*x.C:(p+1)*x.C], y.D[p*x.C:(p+1)*x.C]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, v)
			}
			s := 0.0
			for i, v := range row {
				out[i] = math.Exp(v - m)
				s += out[i]
			}
			for i := range out {
				out[i] /= s
			}
		}
	default:
		return nil, fmt.Errorf("activation %q unsupported", act)
	}
	return y, nil
}

func leaky(x *Tensor, slope float64) *Tensor {
	y := New(x.N, x.H, x.W, x.C)
	for i, v := range x.D {
		if v < 0 {
			v *= slope
		}
		y.D[i] = v
	}
	return y
}

// geom returns the output size and padding before the first element for
// one axis with Keras "same" or "valid" padding.
func geom(in, k, stride, dil int, padding string) (out, before int) {
	ek := (k-1)*dil + 1
	if padding == "same" {
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+ek-in, 0)
		return out, total / 2
	}
	return (in-ek)/stride + 1, 0
}

func pair(v []int, def int) (int, int) {
	switch len(v) {
	case 0:
		return def, def
	case 1:
		return v[0], v[0]
	}
	return v[0], v[1]
}

func (r *runner) conv(l *model.Layer, x *Tensor) (*Tensor, error) {
	k, shape, err := r.weight(l, "kernel") // [kh, kw, in, out]
	if err != nil {
		return nil, err
	}
	kh, kw, ci, co := shape[0], shape[1], shape[2], shape[3]
	if ci != x.C {
		return nil, fmt.Errorf("kernel for %d channels, input has %d", ci, x.C)
	}
	var bias []float64
	if l.UseBias {
		if bias, _, err = r.weight(l, "bias"); err != nil {
			return nil, err
		}
	}
	sy, sx := pair(l.Strides, 1)
	dy, dx := pair(l.DilationRate, 1)
	oh, pt := geom(x.H, kh, sy, dy, l.Padding)
	ow, pl := geom(x.W, kw, sx, dx, l.Padding)
	y := New(x.N, oh, ow, co)
	for n := 0; n < x.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				acc := y.D[((n*oh+oy)*ow+ox)*co : ((n*oh+oy)*ow+ox+1)*co]
				if bias != nil {
					copy(acc, bias)
				}
				for i := 0; i < kh; i++ {
					iy := oy*sy - pt + i*dy
					if iy < 0 || iy >= x.H {
						continue
					}
					for j := 0; j < kw; j++ {
						ix := ox*sx - pl + j*dx
						if ix < 0 || ix >= x.W {
							continue
						}
						px := x.D[((n*x.H+iy)*x.W+ix)*x.C : ((n*x.H+iy)*x.W+ix+1)*x.C]
						for c, v := range px {
							wrow := k[((i*kw+j)*ci+c)*co : ((i*kw+j)*ci+c+1)*co]
							for o, wv := range wrow {
								acc[o] += v * wv
							}
						}
					}
				}
			}
		}
	}
	return y, nil
}

func (r *runner) dense(l *model.Layer, x *Tensor) (*Tensor, error) {
	k, shape, err := r.weight(l, "kernel") // [in, out]
	if err != nil {
		return nil, err
	}
	in, out := shape[0], shape[1]
	if in != x.H*x.W*x.C {
		return nil, fmt.Errorf("kernel for %d inputs, input has %d", in, x.H*x.W*x.C)
	}
	var bias []float64
	if l.UseBias {
		if bias, _, err = r.weight(l, "bias"); err != nil {
			return nil, err
		}
	}
	y := New(x.N, 1, 1, out)
	for n := 0; n < x.N; n++ {
		row := x.D[n*in : (n+1)*in]
		acc := y.D[n*out : (n+1)*out]
		if bias != nil {
			copy(acc, bias)
		}
		for i, v := range row {
			for o, wv := range k[i*out : (i+1)*out] {
				acc[o] += v * wv
			}
		}
	}
	return y, nil
}

func (r *runner) batchNorm(l *model.Layer, x *Tensor) (*Tensor, error) {
	mean, _, err := r.weight(l, "moving_mean")
	if err != nil {
		return nil, err
	}
	variance, _, err := r.weight(l, "moving_variance")
	if err != nil {
		return nil, err
	}
	gamma, beta := make([]float64, x.C), make([]float64, x.C)
	for i := range gamma {
		gamma[i] = 1
	}
	if l.Scale {
		if gamma, _, err = r.weight(l, "gamma"); err != nil {
			return nil, err
		}
	}
	if l.Center {
		if beta, _, err = r.weight(l, "beta"); err != nil {
			return nil, err
		}
	}
	eps := l.Epsilon
	if eps == 0 {
		eps = 1e-3
	}
	y := New(x.N, x.H, x.W, x.C)
	for i, v := range x.D {
		c := i % x.C
		y.D[i] = gamma[c]*(v-mean[c])/math.Sqrt(variance[c]+eps) + beta[c]
	}
	return y, nil
}

func pool(l *model.Layer, x *Tensor, isMax bool) (*Tensor, error) {
	kh, kw := pair(l.PoolSize, 2)
	sy, sx := pair(l.Strides, 0)
	if sy == 0 {
		sy, sx = kh, kw
	}
	oh, pt := geom(x.H, kh, sy, 1, l.Padding)
	ow, pl := geom(x.W, kw, sx, 1, l.Padding)
	y := New(x.N, oh, ow, x.C)
	for n := 0; n < x.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for c := 0; c < x.C; c++ {
					best, sum, count := math.Inf(-1), 0.0, 0
					for i := 0; i < kh; i++ {
						iy := oy*sy - pt + i
						if iy < 0 || iy >= x.H {
							continue
						}
						for j := 0; j < kw; j++ {
							ix := ox*sx - pl + j
							if ix < 0 || ix >= x.W {
								continue
							}
							v := x.at(n, iy, ix, c)
							best = math.Max(best, v)
							sum += v
							count++
						}
					}
					v := best
					if !isMax {
						v = sum / float64(count)
					}
					y.D[((n*oh+oy)*ow+ox)*x.C+c] = v
				}
			}
		}
	}
	return y, nil
}

// cached remembers every weight read, for repeated runs on one model.
type cached struct {
	w   Weights
	m   map[string]*tensor.Tensor
	f64 map[string][]float64 // the runner's float64 copies
}

// Cached wraps w so that each weight is read (and decoded) only once;
// central differences run the reference many times on one model.
func Cached(w Weights) Weights {
	return &cached{w: w, m: map[string]*tensor.Tensor{}, f64: map[string][]float64{}}
}

func (c *cached) Weight(name string) (*tensor.Tensor, error) {
	if t, ok := c.m[name]; ok {
		return t, nil
	}
	t, err := c.w.Weight(name)
	if err != nil {
		return nil, err
	}
	c.m[name] = t
	return t, nil
}
