#!/usr/bin/env python3
"""Joins glia's Google Benchmark JSON (one or more files) with tools/bench_torch.py's JSON
by benchmark name and prints one Markdown table: workload, glia, PyTorch, ratio.

  tools/bench_table.py --glia a.json [b.json ...] --torch torch.json [--time cpu]

ratio = glia time / PyTorch time: below 1 glia is faster, above 1 it is slower. The rate
column shows images/s for networks, else GFLOP/s or GB/s (glia's / PyTorch's). Names are
compared without Google Benchmark's "/real_time" / "/manual_time" suffixes; with
repetitions, the median aggregate is used. Workloads only one side has are listed last.
"""
import argparse
import json
import sys

UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def key(name):
    for suffix in ("/real_time", "/manual_time"):
        name = name.replace(suffix, "")
    return name


def load(paths):
    rows, contexts = {}, []
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        contexts.append(doc.get("context", {}))
        for b in doc.get("benchmarks", []):
            if b.get("error_occurred"):
                continue
            name = b["name"]
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") != "median":
                    continue
                name = b.get("run_name", name.rsplit("_median", 1)[0])
            rows[key(name)] = b
    return rows, contexts


def ms(row, which):
    return row[f"{which}_time"] * UNIT_TO_MS[row.get("time_unit", "ns")]


def rate(row, which="real"):
    """Rate counters are per wall second; with --time cpu they are rescaled to CPU seconds."""
    scale = row["real_time"] / row["cpu_time"] if which == "cpu" and row.get("cpu_time") else 1.0
    for counter, unit in (("images/s", "img/s"), ("GFLOP/s", "GFLOP/s"), ("GB/s", "GB/s")):
        if counter in row:
            return row[counter] * scale, unit
    return None, ""


def fmt_ms(v):
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def table(glia, torch, which):
    lines = ["| workload | glia ms | PyTorch ms | ratio (glia/PyTorch time) | glia / PyTorch rate |",
             "|---|---:|---:|---:|---|"]
    both = [k for k in glia if k in torch]
    both.sort(key=lambda k: (0 if k.startswith("net/") else 1 if k.startswith("layer/") else 2, k))
    for k in both:
        g, t = ms(glia[k], which), ms(torch[k], which)
        gr, unit = rate(glia[k], which)
        tr, _ = rate(torch[k], which)
        rates = f"{gr:.3g} / {tr:.3g} {unit}" if gr is not None and tr is not None else ""
        flag = " **slower**" if g > 1.1 * t else ""
        lines.append(f"| {k} | {fmt_ms(g)} | {fmt_ms(t)} | {g / t:.2f}{flag} | {rates} |")
    only = sorted(set(glia) ^ set(torch))
    for k in only:
        side = "glia only" if k in glia else "PyTorch only"
        v = ms(glia[k], which) if k in glia else ms(torch[k], which)
        lines.append(f"| {k} | {fmt_ms(v) if k in glia else ''} | {fmt_ms(v) if k in torch else ''} | ({side}) | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glia", nargs="+", required=True)
    ap.add_argument("--torch", required=True)
    ap.add_argument("--time", choices=["real", "cpu"], default="real")
    ap.add_argument("--only-shared", action="store_true", help="leave out workloads only one side has")
    args = ap.parse_args()
    glia, gctx = load(args.glia)
    torch, tctx = load([args.torch])
    if args.only_shared:
        glia = {k: v for k, v in glia.items() if k in torch}
        torch = {k: v for k, v in torch.items() if k in glia}
    c = gctx[0] if gctx else {}
    t = tctx[0] if tctx else {}
    print(f"glia {c.get('glia_commit', '?')} on {c.get('cpu_model', '?')}, {c.get('cpu_threads', '?')} threads "
          f"(peak {c.get('cpu_peak_gflops', '?')} GFLOP/s, triad {c.get('cpu_stream_gbs', '?')} GB/s, "
          f"OpenBLAS core {next((x['openblas_core'] for x in gctx if 'openblas_core' in x), '?')}); "
          f"{t.get('library', 'torch ?')}, {t.get('torch_threads', '?')} threads; {args.time} time; "
          f"load at start {c.get('loadavg', '?')}")
    print()
    print(table(glia, torch, args.time))
    if not glia or not torch:
        sys.exit("bench_table: one side has no results")


if __name__ == "__main__":
    main()
