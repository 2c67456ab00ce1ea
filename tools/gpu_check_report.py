#!/usr/bin/env python3
"""The report of scripts/gpu-check.sh: one JSON (every step, test count and benchmark row)
and one markdown summary, from the check's work folder:
  steps.tsv             name, status (pass|fail|overrun|skipped), seconds, box, note
  gtest/<label>.<i>.json   GoogleTest's JSON output of each suite (shards)
  bench/glia_*.json, bench/torch_fp32.json, bench/torch_default.json,
  bench/torch_bf16.json   Google Benchmark JSON (glia_bf16_*.json and torch_bf16.json:
                          the tensor-core cases: families *_bf16, net/.../precision:bf16)
  device.json, driver   what the device step found
Exit status (the check's): 2 when --fatal is set or no test ran on the device, 1 when a
step failed or overran or a test failed, else 0. Issue 17's tensor-core goals (hand bf16
GEMM >= 60 % of cuBLAS at 4096^2; B1 bf16 training step >= 1.25x PyTorch eager autocast)
are reported as met, not met or not measured (with why); they do not change the exit
status: they are performance goals, not correctness.
"""
import argparse
import glob
import json
import os
import re
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_steps(work):
    steps = []
    try:
        with open(os.path.join(work, "steps.tsv")) as f:
            for line in f:
                name, status, seconds, box, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
                steps.append({"name": name, "status": status, "seconds": int(seconds or 0),
                              "box_seconds": int(box or 0), "note": note})
    except OSError:
        pass
    return steps


def on_device(test_name, device):
    """Parameterised names end in /<device> (kernel, tensor suites) or hold _<device>
    (the reference suite's model_dtype_device[_scope])."""
    return test_name.endswith("/" + device) or re.search(r"_%s(_|$)" % re.escape(device), test_name) is not None


def read_tests(work, device):
    """Per label: tests run on the device, failed, skipped, and the failures' names."""
    out = {}
    for path in sorted(glob.glob(os.path.join(work, "gtest", "*.json"))):
        label = os.path.basename(path).split(".")[0]
        doc = load_json(path)
        entry = out.setdefault(label, {"run": 0, "failed": 0, "skipped": 0, "run_on_device": 0,
                                       "failures": [], "unreadable_shards": 0})
        if doc is None:
            entry["unreadable_shards"] += 1
            continue
        for suite in doc.get("testsuites", []):
            for t in suite.get("testsuite", []):
                name = f"{suite.get('name', '')}.{t.get('name', '')}"
                if t.get("status") != "RUN":
                    continue
                if t.get("result") == "SKIPPED":
                    entry["skipped"] += 1
                    continue
                entry["run"] += 1
                if on_device(name, device):
                    entry["run_on_device"] += 1
                if t.get("failures"):
                    entry["failed"] += 1
                    entry["failures"].append(name)
    return out


def to_ms(row):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}.get(row.get("time_unit", "ns"), 1e-6)
    return row["real_time"] * scale


def bench_key(name):
    """The name without its backend/device part (field 3) and timing suffix, so glia's
    hand-written, glia's library and PyTorch's rows of one workload share a key."""
    parts = [p for p in name.split("/") if p not in ("manual_time", "real_time")]
    if len(parts) > 2:
        return "/".join(parts[:2] + parts[3:]), parts[2]
    return "/".join(parts), ""


def read_bench(work):
    rows, errors, contexts = {}, [], {}
    sources = [(p, "glia") for p in sorted(glob.glob(os.path.join(work, "bench", "glia_*.json")))]
    sources += [(os.path.join(work, "bench", "torch_fp32.json"), "torch_fp32"),
                (os.path.join(work, "bench", "torch_default.json"), "torch_default"),
                (os.path.join(work, "bench", "torch_bf16.json"), "torch_bf16")]
    for path, source in sources:
        doc = load_json(path)
        if doc is None:
            continue
        contexts.setdefault(source, doc.get("context", {}))
        for b in doc.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            key, backend = bench_key(b["name"])
            if b.get("error_occurred"):
                errors.append({"name": b["name"], "error": b.get("error_message", "")})
                continue
            column = source
            if source == "glia":
                column = "glia_library" if backend == "cudnn" else "glia_hand"
            row = rows.setdefault(key, {"workload": key})
            row[column + "_ms"] = round(to_ms(b), 6)
            for rate in ("GFLOP/s", "GB/s", "images/s"):
                if rate in b:
                    row[f"{column}_{rate}"] = round(b[rate], 3)
    return sorted(rows.values(), key=lambda r: r["workload"]), errors, contexts


def is_bf16(workload):
    """The tensor-core rows: kernel families <family>_bf16, training steps at precision:bf16/fp16."""
    return workload.split("/")[0].endswith("_bf16") or "/precision:" in workload


# Issue 17's goals for the first GPU run: (name, workload key, what is compared, target).
GEMM_GOAL_KEY = "gemm_bf16/forward/square_4096/n:1"
TRAIN_GOAL_KEY = "net/effnet_b1_train/batch:32/precision:bf16"


