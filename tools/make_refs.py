#!/usr/bin/env python3
"""Writes PyTorch reference outputs for glia's network tests (correctness rung 3).

For each model: seeded weights, an input batch and a probe tensor R; the forward output
in eval and train mode; gradients of loss = sum(out * R) for every parameter (train
mode); running statistics after that train forward; parameters after 3 Adam steps
(lr 1e-3, weight_decay 1e-4 as L2, PyTorch's Adam). Dropout and stochastic depth are
set to p = 0 so train-mode outputs are deterministic on both sides.

Names: param.<state_dict name>, buffer.<name>, input, probe, eval.out, train.out,
grad.<name>, train.buffer.<name>, adam3.param.<name>.

Also writes torchvision_efficientnet_b1.safetensors through tools/export_torchvision.py
(random weights, float32, plus the eval output of a fixed input) so the C++ tests check
that an exported torchvision state_dict loads into glia and computes the same thing.

Usage: make_refs.py --out DIR [--models efficientnet_b0,efficientnet_b1_classifier,unet,export_b1]
"""
import argparse
import os
import sys

import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision  # noqa: E402
import safetensors_lite  # noqa: E402
from unet import ResUNet  # noqa: E402


def no_randomness(model):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if type(m).__name__ == "StochasticDepth":
            m.p = 0.0
    return model


def paper_classifier(base):
    """EfficientNet-B1 base -> global average pooling -> Dense 512 ReLU -> Dropout 0.4 -> Dense 4."""
    base.classifier = nn.Sequential(nn.Linear(1280, 512), nn.ReLU(), nn.Dropout(0.4), nn.Linear(512, 4))
    return base


MODELS = {
    # name: (constructor, input shape)
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(), (2, 3, 64, 64)),
    "efficientnet_b1_classifier": (lambda: paper_classifier(torchvision.models.efficientnet_b1()), (2, 3, 64, 64)),
    "unet": (lambda: ResUNet(in_channels=3, width=8, depth=3), (2, 3, 32, 32)),
}


def make(name, out_dir, seed=1234):
    torch.manual_seed(seed)
    ctor, shape = MODELS[name]
    model = no_randomness(ctor()).double()
    x = torch.rand(shape, dtype=torch.float64)
    t = {}
    for k, v in model.state_dict().items():
        t[("param." if k in dict(model.named_parameters()) else "buffer.") + k] = v.clone()
    t["input"] = x
    model.eval()
    with torch.no_grad():
        out = model(x)
    t["eval.out"] = out
    probe = torch.randn(out.shape, dtype=torch.float64)
    t["probe"] = probe

    model.train()
    out = model(x)
    t["train.out"] = out.detach()
    (out * probe).sum().backward()
    for k, p in model.named_parameters():
        t["grad." + k] = p.grad.clone()
    for k, v in model.state_dict().items():
        if k not in dict(model.named_parameters()):
            t["train.buffer." + k] = v.clone()

    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(3):
        opt.zero_grad()
        (model(x) * probe).sum().backward()
        opt.step()
    for k, p in model.named_parameters():
        t["adam3.param." + k] = p.detach().clone()

    path = os.path.join(out_dir, name + ".safetensors")
    safetensors_lite.save(t, path, metadata={"model": name, "torch": torch.__version__, "seed": seed})
    print(f"make_refs: wrote {path} ({len(t)} tensors)")


def make_export(out_dir, seed=99):
    """torchvision efficientnet_b1 -> safetensors via the export tool; eval output at 64x64 stored beside."""
    model = export_torchvision.build("efficientnet_b1", pretrained=False, seed=seed).eval()
    path = os.path.join(out_dir, "torchvision_efficientnet_b1.safetensors")
    export_torchvision.export(model, path, torch.float32, {"model": "efficientnet_b1", "seed": seed})
    x = torch.rand((1, 3, 64, 64), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        out = model(x)
    safetensors_lite.save({"input": x, "eval.out": out}, os.path.join(out_dir, "torchvision_efficientnet_b1.io.safetensors"))
    print(f"make_refs: wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(list(MODELS) + ["export_b1"]))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.models.split(","):
        if name == "export_b1":
            make_export(args.out)
            continue
        if name not in MODELS:
            sys.exit(f"make_refs: unknown model '{name}' (known: {', '.join(MODELS)})")
        make(name, args.out)


if __name__ == "__main__":
    main()
