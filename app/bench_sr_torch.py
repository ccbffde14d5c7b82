# PyTorch reference for `atelier bench sr`: builds each UpscalerJS network
# (a TF.js layers model: Keras topology plus float32 shards) in PyTorch from
# its layer list and weights, and runs it on the same input Atelier uses,
# with two threads, when asked, so that Atelier can interleave its own runs
# with PyTorch's and both see the same load on a busy machine. Run as
#   python3 -c "$(cat bench_sr_torch.py)" JOB.json
# JOB.json: {"models": [{"name", "dir", "unit", "scale", "height", "width",
# "input", "ours"}]}; input is the raw little-endian float32 [1,3,H,W] image
# in 0..255, ours where Atelier writes its float32 [1,3,H*s,W*s] result in
# 0..255 (both NCHW); unit is the value of white the network works in (255
# or 1).
# It answers each line of standard input with one JSON line:
#   first, unasked: {"torch": version, "threads": n} or {"error": message}
#     when PyTorch cannot be imported or a model cannot be built;
#   {"cmd": "run", "name": N, "layout": "nchw" | "channels_last"}:
#     {"s": seconds of one forward pass};
#   {"cmd": "diff", "name": N}: {"max_abs_diff": d}, the largest difference
#     between the last PyTorch result (clamped to 0..255, as Atelier's is)
#     and Atelier's, in levels of 255;
#   {"cmd": "quit"}: exits.
import json
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no PyTorch"
    print(json.dumps({"error": "cannot import torch: %s" % e}))
    sys.exit(0)