def tensor_core_goals(rows, errors, dry_run):
    """Each goal: its statement, the measured ratio (or None), met (True/False/None) and a note."""
    by_key = {r["workload"]: r for r in rows}

    def why_missing(key, backends):
        for e in errors:
            k, backend = bench_key(e["name"])
            if k == key and backend in backends:
                return f"{e['name']}: {e['error']}"
        return "not in this run's results"

    goals = []
    r = by_key.get(GEMM_GOAL_KEY, {})
    hand, lib = r.get("glia_hand_ms"), r.get("glia_library_ms")
    goal = {"goal": "hand-written bf16 GEMM at 4096^2 reaches >= 60 % of cuBLAS's throughput",
            "workload": GEMM_GOAL_KEY, "target": 0.60, "measured": None, "met": None,
            "hand_ms": hand, "cublas_ms": lib}
    if dry_run:
        goal["note"] = "dry run (sim): not measured"
    elif hand and lib:
        goal["measured"] = round(lib / hand, 3)
        goal["met"] = goal["measured"] >= goal["target"]
        goal["note"] = f"hand {hand:.3f} ms, cuBLAS {lib:.3f} ms"
    else:
        goal["note"] = "; ".join(filter(None, [
            None if hand else "hand: " + why_missing(GEMM_GOAL_KEY, ("cuda",)),
            None if lib else "cuBLAS: " + why_missing(GEMM_GOAL_KEY, ("cudnn",))]))
    goals.append(goal)

    r = by_key.get(TRAIN_GOAL_KEY, {})
    glia_ips, torch_ips = r.get("glia_hand_images/s"), r.get("torch_bf16_images/s")
    goal = {"goal": "EfficientNet-B1 bf16 training step (batch 32) >= 1.25x PyTorch eager autocast, same run",
            "workload": TRAIN_GOAL_KEY, "target": 1.25, "measured": None, "met": None,
            "glia_images_per_s": glia_ips, "torch_images_per_s": torch_ips}
    if dry_run:
        goal["note"] = "dry run (sim): not measured"
    elif glia_ips and torch_ips:
        goal["measured"] = round(glia_ips / torch_ips, 3)
        goal["met"] = goal["measured"] >= goal["target"]
        goal["note"] = f"glia {glia_ips:.1f} images/s, PyTorch autocast {torch_ips:.1f} images/s"
    else:
        goal["note"] = "; ".join(filter(None, [
            None if glia_ips else "glia: " + why_missing(TRAIN_GOAL_KEY, ("cuda",)),
            None if torch_ips else "PyTorch: not in this run's results (bench-bf16-torch step)"]))
    goals.append(goal)
    return goals


def fmt(v):
    if v is None:
        return "–"
    return f"{v:.3f}" if v < 100 else f"{v:.1f}"


