#!/usr/bin/python3
"""PyTorch (CPU) timings at the shapes of bench/conv_cpu.cpp, for side-by-side numbers.

Run with Debian's torch:  /usr/bin/python3 tools/bench_torch_conv.py [--threads 2]
Prints median milliseconds and GFLOP/s (2 * multiply-adds) per op, same counting as the
Google Benchmark suite.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


CLOCK = time.perf_counter  # --clock process: CPU time of the process (all threads)


def median_ms(fn, min_time=0.5, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 3:
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    return 1e3 * statistics.median(times)


def same_pad(size, k, s):
    out = (size + s - 1) // s
    total = max((out - 1) * s + k - size, 0)
    return (total // 2, total - total // 2)


CONVS = [  # name, n, c_in, hw, c_out, k, stride, groups
    ("effnet_stem_3x3_s2", 1, 3, 240, 32, 3, 2, 1),
    ("effnet_dw3x3_96ch_60", 1, 96, 60, 96, 3, 1, 96),
    ("effnet_1x1_24to144_60", 1, 24, 60, 144, 1, 1, 1),
    ("effnet_dw5x5_240ch_30", 1, 240, 30, 240, 5, 1, 240),
    ("unet_3x3_64_256", 1, 64, 256, 64, 3, 1, 1),
    ("unet_3x3_256_64", 1, 256, 64, 256, 3, 1, 1),
]


def bench_conv(name, n, cin, hw, cout, k, s, g):
    top, bottom = same_pad(hw, k, s)
    x = torch.randn(n, cin, hw, hw)
    xp = F.pad(x, (top, bottom, top, bottom))  # "same" padding as the glia bench (may be asymmetric)
    w = torch.randn(cout, cin // g, k, k)
    b = torch.randn(cout)
    y = F.conv2d(xp, w, b, stride=s, groups=g)
    gy = torch.randn_like(y)
    macs = y.numel() * (cin // g) * k * k
    fwd = median_ms(lambda: F.conv2d(xp, w, b, stride=s, groups=g))
    bwd_in = median_ms(lambda: torch.nn.grad.conv2d_input(xp.shape, w, gy, stride=s, groups=g))
    bwd_w = median_ms(lambda: torch.nn.grad.conv2d_weight(xp, w.shape, gy, stride=s, groups=g))
    for what, ms in (("forward", fwd), ("backward_input", bwd_in), ("backward_weight", bwd_w)):
        print(f"conv2d {what:16s} {name:26s} {ms:9.3f} ms {2 * macs / ms / 1e6:8.2f} GFLOP/s")


def bench_bn(n, c, hw):
    x = torch.randn(n, c, hw, hw, requires_grad=True)
    bn = torch.nn.BatchNorm2d(c)
    bn.train()
    fwd = median_ms(lambda: bn(x))
    y = bn(x)
    gy = torch.randn_like(y)
    bwd = median_ms(lambda: torch.autograd.grad(bn(x), [x, bn.weight, bn.bias], gy)) - fwd
    numel = x.numel()
    print(f"batch_norm train forward  [{n},{c},{hw},{hw}] {fwd:9.3f} ms {8 * numel / fwd / 1e6:8.2f} GB/s")
    print(f"batch_norm backward (est) [{n},{c},{hw},{hw}] {bwd:9.3f} ms {12 * numel / bwd / 1e6:8.2f} GB/s")


def bench_maxpool(n, c, hw, k, s, p):
    x = torch.randn(n, c, hw, hw)
    ms = median_ms(lambda: F.max_pool2d(x, k, s, p, return_indices=True))
    ho = (hw + 2 * p - k) // s + 1
    ny = n * c * ho * ho
    print(f"max_pool2d k{k} s{s} p{p} [{n},{c},{hw},{hw}] {ms:9.3f} ms {(4 * (x.numel() + ny) + 8 * ny) / ms / 1e6:8.2f} GB/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", choices=["wall", "process"], default="wall",
                    help="process: CPU time, useful on a loaded machine with --threads 1")
    ap.add_argument("--filter", default="", help="only ops whose printed line contains this")
    args = ap.parse_args()
    global CLOCK
    if args.clock == "process":
        CLOCK = time.process_time
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock")
    with torch.no_grad():
        for c in CONVS:
            bench_conv(*c)
    bench_bn(8, 144, 60)
    bench_bn(4, 64, 128)
    with torch.no_grad():
        bench_maxpool(4, 64, 256, 2, 2, 0)
        bench_maxpool(4, 64, 128, 3, 2, 1)


if __name__ == "__main__":
    main()
