# PyTorch reference for `atelier bench vgg`: VGG19 conv1_1 .. relu5_1 with
# random weights on one random size x size image, with two threads, timed
# one pass at a time when asked, so that Atelier can alternate its own
# passes with PyTorch's and both see the same load on a busy machine. Run as
#   python3 -c "$(cat bench_torch.py)" SIZE WARMUP
# It builds the network, runs WARMUP forward+backward passes, and then
# answers each line of standard input with one JSON line:
#   first, unasked: {"torch": version, "threads": n} or {"error": message}
#     when PyTorch cannot be imported;
#   {"cmd": "run", "kind": "fwd"}: {"s": seconds of one forward pass};
#   {"cmd": "run", "kind": "fwdbwd"}: {"s": seconds of one forward pass
#     and the backward pass from dL/dy = 1 to the input};
#   {"cmd": "quit"}: exits.
import json
import sys
import time

try:
    import torch
    import torch.nn as nn
except Exception as e:  # noqa: BLE001 - any import failure means "no PyTorch"
    print(json.dumps({"error": "cannot import torch: %s" % e}), flush=True)
    sys.exit(0)


def vgg19_to_relu5_1():
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
            cin = v
    return nn.Sequential(*layers)


def reply(obj):
    print(json.dumps(obj), flush=True)


def main():
    size, warmup = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = vgg19_to_relu5_1().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.rand(1, 3, size, size, requires_grad=True)

    def fwd():
        with torch.no_grad():
            net(x)

    def fwdbwd():
        x.grad = None
        y = net(x)
        y.backward(torch.ones_like(y))

    for _ in range(warmup):
        fwdbwd()
    reply({"torch": torch.__version__, "threads": torch.get_num_threads()})
    passes = {"fwd": fwd, "fwdbwd": fwdbwd}
    for line in sys.stdin:
        req = json.loads(line)
        if req["cmd"] == "quit":
            return
        f = passes[req["kind"]]
        t0 = time.perf_counter()
        f()
        reply({"s": time.perf_counter() - t0})


try:
    main()
except Exception as e:  # noqa: BLE001 - report, do not crash the bench
    reply({"error": "%s: %s" % (type(e).__name__, e)})
