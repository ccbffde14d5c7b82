# PyTorch reference for `atelier bench style`: the Gatys objective of
# engine/style with the same VGG19 weights (read from the TF.js model folder
# itself, Keras HWIO kernels), the same images and start, and
# torch.optim.LBFGS with the strong-Wolfe line search, on two threads. Run as
#   python3 - SPEC.json < bench_style_torch.py
# where SPEC.json names the raw float32 images Atelier wrote and the run's
# settings (see app/cmd_bench_style.go, torchSpec). It prints progress lines
# and ends with one JSON line: {"torch", "threads", "loss0", "runs": [{"iters":
# [[seconds, loss, evaluations], ...]}], ...} or {"error": message}.
#
# The objective, as engine/style computes it on 0..255 RGB images:
#   content  cw * mean((F - P)^2) at the content tap,
#   style    sw * sum_l w_l * sum((G_l - A_l)^2) / C_l^2,
#            G = F F^T / (C H W) at each style tap,
#   tv       tvw * sum(dx^2 + dy^2) / (N C H W),
# with VGG19's input the BGR image minus the Caffe ImageNet mean.
# Time counts from before the content features and style targets are taken
# (Atelier's side counts the same work) to the end of each iteration.
import json
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no PyTorch"
    print(json.dumps({"error": "cannot import torch: %s" % e}))
    sys.exit(0)

MEAN_BGR = [103.939, 116.779, 123.68]
BLOCKS = [2, 2, 4, 4, 4]


def load_raw(path, shape):
    a = np.fromfile(path, dtype="<f4")
    return torch.from_numpy(a.reshape(shape).copy())


def conv_names(deepest):
    """The Keras names of VGG19's convolutions up to deepest (block, conv)."""
    names = []
    for b, convs in enumerate(BLOCKS):
        for i in range(convs):
            names.append("block%d_conv%d" % (b + 1, i + 1))
            if (b + 1, i + 1) == deepest:
                return names
    return names


def load_vgg(model_dir, deepest):
    """Conv layers as (tap, OIHW weight, bias), with (pool, None, None)
    between blocks, up to the deepest tap, read from the TF.js layers model
    (float32 shards, Keras HWIO kernels); only the shards needed are read."""
    with open(os.path.join(model_dir, "model.json")) as f:
        m = json.load(f)
    need = set()
    for n in conv_names(deepest):
        need |= {n + "/kernel", n + "/bias"}
    weights = {}
    for group in m["weightsManifest"]:
        if not need & {w["name"] for w in group["weights"]}:
            continue
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            if w["dtype"] != "float32" or w.get("quantization"):
                raise ValueError("unsupported weight encoding for %s" % w["name"])
            n = int(np.prod(w["shape"]))
            weights[w["name"]] = np.frombuffer(buf, dtype="<f4", count=n, offset=off).reshape(w["shape"])
            off += 4 * n
    layers, block = [], 1
    for name in conv_names(deepest):
        b, i = name[len("block"):].split("_conv")
        if int(b) != block:
            layers.append(("pool%d" % block, None, None))
            block = int(b)
        k = torch.from_numpy(weights[name + "/kernel"].copy()).permute(3, 2, 0, 1).contiguous()
        bias = torch.from_numpy(weights[name + "/bias"].copy())
        layers.append(("relu%s_%s" % (b, i), k, bias))
    return layers


def tap_index(tap):
    b, i = tap[len("relu"):].split("_")
    return int(b), int(i)


class VGG:
    def __init__(self, layers):
        self.layers = layers
        self.mean = torch.tensor(MEAN_BGR).view(1, 3, 1, 1)

    def __call__(self, img, taps):
        x = img.flip(1) - self.mean  # RGB -> BGR, minus the mean
        out = {}
        want = set(taps)
        for name, k, bias in self.layers:
            if k is None:
                x = F.max_pool2d(x, 2, 2)
                continue
            x = F.relu(F.conv2d(x, k, bias, padding=1))
            if name in want:
                out[name] = x
                if len(out) == len(want):
                    break
        return out


