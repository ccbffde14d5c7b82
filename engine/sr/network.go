package sr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"atelier/engine/graph"
	"atelier/engine/model"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// netConfig holds what differs between the network methods.
type netConfig struct {
	// unit is the value of white at the network's input and output: 255 for
	// default/slim/medium, 1 for thick.
	unit float32
	// overlap is the default of Options.Overlap.
	overlap int
}

// Network is an upscaler backed by a UpscalerJS TF.js layers model. Its
// graphs (one per worker) are built once, by Open.
type Network struct {
	method  string
	scale   int
	model   string // registry name
	unit    float32
	output  string // the graph's output node
	tile    int    // <= 0: whole image
	over    int
	shape   modelShape
	workers []*netWorker
}

// netWorker is one copy of the network with its own buffers.
type netWorker struct {
	g    *graph.Graph
	in   *tensor.Tensor // the tile's input, reused
	taps []string       // the output node, for Forward
}

// openNetwork loads and builds the network of method m at scale.
func openNetwork(m Method, scale int, opt Options) (*Network, error) {
	name := m.models[scale]
	dir := opt.ModelsDir
	if dir == "" {
		var err error
		if dir, err = model.CacheDir(); err != nil {
			return nil, fmt.Errorf("sr: %w", err)
		}
	}
	path := filepath.Join(dir, name, "model.json")
	missing := func(detail string) error {
		return fmt.Errorf("%w: %s needs the model %s, which %s in the models folder %s; get it with \"make models\" or \"atelier models fetch %s\"",
			ErrModelMissing, m.Name, name, detail, dir, name)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, missing("is not")
	}
	n := &Network{method: m.Name, scale: scale, model: name, unit: m.net.unit}
	workers := max(opt.Workers, 1)
	for range workers {
		lm, err := model.OpenLayersModel(path)
		if err != nil {
			return nil, fmt.Errorf("sr: %s: %w", name, err)
		}
		g, out, err := buildGraph(lm)
		if err != nil {
			if errors.Is(err, graph.ErrUnavailable) || errors.Is(err, model.ErrUnavailable) {
				return nil, missing("is incomplete")
			}
			return nil, fmt.Errorf("sr: %s: %w", name, err)
		}
		if n.shape.scale == 0 {
			if n.shape, err = analyse(lm.Topology); err != nil {
				return nil, fmt.Errorf("sr: %s: %w", name, err)
			}
			if n.shape.scale != scale {
				return nil, fmt.Errorf("sr: %s: %w: the model upscales x%d, not x%d", name, model.ErrFormat, n.shape.scale, scale)
			}
		}
		n.output = out
		n.workers = append(n.workers, &netWorker{g: g})
	}
	n.tile, n.over = opt.Tile, opt.Overlap
	if n.tile == 0 {
		n.tile = autoTile(n.shape.floatsPerPixel)
	}
	if n.over <= 0 {
		n.over = m.net.overlap
	}
	if n.tile > 0 {
		n.tile = max(n.tile, 16)
		n.over = min(n.over, n.tile/2)
	}
	return n, nil
}

// buildGraph builds the Keras graph of an UpscalerJS model with the custom
// layers of esrgan-thick, and checks that its output can be computed. The
// graph runs in inference mode, with each convolution and the ReLU after it
// fused into one layer.
func buildGraph(lm *model.LayersModel) (*graph.Graph, string, error) {
	t := lm.Topology
	if t == nil || len(t.OutputLayers) != 1 || len(t.InputLayers) != 1 {
		return nil, "", fmt.Errorf("%w: want one input and one output", model.ErrFormat)
	}
	custom := map[string]graph.LayerFactory{"MultiplyBeta": newMultiplyBeta}
	for _, l := range t.Layers {
		if strings.HasPrefix(l.ClassName, "PixelShuffle") {
			custom[l.ClassName] = newPixelShuffle
		}
	}
	g, err := graph.FromKeras(t, lm, graph.KerasOptions{Custom: custom, FuseReLU: true})
	if err != nil {
		return nil, "", err
	}
	out := t.OutputLayers[0].Layer
	if err := g.Check(out); err != nil {
		return nil, "", err
	}
	g.SetWeightGrad(false)
	// Forward only: concatenations, residual sums, MultiplyBeta and the
	// final upsampling merge into the convolutions (graph.Fuse), and the
	// convolutions on AMX split their operands in two bfloat16 parts, about
	// 1e-4 of the output scale, far below the 1/255 of an 8-bit result.
	if _, err := g.Fuse(); err != nil {
		return nil, "", err
	}
	g.SetReducedPrecision(true)
	// Forward only: the activations share one arena (see analyse). A first
	// Forward on a small input tells the graph the size of every layer's
	// output, so that it lays out the arena before the first real tile
	// instead of letting every layer allocate its own output once.
	g.SetInference(true)
	if _, err := g.Forward(tensor.New(1, 3, 16, 16), []string{out}); err != nil {
		return nil, "", err
	}
	return g, out, nil
}

