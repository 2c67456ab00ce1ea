"""Kernel workloads for tools/bench_torch.py: PyTorch running glia's per-op-family kernel
benchmarks (bench/<family>.cpp) at the same shapes, under the same names,
<family>/<op>/<backend>/<shape>/n:<batch>, so tools/bench_table.py joins the two.

The shape tables below mirror bench/bench_kernels.h and the family files; the cases a
family registers on cpu are the ones listed here (same tiny shapes, same batch-32 rule).
Each workload calls the ATen op PyTorch's own layer or autograd runs for it (e.g.
convolution_backward, native_batch_norm_backward), with inputs made outside the timing.

Backends: on --device cpu the names say "cpu". On --device cuda, PyTorch's CUDA path is
cuDNN/cuBLAS for convolutions, GEMM, batch norm and average pooling: those cases are
named "cudnn", to pair with glia's cuDNN/cuBLAS variants; every other op (PyTorch's own
CUDA kernels) is named "cuda", to pair with glia's hand-written kernels. Compare glia's
hand-written conv/GEMM against PyTorch by reading the glia cuda row beside the cudnn one.

bf16 (families gemm_bf16 and conv2d_bf16, bench/bench_16bit.h): the same shapes with
bfloat16 tensors, PyTorch's own bf16 path: cuBLAS/cuDNN tensor cores on cuda (named
"cudnn"), oneDNN's bf16 kernels on cpu (named "cpu": a CPU bf16 number, not a GPU one).
"""
import torch
import torch.nn.functional as F
import torchvision

aten = torch.ops.aten

# ---- shapes (bench/bench_kernels.h) ----------------------------------------------------------
B1_STAGES = [("b1_s1_32x120", 32, 120), ("b1_s2_144x60", 144, 60), ("b1_s3_240x30", 240, 30),
             ("b1_s4_480x15", 480, 15), ("b1_s5_672x15", 672, 15), ("b1_s6_1152x8", 1152, 8),
             ("b1_head_1280x8", 1280, 8)]
UNET_LEVELS = [("unet_l1_64x256", 64, 256), ("unet_l2_128x128", 128, 128), ("unet_l3_256x64", 256, 64),
               ("unet_l4_512x32", 512, 32), ("unet_l5_1024x16", 1024, 16)]
TINY = ("tiny_8x12", 8, 12)
TINY_BATCH = 2
FLAT = ("flat_4194304", 1, 2048)


def batches(device, flops, nbytes):
    """bench::batches: the GPU runs 1 and 32; the CPU 32 only where a call is estimated < 1 s."""
    if device == "cuda":
        return [1, 32]
    return [1, 32] if 32 * (flops / 10e9 + nbytes / 5e9) < 1.0 else [1]


class Family:
    """Names and registers the workloads of one family on the suite's device."""

    def __init__(self, suite, family, library_ops=(), dtype=torch.float32):
        self.suite, self.family, self.library_ops = suite, family, set(library_ops)
        self.dev = suite.device
        self.dtype = dtype
        self.elem = torch.tensor([], dtype=dtype).element_size()

    def backend(self, op):
        if self.dev == "cpu":
            return "cpu"
        return "cudnn" if op in self.library_ops else "cuda"

    def add(self, op, shape, n, make, flops=0.0, nbytes=0.0, name=None):
        """make() builds the inputs and returns the call (only when the name is wanted)."""
        name = name or f"{self.family}/{op}/{self.backend(op)}/{shape}/n:{n}"
        self.suite.run(name, None, flops=flops, bytes_moved=nbytes, setup=make)

    def rand(self, *shape, lo=-0.5, hi=0.5):
        return (torch.rand(*shape, device=self.dev) * (hi - lo) + lo).to(self.dtype)

    def shapes(self, table, cost):
        """(name, c, hw, n) for every batch a real shape runs at; cost(c, hw) = (flops, bytes) at n=1."""
        for name, c, hw in table:
            for n in batches(self.dev, *cost(c, hw)):
                yield name, c, hw, n

    def tiny(self):
        return self.dev == "cpu"  # the tiny shapes run on cpu (and sim); not on the GPU


