#!/usr/bin/python3
"""PyTorch's thread configuration for the benchmarks, chosen as a careful PyTorch user
would: by trying the few settings that matter on this machine and keeping the fastest.

  /usr/bin/python3 tools/bench_torch_config.py --threads N --out CONFIG.json
      [--rows REGEX] -- COMMAND ... {out} ...

Why: Debian's torch 1.13 runs its convolutions on oneDNN with OpenMP threads (libgomp)
and its matrix products on OpenBLAS's own pthreads. How the two pools share the cores is
decided by environment variables the libraries read when they load, so a configuration
holds for a whole process (one per process, never per op):
  OMP_NUM_THREADS=N and torch.set_num_threads(N)   always, N = the benchmark's threads
  OPENBLAS_NUM_THREADS in {1, N}                   OpenBLAS's pool (N: it splits GEMMs too,
                                                   but its threads spin beside OpenMP's)
  OMP_WAIT_POLICY in {unset, passive}              unset: libgomp spins a while after each
                                                   parallel region; passive: sleeps at once
With N > 1 threads the probe runs COMMAND once per combination (4 processes), {out}
replaced by a JSON file the command writes (Google Benchmark-style rows, as
tools/bench_torch.py and tools/bench_torch_e2e.py write), and keeps the combination with
the lowest score: the mean over the rows (those matching --rows) of the row's time
divided by the fastest combination's time for that row, so every workload counts the
same whatever its length (1.00: fastest everywhere). Ties go to the earlier combination,
PyTorch's defaults first. With one thread nothing spins or shares: OPENBLAS_NUM_THREADS=1,
OMP_WAIT_POLICY unset, no probe.
TORCH_OPENBLAS_NUM_THREADS / TORCH_OMP_WAIT_POLICY (the empty string: unset), when set,
fix that variable instead of probing it; both set: no probe.

Writes CONFIG.json: threads, env (the chosen variables; null = unset), chosen_by, rows,
probe (per combination: env, ms per row, score, seconds the process took). Prints the
chosen configuration as arguments for env(1), e.g.
"-u OMP_WAIT_POLICY OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1", for the scripts to run
the benchmark under. tools/bench_torch.py and tools/bench_torch_e2e.py --config
CONFIG.json check that their environment is that configuration and copy CONFIG.json into
their JSON's context (tools/bench_table.py prints it).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")
UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def candidates(threads, environ=os.environ):
    """The combinations to try, PyTorch's defaults (OpenBLAS on N threads, libgomp's wait) first."""
    blas = [str(threads), "1"] if threads > 1 else ["1"]
    wait = [None, "passive"] if threads > 1 else [None]
    if "TORCH_OPENBLAS_NUM_THREADS" in environ:
        blas = [environ["TORCH_OPENBLAS_NUM_THREADS"]]
    if "TORCH_OMP_WAIT_POLICY" in environ:
        wait = [environ["TORCH_OMP_WAIT_POLICY"] or None]
    return [{"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": b, "OMP_WAIT_POLICY": w}
            for b in blas for w in wait]


def label(env):
    return " ".join(f"{k}={v}" if v is not None else f"{k} unset" for k, v in env.items())


def env_args(env):
    """Arguments for env(1) that give a process exactly this configuration."""
    unset = [a for k, v in env.items() if v is None for a in ("-u", k)]
    return unset + [f"{k}={v}" for k, v in env.items() if v is not None]


def environ_for(env, base=os.environ):
    out = {k: v for k, v in base.items() if k not in env}
    out.update({k: v for k, v in env.items() if v is not None})
    return out


def rows_ms(path, pattern):
    with open(path) as f:
        doc = json.load(f)
    return {b["name"].replace("/real_time", ""): b["real_time"] * UNIT_TO_MS[b.get("time_unit", "ns")]
            for b in doc.get("benchmarks", []) if pattern.search(b["name"]) and not b.get("error_occurred")}


def probe(threads, command, pattern):
    """Runs command under every candidate; returns (chosen env, probe entries, chosen_by)."""
    options = candidates(threads)
    if len(options) == 1:
        why = ("one thread: no OpenMP or OpenBLAS threads to wait or share, nothing to probe" if threads == 1
               else "given by TORCH_OPENBLAS_NUM_THREADS and TORCH_OMP_WAIT_POLICY")
        return options[0], [], why
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, env in enumerate(options):
            out = os.path.join(tmp, f"probe{i}.json")
            argv = [a.replace("{out}", out) for a in command]
            print(f"bench_torch_config: probe {i + 1}/{len(options)}: {label(env)}", file=sys.stderr)
            start = time.perf_counter()
            done = subprocess.run(argv, env=environ_for(env), stdout=subprocess.DEVNULL)
            if done.returncode != 0:
                sys.exit(f"bench_torch_config: the probe command failed ({done.returncode}) under {label(env)}: "
                         + " ".join(argv))
            ms = rows_ms(out, pattern)
            if not ms:
                sys.exit(f"bench_torch_config: the probe command wrote no rows matching '{pattern.pattern}'")
            entries.append({"env": env, "ms": ms, "seconds": round(time.perf_counter() - start, 1)})
    names = sorted(set.intersection(*(set(e["ms"]) for e in entries)))
    if not names:
        sys.exit("bench_torch_config: no row was measured under every configuration")
    best = {n: min(e["ms"][n] for e in entries) for n in names}
    for e in entries:
        e["score"] = round(sum(e["ms"][n] / best[n] for n in names) / len(names), 3)
    chosen = min(entries, key=lambda e: e["score"])  # min keeps the first of equal scores
    return chosen["env"], entries, (f"probe: lowest mean time relative to the fastest configuration per row, "
                                    f"over {len(names)} rows")


def check_and_describe(path, threads):
    """For the benchmark tools: the configuration file's content, after checking that this
    process runs under it (the variables are read at library load, so only the parent
    script can set them). Exits naming the variable that differs."""
    with open(path) as f:
        config = json.load(f)
    if config["threads"] != threads:
        sys.exit(f"{path}: configuration for {config['threads']} threads, but --threads {threads}")
    for k, v in config["env"].items():
        if os.environ.get(k) != v:
            sys.exit(f"{path}: {k} should be {'unset' if v is None else v} in this process's environment "
                     f"but is {os.environ.get(k, 'unset')} (run it under the env(1) arguments "
                     f"tools/bench_torch_config.py printed)")
    return config


def environment():
    """The thread variables of this process, for a JSON context (None = unset)."""
    return {k: os.environ.get(k) for k in VARIABLES}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--out", required=True, help="the configuration JSON to write")
    ap.add_argument("--rows", default="", help="regex: the rows that count in the score (default: all)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ... {out} ...")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.threads < 1:
        sys.exit("bench_torch_config: --threads must be at least 1")
    if len(candidates(args.threads)) > 1 and not any("{out}" in a for a in command):
        sys.exit("bench_torch_config: give the probe command after --, with {out} where it writes its JSON")
    env, entries, why = probe(args.threads, command, re.compile(args.rows))
    config = {"threads": args.threads, "env": env, "label": label(env) + f", torch.set_num_threads({args.threads})",
              "chosen_by": why, "rows": args.rows, "probe": entries}
    with open(args.out, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    for e in entries:
        print(f"bench_torch_config: {label(e['env']):70s} score {e['score']:.2f}", file=sys.stderr)
    print(f"bench_torch_config: chosen {config['label']} ({why})", file=sys.stderr)
    print(" ".join(env_args(env)))


if __name__ == "__main__":
    main()