// newMultiplyBeta builds esrgan-thick's MultiplyBeta layer: y = beta * x,
// beta from the layer's configuration (0.2 in every released model).
func newMultiplyBeta(l *model.Layer, _ graph.WeightSource) (nn.Layer, error) {
	cfg := struct {
		Beta *float64 `json:"beta"`
	}{}
	if err := l.DecodeConfig(&cfg); err != nil {
		return nil, fmt.Errorf("layer %q: %w", l.Name, err)
	}
	beta := 0.2
	if cfg.Beta != nil {
		beta = *cfg.Beta
	}
	return &scaleLayer{k: float32(beta)}, nil
}

// newPixelShuffle builds esrgan-thick's PixelShuffleNx layers: TensorFlow's
// depth_to_space with the configured scale.
func newPixelShuffle(l *model.Layer, _ graph.WeightSource) (nn.Layer, error) {
	var cfg struct {
		Scale int `json:"scale"`
	}
	if err := l.DecodeConfig(&cfg); err != nil {
		return nil, fmt.Errorf("layer %q: %w", l.Name, err)
	}
	if cfg.Scale < 1 || cfg.Scale > 16 {
		return nil, fmt.Errorf("layer %q: %w: pixel shuffle scale %d", l.Name, model.ErrFormat, cfg.Scale)
	}
	return nn.NewDepthToSpaceTF(cfg.Scale), nil
}

// scaleLayer multiplies its input by a constant.
type scaleLayer struct {
	k     float32
	y, dx *tensor.Tensor
}

func (s *scaleLayer) Forward(x *tensor.Tensor) *tensor.Tensor {
	s.y = tensor.Ensure(s.y, x.Shape...)
	for i, v := range x.Data {
		s.y.Data[i] = s.k * v
	}
	return s.y
}

// ConstantScale returns the factor (graph.Scaler), so that graph.Fuse can
// fold the layer into the convolution before it.
func (s *scaleLayer) ConstantScale() float32 { return s.k }

// SetOutput makes y the output buffer (nn.OutputSetter), so the graph's
// inference mode can plan it.
func (s *scaleLayer) SetOutput(y *tensor.Tensor) { s.y = y }

func (s *scaleLayer) Backward(dy *tensor.Tensor) *tensor.Tensor {
	s.dx = tensor.Ensure(s.dx, dy.Shape...)
	for i, v := range dy.Data {
		s.dx.Data[i] = s.k * v
	}
	return s.dx
}

// TileMemory is the activation memory, in bytes, that the default tile
// size (Options.Tile = 0) aims at: the network's intermediate tensors for
// one tile, estimated from the model's layers (see analyse).
const TileMemory = 1 << 30

// Default tile sides stay within these bounds (input pixels).
const (
	minAutoTile = 48
	maxAutoTile = 512
)

// autoTile is the largest tile side, a multiple of 8, whose activations fit
// in TileMemory.
func autoTile(floatsPerPixel int) int {
	side := int(math.Sqrt(float64(TileMemory) / (4 * float64(max(floatsPerPixel, 1)))))
	return min(max(side/8*8, minAutoTile), maxAutoTile)
}

// modelShape is what the topology says about a network's size: the
// theoretical receptive-field radius of its output in input pixels, the
// overall upscaling factor, and the float32 values per input pixel that the
// layers' outputs need at once: the graph runs in inference mode, where an
// output's buffer is reused once its last consumer has run, so this is the
// largest sum of the outputs alive at one time, with a quarter added for
// gaps in the graph's arena layout, plus the largest concatenation that a
// fused convolution builds in its shared buffer.
type modelShape struct {
	margin, scale, floatsPerPixel int
	scratchPerPixel               int // the shared buffer's part of floatsPerPixel
}