# ---- conv2d, conv_transpose2d ------------------------------------------------------------------
CONV_LAYERS = [  # name, c_in, hw, c_out, k, stride, groups (bench/conv2d.cpp)
    ("b1_stem_3x3s2_3to32", 3, 240, 32, 3, 2, 1), ("b1_s1_dw3x3s1_32", 32, 120, 32, 3, 1, 32),
    ("b1_s1_project_32to16", 32, 120, 16, 1, 1, 1), ("b1_s2_expand_16to96", 16, 120, 96, 1, 1, 1),
    ("b1_s2_dw3x3s2_96", 96, 120, 96, 3, 2, 96), ("b1_s2_expand_24to144", 24, 60, 144, 1, 1, 1),
    ("b1_s2_dw3x3s1_144", 144, 60, 144, 3, 1, 144), ("b1_s2_se_reduce_144to6", 144, 1, 6, 1, 1, 1),
    ("b1_s2_se_expand_6to144", 6, 1, 144, 1, 1, 1), ("b1_s2_project_144to24", 144, 60, 24, 1, 1, 1),
    ("b1_s3_dw5x5s2_144", 144, 60, 144, 5, 2, 144), ("b1_s3_expand_40to240", 40, 30, 240, 1, 1, 1),
    ("b1_s3_dw5x5s1_240", 240, 30, 240, 5, 1, 240), ("b1_s3_project_240to40", 240, 30, 40, 1, 1, 1),
    ("b1_s4_dw3x3s2_240", 240, 30, 240, 3, 2, 240), ("b1_s4_expand_80to480", 80, 15, 480, 1, 1, 1),
    ("b1_s4_dw3x3s1_480", 480, 15, 480, 3, 1, 480), ("b1_s4_project_480to80", 480, 15, 80, 1, 1, 1),
    ("b1_s5_expand_112to672", 112, 15, 672, 1, 1, 1), ("b1_s5_dw5x5s1_672", 672, 15, 672, 5, 1, 672),
    ("b1_s5_project_672to112", 672, 15, 112, 1, 1, 1), ("b1_s6_dw5x5s2_672", 672, 15, 672, 5, 2, 672),
    ("b1_s6_expand_192to1152", 192, 8, 1152, 1, 1, 1), ("b1_s6_dw5x5s1_1152", 1152, 8, 1152, 5, 1, 1152),
    ("b1_s6_project_1152to192", 1152, 8, 192, 1, 1, 1), ("b1_s7_dw3x3s1_1152", 1152, 8, 1152, 3, 1, 1152),
    ("b1_s7_project_1152to320", 1152, 8, 320, 1, 1, 1), ("b1_head_1x1_320to1280", 320, 8, 1280, 1, 1, 1),
    ("unet_l1_3x3_3to64", 3, 256, 64, 3, 1, 1), ("unet_l1_3x3_64to64", 64, 256, 64, 3, 1, 1),
    ("unet_l1_shortcut_1x1_3to64", 3, 256, 64, 1, 1, 1), ("unet_l1_dec_3x3_128to64", 128, 256, 64, 3, 1, 1),
    ("unet_l1_dec_shortcut_1x1_128to64", 128, 256, 64, 1, 1, 1), ("unet_l1_head_1x1_64to1", 64, 256, 1, 1, 1, 1),
    ("unet_l2_3x3_64to128", 64, 128, 128, 3, 1, 1), ("unet_l2_3x3_128to128", 128, 128, 128, 3, 1, 1),
    ("unet_l2_shortcut_1x1_64to128", 64, 128, 128, 1, 1, 1), ("unet_l3_3x3_256to256", 256, 64, 256, 3, 1, 1),
    ("unet_l4_3x3_512to512", 512, 32, 512, 3, 1, 1), ("unet_l5_3x3_512to1024", 512, 16, 1024, 3, 1, 1),
    ("unet_l5_3x3_1024to1024", 1024, 16, 1024, 3, 1, 1),
]
CONV_TINY = [("tiny_3x3_8to16_12", 8, 12, 16, 3, 1, 1), ("tiny_dw3x3s2_16_12", 16, 12, 16, 3, 2, 16)]
UPCONVS = [("unet_up4_2x2s2_1024to512_16", 1024, 16, 512), ("unet_up3_2x2s2_512to256_32", 512, 32, 256),
           ("unet_up2_2x2s2_256to128_64", 256, 64, 128), ("unet_up1_2x2s2_128to64_128", 128, 128, 64)]
