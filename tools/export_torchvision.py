#!/usr/bin/env python3
"""Exports a torchvision EfficientNet (B0-B7) state_dict to safetensors for glia.

glia's nets/efficientnet uses torchvision's parameter names, so the file loads directly:
  glia ... --pretrained efficientnet_b1.safetensors
(the paper's classifier takes the features.* tensors and trains its own head).

  export_torchvision.py --model efficientnet_b1 --out efficientnet_b1.safetensors --pretrained
      ImageNet weights (torchvision downloads them: needs internet the first time)
  export_torchvision.py --model efficientnet_b1 --out random_b1.safetensors --seed 0
      randomly initialised weights (no download; what glia's tests use)

Float tensors are written as float32 (--dtype float64 for references); the batch-norm
counters num_batches_tracked stay int64, as in PyTorch. With --pretrained the metadata
carries the input normalisation the weights were trained with (glia.input_mean,
glia.input_std for pixels in [0, 1], read from the weights' own transforms(): ImageNet's
mean and std), which glia then applies inside the model. `glia weights b1` runs this
through tools/fetch_weights.py.
"""
import argparse
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402

MODELS = [f"efficientnet_b{i}" for i in range(8)]


def build(name, pretrained, seed):
    ctor = getattr(torchvision.models, name)
    if pretrained:
        return ctor(weights=weights_enum(name))
    torch.manual_seed(seed)
    return ctor()


def weights_enum(name):
    return getattr(torchvision.models, "EfficientNet_B" + name[-1] + "_Weights").IMAGENET1K_V1


def metadata(name, pretrained, seed):
    meta = {"model": name, "glia.model": name, "torchvision": torchvision.__version__,
            "weights": "IMAGENET1K_V1" if pretrained else f"random(seed={seed})"}
    if pretrained:
        preprocess = weights_enum(name).transforms()
        meta["glia.input_mean"] = ",".join(f"{v:.9g}" for v in preprocess.mean)
        meta["glia.input_std"] = ",".join(f"{v:.9g}" for v in preprocess.std)
    return meta


def export(model, path, dtype=torch.float32, metadata=None):
    tensors = {}
    for k, v in model.state_dict().items():
        tensors[k] = v.to(dtype) if v.is_floating_point() else v
    safetensors_lite.save(tensors, path, metadata=metadata or {})
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=MODELS)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pretrained", action="store_true", help="torchvision's ImageNet weights (downloads)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (without --pretrained)")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    model = build(args.model, args.pretrained, args.seed)
    dtype = torch.float32 if args.dtype == "float32" else torch.float64
    tensors = export(model, args.out, dtype, metadata(args.model, args.pretrained, args.seed))
    n = sum(v.numel() for k, v in model.named_parameters())
    print(f"export_torchvision: wrote {args.out} ({len(tensors)} tensors, {n} parameters)")


if __name__ == "__main__":
    main()
