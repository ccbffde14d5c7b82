package sr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"atelier/engine/graph"
	"atelier/engine/model"
	"atelier/engine/tensor"
	"atelier/weights"
)

// The project's own networks ("srcnn", "pixel", "perceptual"), trained by
// engine/sr/train and shipped in the repository (weights/sr, embedded in
// the binary). They are TF.js layers models like the UpscalerJS ones and
// run through engine/graph, but they predict a residual over bicubic
// interpolation, which this file adds back. Two kinds exist, told apart by
// the model's input:
//
//   - one input channel (SRCNN): the network sees the luma Y/255 (BT.601,
//     as Luma) of the bicubic-enlarged image and returns a correction of
//     Y/255 at the same size; the correction is added to each of R, G and
//     B times 255/219, which changes Y by exactly the correction and keeps
//     the chroma Cb, Cr of the bicubic image.
//   - three input channels (pixel and perceptual nets): the network sees
//     the low-resolution RGB/255, upscales it itself (pixel shuffle) and
//     returns a correction of RGB/255 at the output size.
//
// Both are tiled like the other networks: over the enlarged image for the
// first kind (factor 1), over the input for the second.

// ownFS holds the shipped weights, one folder per model ("srcnn-x3").
var ownFS = func() fs.FS {
	f, err := fs.Sub(weights.SR, "sr")
	if err != nil {
		panic(err) // "sr" is a valid path: cannot happen
	}
	return f
}()

// OwnNetwork is an upscaler backed by one of the project's own residual
// networks; see OpenModelDir and the methods "srcnn", "pixel" and
// "perceptual".
type OwnNetwork struct {
	method string
	scale  int
	luma   bool // the network works on Y of the bicubic image
	tile   int  // <= 0: whole image
	over   int
	shape  modelShape
	wk     *netWorker
	output string
	plane  *tensor.Tensor // luma kind: the Y/255 plane of the bicubic image
	// ensemble averages the corrections of the eight flips and transposes
	// (Options.SelfEnsemble).
	ensemble bool
}

// openOwn loads the shipped weights of method m at scale.
func openOwn(m Method, scale int, opt Options) (*OwnNetwork, error) {
	name := m.own[scale]
	lm, ws, err := model.LoadLayersModelFS(ownFS, name)
	if err != nil {
		if errors.Is(err, model.ErrUnavailable) {
			return nil, fmt.Errorf("%w: %s x%d: the weights %s are not in this build: %v", ErrModelMissing, m.Name, scale, name, err)
		}
		return nil, fmt.Errorf("sr: %s: %w", name, err)
	}
	return newOwn(m.Name, lm, ws, scale, m.net.overlap, opt)
}

// OpenModelDir opens a model written by the trainer (engine/sr/train): the
// folder holding its model.json, or the model.json itself. scale is the
// factor it was trained for (a luma network works at any factor, but is
// only good at the one it learnt). The name it reports is "own".
func OpenModelDir(path string, scale int, opt Options) (*OwnNetwork, error) {
	lm, err := model.OpenLayersModel(path)
	if err != nil {
		return nil, fmt.Errorf("sr: %w", err)
	}
	return newOwn("own", lm, lm, scale, 16, opt)
}

