#!/usr/bin/env python3
"""Joins glia's Google Benchmark JSON (one or more files) with tools/bench_torch.py's (and
tools/bench_torch_e2e.py's) JSON by benchmark name and prints one Markdown table:
workload, glia, PyTorch, ratio; with --torch1, PyTorch's one-thread run beside it.

  tools/bench_table.py --glia a.json [b.json ...] --torch t.json [...] [--torch1 t1.json ...]
      [--time cpu]

ratio = glia time / PyTorch time: below 1 glia is faster, above 1 it is slower. With
--torch1 (PyTorch on one thread, the --torch files on N): both ratios, and a mark on
the PyTorch one-thread time where it beats PyTorch's N-thread time. The rate column
shows images/s for networks, else GFLOP/s or GB/s (glia's / PyTorch's at N threads).
The header states each PyTorch run's thread configuration (tools/bench_torch_config.py,
recorded in the JSON context), and the configuration probe's numbers follow the table.
Names are compared without Google Benchmark's "/real_time" / "/manual_time" suffixes;
with repetitions, the median aggregate is used. Workloads only one side has are listed
last.
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


def ratio(g, t):
    return f"{g / t:.2f}" + (" **slower**" if g > 1.1 * t else "")


def order(k):
    return ({"e2e": 0, "net": 1, "layer": 2}.get(k.split("/")[0], 3), k)


def table(glia, torch, torch1, which, threads):
    """torch1: PyTorch's one-thread rows, or None (then the three-column form)."""
    n = f" ({threads}t)" if torch1 is not None else ""
    head = f"| workload | glia ms{n} | PyTorch ms{n} |"
    rule = "|---|---:|---:|"
    if torch1 is not None:
        head += f" PyTorch ms (1t) | glia{n} / PyTorch{n} | glia{n} / PyTorch (1t) |"
        rule += "---:|---:|---:|"
    else:
        head += " ratio (glia/PyTorch time) |"
        rule += "---:|"
    lines = [head + " glia / PyTorch rate |", rule + "---|"]
    for k in sorted((k for k in glia if k in torch), key=order):
        g, t = ms(glia[k], which), ms(torch[k], which)
        gr, unit = rate(glia[k], which)
        tr, _ = rate(torch[k], which)
        rates = f"{gr:.3g} / {tr:.3g} {unit}" if gr is not None and tr is not None else ""
        cells = [k, fmt_ms(g), fmt_ms(t)]
        if torch1 is not None:
            t1 = ms(torch1[k], which) if k in torch1 else None
            cells += [fmt_ms(t1) + (" ‡" if t1 < t else "") if t1 else "", ratio(g, t), ratio(g, t1) if t1 else ""]
        else:
            cells.append(ratio(g, t))
        lines.append("| " + " | ".join(cells + [rates]) + " |")
    blank = 3 if torch1 is not None else 1
    for k in sorted(set(glia) ^ set(torch), key=order):
        side = "glia only" if k in glia else "PyTorch only"
        g = fmt_ms(ms(glia[k], which)) if k in glia else ""
        t = fmt_ms(ms(torch[k], which)) if k in torch else ""
        lines.append(f"| {k} | {g} | {t} | " + " | ".join([f"({side})"] + [""] * blank) + " |")
    return "\n".join(lines)


def short(env):
    """A probe configuration as a column header: OpenBLAS threads and the wait policy."""
    return f"OpenBLAS {env.get('OPENBLAS_NUM_THREADS')}, wait {env.get('OMP_WAIT_POLICY') or 'unset'}"