def markdown(doc):
    lines = [f"# glia GPU check: {doc['card']}", ""]
    d = doc["device_info"]
    lines.append(f"- verdict: **{doc['verdict']}** (exit {doc['exit_status']})" + (f": {doc['fatal']}" if doc["fatal"] else ""))
    lines.append(f"- device `{doc['device']}`{' (dry run: sim in place of cuda)' if doc['dry_run'] else ''}; "
                 f"driver {doc.get('driver') or '–'}; SMs {d.get('sms', '–')}; memory {d.get('memory_gib', '–')} GiB; "
                 f"capability {d.get('capability', '–')}; PyTorch {d.get('torch', '–')} (CUDA {d.get('torch_cuda', '–')}, "
                 f"cuDNN {d.get('cudnn', '–')})")
    if doc.get("bundle"):
        lines.append(f"- bundle: {doc['bundle']}")
    lines.append(f"- {doc['elapsed_seconds']} s in all")
    lines += ["", "## Steps", "", "| step | status | s | box s | note |", "| --- | --- | ---: | ---: | --- |"]
    for s in doc["steps"]:
        lines.append(f"| {s['name']} | {s['status']} | {s['seconds']} | {s['box_seconds']} | {s['note'].replace('|', '/')} |")
    lines += ["", "## Tests", "", f"| suite | run | on {doc['device']} | failed | skipped |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, t in doc["tests"].items():
        lines.append(f"| {label} | {t['run']} | {t['run_on_device']} | {t['failed']} | {t['skipped']} |")
    failures = [f for t in doc["tests"].values() for f in t["failures"]]
    if failures:
        lines += ["", "Failed: " + ", ".join(f"`{f}`" for f in failures[:40]) + (" …" if len(failures) > 40 else "")]
    lines += ["", "## Benchmarks (ms per call; lower is better)", "",
              "glia with NVIDIA_TF32_OVERRIDE=0 (exact fp32); PyTorch fp32 = TF32 off; PyTorch default = its own "
              "settings (TF32 for cuDNN convolutions). hand/PT = glia hand-written over PyTorch fp32.", "",
              "| workload | glia hand | glia cuDNN/cuBLAS | PyTorch fp32 | PyTorch default | hand/PT |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in doc["benchmarks"]:
        if is_bf16(r["workload"]):
            continue
        hand, lib, tf, td = (r.get(k) for k in ("glia_hand_ms", "glia_library_ms", "torch_fp32_ms", "torch_default_ms"))
        ratio = f"{hand / tf:.2f}" if hand and tf else "–"
        lines.append(f"| {r['workload']} | {fmt(hand)} | {fmt(lib)} | {fmt(tf)} | {fmt(td)} | {ratio} |")
    lines += ["", "## Tensor cores: bf16 (ms per call; lower is better)", "",
              "bf16 operands, fp32 accumulate. glia hand = its own tensor-core (WMMA) kernels, glia cuDNN/cuBLAS = "
              "its library variants (GemmEx / CUDNN_DATA_BFLOAT16); networks: glia with --precision bf16 "
              "(autocast) under its default kernel choice. PyTorch = bf16 tensors (cuBLAS/cuDNN) or "
              "torch.autocast(bfloat16) for the training steps. hand/lib = glia hand over glia cuDNN/cuBLAS.", "",
              "| workload | glia hand | glia cuDNN/cuBLAS | PyTorch bf16 | hand/lib | hand/PT |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in doc["benchmarks"]:
        if not is_bf16(r["workload"]):
            continue
        hand, lib, tb = (r.get(k) for k in ("glia_hand_ms", "glia_library_ms", "torch_bf16_ms"))
        lines.append(f"| {r['workload']} | {fmt(hand)} | {fmt(lib)} | {fmt(tb)} | "
                     f"{f'{hand / lib:.2f}' if hand and lib else '–'} | {f'{hand / tb:.2f}' if hand and tb else '–'} |")
    lines += ["", "### Goals (issue 17)", "", "| goal | target | measured | met | note |", "| --- | ---: | ---: | --- | --- |"]
    for g in doc["goals"]:
        met = "not measured" if g["met"] is None else "**yes**" if g["met"] else "**no**"
        measured = "–" if g["measured"] is None else f"{g['measured']:.2f}"
        lines.append(f"| {g['goal']} | {g['target']:.2f} | {measured} | {met} | {g['note'].replace('|', '/')} |")
    if doc["benchmark_errors"]:
        lines += ["", "Benchmark errors:"] + [f"- `{e['name']}`: {e['error']}" for e in doc["benchmark_errors"][:30]]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--card", required=True)
    ap.add_argument("--device", required=True)
    ap.add_argument("--dry-run", default="0")
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--fatal", default="")
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--manifest", default="")
    args = ap.parse_args()

    steps = read_steps(args.work)
    tests = read_tests(args.work, args.device)
    benchmarks, bench_errors, contexts = read_bench(args.work)
    device_info = load_json(os.path.join(args.work, "device.json")) or {}
    driver = ""
    try:
        driver = open(os.path.join(args.work, "driver")).read().strip()
    except OSError:
        pass
    bundle = ""
    try:
        bundle = next((line.split(": ", 1)[1].strip() for line in open(args.manifest) if line.startswith("commit: ")), "")
    except OSError:
        pass

    fatal = args.fatal
    ran_on_device = sum(t["run_on_device"] for t in tests.values())
    if not fatal and ran_on_device == 0:
        fatal = f"no test ran on {args.device}"
    failed_tests = sum(t["failed"] + t["unreadable_shards"] for t in tests.values())
    bad_steps = [s["name"] for s in steps if s["status"] in ("fail", "overrun")]
    if fatal:
        exit_status, verdict = 2, "NOT RUN"
    elif failed_tests or bad_steps:
        exit_status, verdict = 1, "FAILED" if failed_tests or any(s["status"] == "fail" for s in steps) else "INCOMPLETE"
    else:
        exit_status, verdict = 0, "PASSED"

    doc = {"card": args.card, "device": args.device, "dry_run": args.dry_run == "1", "verdict": verdict,
           "exit_status": exit_status, "fatal": fatal, "elapsed_seconds": args.elapsed, "driver": driver,
           "device_info": device_info, "bundle": bundle, "steps": steps, "tests": tests,
           "tests_run_on_device": ran_on_device, "failed_steps": bad_steps, "benchmarks": benchmarks,
           "benchmark_errors": bench_errors, "benchmark_contexts": contexts,
           "goals": tensor_core_goals(benchmarks, bench_errors, args.dry_run == "1")}
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(args.md, "w") as f:
        f.write(markdown(doc))
    print(f"gpu-check: {verdict}: {ran_on_device} tests ran on {args.device}, {failed_tests} failed; "
          f"steps failed or overran: {', '.join(bad_steps) or 'none'}; {len(benchmarks)} benchmark workloads")
    for g in doc["goals"]:
        state = "not measured" if g["met"] is None else "met" if g["met"] else "NOT met"
        print(f"gpu-check: goal {state}: {g['goal']} ({g['note']})")
    return exit_status


if __name__ == "__main__":
    sys.exit(main())