// newOwn builds the network and checks that it is one of the two kinds.
func newOwn(method string, lm *model.LayersModel, ws graph.WeightSource, scale, overlap int, opt Options) (*OwnNetwork, error) {
	if scale < 1 || scale > MaxBicubicScale {
		return nil, fmt.Errorf("%w: %s: x%d", ErrScale, method, scale)
	}
	t := lm.Topology
	if t == nil || len(t.InputLayers) != 1 || len(t.OutputLayers) != 1 {
		return nil, fmt.Errorf("sr: %s: %w: want one input and one output", method, model.ErrFormat)
	}
	in := t.Layer(t.InputLayers[0].Layer)
	if in == nil || len(in.BatchInputShape) != 4 {
		return nil, fmt.Errorf("sr: %s: %w: the input layer has no [batch, height, width, channels] shape", method, model.ErrFormat)
	}
	g, out, err := buildOwnGraph(t, ws)
	if err != nil {
		if errors.Is(err, graph.ErrUnavailable) || errors.Is(err, model.ErrUnavailable) {
			return nil, fmt.Errorf("%w: %s: %v", ErrModelMissing, method, err)
		}
		return nil, fmt.Errorf("sr: %s: %w", method, err)
	}
	shape, err := analyse(t)
	if err != nil {
		return nil, fmt.Errorf("sr: %s: %w", method, err)
	}
	n := &OwnNetwork{method: method, scale: scale, shape: shape, wk: &netWorker{g: g}, output: out, ensemble: opt.SelfEnsemble}
	switch ch := in.BatchInputShape[3]; {
	case ch == 1 && shape.scale == 1:
		n.luma = true
	case ch == 3 && shape.scale == scale:
	default:
		return nil, fmt.Errorf("sr: %s: %w: a network with %d input channels that enlarges x%d is not an x%d residual upscaler (want 1 channel and x1, or 3 channels and x%d)",
			method, model.ErrFormat, ch, shape.scale, scale, scale)
	}
	n.tile, n.over = opt.Tile, opt.Overlap
	if n.tile == 0 {
		n.tile = autoTile(shape.floatsPerPixel)
		if n.luma { // the tile is in output pixels
			n.tile = autoTile(shape.floatsPerPixel) / 8 * 8
		}
	}
	if n.over <= 0 {
		n.over = overlap
	}
	if n.tile > 0 {
		n.tile = max(n.tile, 16)
		n.over = min(n.over, n.tile/2)
	}
	return n, nil
}

// buildOwnGraph builds the graph of an own network: standard Keras layers
// plus PixelShuffle (TensorFlow's depth_to_space, as in esrgan-thick), fused
// for forward-only use in inference mode.
func buildOwnGraph(t *model.Topology, ws graph.WeightSource) (*graph.Graph, string, error) {
	custom := map[string]graph.LayerFactory{}
	for _, l := range t.Layers {
		if strings.HasPrefix(l.ClassName, "PixelShuffle") {
			custom[l.ClassName] = newPixelShuffle
		}
	}
	g, err := graph.FromKeras(t, ws, graph.KerasOptions{Custom: custom, FuseReLU: true})
	if err != nil {
		return nil, "", err
	}
	out := t.OutputLayers[0].Layer
	if err := g.Check(out); err != nil {
		return nil, "", err
	}
	g.SetWeightGrad(false)
	// Forward only, as the UpscalerJS networks (see buildGraph).
	if _, err := g.Fuse(); err != nil {
		return nil, "", err
	}
	g.SetReducedPrecision(true)
	g.SetInference(true)
	return g, out, nil
}

// Name returns the method's name.
func (n *OwnNetwork) Name() string { return n.method }

// Scale returns the upscaling factor.
func (n *OwnNetwork) Scale() int { return n.scale }

// Luma reports whether the network corrects the luma of the bicubic image
// (SRCNN) rather than upscaling RGB itself.
func (n *OwnNetwork) Luma() bool { return n.luma }

// Tiling returns the tile side and overlap, in input pixels for RGB
// networks and in output pixels for luma networks (tile <= 0: the whole
// image at once).
func (n *OwnNetwork) Tiling() (tile, overlap int) { return n.tile, n.over }

// ReceptiveMargin is the theoretical receptive-field radius of the network,
// in the pixels Tiling counts.
func (n *OwnNetwork) ReceptiveMargin() int { return n.shape.margin }

// lumaGain turns a change of Y into the equal change of R, G and B that
// keeps Cb and Cr (MATLAB's ycbcr2rgb: 255/219 per level of Y).
const lumaGain = 255.0 / 219.0

