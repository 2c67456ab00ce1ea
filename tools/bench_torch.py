#!/usr/bin/python3
"""PyTorch's side of glia's benchmark suite: the same workloads under the same names,
printed as Google Benchmark JSON, so tools/bench_table.py can join the two.

  /usr/bin/python3 tools/bench_torch.py [--threads N] [--filter REGEX] [--device cpu|cuda] [--out FILE]

Workloads (names as glia's benchmarks print them):
  BM_conv2d<Pass::...>/...   bench/conv_cpu.cpp shapes: forward, backward-input, backward-weight
  BM_batch_norm_*, BM_max_pool2d   bench/conv_cpu.cpp
  BM_sgemm, BM_binary_add, BM_softmax, BM_reduce_sum   bench/cpu_ops.cpp
  net/...                    bench/networks.cpp: EfficientNet-B1 inference and training
                             steps (full, frozen base), residual U-Net training steps
Timing follows Google Benchmark: one warm-up call, then calls until --min-time seconds
have passed (at least one); real_time is the mean wall time per call; cpu_time is the
process CPU time per call (all threads). Threads: --threads, default OMP_NUM_THREADS or
the core count, the same as glia's OpenMP threads.
"""
import argparse
import json
import os
import platform
import re
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import ResUNet  # noqa: E402

DEVICE = "cpu"


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def measure(fn, min_time):
    fn()  # warm-up
    sync()
    iterations, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        sync()
        iterations += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return iterations, elapsed, time.process_time() - cpu_start


class Suite:
    def __init__(self, args):
        self.args, self.results = args, []
        self.pattern = re.compile(args.filter) if args.filter else None

    def wants(self, name):
        return self.pattern is None or self.pattern.search(name) is not None

    def run(self, name, fn, unit="ms", flops=0.0, bytes_moved=0.0, images=0, min_time=None, setup=None):
        """fn is built lazily by setup() when given, so filtered-out workloads cost nothing."""
        if not self.wants(name):
            return
        if setup is not None:
            fn = setup()
        iterations, wall, cpu = measure(fn, min_time or self.args.min_time)
        scale = {"ms": 1e3, "us": 1e6}[unit]
        row = {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1,
               "repetition_index": 0, "threads": 1, "iterations": iterations,
               "real_time": wall / iterations * scale, "cpu_time": cpu / iterations * scale, "time_unit": unit}
        per_s = iterations / wall
        if flops:
            row["GFLOP/s"] = flops * per_s * 1e-9
        if bytes_moved:
            row["GB/s"] = bytes_moved * per_s * 1e-9
        if images:
            row["images/s"] = images * per_s
        self.results.append(row)
        print(f"{name:70s} {row['real_time']:10.3f} {unit}", file=sys.stderr)


# ---- kernels (bench/conv_cpu.cpp, bench/cpu_ops.cpp) --------------------------------------
CONVS = [  # n, c_in, hw, c_out, k, stride, groups
    (1, 3, 240, 32, 3, 2, 1), (1, 96, 60, 96, 3, 1, 96), (1, 96, 120, 96, 3, 2, 96), (1, 24, 60, 144, 1, 1, 1),
    (1, 240, 30, 240, 5, 1, 240), (1, 64, 256, 64, 3, 1, 1), (1, 256, 64, 256, 3, 1, 1),
]


