#!/usr/bin/env python3
"""PyTorch's float32 -> bfloat16 / float16 conversions, for glia's (kernels/half.h), and
float64 -> 16 bits (PyTorch goes through float32 too, so a double just beside a tie can
round twice: glia does the same on purpose).

Written (safetensors, the 16-bit results in their own dtypes BF16 and F16, so the test
also reads glia's BF16/F16 file path):
  inputs   F32  every bfloat16 and every float16 value, the tie between every two
                neighbours of each format and the floats either side of it, and 300000
                random float32 bit patterns (NaNs left out: PyTorch's NaN bits differ
                between its scalar and vector paths; glia's NaN rule is tested in
                tests/kernels_cpu/half_test.cpp)
  bf16     BF16 inputs.to(torch.bfloat16)
  f16      F16  inputs.to(torch.float16)
  inputs64 F64  doubles within 2^-40 of ties of both formats, and random doubles
  bf16_64  BF16 inputs64.to(torch.bfloat16)
  f16_64   F16  inputs64.to(torch.float16)

Usage: make_half_refs.py --out FILE
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402


def all_values(dtype):
    v = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(dtype).float()
    return v[~torch.isnan(v)]


def ties_and_neighbours(dtype):
    v = torch.unique(all_values(dtype).double())  # sorted; -0 and +0 merge
    v = v[torch.isfinite(v)]
    mid = ((v[1:] + v[:-1]) / 2).float()
    up = torch.nextafter(mid, torch.full_like(mid, float("inf")))
    down = torch.nextafter(mid, torch.zeros_like(mid))
    return torch.cat([mid, up, down])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(17)
    random_bits = torch.randint(-(2**31), 2**31 - 1, (300000,), dtype=torch.int64, generator=g).to(torch.int32)
    random = random_bits.view(torch.float32)
    random = random[~torch.isnan(random)]
    x = torch.cat([all_values(torch.bfloat16), all_values(torch.float16), ties_and_neighbours(torch.bfloat16),
                   ties_and_neighbours(torch.float16), random, torch.tensor([65520.0, float("inf"), -float("inf")])])
    ties64 = torch.cat([ties_and_neighbours(torch.bfloat16)[:20000], ties_and_neighbours(torch.float16)]).double()
    x64 = torch.cat([ties64 + ties64.abs() * 2.0**-40, ties64 - ties64.abs() * 2.0**-40,
                     torch.randn(10000, dtype=torch.float64, generator=g) * 100])
    t = {"inputs": x, "bf16": x.to(torch.bfloat16), "f16": x.to(torch.float16),
         "inputs64": x64, "bf16_64": x64.to(torch.bfloat16), "f16_64": x64.to(torch.float16)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    safetensors_lite.save(t, args.out, metadata={"torch": torch.__version__})
    print(f"make_half_refs: wrote {args.out} ({x.numel()} float32 and {x64.numel()} float64 inputs)")


if __name__ == "__main__":
    main()