UPCONV_TINY = ("tiny_2x2s2_8to4_6", 8, 6, 4)
PASSES = ("forward", "backward_input", "backward_weight")


def conv_work(n, cin, hw, cout, k, s, g, elem=4):
    ho = (hw + 2 * (k // 2) - k) // s + 1
    ny = n * cout * ho * ho
    return 2.0 * ny * (cin // g) * k * k, float(elem) * (n * cin * hw * hw + cout * (cin // g) * k * k + ny)


def conv2d_benchmarks(suite, dtype=torch.float32, family="conv2d"):
    fam = Family(suite, family, PASSES, dtype)
    for op in PASSES:
        def case(layer, n, op=op):
            name, cin, hw, cout, k, s, g = layer
            flops, nbytes = conv_work(n, cin, hw, cout, k, s, g, fam.elem)

            def make():
                x, w = fam.rand(n, cin, hw, hw), fam.rand(cout, cin // g, k, k)
                p = k // 2
                if op == "forward":
                    return lambda: F.conv2d(x, w, None, s, p, 1, g)
                gy = fam.rand(*F.conv2d(x, w, None, s, p, 1, g).shape)
                mask = [op == "backward_input", op == "backward_weight", False]
                return lambda: aten.convolution_backward(gy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], g, mask)
            fam.add(op, name, n, make, flops, nbytes)
        if fam.tiny():
            for layer in CONV_TINY:
                case(layer, TINY_BATCH)
        for layer in CONV_LAYERS:
            for n in batches(fam.dev, *conv_work(1, *layer[1:])):  # float32 bytes, as bench::batches
                case(layer, n)


def conv_transpose2d_benchmarks(suite):
    fam = Family(suite, "conv_transpose2d", PASSES + ("backward_bias",))  # glia: conv2d_backward_bias

    def work(n, cin, hw, cout):
        nx = n * cin * hw * hw
        return 2.0 * nx * cout * 4, 4.0 * (nx + cin * cout * 4 + n * cout * 4 * hw * hw)
    for op in PASSES + ("backward_bias",):
        def case(u, n, op=op):
            name, cin, hw, cout = u

            def make():
                x, w = fam.rand(n, cin, hw, hw), fam.rand(cin, cout, 2, 2)
                if op == "forward":
                    return lambda: F.conv_transpose2d(x, w, None, 2)
                gy = fam.rand(n, cout, 2 * hw, 2 * hw)
                mask = [op == "backward_input", op == "backward_weight", op == "backward_bias"]
                return lambda: aten.convolution_backward(gy, x, w, [cout], [2, 2], [0, 0], [1, 1], True, [0, 0], 1, mask)
            flops, nbytes = work(n, cin, hw, cout)
            if op == "backward_bias":  # a sum of gy per channel
                ny = n * cout * 4 * hw * hw
                flops, nbytes = ny, 4.0 * (ny + cout)
            fam.add(op, name, n, make, flops, nbytes)
        if fam.tiny():
            case(UPCONV_TINY, TINY_BATCH)
        for u in UPCONVS:
            for n in batches(fam.dev, *work(1, *u[1:])):
                case(u, n)


# ---- gemm ----------------------------------------------------------------------------------------
GEMM_CPU_SQUARE = [256, 1024]
GEMM_GPU_SQUARE = [512, 1024, 2048, 4096]
GEMM_SHAPES = [  # name, kind, m, n, k (bench/gemm.cpp)
    ("b1_s2_expand_im2col_144x3600x24", "per_image", 144, 3600, 24),
    ("b1_head_im2col_1280x64x320", "per_image", 1280, 64, 320),
    ("unet_l1_im2col_64x65536x576", "per_image", 64, 65536, 576),
    ("unet_l3_im2col_256x4096x2304", "per_image", 256, 4096, 2304),
    ("fc_1280to4", "rows", 1, 4, 1280), ("fc_1280to1000", "rows", 1, 1000, 1280),
]
GEMM_TINY = ("tiny_24x40x56", "per_image", 24, 40, 56)


def gemm_benchmarks(suite, dtype=torch.float32, family="gemm"):
    fam = Family(suite, family, ["forward"], dtype)

    def work(kind, m, n, k, batch):
        if kind == "rows":
            m = batch
        b = batch if kind == "per_image" else 1
        return 2.0 * b * m * n * k, float(fam.elem) * (m * k + b * k * n + b * m * n)

    def case(name, kind, m, n, k, batch):
        def make():
            if kind == "per_image":  # one weight matrix for every image
                a, b = fam.rand(m, k), fam.rand(batch, k, n)
                c = torch.empty(batch, m, n, device=fam.dev, dtype=fam.dtype)
                return lambda: torch.matmul(a, b, out=c)
            rows = batch if kind == "rows" else m
            a, b = fam.rand(rows, k), fam.rand(k, n)
            c = torch.empty(rows, n, device=fam.dev, dtype=fam.dtype)
            return lambda: torch.mm(a, b, out=c)
        fam.add("forward", name, batch, make, *work(kind, m, n, k, batch))
    if fam.tiny():
        case(*GEMM_TINY, TINY_BATCH)
    for s in GEMM_CPU_SQUARE if fam.dev == "cpu" else GEMM_GPU_SQUARE:
        case(f"square_{s}", "square", s, s, s, 1)
    for name, kind, m, n, k in GEMM_SHAPES:
        # The batch rule counts float32 bytes, as bench::batches does for every family.
        for batch in batches(fam.dev, *gemm_fp32_work(kind, m, n, k, 1)):
            case(name, kind, m, n, k, batch)


def gemm_fp32_work(kind, m, n, k, batch):
    if kind == "rows":
        m = batch
    b = batch if kind == "per_image" else 1
    return 2.0 * b * m * n * k, 4.0 * (m * k + b * k * n + b * m * n)


# ---- bf16: gemm_bf16, conv2d_bf16 (bench/gemm.cpp, bench/conv2d.cpp: register_*_bf16) --------------
def gemm_bf16_benchmarks(suite):
    gemm_benchmarks(suite, torch.bfloat16, "gemm_bf16")


def conv2d_bf16_benchmarks(suite):
    conv2d_benchmarks(suite, torch.bfloat16, "conv2d_bf16")


# ---- elementwise, reduce, softmax --------------------------------------------------------------------
ELEMENTWISE_OPS = [  # name, on B1 stages, on U-Net levels, flat 4M (bench/elementwise.cpp)
    ("add", True, True, True), ("mul_per_channel", True, False, False), ("silu", True, False, True),
    ("silu_backward", True, False, True), ("sigmoid", True, False, False), ("sigmoid_backward", True, False, False),
    ("relu", False, True, False), ("relu_backward", False, True, False),
]


def elementwise_benchmarks(suite):
    fam = Family(suite, "elementwise")

    def nbytes(op, numel, channels):
        if op == "mul_per_channel":
            return 8.0 * numel + 4.0 * channels
        return (8.0 if op in ("silu", "sigmoid", "relu") else 12.0) * numel

    def case(op, shape, c, hw, n):
        numel = n * c * hw * hw

        def make():
            x, y = fam.rand(n, c, hw, hw), fam.rand(n, c, hw, hw)
            out = torch.empty_like(x)
            if op == "add":
                return lambda: torch.add(x, y, out=out)
            if op == "mul_per_channel":
                s = fam.rand(n, c, 1, 1)
                return lambda: torch.mul(x, s, out=out)
            if op == "silu":
                return lambda: F.silu(x)
            if op == "sigmoid":
                return lambda: torch.sigmoid(x, out=out)
            if op == "relu":
                return lambda: torch.relu(x)
            if op == "silu_backward":
                return lambda: aten.silu_backward(y, x)
            if op == "sigmoid_backward":  # PyTorch's takes the forward output
                sx = torch.sigmoid(x)
                return lambda: aten.sigmoid_backward(y, sx)
            return lambda: aten.threshold_backward(y, x, 0)
        flops = numel if op in ("add", "mul_per_channel") else 0
        fam.add(op, shape, n, make, flops, nbytes(op, numel, n * c))
    for op, b1, unet, flat in ELEMENTWISE_OPS:
        if fam.tiny():
            case(op, *TINY, TINY_BATCH)
        if flat and fam.dev == "cpu":
            case(op, *FLAT, 1)
        table = (B1_STAGES if b1 else []) + (UNET_LEVELS if unet else [])
        for shape, c, hw, n in fam.shapes(table, lambda c, hw, op=op: (0, nbytes(op, c * hw * hw, c))):
            case(op, shape, c, hw, n)


def reduce_benchmarks(suite):
    fam = Family(suite, "reduce")

    def case(op, shape, c, hw, n):
        numel = n * c * hw * hw
        out = {"sum": 1, "mean_hw": n * c, "sum_batch": c * hw * hw}[op]

        def make():
            x = fam.rand(n, c, hw, hw)
            if op == "sum":
                return lambda: x.sum()
            if op == "mean_hw":
                return lambda: x.view(n * c, hw * hw).mean(1)
            return lambda: x.view(n, c * hw * hw).sum(0)
        fam.add(op, shape, n, make, numel, 4.0 * (numel + out))
    for op in ("sum", "mean_hw", "sum_batch"):
        if fam.tiny():
            case(op, *TINY, TINY_BATCH)
        if op == "sum" and fam.dev == "cpu":
            case(op, *FLAT, 1)
        table = UNET_LEVELS if op == "sum" else B1_STAGES
        for shape, c, hw, n in fam.shapes(table, lambda c, hw: (c * hw * hw, 4.0 * c * hw * hw)):
            if op != "sum_batch" or n > 1:
                case(op, shape, c, hw, n)


def softmax_benchmarks(suite):
    fam = Family(suite, "softmax")
    per_element = {"forward": 8.0, "backward": 12.0, "cross_entropy": 4.0, "cross_entropy_backward": 8.0,
                   "bce_with_logits": 12.0, "bce_with_logits_backward": 16.0}
    per_sample = {"cross_entropy": 12.0, "cross_entropy_backward": 16.0}

    def nbytes(op, n, width):
        return per_element[op] * n * width + per_sample.get(op, 0.0) * n

    def case(op, shape, width, n):
        def make():
            x, gy = fam.rand(n, width), fam.rand(n, width)
            if op == "forward":
                return lambda: torch.softmax(x, 1)
            if op == "backward":
                y = torch.softmax(x, 1)
                return lambda: aten._softmax_backward_data(gy, y, 1, torch.float32)
            target = torch.arange(n, device=fam.dev) % width
            if op == "cross_entropy":
                return lambda: F.cross_entropy(x, target, reduction="none")
            if op == "cross_entropy_backward":  # what autograd runs: nll_loss's, then log_softmax's backward
                logp = torch.log_softmax(x, 1)
                grad_loss, total = fam.rand(n), torch.tensor(float(n), device=fam.dev)
                return lambda: aten._log_softmax_backward_data(
                    aten.nll_loss_backward(grad_loss, logp, target, None, 0, -100, total), logp, 1, torch.float32)
            t = fam.rand(n, width, lo=0.0, hi=1.0)
            if op == "bce_with_logits":
                return lambda: F.binary_cross_entropy_with_logits(x, t, reduction="none")
            # PyTorch 1.13 differentiates the composite formula: (sigmoid(x) - t) * grad
            return lambda: torch.sigmoid(x).sub_(t).mul_(gy)
        fam.add(op, shape, n, make, 0, nbytes(op, n, width))
    for op in per_element:
        bce = op.startswith("bce")
        if fam.tiny():
            case(op, *(("tiny_map_1x12", 144) if bce else ("tiny_classes_10", 10)), TINY_BATCH)
        widths = [("unet_out_1x256", 256 * 256)] if bce else [("classes_4", 4), ("classes_1000", 1000)]
        for shape, width in widths:
            for n in batches(fam.dev, 0, nbytes(op, 1, width)):
                case(op, shape, width, n)


# ---- batch_norm, pool, dropout, resample, copy, optim ------------------------------------------------
def batch_norm_benchmarks(suite):
    fam = Family(suite, "batch_norm", ["forward_train", "forward_eval", "backward"])
    small = [("b1_s2_144x60", 144, 60, 8), ("small_64x128", 64, 128, 4)]  # the older CPU suite's

    def case(op, shape, c, hw, n):
        numel = n * c * hw * hw

        def make():
            x, gy = fam.rand(n, c, hw, hw), fam.rand(n, c, hw, hw)
            gamma, beta = fam.rand(c), fam.rand(c)
            rm, rv = fam.rand(c), fam.rand(c, lo=0.5, hi=1.5)
            if op == "forward_train":
                return lambda: aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
            if op == "forward_eval":
                return lambda: aten.native_batch_norm(x, gamma, beta, rm, rv, False, 0.1, 1e-5)
            _, sm, sinv = aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
            return lambda: aten.native_batch_norm_backward(gy, x, gamma, rm, rv, sm, sinv, True, 1e-5, [True] * 3)
        fam.add(op, shape, n, make, 0, (12.0 if op == "backward" else 8.0) * numel)
    for op in ("forward_train", "forward_eval", "backward"):
        per_element = 12.0 if op == "backward" else 8.0
        if fam.tiny():
            case(op, *TINY, TINY_BATCH)
            for shape, c, hw, n in small:
                case(op, shape, c, hw, n)
        for shape, c, hw, n in fam.shapes(B1_STAGES + UNET_LEVELS, lambda c, hw: (0, per_element * c * hw * hw)):
            case(op, shape, c, hw, n)


def pool_benchmarks(suite):
    fam = Family(suite, "pool", ["avg_pool2d"])  # glia's cuDNN pooling is the average forward

    def window_case(op, shape, c, hw, k, s, p, n):
        ho = (hw + 2 * p - k) // s + 1
        nx, ny = n * c * hw * hw, n * c * ho * ho
        nbytes = 4.0 * (nx + ny) + (8.0 * ny if op.startswith("max") else 0.0)
        name = f"{shape}_{k}x{k}s{s}" + (f"p{p}" if p else "")

        def make():
            x, gy = fam.rand(n, c, hw, hw), fam.rand(n, c, ho, ho)
            if op == "max_pool2d":
                return lambda: F.max_pool2d(x, k, s, p, return_indices=True)
            if op == "max_pool2d_backward":
                _, idx = F.max_pool2d(x, k, s, p, return_indices=True)
                return lambda: aten.max_pool2d_with_indices_backward(gy, x, [k, k], [s, s], [p, p], [1, 1], False, idx)
            if op == "avg_pool2d":
                return lambda: F.avg_pool2d(x, k, s, p)
            return lambda: aten.avg_pool2d_backward(gy, x, [k, k], [s, s], [p, p], False, True, None)
        fam.add(op, name, n, make, 0, nbytes)

    def global_case(op, shape, c, hw, n):
        def make():
            x, gy = fam.rand(n, c, hw, hw), fam.rand(n, c, 1, 1)
            if op == "global_avg_pool":
                return lambda: F.adaptive_avg_pool2d(x, 1)
            return lambda: aten._adaptive_avg_pool2d_backward(gy, x)
        fam.add(op, shape, n, make, 0, 4.0 * (n * c * hw * hw + n * c))
    for op in ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"):
        extra = 8.0 if op.startswith("max") else 0.0
        if fam.tiny():
            window_case(op, *TINY, 2, 2, 0, TINY_BATCH)
            window_case(op, "unet_l1_64x256", 64, 256, 2, 2, 0, 4)  # the older CPU suite's
            window_case(op, "small_64x128", 64, 128, 3, 2, 1, 4)
        for shape, c, hw, n in fam.shapes(UNET_LEVELS[:-1], lambda c, hw: (0, 4.0 * (c * hw * hw + c * hw * hw // 4)
                                                                          + extra * c * hw * hw // 4)):
            window_case(op, shape, c, hw, 2, 2, 0, n)
    for op in ("global_avg_pool", "global_avg_pool_backward"):
        if fam.tiny():
            global_case(op, *TINY, TINY_BATCH)
        for shape, c, hw, n in fam.shapes(B1_STAGES, lambda c, hw: (0, 4.0 * (c * hw * hw + c))):
            global_case(op, shape, c, hw, n)


def dropout_benchmarks(suite):
    fam = Family(suite, "dropout")

    def case(op, shape, c, hw, n):
        def make():
            x = fam.rand(n, c, hw, hw)
            if op == "dropout":
                return lambda: aten.native_dropout(x, 0.5, True)
            if op == "dropout_backward":
                _, mask = aten.native_dropout(x, 0.5, True)
                return lambda: aten.native_dropout_backward(x, mask, 2.0)
            return lambda: torchvision.ops.stochastic_depth(x, 0.5, "row", True)
        fam.add(op, shape, n, make, 0, 8.0 * n * c * hw * hw)
    for op in ("dropout", "dropout_backward", "stochastic_depth"):
        if fam.tiny():
            case(op, *TINY, TINY_BATCH)
        table = ([] if op == "stochastic_depth" else [("b1_head_features_1280", 1280, 1)]) + B1_STAGES
        for shape, c, hw, n in fam.shapes(table, lambda c, hw: (0, 8.0 * c * hw * hw)):
            case(op, shape, c, hw, n)


def resample_benchmarks(suite):
    fam = Family(suite, "resample")

    def case(mode, backward, shape, c, hw, n):
        op = f"{mode}2x" + ("_backward" if backward else "")

        def make():
            x, gy = fam.rand(n, c, hw, hw), fam.rand(n, c, 2 * hw, 2 * hw)
            if not backward:
                kw = {} if mode == "nearest" else {"align_corners": False}
                return lambda: F.interpolate(x, scale_factor=2, mode=mode, **kw)
            size, in_size = [2 * hw, 2 * hw], [n, c, hw, hw]
            if mode == "nearest":
                return lambda: aten.upsample_nearest2d_backward(gy, size, in_size, 2.0, 2.0)
            return lambda: aten.upsample_bilinear2d_backward(gy, size, in_size, False, 2.0, 2.0)
        fam.add(op, shape, n, make, 0, 4.0 * n * c * hw * hw * 5)
    for mode in ("nearest", "bilinear"):
        for backward in (False, True):
            if fam.tiny():
                case(mode, backward, "tiny_8x6", 8, 6, TINY_BATCH)
            for shape, c, hw, n in fam.shapes(UNET_LEVELS[1:], lambda c, hw: (0, 20.0 * c * hw * hw)):
                case(mode, backward, shape, c, hw, n)


def copy_benchmarks(suite):
    fam = Family(suite, "copy")

    def case(op, shape, c, hw, n):
        def make():
            src = fam.rand(n, c, hw, hw)
            if op == "concat_channels":  # the upsampled half goes after the skip
                dst = torch.empty(n, 2 * c, hw, hw, device=fam.dev)
                return lambda: dst[:, c:].copy_(src)
            dst = torch.empty_like(src)
            return lambda: dst.copy_(src)
        fam.add(op, shape, n, make, 0, 8.0 * n * c * hw * hw)
    for op in ("concat_channels", "contiguous"):
        if fam.tiny():
            case(op, *TINY, TINY_BATCH)
        for shape, c, hw, n in fam.shapes(UNET_LEVELS[:-1], lambda c, hw: (0, 8.0 * c * hw * hw)):
            case(op, shape, c, hw, n)


def optim_benchmarks(suite):
    fam = Family(suite, "optim")
    sizes = ([("tiny_params_1000", 1000)] if fam.tiny() else []) + [
        ("b1_params_7794184", 7794184), ("unet_params_32436353", 32436353)]
    for op, per_param in (("adam", 28.0), ("sgd_momentum", 20.0)):
        for shape, count in sizes:
            def make(op=op, count=count):
                p = torch.nn.Parameter(fam.rand(count))
                p.grad = fam.rand(count)
                if op == "adam":
                    opt = torch.optim.Adam([p], lr=1e-3, weight_decay=1e-4, foreach=True)
                else:
                    opt = torch.optim.SGD([p], lr=1e-2, momentum=0.9, weight_decay=1e-4, foreach=True)
                opt.step()  # creates the state (moments, momentum buffer) outside the timing
                return opt.step
            fam.add(op, shape, 1, make, 0, per_param * count, name=f"optim/{op}/{fam.backend(op)}/{shape}")


FAMILIES = [conv2d_benchmarks, conv_transpose2d_benchmarks, gemm_benchmarks, elementwise_benchmarks,
            reduce_benchmarks, softmax_benchmarks, batch_norm_benchmarks, pool_benchmarks, dropout_benchmarks,
            resample_benchmarks, copy_benchmarks, optim_benchmarks, gemm_bf16_benchmarks, conv2d_bf16_benchmarks]


def kernel_benchmarks(suite):
    """Every family's workloads on suite.device; tensors are made only for wanted names."""
    with torch.no_grad():
        for family in FAMILIES:
            family(suite)
