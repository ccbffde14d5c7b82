package model

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"atelier/engine/tensor"
)

// GraphModel is a TF.js graph model: a TensorFlow GraphDef written as JSON
// plus the weights of its Const nodes. It is a description to walk, not an
// executor.
type GraphModel struct {
	Path        string // model.json, empty for models parsed from bytes
	Format      string // "graph-model" (may be empty in old files)
	GeneratedBy string
	ConvertedBy string
	Nodes       []*Node // in file order
	Versions    json.RawMessage
	Signature   json.RawMessage // nil when the file has none
	Weights     *Weights

	byName map[string]*Node
}

// Node is one GraphDef node.
type Node struct {
	Name   string
	Op     string
	Inputs []string // "name", "name:1" (second output) or "^name" (control edge)
	Device string
	Attrs  map[string]Attr
}

// Input is a parsed node input.
type Input struct {
	Node    string
	Output  int  // output index of Node
	Control bool // a control dependency, not data
}

// ParseInput splits a GraphDef input string.
func ParseInput(s string) Input {
	in := Input{Node: s}
	if strings.HasPrefix(s, "^") {
		in.Control, in.Node = true, s[1:]
		return in
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if n, err := strconv.Atoi(s[i+1:]); err == nil && n >= 0 {
			in.Node, in.Output = s[:i], n
		}
	}
	return in
}

// DataType is a TensorFlow DataType enum value.
type DataType int

// TensorFlow data types used by converted models.
const (
	DTInvalid DataType = 0
	DTFloat   DataType = 1
	DTDouble  DataType = 2
	DTInt32   DataType = 3
	DTUint8   DataType = 4
	DTInt16   DataType = 5
	DTInt8    DataType = 6
	DTString  DataType = 7
	DTInt64   DataType = 9
	DTBool    DataType = 10
	DTHalf    DataType = 19
)

var dtNames = map[string]DataType{
	"DT_FLOAT": DTFloat, "DT_DOUBLE": DTDouble, "DT_INT32": DTInt32, "DT_UINT8": DTUint8,
	"DT_INT16": DTInt16, "DT_INT8": DTInt8, "DT_STRING": DTString, "DT_INT64": DTInt64,
	"DT_BOOL": DTBool, "DT_HALF": DTHalf, "DT_INVALID": DTInvalid,
}

// UnmarshalJSON accepts the enum as a number or as its name ("DT_FLOAT").
func (d *DataType) UnmarshalJSON(b []byte) error {
	var n int
	if json.Unmarshal(b, &n) == nil {
		*d = DataType(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("data type %s", abbrev(b))
	}
	if v, ok := dtNames[s]; ok {
		*d = v
		return nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		*d = DataType(n)
		return nil
	}
	return fmt.Errorf("unknown data type %q", s)
}

// AttrKind tells which field of an Attr is set.
type AttrKind int

// Attribute kinds.
const (
	AttrNone AttrKind = iota
	AttrS
	AttrI
	AttrF
	AttrB
	AttrType
	AttrShape
	AttrTensor
	AttrList
	AttrFunc
)

// Attr is a node attribute (TensorFlow AttrValue).
type Attr struct {
	Kind   AttrKind
	S      []byte
	I      int64
	F      float64
	B      bool
	Type   DataType
	Shape  Shape
	Tensor *TensorProto
	List   *AttrValues
	Func   string
}

// AttrValues is a list-valued attribute.
type AttrValues struct {
	S      [][]byte
	I      []int64
	F      []float64
	B      []bool
	Type   []DataType
	Shape  []Shape
	Tensor []TensorProto
}

// Shape is a TensorShapeProto; unknown dimensions are -1.
type Shape struct {
	Dims        []int64
	UnknownRank bool
}

// TensorProto is a constant tensor written inline in a node attribute.
type TensorProto struct {
	DType    DataType
	Shape    Shape
	FloatVal []float32
	IntVal   []int32
	Int64Val []int64
	BoolVal  []bool
	Content  []byte // tensorContent: raw little-endian values
}

// Node looks a node up by name.
func (g *GraphModel) Node(name string) *Node { return g.byName[name] }

// Placeholders returns the graph's inputs in file order.
func (g *GraphModel) Placeholders() []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		if n.Op == "Placeholder" {
			out = append(out, n)
		}
	}
	return out
}

// AttrInt returns an integer attribute.
func (n *Node) AttrInt(name string) (int64, bool) {
	a, ok := n.Attrs[name]
	return a.I, ok && a.Kind == AttrI
}

// AttrInts returns a list-of-integers attribute (strides, dilations, ...).
func (n *Node) AttrInts(name string) ([]int64, bool) {
	a, ok := n.Attrs[name]
	if !ok || a.Kind != AttrList {
		return nil, false
	}
	return a.List.I, true
}

