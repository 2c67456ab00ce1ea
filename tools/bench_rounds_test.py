#!/usr/bin/python3
"""Checks tools/bench_rounds.py on made-up rounds whose median is known. Run by ctest
(bench_tools.rounds).

  /usr/bin/python3 tools/bench_rounds_test.py
"""
import json
import os
import subprocess
import sys
import tempfile

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_rounds.py")


def run_rounds(rounds):
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, rows in enumerate(rounds):
            path = os.path.join(tmp, f"r{i}.json")
            json.dump({"context": {"round": i}, "benchmarks": rows}, open(path, "w"))
            paths.append(path)
        out = os.path.join(tmp, "merged.json")
        subprocess.run([sys.executable, TOOL, "--out", out] + paths, check=True)
        return json.load(open(out))


def row(name, ms, rate):
    return {"name": name, "real_time": ms, "time_unit": "ms", "images/s": rate}


def main():
    # "a": the slow spell hits round 2; the median is round 3's 100 (with its own rate).
    # "b": an even count (one round failed); the lower middle, 10, is a measured row.
    doc = run_rounds([
        [row("a", 90, 11.0), row("b", 10, 3.0)],
        [row("a", 150, 6.0), dict(row("b", 99, 0.1), error_occurred=True)],
        [row("a", 100, 10.0), row("b", 12, 2.5)],
    ])
    rows = {r["name"]: r for r in doc["benchmarks"]}
    failures = []
    if (rows["a"]["real_time"], rows["a"]["images/s"]) != (100, 10.0):
        failures.append(f"a: median row {rows['a']}, expected round 3's (100 ms, 10 img/s)")
    if rows["a"]["real_time_rounds"] != [90, 150, 100] or rows["a"]["rounds"] != 3:
        failures.append(f"a: rounds recorded as {rows['a']['real_time_rounds']}")
    if rows["b"]["real_time"] != 10 or rows["b"]["rounds"] != 2:
        failures.append(f"b: {rows['b']}, expected the lower middle of two rounds (10 ms)")
    if doc["context"] != {"round": 0, "rounds": 3}:
        failures.append(f"context {doc['context']}, expected the first round's with rounds 3")
    for f in failures:
        print("bench_rounds_test: FAIL:", f)
    print("bench_rounds_test:", "FAILED" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