// Upscale enlarges rgb by bicubic interpolation and adds the network's
// correction, tile by tile. The network's input is first mirrored outwards
// by its receptive-field radius, so pixels at the image's edges see
// picture rather than the zero padding it was not trained on (training
// measures the loss away from patch edges). With Options.SelfEnsemble the
// correction is the mean over the eight flips and transposes of the input.
func (n *OwnNetwork) Upscale(ctx context.Context, rgb *tensor.Tensor, progress Progress) (*tensor.Tensor, error) {
	h, w, err := checkInput(rgb, n.scale)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := n.scale
	out, err := Resample(rgb, w*s, h*s)
	if err != nil {
		return nil, err
	}
	clamp255(out.Data)
	// The network's input: Y/255 of the enlarged image (luma networks) or
	// the input/255; ps is the factor the network itself enlarges by.
	src, ps, k := rgb, s, float32(1)/255
	if n.luma {
		n.plane = lumaPlane(n.plane, out)
		src, ps, k = n.plane, 1, 1
	}
	passes := 1
	if n.ensemble {
		passes = 8
	}
	var corr *tensor.Tensor // the mean correction, /255
	for a := range passes {
		done := a * n.tileCount(src)
		var prog Progress
		if progress != nil {
			prog = func(d, t int) { progress(done+d, passes*t) }
		}
		c, err := n.correction(ctx, flipTranspose(src, a, false), ps, k, prog)
		if err != nil {
			return nil, err
		}
		c = flipTranspose(c, a, true)
		if corr == nil {
			corr = c
			continue
		}
		for i, v := range c.Data {
			corr.Data[i] += v
		}
	}
	m := h * s * w * s
	for c := range 3 {
		o := out.Data[c*m : (c+1)*m]
		if n.luma {
			k := float32(255 * lumaGain / float64(passes))
			for i, v := range corr.Data {
				o[i] += k * v
			}
			continue
		}
		k := float32(255 / float64(passes))
		for i, v := range corr.Data[c*m : (c+1)*m] {
			o[i] += k * v
		}
	}
	clamp255(out.Data)
	return out, nil
}

// tileCount is the number of tiles correction cuts src into.
func (n *OwnNetwork) tileCount(src *tensor.Tensor) int {
	_, _, h, w := src.Dims()
	pad := n.shape.margin
	tile, over := n.tile, n.over
	if tile <= 0 {
		return 1
	}
	return len(planAxis(w+2*pad, tile, over)) * len(planAxis(h+2*pad, tile, over))
}

// correction runs the network over src ([1,C,H,W], times k for the
// network), mirrored outwards by the receptive-field radius, tile by tile,
// and returns the blended correction [1,C,H*ps,W*ps] (/255).
func (n *OwnNetwork) correction(ctx context.Context, src *tensor.Tensor, ps int, k float32, progress Progress) (*tensor.Tensor, error) {
	_, _, h, w := src.Dims()
	pad := n.shape.margin
	in := mirrorPad(src, pad, k)
	_, ch, ph, pw := in.Dims()
	tile, over := n.tile, n.over
	if tile <= 0 {
		tile, over = max(ph, pw), 0
	}
	plan := newTilePlan(pw, ph, tile, over, ps)
	total := len(plan.tiles)
	if progress != nil {
		progress(0, total)
	}
	corr := tensor.New(1, ch, h*ps, w*ps)
	for i, t := range plan.tiles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		y, err := n.runTile(in, t, ps)
		if err != nil {
			return nil, fmt.Errorf("sr: %s x%d: %w", n.method, n.scale, err)
		}
		plan.blendShifted(corr, y, t, pad*ps)
		if progress != nil {
			progress(i+1, total)
		}
	}
	return corr, nil
}

// flipTranspose returns t ([1,C,H,W]) transformed by a (bit 0: flip x,
// bit 1: flip y, bit 2: transpose; transposing first), or, with inverse,
// undoes that transform. a = 0 returns t itself.
func flipTranspose(t *tensor.Tensor, a int, inverse bool) *tensor.Tensor {
	if a == 0 {
		return t
	}
	_, c, h, w := t.Dims()
	oh, ow := h, w
	if a&4 != 0 {
		oh, ow = w, h
	}
	out := tensor.New(1, c, oh, ow)
	for ch := range c {
		for y := range oh {
			for x := range ow {
				sx, sy := x, y
				if inverse { // out(x, y) = t(transpose(unflip(x, y)))
					if a&1 != 0 {
						sx = ow - 1 - sx
					}
					if a&2 != 0 {
						sy = oh - 1 - sy
					}
					if a&4 != 0 {
						sx, sy = sy, sx
					}
				} else { // out(x, y) = t(flip(transpose(x, y)))
					if a&4 != 0 {
						sx, sy = sy, sx
					}
					if a&1 != 0 {
						sx = w - 1 - sx
					}
					if a&2 != 0 {
						sy = h - 1 - sy
					}
				}
				out.Data[(ch*oh+y)*ow+x] = t.Data[(ch*h+sy)*w+sx]
			}
		}
	}
	return out
}

