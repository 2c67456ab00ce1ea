#!/usr/bin/env python3
"""Reference trajectories for glia's optimizers (torch.optim): three parameter tensors,
a fixed random gradient per step, and the parameters after each of 5 steps, for
Adam (L2 weight decay), AdamW (decoupled) and SGD (momentum, nesterov, weight decay).

Names: init.<p>, grad.<step>.<p>, <optimizer>.<step>.<p> with p in {a, b, c}.
Usage: make_optim_refs.py --out FILE
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402

STEPS = 5
SHAPES = {"a": (3, 5, 7), "b": (11,), "c": (4, 1, 3, 3)}
OPTIMIZERS = {
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-1),
    "sgd": lambda ps: torch.optim.SGD(ps, lr=5e-2, momentum=0.9, weight_decay=1e-3, nesterov=True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(7)
    t = {}
    init = {k: torch.randn(s, dtype=torch.float64) for k, s in SHAPES.items()}
    grads = [{k: torch.randn(s, dtype=torch.float64) for k, s in SHAPES.items()} for _ in range(STEPS)]
    for k, v in init.items():
        t["init." + k] = v
    for i, g in enumerate(grads):
        for k, v in g.items():
            t[f"grad.{i}.{k}"] = v
    for name, make in OPTIMIZERS.items():
        params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
        opt = make(list(params.values()))
        for i in range(STEPS):
            for k, p in params.items():
                p.grad = grads[i][k].clone()
            opt.step()
            for k, p in params.items():
                t[f"{name}.{i}.{k}"] = p.detach().clone()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    safetensors_lite.save(t, args.out, metadata={"torch": torch.__version__})
    print(f"make_optim_refs: wrote {args.out}")


if __name__ == "__main__":
    main()
