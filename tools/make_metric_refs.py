#!/usr/bin/env python3
"""Writes reference segmentation metrics computed with SciPy, for glia's
train/segmentation_metrics (tests/reference/segmentation_metrics_test.cpp).

Pairs of binary masks (seeded: smooth random blobs, shifted, grown and shrunk copies,
masks touching the image border, holes, one-pixel lines and dots, identical masks,
empty ones) and, for each pair, computed independently of glia:
  hd    Hausdorff distance between the masks' boundaries: the max of SciPy's
        directed_hausdorff in both directions (scipy.spatial.distance);
  hd95  MedPy's hd95: the 95th percentile (numpy's default linear interpolation) of the
        Euclidean distance transform (scipy.ndimage.distance_transform_edt) of each
        boundary's complement, sampled at the other boundary's pixels, both directions;
  dice, iou (both masks empty: 1).
A boundary pixel is a foreground pixel with a 4-neighbour outside the mask or the image:
the mask minus its binary erosion (4-connected structure, outside counted as background).
Both empty: hd = hd95 = 0; exactly one empty: NaN.

Names: case<i>.pred, case<i>.truth (uint8 [h, w]), case<i>.hd, .hd95, .dice, .iou
(float64 scalars). Usage: make_metric_refs.py --out FILE
"""
import argparse
import os
import sys

import numpy as np
from scipy import ndimage
from scipy.spatial.distance import directed_hausdorff

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402

FOUR = ndimage.generate_binary_structure(2, 1)


def boundary(mask):
    return mask & ~ndimage.binary_erosion(mask, structure=FOUR, border_value=0)


def hausdorff(pred, truth):
    bp, bt = np.argwhere(boundary(pred)), np.argwhere(boundary(truth))
    if len(bp) == 0 and len(bt) == 0:
        return 0.0
    if len(bp) == 0 or len(bt) == 0:
        return float("nan")
    return max(directed_hausdorff(bp, bt)[0], directed_hausdorff(bt, bp)[0])


def hausdorff95(pred, truth):
    bp, bt = boundary(pred), boundary(truth)
    if not bp.any() and not bt.any():
        return 0.0, 0.0
    if not bp.any() or not bt.any():
        return float("nan"), float("nan")
    to_truth = ndimage.distance_transform_edt(~bt)  # distance to the nearest truth boundary pixel
    to_pred = ndimage.distance_transform_edt(~bp)
    d = np.hstack([to_truth[bp], to_pred[bt]])
    return float(np.percentile(d, 95)), float(d.max())


def overlap(pred, truth):
    inter, p, t = int((pred & truth).sum()), int(pred.sum()), int(truth.sum())
    dice = 1.0 if p + t == 0 else 2.0 * inter / (p + t)
    iou = 1.0 if p + t - inter == 0 else inter / (p + t - inter)
    return dice, iou


def blob(rng, h, w, sigma, fill):
    """Smooth random noise thresholded so about `fill` of the pixels are foreground."""
    field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma, mode="wrap")
    return field > np.quantile(field, 1 - fill)


def cases(rng):
    out = []
    for h, w, sigma, fill in [(24, 31, 2, 0.3), (40, 40, 3, 0.2), (64, 48, 4, 0.15), (33, 57, 1.5, 0.4),
                              (96, 96, 6, 0.1), (17, 19, 1, 0.5)]:
        truth = blob(rng, h, w, sigma, fill)
        out.append((blob(rng, h, w, sigma, fill), truth))                       # independent blobs
        out.append((np.roll(truth, (rng.integers(-3, 4), rng.integers(-5, 6)), axis=(0, 1)), truth))  # shifted
        out.append((ndimage.binary_dilation(truth, FOUR, iterations=2), truth))  # grown
        out.append((ndimage.binary_erosion(truth, FOUR, iterations=1), truth))   # shrunk (may vanish)
        noisy = truth ^ (rng.random((h, w)) < 0.03)                              # speckled
        out.append((noisy, truth))
    h, w = 30, 26
    full = np.ones((h, w), bool)
    ring = np.zeros((h, w), bool)
    ring[5:25, 4:22] = True
    ring[10:20, 9:17] = False                       # a hole: an inner boundary too
    line = np.zeros((h, w), bool)
    line[14, :] = True                              # one pixel wide, touching both sides
    dot = np.zeros((h, w), bool)
    dot[2, 23] = True
    corner = np.zeros((h, w), bool)
    corner[:6, :5] = True                           # against two image edges
    empty = np.zeros((h, w), bool)
    out += [(full, ring), (ring, line), (line, dot), (dot, corner), (corner, full), (ring, ring),
            (dot, dot), (full, full), (empty, ring), (ring, empty), (empty, empty), (dot, empty)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import torch  # safetensors_lite.save takes torch tensors
    rng = np.random.default_rng(20240515)
    t = {}
    all_cases = cases(rng)
    for i, (pred, truth) in enumerate(all_cases):
        hd = hausdorff(pred, truth)
        hd95, hd_from_edt = hausdorff95(pred, truth)
        # The two SciPy routes must agree on the maximum, or the references are wrong.
        assert (np.isnan(hd) and np.isnan(hd_from_edt)) or abs(hd - hd_from_edt) < 1e-12, (i, hd, hd_from_edt)
        dice, iou = overlap(pred, truth)
        t[f"case{i}.pred"] = torch.from_numpy(pred.astype(np.uint8))
        t[f"case{i}.truth"] = torch.from_numpy(truth.astype(np.uint8))
        for name, v in (("hd", hd), ("hd95", hd95), ("dice", dice), ("iou", iou)):
            t[f"case{i}.{name}"] = torch.tensor(v, dtype=torch.float64)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    import scipy
    safetensors_lite.save(t, args.out, metadata={"cases": len(all_cases), "scipy": scipy.__version__})
    print(f"make_metric_refs: wrote {args.out} ({len(all_cases)} mask pairs)")


if __name__ == "__main__":
    main()
