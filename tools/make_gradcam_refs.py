#!/usr/bin/env python3
"""Grad-CAM reference (Selvaraju et al. 2017) for glia's nets/gradcam.h, computed the way
PyTorch users do it (pytorch-grad-cam): the feature map's gradient caught with
retain_grad, channel weights = spatial mean of d logit_c / dA, ReLU of the weighted sum,
F.interpolate(mode="bilinear", align_corners=False) to the input size.

The network is small and hand-made, in float64, eval mode:
  features  Conv2d(3,4,3,p1) BatchNorm2d(4) ReLU Conv2d(4,6,3,s2,p1) SiLU   -> A [1,6,6,5]
  head      Conv2d(6,5,1) ReLU AdaptiveAvgPool2d(1) Flatten Linear(5,3)      -> logits [1,3]
The 1x1 conv + ReLU in the head makes d logit / dA vary over space (behind a bare global
pooling it would be uniform), so the spatial mean is really exercised.

Names: param.features.*, buffer.features.*, param.head.*, input, feature_map, logits,
cam.<c>.weights [6], cam.<c>.small [6,5] (before up-sampling), cam.<c>.map [12,10], for
every class c.
Usage: make_gradcam_refs.py --out FILE
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(3)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.SiLU()).double()
    head = nn.Sequential(nn.Conv2d(6, 5, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(5, 3)).double()
    with torch.no_grad():  # running statistics that differ from the defaults
        features[1].running_mean.uniform_(-0.2, 0.2)
        features[1].running_var.uniform_(0.5, 1.5)
        features[1].weight.uniform_(0.5, 1.5)
        features[1].bias.uniform_(-0.3, 0.3)
    features.eval()
    head.eval()
    x = torch.rand(1, 3, 12, 10, dtype=torch.float64)

    t = {"input": x}
    for prefix, module in (("features.", features), ("head.", head)):
        for k, v in module.state_dict().items():
            kind = "param." if k.split(".")[-1] in ("weight", "bias") else "buffer."
            t[kind + prefix + k] = v.clone()
    a = features(x)
    t["feature_map"] = a.detach().clone()
    for c in range(3):
        fm = a.detach().clone().requires_grad_(True)
        logits = head(fm)
        logits[0, c].backward()
        weights = fm.grad.mean(dim=(2, 3), keepdim=True)
        small = F.relu((weights * fm.detach()).sum(dim=1, keepdim=True))
        big = F.interpolate(small, size=x.shape[2:], mode="bilinear", align_corners=False)
        assert (small > 0).any() and (small == 0).any(), f"class {c}: pick another seed, the map is degenerate"
        t["logits"] = logits.detach().clone()
        t[f"cam.{c}.weights"] = weights.flatten().clone()
        t[f"cam.{c}.small"] = small[0, 0].detach().clone()
        t[f"cam.{c}.map"] = big[0, 0].detach().clone()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    safetensors_lite.save({k: v.contiguous() for k, v in t.items()}, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
