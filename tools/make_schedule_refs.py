#!/usr/bin/env python3
"""Reference learning-rate sequences from torch.optim.lr_scheduler for glia's schedules
(train/lr_schedule.h), float64:

  per step (50 steps = 5 epochs of 10 batches, base rate 1e-3), the rate of each step:
    cosine           CosineAnnealingLR(T_max=50)
    cosine_warmup    SequentialLR(LinearLR(0.01, 15), CosineAnnealingLR(T_max=35, eta_min=1e-5))
    constant_warmup  LinearLR(0.01, total_iters=15)
    onecycle         OneCycleLR(max_lr=1e-3, total_steps=50) on Adam; also .beta1
    onecycle_min     the same with final rate 1e-6 (final_div_factor = 1e-3 / 25 / 1e-6)
  per epoch, on the monitored sequence plateau.metric (a noisy rising accuracy), the rate
  after each epoch's ReduceLROnPlateau(mode='max', factor=0.3) step:
    plateau_torch_p1_c0   patience 1, cooldown 0, threshold 1e-4 'abs', eps 0
    plateau_torch_p1_c1   patience 1, cooldown 1, threshold 1e-4 'abs', eps 0
    plateau_torch_p2_c0   patience 2 and PyTorch's other defaults (what a PyTorch user
                          writes for "factor 0.3, patience 2")

Usage: make_schedule_refs.py --out FILE
"""
import argparse
import math
import os
import random
import sys
import warnings

import torch
from torch.optim import lr_scheduler as sched

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402

BASE, STEPS, WARMUP = 1e-3, 50, 15


def per_step(make, with_beta1=False):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=BASE)
    s = make(opt)
    lrs, betas = [], []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        betas.append(opt.param_groups[0]["betas"][0])
        p.grad = torch.ones(1)
        opt.step()
        s.step()
    out = {"lr": torch.tensor(lrs, dtype=torch.float64)}
    if with_beta1:
        out["beta1"] = torch.tensor(betas, dtype=torch.float64)
    return out


def plateau(metric, **kwargs):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=BASE)
    s = sched.ReduceLROnPlateau(opt, mode="max", factor=0.3, **kwargs)
    lrs = []
    for m in metric:
        s.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    return torch.tensor(lrs, dtype=torch.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # SequentialLR's deprecation notices
    t = {}
    runs = {
        "cosine": (lambda o: sched.CosineAnnealingLR(o, T_max=STEPS), False),
        "cosine_warmup": (lambda o: sched.SequentialLR(
            o, [sched.LinearLR(o, start_factor=0.01, total_iters=WARMUP),
                sched.CosineAnnealingLR(o, T_max=STEPS - WARMUP, eta_min=1e-5)], milestones=[WARMUP]), False),
        "constant_warmup": (lambda o: sched.LinearLR(o, start_factor=0.01, total_iters=WARMUP), False),
        "onecycle": (lambda o: sched.OneCycleLR(o, max_lr=BASE, total_steps=STEPS), True),
        "onecycle_min": (lambda o: sched.OneCycleLR(o, max_lr=BASE, total_steps=STEPS,
                                                    final_div_factor=BASE / 25 / 1e-6), True),
    }
    for name, (make, beta1) in runs.items():
        for k, v in per_step(make, beta1).items():
            t[f"{name}.{k}"] = v
    rng = random.Random(3)
    metric = [round(0.5 + 0.4 * (1 - math.exp(-i / 6)) + rng.gauss(0, 0.012), 4) for i in range(40)]
    metric[20] = metric[19] + 5e-5  # an "improvement" smaller than the threshold 1e-4
    t["plateau.metric"] = torch.tensor(metric, dtype=torch.float64)
    t["plateau_torch_p1_c0.lr"] = plateau(metric, patience=1, cooldown=0, threshold=1e-4, threshold_mode="abs", eps=0)
    t["plateau_torch_p1_c1.lr"] = plateau(metric, patience=1, cooldown=1, threshold=1e-4, threshold_mode="abs", eps=0)
    t["plateau_torch_p2_c0.lr"] = plateau(metric, patience=2)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    safetensors_lite.save(t, args.out, metadata={"torch": torch.__version__})
    print(f"make_schedule_refs: wrote {args.out}")


if __name__ == "__main__":
    main()