// analyse walks the topology in order. The receptive-field radius is the
// sum over the longest path of each convolution's half kernel, divided by
// the upscaling already done at that point: a "same" convolution's zero
// padding at a tile's cut edge reaches no farther into the result, so a
// tiled run equals an untiled one on the pixels at least that far from the
// cut. The influence decays much faster in practice (see Options.Overlap).
func analyse(t *model.Topology) (modelShape, error) {
	type info struct {
		rf      float64
		up, chs int
	}
	at := map[string]info{}
	lastUse := map[string]int{}
	for i, l := range t.Layers {
		for _, in := range l.InboundNames() {
			lastUse[in] = i
		}
	}
	outName := t.OutputLayers[0].Layer
	// What graph.Fuse (see buildGraph) leaves unbuilt: concatenations read
	// only by convolutions and other concatenations, and upsamplings read
	// only by one 3x3 convolution, which runs before the upsampling and so
	// holds its output twice (its own and the pixel shuffle's).
	byName := map[string]*model.Layer{}
	readers := map[string][]string{}
	for _, l := range t.Layers {
		byName[l.Name] = l
		for _, in := range l.InboundNames() {
			readers[in] = append(readers[in], l.Name)
		}
	}
	unbuilt := map[string]bool{}
	doubled := map[string]bool{}
	for _, l := range t.Layers {
		rs := readers[l.Name]
		switch {
		case l.ClassName == "Concatenate" && len(rs) > 0 && l.Name != outName:
			fused := true
			for _, r := range rs {
				if c := byName[r].ClassName; c != "Conv2D" && c != "Concatenate" {
					fused = false
				}
			}
			unbuilt[l.Name] = fused
		case l.ClassName == "UpSampling2D" && len(rs) == 1 && byName[rs[0]].ClassName == "Conv2D" &&
			len(byName[rs[0]].KernelSize) > 0 && byName[rs[0]].KernelSize[0] == 3:
			unbuilt[l.Name], doubled[rs[0]] = true, true
		}
	}
	size := func(name string, i info) int {
		switch {
		case unbuilt[name]:
			return 0
		case doubled[name]:
			return 2 * i.chs * i.up * i.up
		}
		return i.chs * i.up * i.up
	}
	live, peak := 0, 0
	for i, l := range t.Layers {
		cur := info{up: 1}
		ins := l.InboundNames()
		for _, in := range ins {
			i := at[in]
			cur.rf, cur.up = max(cur.rf, i.rf), max(cur.up, i.up)
			cur.chs = max(cur.chs, i.chs)
		}
		switch {
		case l.ClassName == "InputLayer":
			cur.chs = 3
			if n := len(l.BatchInputShape); n == 4 && l.BatchInputShape[3] > 0 {
				cur.chs = l.BatchInputShape[3]
			}
		case l.ClassName == "Conv2D":
			if len(l.KernelSize) == 0 || l.Filters < 1 {
				return modelShape{}, fmt.Errorf("%w: convolution %q without kernel size or filters", model.ErrFormat, l.Name)
			}
			d := 1
			if len(l.DilationRate) > 0 {
				d = max(l.DilationRate[0], 1)
			}
			cur.rf += float64((slices.Max(l.KernelSize)-1)/2*d) / float64(cur.up)
			cur.chs = l.Filters
		case l.ClassName == "Concatenate":
			cur.chs = 0
			for _, in := range ins {
				cur.chs += at[in].chs
			}
		case l.ClassName == "UpSampling2D" && len(l.Size) > 0:
			cur.up *= l.Size[0]
		case strings.HasPrefix(l.ClassName, "PixelShuffle"):
			var cfg struct {
				Scale int `json:"scale"`
			}
			if err := json.Unmarshal(l.Config, &cfg); err != nil || cfg.Scale < 1 {
				return modelShape{}, fmt.Errorf("%w: pixel shuffle %q without a scale", model.ErrFormat, l.Name)
			}
			cur.up *= cfg.Scale
			cur.chs = max(cur.chs/(cfg.Scale*cfg.Scale), 1)
		}
		at[l.Name] = cur
		live += size(l.Name, cur)
		peak = max(peak, live)
		for _, in := range slices.Compact(slices.Sorted(slices.Values(ins))) {
			if lastUse[in] == i && in != outName && at[in].up > 0 {
				live -= size(in, at[in])
			}
		}
		if _, used := lastUse[l.Name]; !used && l.Name != outName {
			live -= size(l.Name, cur) // a dead end
		}
	}
	// The fused convolutions build the unbuilt concatenations, one at a
	// time, in one buffer that they share (except on AMX): the largest.
	scratch := 0
	for _, l := range t.Layers {
		if unbuilt[l.Name] && l.ClassName == "Concatenate" {
			i := at[l.Name]
			scratch = max(scratch, i.chs*i.up*i.up)
		}
	}
	out := at[outName]
	return modelShape{margin: int(math.Ceil(out.rf - 1e-9)), scale: out.up, floatsPerPixel: peak + peak/4 + scratch, scratchPerPixel: scratch}, nil
}