// mirrorPad returns k times t ([1,C,H,W]) extended by pad pixels on every
// side with its mirror image (the edge pixel not repeated; folded again
// for images narrower than pad).
func mirrorPad(t *tensor.Tensor, pad int, k float32) *tensor.Tensor {
	_, c, h, w := t.Dims()
	H, W := h+2*pad, w+2*pad
	out := tensor.New(1, c, H, W)
	xs := make([]int, W)
	for x := range W {
		xs[x] = mirror(x-pad, w)
	}
	for ch := range c {
		for y := range H {
			src := t.Data[(ch*h+mirror(y-pad, h))*w:]
			dst := out.Data[(ch*H+y)*W : (ch*H+y+1)*W]
			for x, sx := range xs {
				dst[x] = k * src[sx]
			}
		}
	}
	return out
}

// mirror maps i into 0..n-1 by reflection about the edge pixels.
func mirror(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// runTile runs the network on one tile of in and checks the output size.
func (n *OwnNetwork) runTile(in *tensor.Tensor, t tileRect, ps int) (*tensor.Tensor, error) {
	wk := n.wk
	_, c, h, w := in.Dims()
	th, tw := t.y1-t.y0, t.x1-t.x0
	wk.in = tensor.Ensure(wk.in, 1, c, th, tw)
	for ch := range c {
		for y := range th {
			copy(wk.in.Data[(ch*th+y)*tw:(ch*th+y+1)*tw], in.Data[(ch*h+t.y0+y)*w+t.x0:])
		}
	}
	if len(wk.taps) != 1 || wk.taps[0] != n.output {
		wk.taps = []string{n.output}
	}
	ys, err := wk.g.Forward(wk.in, wk.taps)
	if err != nil {
		return nil, err
	}
	if y := ys[0]; len(y.Shape) != 4 || y.Shape[0] != 1 || y.Shape[1] != c || y.Shape[2] != th*ps || y.Shape[3] != tw*ps {
		return nil, fmt.Errorf("%w: the network made %v from a %d x %d tile, want [1 %d %d %d]", model.ErrFormat, y.Shape, tw, th, c, th*ps, tw*ps)
	}
	return ys[0], nil
}

// blendShifted adds weight * y (the network's [1,C,th*s,tw*s] output for
// tile t of a padded input) into out ([1,C,OH,OW]), shifted up and left by
// off output pixels (the padding); what falls outside out is dropped.
func (p *tilePlan) blendShifted(out, y *tensor.Tensor, t tileRect, off int) {
	s := p.scale
	_, c, oh, ow := out.Dims()
	th, tw := (t.y1-t.y0)*s, (t.x1-t.x0)*s
	wx, wy := p.wx[t.ix], p.wy[t.iy]
	X0, Y0 := t.x0*s-off, t.y0*s-off
	lo, hi := max(0, -X0), min(tw, ow-X0) // the columns inside out
	if lo >= hi {
		return
	}
	for ch := range c {
		for dy := range th {
			oy := Y0 + dy
			wr := wy[dy]
			if wr == 0 || oy < 0 || oy >= oh {
				continue
			}
			src := y.Data[(ch*th+dy)*tw : (ch*th+dy+1)*tw]
			row := (ch*oh+oy)*ow + X0 // out index of column dx is row+dx
			for dx := lo; dx < hi; dx++ {
				out.Data[row+dx] += wr * wx[dx] * src[dx]
			}
		}
	}
}

// lumaPlane writes Y/255 of rgb ([1,3,H,W], 0..255) into buf ([1,1,H,W]).
func lumaPlane(buf, rgb *tensor.Tensor) *tensor.Tensor {
	_, _, h, w := rgb.Dims()
	buf = tensor.Ensure(buf, 1, 1, h, w)
	LumaInto(buf.Data, rgb)
	return buf
}

// LumaInto writes the BT.601 luma of rgb ([1,3,H,W] in 0..255), divided by
// 255, into dst (H*W values): the input of the luma networks.
func LumaInto(dst []float32, rgb *tensor.Tensor) {
	m := rgb.Shape[2] * rgb.Shape[3]
	r, g, b := rgb.Data[:m], rgb.Data[m:2*m], rgb.Data[2*m:3*m]
	for i := range dst[:m] {
		dst[i] = (16 + (65.481*r[i]+128.553*g[i]+24.966*b[i])/255) / 255
	}
}
