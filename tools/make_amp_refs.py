#!/usr/bin/env python3
"""Writes PyTorch's CPU autocast (bfloat16) forward of the paper's EfficientNet-B1
classifier and the residual U-Net, for glia's mixed-precision reference test
(tests/reference/amp_test.cpp).

Each model is built and randomised exactly as tools/make_refs.py does (every parameter
and buffer off its default, batch-norm statistics calibrated on the input), then run in
eval mode in float64 (the truth) and with its float32 weights under
torch.autocast('cpu', dtype=torch.bfloat16). glia's bf16 forward is judged against the
float64 output with PyTorch's own bf16 error as the yardstick (see the test).

Names: param.<name>, buffer.<name>, input; U-Net: out.f64, out.bf16; B1, per entry i of
`features` and for the head: stage<i>.in, stage<i>.out.f64, stage<i>.out.bf16, head.in,
head.out.f64, head.out.bf16.

Usage: make_amp_refs.py --out DIR
"""
import argparse
import copy
import os
import sys

import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_refs  # noqa: E402
import safetensors_lite  # noqa: E402
from unet import ResUNet  # noqa: E402

MODELS = {
    # B1 at 64x64 (the smallest size whose last stages still have 2x2 maps, see make_refs.py)
    "amp_efficientnet_b1_classifier": (lambda: make_refs.paper_classifier(torchvision.models.efficientnet_b1()),
                                       (2, 3, 64, 64)),
    "amp_unet": (lambda: ResUNet(in_channels=3, width=8, depth=3), (2, 3, 32, 32)),
}


def bf16_forward(module, x64):
    """module (float32 weights) on x64 rounded to float32, under CPU autocast bfloat16."""
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = module(x64.float())
    assert out.dtype == torch.bfloat16, f"autocast gave {out.dtype}: torch {torch.__version__} lacks CPU bf16 autocast"
    return out.double()


def make(name, out_dir, seed=4321):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    ctor, shape = MODELS[name]
    x = torch.rand(shape, generator=gen)
    model = make_refs.randomise(make_refs.no_randomness(ctor()), gen, x).eval()
    m64 = copy.deepcopy(model).double()
    params = dict(model.named_parameters())
    t = {}
    for k, v in model.state_dict().items():
        t[("param." if k in params else "buffer.") + k] = v.clone() if v.dtype == torch.int64 else v.double()
    t["input"] = x.double()
    with torch.no_grad():
        if name == "amp_unet":
            t["out.f64"] = m64(x.double())
            t["out.bf16"] = bf16_forward(model, x.double())
        else:
            # A random EfficientNet amplifies round-off layer by layer (PyTorch's own bf16
            # output of the whole B1 is off by 15x the logits' size): each entry of
            # `features` (stem, 7 stages, head conv) and the classifier head is run on the
            # float64 output of the one before, so every error is that part's own.
            h = x.double()
            for i, (s64, s32) in enumerate(zip(m64.features, model.features)):
                t[f"stage{i}.in"] = h
                t[f"stage{i}.out.f64"] = s64(h)
                t[f"stage{i}.out.bf16"] = bf16_forward(s32, h)
                h = t[f"stage{i}.out.f64"]
            pooled = m64.avgpool(h).flatten(1)
            t["head.in"] = pooled
            t["head.out.f64"] = m64.classifier(pooled)
            t["head.out.bf16"] = bf16_forward(model.classifier, pooled)
    path = os.path.join(out_dir, name + ".safetensors")
    safetensors_lite.save(t, path, metadata={"model": name, "torch": torch.__version__, "seed": seed})
    print(f"make_amp_refs: wrote {path} ({len(t)} tensors)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name in MODELS:
        make(name, args.out)


if __name__ == "__main__":
    main()
