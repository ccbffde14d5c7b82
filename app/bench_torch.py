# PyTorch reference for `atelier bench vgg`: VGG19 conv1_1 .. relu5_1 with
# random weights, timed forward and forward+backward to the input on one
# random size x size image, with two threads. Run as
#   python3 - SIZE ITERS WARMUP < bench_torch.py
# It prints one JSON line: {"torch": version, "fwd_s": best, "fwdbwd_s": best}
# or {"error": message} when PyTorch cannot be imported.
import json
import sys
import time

try:
    import torch
    import torch.nn as nn
except Exception as e:  # noqa: BLE001 - any import failure means "no PyTorch"
    print(json.dumps({"error": "cannot import torch: %s" % e}))
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


def main():
    size, iters, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
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

    def best(f):
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return min(ts)

    for _ in range(warmup):
        fwdbwd()
    f = best(fwd)
    fb = best(fwdbwd)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "fwd_s": f, "fwdbwd_s": fb}))


main()
