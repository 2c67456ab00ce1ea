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
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import ResUNet  # noqa: E402


def count(model, shape):
    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            macs[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            macs[0] += inp[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            macs[0] += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(shape))
    for h in handles:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    return params, macs[0]


def paper_classifier():
    m = torchvision.models.efficientnet_b1()
    m.classifier = nn.Sequential(nn.Linear(1280, 512), nn.ReLU(), nn.Dropout(0.4), nn.Linear(512, 4))
    return m


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
