"""Kernel workloads for tools/bench_torch.py: PyTorch running glia's per-kernel
benchmarks (bench/*.cpp) at the same shapes, under the same names."""
import torch
import torch.nn.functional as F

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


def kernel_benchmarks(suite):
    """Every kernel workload; CPU only so far."""
    if suite.device != "cpu":
        return
    with torch.no_grad():
        conv_benchmarks(suite)
    norm_pool_benchmarks(suite)
    with torch.no_grad():
        cpu_ops_benchmarks(suite)
