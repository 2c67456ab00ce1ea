#!/usr/bin/env python3
"""Parameter counts and multiply-accumulates of the PyTorch side, to put beside glia's
(nets/README.md). MACs are counted like glia's summary and fvcore/torchvision's "GFLOPS":
convolutions, transposed convolutions and linear layers only, one image; FLOPs = 2 x MACs.

  /usr/bin/python3 tools/count_params_flops.py
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch_nets import forward_macs, paper_classifier  # noqa: E402
from unet import ResUNet  # noqa: E402


def count(model, shape):
    return sum(p.numel() for p in model.parameters()), forward_macs(model, shape)


def main():
    torch.set_num_threads(1)
    rows = [
        ("torchvision efficientnet_b1 (1000 classes), 240x240", torchvision.models.efficientnet_b1, (1, 3, 240, 240)),
        ("paper classifier (B1 base + 512 + 4), 240x240", paper_classifier, (1, 3, 240, 240)),
        ("tools/unet.py ResUNet(width 64, depth 4), 256x256", lambda: ResUNet(3, 64, 4), (1, 3, 256, 256)),
    ]
    for name, ctor, shape in rows:
        params, macs = count(ctor(), shape)
        print(f"{name}: {params} parameters, {macs} MACs ({2 * macs / 1e9:.3f} GFLOPs)")


if __name__ == "__main__":
    main()