def config_lines(contexts, kind):
    """(one line per PyTorch run's configuration, each probe as a small table)."""
    lines, probes, tables = [], [], []
    for t in contexts:
        where = t.get("executable", "tools/bench_torch.py")
        c = t.get("torch_config")
        if c is None:
            env = t.get("thread_env") or {}
            desc = (", ".join(f"{k}={v}" for k, v in env.items() if v is not None) or "thread variables unknown")
            lines.append(f"PyTorch {kind} ({where}): torch.set_num_threads({t.get('torch_threads', '?')}), {desc} "
                         "(no configuration recorded)")
            continue
        workers = f", {t['workers']} DataLoader worker processes" if "workers" in t else ""
        lines.append(f"PyTorch {kind} ({where}): {c['label']}{workers}; {c['chosen_by']}")
        if c.get("probe"):
            probes.append((where, c))
    for where, c in probes:
        entries = c["probe"]
        rows = sorted(set.intersection(*(set(e["ms"]) for e in entries)), key=order)
        tables += ["", f"PyTorch configuration probe for {where}, {c['threads']} threads "
                      f"(ms per call; score: mean time relative to the fastest configuration per row; "
                      f"chosen: **bold**):", "",
                  "| row | " + " | ".join(short(e["env"]) for e in entries) + " |",
                  "|---|" + "---:|" * len(entries)]
        for r in rows:
            tables.append(f"| {r} | " + " | ".join(fmt_ms(e["ms"][r]) for e in entries) + " |")
        tables.append("| score | " + " | ".join(
            (f"**{e['score']:.2f}**" if e["env"] == c["env"] else f"{e['score']:.2f}") for e in entries) + " |")
    return lines, tables


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glia", nargs="+", required=True)
    ap.add_argument("--torch", nargs="+", required=True, help="PyTorch at the same threads as glia")
    ap.add_argument("--torch1", nargs="+", help="PyTorch on one thread (an extra column)")
    ap.add_argument("--time", choices=["real", "cpu"], default="real")
    ap.add_argument("--only-shared", action="store_true", help="leave out workloads only one side has")
    args = ap.parse_args()
    glia, gctx = load(args.glia)
    torch, tctx = load(args.torch)
    torch1, t1ctx = load(args.torch1) if args.torch1 else (None, [])
    if args.only_shared:
        glia = {k: v for k, v in glia.items() if k in torch}
        torch = {k: v for k, v in torch.items() if k in glia}
    c = gctx[0] if gctx else {}
    t = tctx[0] if tctx else {}
    threads = c.get("cpu_threads", t.get("torch_threads", "?"))
    print(f"glia {c.get('glia_commit', '?')} on {c.get('cpu_model', '?')}, "
          f"{threads} thread{'' if threads == 1 else 's'} "
          f"(peak {c.get('cpu_peak_gflops', '?')} GFLOP/s, triad {c.get('cpu_stream_gbs', '?')} GB/s, "
          f"OpenBLAS core {next((x['openblas_core'] for x in gctx if 'openblas_core' in x), '?')}, "
          f"OpenBLAS on one thread, OMP_WAIT_POLICY {c.get('omp_wait_policy', 'as the caller set it')}); "
          f"{t.get('library', 'torch ?')}; {args.time} time; load at start {c.get('loadavg', '?')}")
    for g in gctx[1:]:  # bench_e2e_train's context
        if "workers" in g:
            print(f"glia ({g.get('executable', '?')}): {g.get('cpu_threads', '?')} threads, "
                  f"{g['workers']} loader threads, OMP_WAIT_POLICY {g.get('omp_wait_policy', 'unset')}, "
                  f"cache {g.get('cache', '?')}")
    n = t.get("torch_threads", "?")
    head, probes = config_lines(tctx, f"at {n} thread{'' if n == 1 else 's'}")
    if torch1 is not None:
        head1, probes1 = config_lines(t1ctx, "at 1 thread")
        head, probes = head + head1, probes + probes1
    print()
    print("\n".join(head))
    print()
    print(table(glia, torch, torch1, args.time, t.get("torch_threads", "?")))
    if torch1 is not None:
        print()
        print("‡: PyTorch is faster on one thread than on its configured threads for this workload.")
    if probes:
        print("\n".join(probes))
    if not glia or not torch:
        sys.exit("bench_table: one side has no results")


if __name__ == "__main__":
    main()
