#!/usr/bin/python3
"""PyTorch's side of glia's benchmark suite: the same workloads under the same names,
printed as Google Benchmark JSON, so tools/bench_table.py can join the two.

  /usr/bin/python3 tools/bench_torch.py [--threads N] [--config CONFIG.json] [--filter REGEX]
      [--device cpu|cuda] [--out FILE]

Workloads (names as glia's benchmarks print them), one module per kind:
tools/bench_torch_kernels.py (per-kernel) and tools/bench_torch_nets.py (layers, networks):
  <family>/<op>/<backend>/<shape>/n:<batch>   bench/<family>.cpp, one binary per op family
                             (conv2d, conv_transpose2d, gemm, elementwise, reduce, softmax,
                             batch_norm, pool, dropout, resample, copy, optim); on --device
                             cuda named cudnn where glia has a cuDNN/cuBLAS variant, else cuda
  layer/<block>/<fwd|fwd_bwd>/<device>/batch:<N>   bench/layers.cpp: the networks' blocks
                             (B1 stem, first MBConv of each stage, head conv; U-Net encoder
                             blocks, bottleneck, decoder steps); only the batch-1 cases
                             unless --layer-filter says otherwise ('' for all)
  net/...                    bench/networks.cpp: EfficientNet-B1 inference, forward+backward
                             and training steps (full, frozen base), residual U-Net
                             inference and training steps
Timing follows Google Benchmark: one warm-up call, then calls until --min-time seconds
have passed (at least one); real_time is the mean wall time per call; cpu_time is the
process CPU time per call (all threads). Threads: --threads, default OMP_NUM_THREADS or
the core count, the same as glia's OpenMP threads. --config: the thread configuration
tools/bench_torch_config.py chose (OPENBLAS_NUM_THREADS, OMP_WAIT_POLICY); the process
must run under it (scripts/bench-compare.sh does so) and the context records it.
"""
import argparse
import json
import os
import platform
import re
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch_config import check_and_describe, environment  # noqa: E402
from bench_torch_kernels import kernel_benchmarks  # noqa: E402
from bench_torch_nets import layer_benchmarks, network_benchmarks  # noqa: E402


def sync():
    if torch.cuda.is_available() and torch.cuda.is_initialized():
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
        self.args, self.results, self.device = args, [], args.device
        self.pattern = re.compile(args.filter) if args.filter else None

    def wants(self, name):
        return self.pattern is None or self.pattern.search(name) is not None

    def narrowed(self, regex):
        """A view of this suite (same results) whose workloads must also match regex."""
        view = Suite(self.args)
        view.results, extra = self.results, re.compile(regex)
        view.wants = lambda name: self.wants(name) and extra.search(name) is not None
        return view

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


def set_tf32_off():
    """fp32 convolutions and matmuls in full fp32. PyTorch >= 2.9 has fp32_precision (mixing
    it with the older allow_tf32 flags is an error there); older ones only the flags."""
    if hasattr(torch.backends, "fp32_precision"):
        torch.backends.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        torch.backends.cudnn.conv.fp32_precision = "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def tf32_state():
    if hasattr(torch.backends, "fp32_precision"):
        return {"matmul": torch.backends.cuda.matmul.fp32_precision,
                "cudnn_conv": torch.backends.cudnn.conv.fp32_precision}
    return {"matmul": "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee",
            "cudnn_conv": "tf32" if torch.backends.cudnn.allow_tf32 else "ieee"}


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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--config", help="tools/bench_torch_config.py's JSON: checked, recorded in the context")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per kernel workload")
    ap.add_argument("--net-min-time", type=float, default=2.0, help="seconds per network workload")
    ap.add_argument("--layer-min-time", type=float, default=0.5, help="seconds per layer workload")
    ap.add_argument("--filter", default="", help="regex on the benchmark names (as --benchmark_filter)")
    ap.add_argument("--layer-filter", default="/batch:1/",
                    help="regex the layer workloads must also match (default: batch 1; '' for all)")
    ap.add_argument("--kernel-filter", default="",
                    help="regex the kernel workloads must also match (scripts/bench-compare.sh's default set)")
    ap.add_argument("--net-filter", default="", help="regex the network workloads must also match")
    ap.add_argument("--kernels", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--networks", action=argparse.BooleanOptionalAction, default=True,
                    help="whole networks and (unless --no-layers) their layers")
    ap.add_argument("--layers", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--tf32", choices=["off", "default"], default="default",
                    help="cuda: 'off' makes fp32 convolutions and matmuls exact fp32 (as glia's kernels), "
                         "'default' leaves PyTorch's own choice (TF32 for cuDNN convolutions)")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--quiet", action="store_true", help="with --out: do not print the JSON")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_torch: --device cuda but torch sees no GPU")
    config = check_and_describe(args.config, args.threads) if args.config else None
    torch.set_num_threads(args.threads)
    if args.tf32 == "off":
        set_tf32_off()
    suite = Suite(args)
    if args.kernels:
        kernel_benchmarks(suite.narrowed(args.kernel_filter))
    if args.networks and args.layers:
        layer_benchmarks(suite.narrowed(args.layer_filter), args.layer_min_time)
    if args.networks:
        network_benchmarks(suite.narrowed(args.net_filter), args.net_min_time)
    context = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_name": platform.node(),
        "executable": "tools/bench_torch.py", "num_cpus": os.cpu_count(), "cpu_model": cpu_model(),
        "library": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
        "torch_threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
        "device": args.device, "loadavg": open("/proc/loadavg").read().strip(),
        "thread_env": environment(),
        "tf32": args.tf32, "tf32_state": tf32_state(),
    }
    if config:
        context["torch_config"] = config
    if args.device == "cuda":
        context["gpu"] = torch.cuda.get_device_name(0)
    doc = json.dumps({"context": context, "benchmarks": suite.results}, indent=2)
    if not (args.quiet and args.out):
        print(doc)
    if args.out:
        with open(args.out, "w") as f:
            f.write(doc + "\n")


if __name__ == "__main__":
    main()