def read_weights(d, manifest):
    """Reads every weight of a TF.js weightsManifest into numpy arrays."""
    out = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(d, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                qt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                size = np.dtype(qt).itemsize
                raw = np.frombuffer(buf, qt, n, off)
                a = raw.astype(np.float32) if qt == np.float16 else raw.astype(np.float32) * q["scale"] + q["min"]
            else:
                size = 4
                a = np.frombuffer(buf, np.float32 if w["dtype"] == "float32" else np.int32, n, off).astype(np.float32)
            out[w["name"]] = a.reshape(w["shape"])
            off += n * size
    return out


class DepthToSpaceTF(nn.Module):
    """TensorFlow's depth_to_space in NCHW: input channel (i*s+j)*C + c
    goes to output channel c at row offset i, column offset j."""

    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        n, c, h, w = x.shape
        s = self.s
        x = x.view(n, s, s, c // (s * s), h, w).permute(0, 3, 4, 1, 5, 2)
        return x.reshape(n, c // (s * s), h * s, w * s)


class KerasNet(nn.Module):
    """A Keras functional model of the layer classes UpscalerJS uses,
    run node by node in topological (file) order."""

    def __init__(self, layers, weights):
        super().__init__()
        self.ops = []  # (name, kind, inputs, module or constant)
        self.mods = nn.ModuleList()
        for layer in layers:
            cls, cfg = layer["class_name"], layer["config"]
            name = layer.get("name") or cfg["name"]
            nodes = layer.get("inbound_nodes") or []
            ins = [n[0] for n in nodes[0]] if nodes else []
            if cls == "InputLayer":
                self.input = name
                continue
            if cls == "Conv2D":
                k = weights[name + "/kernel"]  # HWIO
                kh, kw, cin, cout = k.shape
                stride = cfg.get("strides", [1, 1])[0]
                dil = cfg.get("dilation_rate", [1, 1])[0]
                if cfg.get("padding") == "same":
                    if stride != 1 or kh % 2 == 0 or kw % 2 == 0:
                        raise ValueError("layer %s: only stride-1 odd 'same' convolutions" % name)
                    pad = (dil * (kh - 1) // 2, dil * (kw - 1) // 2)
                else:
                    pad = (0, 0)
                use_bias = cfg.get("use_bias", True)
                conv = nn.Conv2d(cin, cout, (kh, kw), stride, pad, dil, bias=use_bias)
                with torch.no_grad():
                    conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))))
                    if use_bias:
                        conv.bias.copy_(torch.from_numpy(weights[name + "/bias"]))
                self.mods.append(conv)
                self.ops.append((name, "layer", ins, conv))
                act = cfg.get("activation", "linear")
                if act not in ("linear", None):
                    self.ops.append((name, "act", [name], act))
            elif cls == "Activation":
                self.ops.append((name, "act", ins, cfg["activation"]))
            elif cls == "Concatenate":
                if cfg.get("axis", -1) not in (-1, 3):
                    raise ValueError("layer %s: concatenation on axis %s" % (name, cfg.get("axis")))
                self.ops.append((name, "cat", ins, None))
            elif cls == "Add":
                self.ops.append((name, "add", ins, None))
            elif cls == "UpSampling2D":
                if cfg.get("interpolation", "nearest") != "nearest":
                    raise ValueError("layer %s: interpolation %s" % (name, cfg.get("interpolation")))
                self.ops.append((name, "up", ins, cfg["size"][0]))
            elif cls == "MultiplyBeta":
                self.ops.append((name, "mul", ins, float(cfg.get("beta", 0.2))))
            elif cls.startswith("PixelShuffle"):
                m = DepthToSpaceTF(int(cfg["scale"]))
                self.mods.append(m)
                self.ops.append((name, "layer", ins, m))
            else:
                raise ValueError("layer %s: unsupported class %s" % (name, cls))

    def forward(self, x, output):
        if not hasattr(self, "last"):
            # Each value is dropped after its last use, as a framework's
            # executor would, so memory stays at the live activations.
            self.last = {}
            for k, (_, _, ins, _) in enumerate(self.ops):
                for i in ins:
                    self.last[i] = k
        vals = {self.input: x}
        for k, (name, kind, ins, op) in enumerate(self.ops):
            a = [vals[i] for i in ins]
            for i in set(ins):
                if self.last[i] == k and i != output:
                    del vals[i]
            if kind == "layer":
                y = op(a[0])
            elif kind == "act":
                y = {"relu": F.relu, "linear": lambda t: t, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[op](a[0])
            elif kind == "cat":
                y = torch.cat(a, 1)
            elif kind == "add":
                y = a[0]
                for t in a[1:]:
                    y = y + t
            elif kind == "up":
                y = F.interpolate(a[0], scale_factor=op, mode="nearest")
            else:  # mul
                y = a[0] * op
            vals[name] = y
        return vals[output]


def build(d):
    j = json.load(open(os.path.join(d, "model.json")))
    topo = j["modelTopology"]
    cfg = topo.get("model_config", topo)["config"]
    net = KerasNet(cfg["layers"], read_weights(d, j["weightsManifest"])).eval()
    return net, cfg["output_layers"][0][0]


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(2)
    nets = {}
    for m in job["models"]:
        net, out_name = build(m["dir"])
        h, w, unit = m["height"], m["width"], float(m["unit"])
        x = torch.from_numpy(np.fromfile(m["input"], np.float32).reshape(1, 3, h, w).copy()) * (unit / 255.0)
        nets[m["name"]] = {"net": net, "out": out_name, "x": x, "m": m, "layout": None, "y": None}
    reply({"torch": torch.__version__, "threads": torch.get_num_threads()})
    for line in sys.stdin:
        req = json.loads(line)
        if req["cmd"] == "quit":
            return
        e = nets[req["name"]]
        if req["cmd"] == "run":
            if e["layout"] != req["layout"]:
                mf = torch.channels_last if req["layout"] == "channels_last" else torch.contiguous_format
                e["net"] = e["net"].to(memory_format=mf)
                e["xf"] = e["x"].contiguous(memory_format=mf)
                e["layout"] = req["layout"]
            with torch.inference_mode():
                t0 = time.perf_counter()
                y = e["net"](e["xf"], e["out"])
                t = time.perf_counter() - t0
            e["y"] = y
            reply({"s": t})
        elif req["cmd"] == "diff":
            m, unit = e["m"], float(e["m"]["unit"])
            y = (e["y"] * (255.0 / unit)).clamp(0, 255).contiguous().numpy()
            ours = np.fromfile(m["ours"], np.float32).reshape(1, 3, m["height"] * m["scale"], m["width"] * m["scale"])
            reply({"max_abs_diff": float(np.abs(y.astype(np.float64) - ours).max())})
            del nets[req["name"]]


def reply(obj):
    print(json.dumps(obj), flush=True)


try:
    main()
except Exception as e:  # noqa: BLE001 - report, do not crash the bench
    reply({"error": "%s: %s" % (type(e).__name__, e)})