def same_pad(size, k, s):
    out = (size + s - 1) // s
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv_benchmarks(suite):
    for n, cin, hw, cout, k, s, g in CONVS:
        args = f"n:{n}/cin:{cin}/hw:{hw}/cout:{cout}/k:{k}/s:{s}/g:{g}/real_time"
        top, bottom = same_pad(hw, k, s)
        x = torch.randn(n, cin, hw, hw)
        xp = F.pad(x, (top, bottom, top, bottom))  # glia's "same" padding may be asymmetric
        w, b = torch.randn(cout, cin // g, k, k), torch.randn(cout)
        y = F.conv2d(xp, w, b, stride=s, groups=g)
        gy = torch.randn_like(y)
        macs = y.numel() * (cin // g) * k * k
        moved = 4.0 * (x.numel() + w.numel() + y.numel())
        suite.run(f"BM_conv2d<Pass::forward>/{args}", lambda: F.conv2d(xp, w, b, stride=s, groups=g),
                  flops=2 * macs, bytes_moved=moved)
        suite.run(f"BM_conv2d<Pass::backward_input>/{args}",
                  lambda: torch.nn.grad.conv2d_input(xp.shape, w, gy, stride=s, groups=g),
                  flops=2 * macs, bytes_moved=moved)
        suite.run(f"BM_conv2d<Pass::backward_weight>/{args}",
                  lambda: torch.nn.grad.conv2d_weight(xp, w.shape, gy, stride=s, groups=g),
                  flops=2 * macs, bytes_moved=moved)


def norm_pool_benchmarks(suite):
    for n, c, hw in ((8, 144, 60), (4, 64, 128)):
        x, gy = torch.randn(n, c, hw, hw), torch.randn(n, c, hw, hw)
        gamma, beta = torch.randn(c), torch.randn(c)
        rm, rv = torch.zeros(c), torch.ones(c)
        _, save_mean, save_invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
        suite.run(f"BM_batch_norm_train/{n}/{c}/{hw}/real_time",
                  lambda: torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5),
                  bytes_moved=8.0 * x.numel())
        suite.run(f"BM_batch_norm_backward/{n}/{c}/{hw}/real_time",
                  lambda: torch.ops.aten.native_batch_norm_backward(
                      gy, x, gamma, rm, rv, save_mean, save_invstd, True, 1e-5, [True, True, True]),
                  bytes_moved=12.0 * x.numel())
    for n, c, hw, k, s, p in ((4, 64, 256, 2, 2, 0), (4, 64, 128, 3, 2, 1)):
        x = torch.randn(n, c, hw, hw)
        ho = (hw + 2 * p - k) // s + 1
        ny = n * c * ho * ho
        suite.run(f"BM_max_pool2d/{n}/{c}/{hw}/{k}/{s}/{p}/real_time",
                  lambda: F.max_pool2d(x, k, s, p, return_indices=True),
                  bytes_moved=4.0 * (x.numel() + ny) + 8.0 * ny)


def cpu_ops_benchmarks(suite):
    for m, n, k in ((256, 256, 256), (1024, 1024, 1024), (64, 12544, 576)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        c = torch.empty(m, n)
        suite.run(f"BM_sgemm/{m}/{n}/{k}/real_time", lambda: torch.mm(a, b, out=c), flops=2.0 * m * n * k)
    n = 4 << 20
    a, b, out = torch.randn(n), torch.randn(n), torch.empty(n)
    suite.run(f"BM_binary_add/{n}/real_time", lambda: torch.add(a, b, out=out), unit="us", bytes_moved=12.0 * n)
    x, gy = torch.randn(n), torch.randn(n)
    suite.run(f"BM_silu<false>/{n}/real_time", lambda: F.silu(x), unit="us", bytes_moved=8.0 * n)
    suite.run(f"BM_silu<true>/{n}/real_time", lambda: torch.ops.aten.silu_backward(gy, x), unit="us",
              bytes_moved=12.0 * n)
    x = torch.randn(32, 1000)
    suite.run("BM_softmax/32/1000/real_time", lambda: torch.softmax(x, 1),
              unit="us", bytes_moved=8.0 * x.numel())
    r = torch.randn(n)
    suite.run(f"BM_reduce_sum/{n}/real_time", lambda: r.sum(), unit="us", bytes_moved=4.0 * n)


# ---- networks (bench/networks.cpp) --------------------------------------------------------
def forward_macs(model, shape):
    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            macs[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            macs[0] += inp[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            macs[0] += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(shape, device=DEVICE))
    model.train(was_training)
    for h in handles:
        h.remove()
    return macs[0]


def paper_classifier():
    m = torchvision.models.efficientnet_b1()
    m.classifier = nn.Sequential(nn.Linear(1280, 512), nn.ReLU(), nn.Dropout(0.4), nn.Linear(512, 4))
    return m


def bce_dice(logits, target, smooth=1.0):  # train/losses.h: BCE + soft Dice over the whole batch
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * target).sum() + smooth) / (p.sum() + target.sum() + smooth)
    return F.binary_cross_entropy_with_logits(logits, target) + dice


def train_step(model, params, x, loss_fn):
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
    return step


def network_benchmarks(suite, min_time):
    gpu = DEVICE == "cuda"
    dev = DEVICE
    infer_big, train_batch, unet_batch = (32, 32, 8) if gpu else (8, 8, 1)
    s = 240

    def effnet_infer(batch):
        def setup():
            torch.manual_seed(1)
            model = torchvision.models.efficientnet_b1().to(DEVICE).eval()
            x = torch.randn(batch, 3, s, s, device=DEVICE)

            def fn():
                with torch.no_grad():
                    model(x)
            return fn
        return setup

    for batch in (1, infer_big):
        name = f"net/effnet_b1_infer/{dev}/batch:{batch}/real_time"
        macs = forward_macs(torchvision.models.efficientnet_b1().to(DEVICE), (1, 3, s, s)) if suite.wants(name) else 0
        suite.run(name, None, flops=2 * macs * batch, images=batch, min_time=min_time, setup=effnet_infer(batch))

    def effnet_train(frozen):
        def setup():
            torch.manual_seed(1)
            model = paper_classifier().to(DEVICE).train()
            if frozen:  # Keras frozen base: no gradients, batch norm on running statistics
                for p in model.features.parameters():
                    p.requires_grad_(False)
                model.features.eval()
            x = torch.randn(train_batch, 3, s, s, device=DEVICE)
            labels = (torch.arange(train_batch) % 4).to(DEVICE)
            params = [p for p in model.parameters() if p.requires_grad]
            return train_step(model, params, x, lambda out: F.cross_entropy(out, labels))
        return setup

    for frozen in (False, True):
        name = f"net/effnet_b1_train{'_frozen' if frozen else ''}/{dev}/batch:{train_batch}/real_time"
        macs = forward_macs(paper_classifier().to(DEVICE), (1, 3, s, s)) if suite.wants(name) else 0
        suite.run(name, None, flops=(2 if frozen else 6) * macs * train_batch, images=train_batch,
                  min_time=min_time, setup=effnet_train(frozen))

    def unet_train(width):
        def setup():
            torch.manual_seed(1)
            model = ResUNet(3, width, 4).to(DEVICE).train()
            x = torch.randn(unet_batch, 3, 256, 256, device=DEVICE)
            i = torch.arange(unet_batch * 256 * 256)
            mask = (((i // 256) % 64 < 20) & (i % 256 < 100)).float().reshape(unet_batch, 1, 256, 256).to(DEVICE)
            return train_step(model, list(model.parameters()), x, lambda out: bce_dice(out, mask))
        return setup

    for width in (64, 16):
        name = f"net/unet_train/{dev}/width:{width}/batch:{unet_batch}/real_time"
        macs = forward_macs(ResUNet(3, width, 4).to(DEVICE), (1, 3, 256, 256)) if suite.wants(name) else 0
        suite.run(name, None, flops=6 * macs * unet_batch, images=unet_batch, min_time=min_time,
                  setup=unet_train(width))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    global DEVICE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per kernel workload")
    ap.add_argument("--net-min-time", type=float, default=2.0, help="seconds per network workload")
    ap.add_argument("--filter", default="", help="regex on the benchmark names (as --benchmark_filter)")
    ap.add_argument("--kernels", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--networks", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_torch: --device cuda but torch sees no GPU")
    torch.set_num_threads(args.threads)
    suite = Suite(args)
    if args.kernels and DEVICE == "cpu":
        with torch.no_grad():
            conv_benchmarks(suite)
        norm_pool_benchmarks(suite)
        with torch.no_grad():
            cpu_ops_benchmarks(suite)
    if args.networks:
        network_benchmarks(suite, args.net_min_time)
    context = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_name": platform.node(),
        "executable": "tools/bench_torch.py", "num_cpus": os.cpu_count(), "cpu_model": cpu_model(),
        "library": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
        "torch_threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
        "device": DEVICE, "loadavg": open("/proc/loadavg").read().strip(),
    }
    if DEVICE == "cuda":
        context["gpu"] = torch.cuda.get_device_name(0)
    doc = json.dumps({"context": context, "benchmarks": suite.results}, indent=2)
    print(doc)
    if args.out:
        with open(args.out, "w") as f:
            f.write(doc + "\n")


if __name__ == "__main__":
    main()