def gram(f):
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return (m @ m.t()) / (c * h * w)


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    h, w = spec["height"], spec["width"]
    content = load_raw(spec["content"], (1, 3, h, w))
    style = load_raw(spec["style"], (1, 3, spec["style_height"], spec["style_width"]))
    start = load_raw(spec["start"], (1, 3, h, w))
    style_taps, content_tap = spec["style_taps"], spec["content_tap"]
    tap_w = spec["style_tap_weights"]
    cw, sw, tvw = spec["content_weight"], spec["style_weight"], spec["tv_weight"]
    deepest = max(tap_index(t) for t in style_taps + [content_tap])
    net = VGG(load_vgg(spec["model_dir"], deepest))
    taps = list(dict.fromkeys(style_taps + [content_tap]))

    def objective(x, targets, content_feats):
        feats = net(x, taps)
        lc = cw * ((feats[content_tap] - content_feats) ** 2).mean()
        ls = 0
        for tap, a, wt in zip(style_taps, targets, tap_w):
            c = a.shape[0]
            ls = ls + sw * wt * ((gram(feats[tap]) - a) ** 2).sum() / (c * c)
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        ltv = tvw * ((dx ** 2).sum() + (dy ** 2).sum()) / x.numel()
        return lc + ls + ltv, (float(lc), float(ls), float(ltv))

    def setup():
        with torch.no_grad():
            cf = net(content, [content_tap])[content_tap].clone()
            sf = net(style, style_taps)
            targets = [gram(sf[t]).clone() for t in style_taps]
        return cf, targets

    # Iteration 0: the loss and gradient at the start, for the check.
    cf, targets = setup()
    x0 = start.clone().requires_grad_(True)
    loss0, parts0 = objective(x0, targets, cf)
    loss0.backward()
    x0.grad.numpy().astype("<f4").tofile(spec["grad0_out"])
    print("pytorch iteration 0: loss %.6g (content %.6g, style %.6g, tv %.6g)" % ((float(loss0),) + parts0), file=sys.stderr, flush=True)

    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "loss0": float(loss0), "parts0": parts0}
    runs = []
    for run in spec["runs"]:
        runs.append(optimise(spec, objective, setup, start, run))
    result["runs"] = runs
    print(json.dumps(result))


def optimise(spec, objective, setup, start, run):
    """One timed optimisation: at least run["min_iters"] iterations, then on
    until the loss is at most run["target"] (when given), at most
    run["max_iters"] in all. Returns the [seconds, loss, evaluations so far]
    of every iteration."""
    t0 = time.perf_counter()
    cf, targets = setup()
    x = start.clone().requires_grad_(True)
    # Evaluations at a point already evaluated are answered from a cache:
    # L-BFGS's step() re-evaluates its starting point, which Atelier's
    # L-BFGS keeps from the line search instead.
    cache = []
    evals = [0]

    def closure():
        for cx, cl, cg in cache:
            if torch.equal(cx, x.data):
                x.grad = cg.clone()
                return cl
        evals[0] += 1
        x.grad = None
        loss, _ = objective(x, targets, cf)
        loss.backward()
        if len(cache) >= 4:
            cache.pop(0)
        cache.append((x.data.clone(), loss.detach(), x.grad.clone()))
        return loss

    # The first step moves the steepest pixel by first_step_pixels grey
    # levels, as Atelier's first step after a reset does: torch's first
    # step is min(1, 1/|g|_1) * lr, every later one lr = 1.
    closure()
    g = x.grad.abs()
    l1, gmax = float(g.sum()), float(g.max())
    lr = spec["first_step_pixels"] / gmax / min(1.0, 1.0 / l1) if gmax > 0 else 1.0
    opt = torch.optim.LBFGS([x], lr=lr, max_iter=1, history_size=spec["history"],
                            tolerance_grad=1e-7, tolerance_change=1e-9,
                            line_search_fn="strong_wolfe")
    trace = []
    target = run.get("target")
    for it in range(1, run["max_iters"] + 1):
        opt.step(closure)
        if it == 1:
            opt.param_groups[0]["lr"] = 1.0
        loss = float(closure())  # cached: the accepted point
        trace.append([time.perf_counter() - t0, loss, evals[0]])
        if it % 10 == 0:
            print("pytorch iteration %d: loss %.6g at %.2f s" % (it, loss, trace[-1][0]), file=sys.stderr, flush=True)
        if it >= run["min_iters"] and (target is None or loss <= target):
            break
    return {"iters": trace}


main()