// AttrString returns a string (bytes) attribute such as padding or
// data_format.
func (n *Node) AttrString(name string) (string, bool) {
	a, ok := n.Attrs[name]
	return string(a.S), ok && a.Kind == AttrS
}

// AttrFloat returns a float attribute (epsilon, alpha).
func (n *Node) AttrFloat(name string) (float64, bool) {
	a, ok := n.Attrs[name]
	return a.F, ok && a.Kind == AttrF
}

// AttrBool returns a boolean attribute.
func (n *Node) AttrBool(name string) (bool, bool) {
	a, ok := n.Attrs[name]
	return a.B, ok && a.Kind == AttrB
}

// AttrType returns a data type attribute (T, dtype).
func (n *Node) AttrType(name string) (DataType, bool) {
	a, ok := n.Attrs[name]
	return a.Type, ok && a.Kind == AttrType
}

// Const returns the value of a Const node as float32: from the weights
// manifest when it lists the node, otherwise from the inline tensor.
func (g *GraphModel) Const(name string) (*tensor.Tensor, error) {
	n := g.byName[name]
	if n == nil {
		return nil, fmt.Errorf("model: %s: no node %q: %w", g.source(), name, ErrNoWeight)
	}
	if n.Op != "Const" {
		return nil, fmt.Errorf("model: %s: node %q is %s, not Const: %w", g.source(), name, n.Op, ErrFormat)
	}
	if _, ok := g.Weights.Spec(name); ok {
		return g.Weights.Tensor(name)
	}
	a, ok := n.Attrs["value"]
	if !ok || a.Kind != AttrTensor {
		return nil, fmt.Errorf("model: %s: Const %q has neither weights nor a value: %w", g.source(), name, ErrFormat)
	}
	t, err := a.Tensor.float32()
	if err != nil {
		return nil, fmt.Errorf("model: %s: Const %q: %w", g.source(), name, err)
	}
	return t, nil
}

func (g *GraphModel) source() string {
	if g.Path == "" {
		return "model.json"
	}
	return g.Path
}

// Float32 decodes an inline tensor (float, int32, int64, bool or half) into
// float32. A single value with a larger shape is repeated, as TensorFlow
// does.
func (p *TensorProto) Float32() (*tensor.Tensor, error) {
	t, err := p.float32()
	if err != nil {
		return nil, fmt.Errorf("model: inline tensor: %w", err)
	}
	return t, nil
}

func (p *TensorProto) float32() (*tensor.Tensor, error) {
	shape := make([]int, len(p.Shape.Dims))
	for i, d := range p.Shape.Dims {
		if d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("tensor dimension %d: %w", d, ErrFormat)
		}
		shape[i] = int(d)
	}
	n, err := volume(shape)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrFormat)
	}
	vals := make([]float32, 0, n)
	switch {
	case len(p.Content) > 0:
		var es int
		switch p.DType {
		case DTFloat, DTInt32:
			es = 4
		case DTHalf:
			es = 2
		default:
			return nil, fmt.Errorf("tensorContent of type %d: %w", p.DType, ErrUnsupported)
		}
		if len(p.Content) != n*es {
			return nil, fmt.Errorf("tensorContent holds %d bytes, shape %v needs %d: %w", len(p.Content), shape, n*es, ErrFormat)
		}
		for i := 0; i < n; i++ {
			b := p.Content[i*es:]
			switch p.DType {
			case DTFloat:
				vals = append(vals, math.Float32frombits(binary.LittleEndian.Uint32(b)))
			case DTInt32:
				vals = append(vals, float32(int32(binary.LittleEndian.Uint32(b))))
			case DTHalf:
				vals = append(vals, HalfToFloat32(binary.LittleEndian.Uint16(b)))
			}
		}
		return &tensor.Tensor{Shape: shape, Data: vals}, nil
	case p.DType == DTFloat:
		vals = append(vals, p.FloatVal...)
	case p.DType == DTInt32:
		for _, v := range p.IntVal {
			vals = append(vals, float32(v))
		}
	case p.DType == DTInt64:
		for _, v := range p.Int64Val {
			vals = append(vals, float32(v))
		}
	case p.DType == DTBool:
		for _, v := range p.BoolVal {
			f := float32(0)
			if v {
				f = 1
			}
			vals = append(vals, f)
		}
	default:
		return nil, fmt.Errorf("inline tensor of type %d: %w", p.DType, ErrUnsupported)
	}
	switch {
	case len(vals) == n:
	case len(vals) == 0:
		vals = make([]float32, n)
	case len(vals) < n:
		last := vals[len(vals)-1]
		for len(vals) < n {
			vals = append(vals, last)
		}
	default:
		return nil, fmt.Errorf("inline tensor holds %d values, shape %v needs %d: %w", len(vals), shape, n, ErrFormat)
	}
	return &tensor.Tensor{Shape: shape, Data: vals}, nil
}