// Name returns the method's name.
func (n *Network) Name() string { return n.method }

// Scale returns the upscaling factor.
func (n *Network) Scale() int { return n.scale }

// Model returns the registry name of the weights ("esrgan-slim-x4").
func (n *Network) Model() string { return n.model }

// Unit is the value of white at the network's input and output: 255 for
// default-x2, slim and medium, 1 for thick (Upscale converts from and to
// 0..255).
func (n *Network) Unit() float32 { return n.unit }

// ReceptiveMargin is the theoretical receptive-field radius of the network
// in input pixels.
func (n *Network) ReceptiveMargin() int { return n.shape.margin }

// Tiling returns the tile side and overlap in input pixels (tile <= 0: the
// whole image at once).
func (n *Network) Tiling() (tile, overlap int) { return n.tile, n.over }

// Upscale runs the network over rgb tile by tile (see tile.go).
func (n *Network) Upscale(ctx context.Context, rgb *tensor.Tensor, progress Progress) (*tensor.Tensor, error) {
	h, w, err := checkInput(rgb, n.scale)
	if err != nil {
		return nil, err
	}
	tile, over := n.tile, n.over
	if tile <= 0 {
		tile, over = max(h, w), 0
	}
	plan := newTilePlan(w, h, tile, over, n.scale)
	s := n.scale
	out := tensor.New(1, 3, h*s, w*s)
	total := len(plan.tiles)
	if progress != nil {
		progress(0, total)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var (
		mu    sync.Mutex // guards out, done, first and the progress calls
		done  int
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int, total)
	for i := range total {
		next <- i
	}
	close(next)
	work := func(wk *netWorker) {
		for i := range next {
			if ctx.Err() != nil {
				return
			}
			y, err := wk.run(rgb, plan.tiles[i], n.output, n.unit, n.scale)
			mu.Lock()
			if first != nil || err != nil {
				if first == nil {
					first = err
				}
				mu.Unlock()
				return
			}
			plan.blend(out, y, plan.tiles[i], 255/n.unit)
			done++
			if progress != nil {
				progress(done, total)
			}
			mu.Unlock()
		}
	}
	if workers := n.workers[:min(len(n.workers), total)]; len(workers) == 1 {
		work(workers[0]) // in the caller's goroutine
	} else {
		for _, wk := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(wk)
			}()
		}
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("sr: %s x%d: %w", n.method, n.scale, first)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	clamp255(out.Data)
	return out, nil
}

// run computes the network's output for one tile of rgb. The result is
// owned by the graph.
func (wk *netWorker) run(rgb *tensor.Tensor, t tileRect, output string, unit float32, scale int) (*tensor.Tensor, error) {
	_, _, h, w := rgb.Dims()
	th, tw := t.y1-t.y0, t.x1-t.x0
	wk.in = tensor.Ensure(wk.in, 1, 3, th, tw)
	k := unit / 255
	for c := range 3 {
		for y := range th {
			src := rgb.Data[(c*h+t.y0+y)*w+t.x0 : (c*h+t.y0+y)*w+t.x1]
			dst := wk.in.Data[(c*th+y)*tw : (c*th+y+1)*tw]
			if k == 1 {
				copy(dst, src)
				continue
			}
			for x, v := range src {
				dst[x] = v * k
			}
		}
	}
	if len(wk.taps) != 1 || wk.taps[0] != output {
		wk.taps = []string{output}
	}
	ys, err := wk.g.Forward(wk.in, wk.taps)
	if err != nil {
		return nil, err
	}
	if y := ys[0]; len(y.Shape) != 4 || y.Shape[0] != 1 || y.Shape[1] != 3 || y.Shape[2] != th*scale || y.Shape[3] != tw*scale {
		return nil, fmt.Errorf("%w: the network made %v from a %d x %d tile, want [1 3 %d %d]", model.ErrFormat, y.Shape, tw, th, th*scale, tw*scale)
	}
	return ys[0], nil
}
