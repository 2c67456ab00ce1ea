#!/usr/bin/python3
"""Checks tools/bench_torch_config.py without torch: a stand-in benchmark whose times
depend on the thread variables it is run under, so the test knows which configuration
must win. Run by ctest (bench_tools.torch_config).

  /usr/bin/python3 tools/bench_torch_config_test.py
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "bench_torch_config.py")

# Writes two rows to argv[1]. "long" (1000 ms) is 1% faster with OpenBLAS on N threads;
# "short" (1 ms) is twice as fast with OpenBLAS on one thread and passive waiting. A raw
# sum of times would pick OpenBLAS N; the per-row relative score must pick 1 + passive.
FAKE = r"""
import json, os, sys
blas1 = os.environ.get("OPENBLAS_NUM_THREADS") == "1"
passive = os.environ.get("OMP_WAIT_POLICY") == "passive"
assert os.environ.get("OMP_NUM_THREADS") == os.environ["EXPECT_THREADS"], "OMP_NUM_THREADS not set"
rows = [{"name": "long/real_time", "real_time": 1010.0 if blas1 else 1000.0, "time_unit": "ms"},
        {"name": "short", "real_time": 1.0 if blas1 and passive else 2.0, "time_unit": "ms"},
        {"name": "ignored", "real_time": 1e9 if blas1 else 1.0, "time_unit": "ms"}]
json.dump({"benchmarks": rows}, open(sys.argv[1], "w"))
"""


def run(threads, env_extra, tmp, rows="^(long|short)"):
    out = os.path.join(tmp, "config.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCH_")}
    env.update(env_extra, EXPECT_THREADS=str(threads))
    done = subprocess.run([sys.executable, TOOL, "--threads", str(threads), "--out", out, "--rows", rows, "--",
                           sys.executable, "-c", FAKE, "{out}"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"FAIL: bench_torch_config.py exited {done.returncode}: {done.stderr}")
    with open(out) as f:
        return done.stdout.split(), json.load(f)


def expect(what, got, want):
    if got != want:
        sys.exit(f"FAIL: {what}: got {got!r}, expected {want!r}")
    print(f"ok: {what}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        args, config = run(2, {}, tmp)
        expect("probe picks the lowest relative score, not the lowest total",
               config["env"], {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"})
        expect("four configurations probed", len(config["probe"]), 4)
        expect("rows outside --rows do not count", sorted(config["probe"][0]["ms"]), ["long", "short"])
        expect("env(1) arguments", args, ["OMP_NUM_THREADS=2", "OPENBLAS_NUM_THREADS=1", "OMP_WAIT_POLICY=passive"])

        args, config = run(2, {"TORCH_OMP_WAIT_POLICY": ""}, tmp)
        expect("TORCH_OMP_WAIT_POLICY='' fixes the policy to unset", len(config["probe"]), 2)
        expect("unset policy as env(1) arguments", args[:2], ["-u", "OMP_WAIT_POLICY"])

        args, config = run(1, {}, tmp)
        expect("one thread: no probe", (config["probe"], config["env"]["OPENBLAS_NUM_THREADS"]), ([], "1"))

        # The benchmark tools refuse to run under another configuration than the file's.
        sys.path.insert(0, HERE)
        from bench_torch_config import check_and_describe  # noqa: E402
        path = os.path.join(tmp, "config.json")
        os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="4")
        os.environ.pop("OMP_WAIT_POLICY", None)
        try:
            check_and_describe(path, 1)
            sys.exit("FAIL: check_and_describe accepted OPENBLAS_NUM_THREADS=4 for a configuration of 1")
        except SystemExit as e:
            expect("a mismatched environment is refused, naming the variable",
                   "OPENBLAS_NUM_THREADS" in str(e.code), True)
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        expect("the matching environment is accepted", check_and_describe(path, 1)["threads"], 1)


if __name__ == "__main__":
    main()
