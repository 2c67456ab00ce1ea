#!/usr/bin/env python3
"""Merges the JSON of several runs ("rounds") of one benchmark into one file whose rows
are each workload's median round, so a comparison of two programs measured in alternating
rounds (scripts/bench-e2e.sh) is not decided by one slow spell of a shared machine.

  tools/bench_rounds.py --out merged.json round1.json round2.json ...

Each row of the output is the round whose real_time is the median for that workload (the
lower middle one for an even count: a row that was measured, not an average of two), with
`rounds` and `real_time_rounds` (every round's real_time, in run order) added. The context
is the first round's, with `rounds` added. Rows keep the files' own units and counters,
so tools/bench_table.py reads the output like any single run.
"""
import argparse
import json


def merge(docs):
    """docs: parsed Google Benchmark-style JSON documents, in run order."""
    by_name = {}
    for doc in docs:
        for row in doc.get("benchmarks", []):
            if row.get("error_occurred"):
                continue
            by_name.setdefault(row["name"], []).append(row)
    merged = []
    for name, rows in by_name.items():
        ranked = sorted(rows, key=lambda r: r["real_time"])
        median = dict(ranked[(len(ranked) - 1) // 2])
        median["rounds"] = len(rows)
        median["real_time_rounds"] = [r["real_time"] for r in rows]
        merged.append(median)
    context = dict(docs[0].get("context", {})) if docs else {}
    context["rounds"] = len(docs)
    return {"context": context, "benchmarks": merged}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("rounds", nargs="+", help="one JSON file per round, in run order")
    args = parser.parse_args()
    docs = []
    for path in args.rounds:
        try:
            with open(path) as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            raise SystemExit(f"bench_rounds: {path}: cannot read a benchmark JSON: {e}")
    with open(args.out, "w") as f:
        json.dump(merge(docs), f, indent=2)


if __name__ == "__main__":
    main()