// OpenGraphModel loads a TF.js graph model from its model.json (or the
// folder holding it).
func OpenGraphModel(path string) (*GraphModel, error) {
	path, data, err := readModelJSON(path)
	if err != nil {
		return nil, err
	}
	g, err := parseGraph(data, path)
	if err != nil {
		return nil, err
	}
	g.Path = path
	if err := g.Weights.attach(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return g, nil
}

// ParseGraphModel parses graph model.json content without looking for
// shards.
func ParseGraphModel(data []byte) (*GraphModel, error) { return parseGraph(data, "model.json") }

type jsonNode struct {
	Name   string                     `json:"name"`
	Op     string                     `json:"op"`
	Input  []string                   `json:"input"`
	Device string                     `json:"device"`
	Attr   map[string]json.RawMessage `json:"attr"`
}

func parseGraph(data []byte, source string) (*GraphModel, error) {
	var f struct {
		jsonModelFile
		Signature json.RawMessage `json:"signature"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("model: %s: %w (%v)", source, ErrFormat, err)
	}
	if f.Format != "" && f.Format != "graph-model" {
		return nil, fmt.Errorf("model: %s: format %q is not a graph model: %w", source, f.Format, ErrFormat)
	}
	var top struct {
		Node     []jsonNode      `json:"node"`
		Versions json.RawMessage `json:"versions"`
	}
	if len(f.ModelTopology) == 0 || string(f.ModelTopology) == "null" {
		return nil, fmt.Errorf("model: %s: no modelTopology: %w", source, ErrFormat)
	}
	if err := json.Unmarshal(f.ModelTopology, &top); err != nil {
		return nil, fmt.Errorf("model: %s: modelTopology: %w (%v)", source, ErrFormat, err)
	}
	g := &GraphModel{Format: f.Format, GeneratedBy: f.GeneratedBy, ConvertedBy: nameOf(f.ConvertedBy),
		Versions: top.Versions, Signature: f.Signature, byName: map[string]*Node{}}
	for i, jn := range top.Node {
		if jn.Name == "" || jn.Op == "" {
			return nil, fmt.Errorf("model: %s: node %d has no name or op: %w", source, i, ErrFormat)
		}
		if g.byName[jn.Name] != nil {
			return nil, fmt.Errorf("model: %s: node name %q used twice: %w", source, jn.Name, ErrFormat)
		}
		n := &Node{Name: jn.Name, Op: jn.Op, Inputs: jn.Input, Device: jn.Device, Attrs: make(map[string]Attr, len(jn.Attr))}
		for k, raw := range jn.Attr {
			a, err := parseAttr(raw)
			if err != nil {
				return nil, fmt.Errorf("model: %s: node %q attr %q: %v: %w", source, jn.Name, k, err, ErrFormat)
			}
			n.Attrs[k] = a
		}
		g.byName[n.Name] = n
		g.Nodes = append(g.Nodes, n)
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if g.byName[ParseInput(in).Node] == nil {
				return nil, fmt.Errorf("model: %s: node %q: input %q does not exist: %w", source, n.Name, in, ErrFormat)
			}
		}
	}
	w, err := parseWeightsManifest(f.WeightsManifest, source)
	if err != nil {
		return nil, err
	}
	g.Weights = w
	return g, nil
}

// --- attribute JSON (protobuf JSON: int64 as strings, bytes as base64 or,
// in some converters, as arrays of numbers) ---

type jsonAttr struct {
	S           json.RawMessage        `json:"s"`
	I           json.RawMessage        `json:"i"`
	F           json.RawMessage        `json:"f"`
	B           *bool                  `json:"b"`
	Type        *DataType              `json:"type"`
	Shape       *jsonShape             `json:"shape"`
	Tensor      *jsonTensor            `json:"tensor"`
	List        *jsonList              `json:"list"`
	Func        *struct{ Name string } `json:"func"`
	Placeholder string                 `json:"placeholder"`
}

type jsonShape struct {
	Dim []struct {
		Size json.RawMessage `json:"size"`
	} `json:"dim"`
	UnknownRank bool `json:"unknownRank"`
}

type jsonTensor struct {
	DType         DataType          `json:"dtype"`
	TensorShape   *jsonShape        `json:"tensorShape"`
	FloatVal      []json.RawMessage `json:"floatVal"`
	IntVal        []json.RawMessage `json:"intVal"`
	Int64Val      []json.RawMessage `json:"int64Val"`
	BoolVal       []bool            `json:"boolVal"`
	TensorContent json.RawMessage   `json:"tensorContent"`
}

type jsonList struct {
	S      []json.RawMessage `json:"s"`
	I      []json.RawMessage `json:"i"`
	F      []json.RawMessage `json:"f"`
	B      []bool            `json:"b"`
	Type   []DataType        `json:"type"`
	Shape  []jsonShape       `json:"shape"`
	Tensor []jsonTensor      `json:"tensor"`
}

func parseAttr(raw json.RawMessage) (Attr, error) {
	var j jsonAttr
	if err := json.Unmarshal(raw, &j); err != nil {
		return Attr{}, err
	}
	var a Attr
	var err error
	switch {
	case j.List != nil:
		a.Kind, a.List = AttrList, &AttrValues{B: j.List.B, Type: j.List.Type}
		for _, s := range j.List.S {
			b, err := pbBytes(s)
			if err != nil {
				return a, err
			}
			a.List.S = append(a.List.S, b)
		}
		for _, v := range j.List.I {
			i, err := pbInt(v)
			if err != nil {
				return a, err
			}
			a.List.I = append(a.List.I, i)
		}
		for _, v := range j.List.F {
			f, err := pbFloat(v)
			if err != nil {
				return a, err
			}
			a.List.F = append(a.List.F, f)
		}
		for i := range j.List.Shape {
			s, err := j.List.Shape[i].shape()
			if err != nil {
				return a, err
			}
			a.List.Shape = append(a.List.Shape, s)
		}
		for i := range j.List.Tensor {
			t, err := j.List.Tensor[i].tensor()
			if err != nil {
				return a, err
			}
			a.List.Tensor = append(a.List.Tensor, *t)
		}
	case j.Tensor != nil:
		a.Kind = AttrTensor
		a.Tensor, err = j.Tensor.tensor()
	case j.Shape != nil:
		a.Kind = AttrShape
		a.Shape, err = j.Shape.shape()
	case j.Type != nil:
		a.Kind, a.Type = AttrType, *j.Type
	case len(j.S) > 0:
		a.Kind = AttrS
		a.S, err = pbBytes(j.S)
	case len(j.I) > 0:
		a.Kind = AttrI
		a.I, err = pbInt(j.I)
	case len(j.F) > 0:
		a.Kind = AttrF
		a.F, err = pbFloat(j.F)
	case j.B != nil:
		a.Kind, a.B = AttrB, *j.B
	case j.Func != nil:
		a.Kind, a.Func = AttrFunc, j.Func.Name
	}
	return a, err
}

func (j *jsonShape) shape() (Shape, error) {
	s := Shape{UnknownRank: j.UnknownRank}
	for _, d := range j.Dim {
		v := int64(0)
		if len(d.Size) > 0 {
			var err error
			if v, err = pbInt(d.Size); err != nil {
				return s, err
			}
		}
		s.Dims = append(s.Dims, v)
	}
	return s, nil
}

func (j *jsonTensor) tensor() (*TensorProto, error) {
	t := &TensorProto{DType: j.DType, BoolVal: j.BoolVal}
	if j.TensorShape != nil {
		var err error
		if t.Shape, err = j.TensorShape.shape(); err != nil {
			return nil, err
		}
	}
	for _, v := range j.FloatVal {
		f, err := pbFloat(v)
		if err != nil {
			return nil, err
		}
		t.FloatVal = append(t.FloatVal, float32(f))
	}
	for _, v := range j.IntVal {
		i, err := pbInt(v)
		if err != nil {
			return nil, err
		}
		if i < math.MinInt32 || i > math.MaxInt32 {
			return nil, fmt.Errorf("intVal %d out of int32 range", i)
		}
		t.IntVal = append(t.IntVal, int32(i))
	}
	for _, v := range j.Int64Val {
		i, err := pbInt(v)
		if err != nil {
			return nil, err
		}
		t.Int64Val = append(t.Int64Val, i)
	}
	if len(j.TensorContent) > 0 {
		var err error
		if t.Content, err = pbBytes(j.TensorContent); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// pbBytes reads protobuf JSON bytes: a base64 string or a list of numbers.
func pbBytes(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("bytes %q are not base64", abbrev(raw))
	}
	var nums []int
	if err := json.Unmarshal(raw, &nums); err != nil {
		return nil, fmt.Errorf("bytes %s", abbrev(raw))
	}
	b := make([]byte, len(nums))
	for i, n := range nums {
		if n < 0 || n > 255 {
			return nil, fmt.Errorf("byte value %d", n)
		}
		b[i] = byte(n)
	}
	return b, nil
}

// pbInt reads an int64 written as a number or a decimal string.
func pbInt(raw json.RawMessage) (int64, error) {
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("integer %s", abbrev(raw))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %q", s)
	}
	return n, nil
}

// pbFloat reads a float written as a number or as "NaN", "Infinity",
// "-Infinity".
func pbFloat(raw json.RawMessage) (float64, error) {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("float %s", abbrev(raw))
	}
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("float %q", s)
	}
	return f, nil
}
