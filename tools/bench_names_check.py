#!/usr/bin/python3
"""Checks that tools/bench_torch_kernels.py runs exactly the cpu cases glia's kernel
benchmarks register (same names), so the shape tables on the two sides cannot drift apart
and tools/bench_table.py always pairs every row. Run by ctest (bench_names.torch_kernels).

  /usr/bin/python3 tools/bench_names_check.py build/bench/bench_conv2d build/bench/bench_gemm ...

Exit 1 listing the names only one side has. Cases named harness_* are left out: they
time the kernel test harness's GEMM table (tests/kernels_ops/cases.h: odd, empty and
threaded-split shapes) on glia's backends, to keep test and benchmark shapes one list;
they are not comparison rows. Nor are the cpu bf16_* cases (bench/gemm.cpp, conv2d.cpp):
glia's bfloat16 against its own float32, until the PyTorch side has them (issue 17).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch_kernels import kernel_benchmarks  # noqa: E402


class NameRecorder:
    """Stands in for bench_torch.Suite: records the names, builds and runs nothing."""
    device = "cpu"

    def __init__(self):
        self.names = set()

    def run(self, name, fn, **kwargs):
        self.names.add(name)


def glia_names(binary):
    out = subprocess.run([binary, "--benchmark_list_tests", "--benchmark_filter=/cpu/"], check=True,
                         capture_output=True, text=True).stdout
    names = {line.replace("/real_time", "").replace("/manual_time", "") for line in out.split() if line}
    return {n for n in names if "/harness_" not in n and "/bf16_" not in n}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    glia = set().union(*(glia_names(b) for b in sys.argv[1:]))
    recorder = NameRecorder()
    kernel_benchmarks(recorder)
    families = {name.split("/")[0] for name in glia}
    torch = {name for name in recorder.names if name.split("/")[0] in families}
    only_glia, only_torch = sorted(glia - torch), sorted(torch - glia)
    for name in only_glia:
        print(f"glia only:    {name}")
    for name in only_torch:
        print(f"PyTorch only: {name}")
    print(f"bench_names_check: {len(glia & torch)} cpu cases on both sides, "
          f"{len(only_glia)} glia only, {len(only_torch)} PyTorch only")
    sys.exit(1 if only_glia or only_torch else 0)


if __name__ == "__main__":
    main()
