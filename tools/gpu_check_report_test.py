#!/usr/bin/python3
"""Checks tools/gpu_check_report.py's tensor-core goals (issue 17) on made-up results:
a goal is met only at or above its target, "not measured" names the case's own error,
and a dry run measures nothing. Run by ctest (bench_tools.gpu_check_goals).

  /usr/bin/python3 tools/gpu_check_report_test.py
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "gpu_check_report.py")


def row(name, ms=None, images=None, error=None):
    r = {"name": name, "run_type": "iteration", "time_unit": "ms"}
    if error:
        r.update(error_occurred=True, error_message=error)
    else:
        r["real_time"] = ms
    if images:
        r["images/s"] = images
    return r


def goals(files, dry=False):
    with tempfile.TemporaryDirectory() as work:
        os.makedirs(os.path.join(work, "bench"))
        for name, rows in files.items():
            with open(os.path.join(work, "bench", name), "w") as f:
                json.dump({"context": {}, "benchmarks": rows}, f)
        out = os.path.join(work, "r.json")
        subprocess.run([sys.executable, TOOL, "--work", work, "--card", "test", "--device", "cuda",
                        "--dry-run", "1" if dry else "0", "--json", out, "--md", os.path.join(work, "r.md")],
                       capture_output=True, text=True)  # exit 2: no tests ran, which is not what is checked
        with open(out) as f:
            return {g["workload"]: g for g in json.load(f)["goals"]}


def check(cond, what):
    if not cond:
        sys.exit(f"gpu_check_report_test: FAILED: {what}")


GEMM = "gemm_bf16/forward/{}/square_4096/n:1/manual_time"
NET = "net/effnet_b1_train/cuda/batch:32/precision:bf16/real_time"
G_KEY, N_KEY = "gemm_bf16/forward/square_4096/n:1", "net/effnet_b1_train/batch:32/precision:bf16"

# Hand at 0.4 ms, cuBLAS 0.25 ms: 62.5 % >= 60 %, met. B1: 1.2x < 1.25x, not met.
g = goals({"glia_bf16_gemm.json": [row(GEMM.format("cuda"), 0.4), row(GEMM.format("cudnn"), 0.25)],
           "glia_bf16_net.json": [row(NET, 20, images=1200)], "torch_bf16.json": [row(NET, 25, images=1000)]})
check(g[G_KEY]["met"] is True and abs(g[G_KEY]["measured"] - 0.625) < 1e-9, f"GEMM goal at 62.5 %: {g[G_KEY]}")
check(g[N_KEY]["met"] is False and abs(g[N_KEY]["measured"] - 1.2) < 1e-9, f"B1 goal at 1.2x: {g[N_KEY]}")

# Hand at 0.5 ms: 50 %, not met. B1 at exactly 1.25x: met.
g = goals({"glia_bf16_gemm.json": [row(GEMM.format("cuda"), 0.5), row(GEMM.format("cudnn"), 0.25)],
           "glia_bf16_net.json": [row(NET, 20, images=1250)], "torch_bf16.json": [row(NET, 25, images=1000)]})
check(g[G_KEY]["met"] is False, f"GEMM goal at 50 %: {g[G_KEY]}")
check(g[N_KEY]["met"] is True, f"B1 goal at 1.25x: {g[N_KEY]}")

# No hand bf16 kernel yet, no PyTorch run: not measured, saying why.
g = goals({"glia_bf16_gemm.json": [row(GEMM.format("cuda"), error="no bf16 kernel on backend 'cuda' yet"),
                                   row(GEMM.format("cudnn"), 0.25)],
           "glia_bf16_net.json": [row(NET, 20, images=1250)]})
check(g[G_KEY]["met"] is None and "no bf16 kernel on backend 'cuda'" in g[G_KEY]["note"], f"missing hand: {g[G_KEY]}")
check(g[N_KEY]["met"] is None and "PyTorch" in g[N_KEY]["note"], f"missing PyTorch: {g[N_KEY]}")

# A dry run measures nothing, whatever its rows say.
g = goals({"glia_bf16_gemm.json": [row(GEMM.format("cuda"), 0.4), row(GEMM.format("cudnn"), 0.25)]}, dry=True)
check(g[G_KEY]["met"] is None and "dry run" in g[G_KEY]["note"], f"dry run: {g[G_KEY]}")
print("gpu_check_report_test: passed")
