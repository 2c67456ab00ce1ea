#!/usr/bin/env bash
# glia beside PyTorch on this machine: builds the CPU benchmarks if needed, runs them
# (one bench_<family> per kernel family, bench_layers, bench_networks) and tools/bench_torch.py with the same
# thread count, and prints one table (tools/bench_table.py): workload, glia, PyTorch,
# ratio. Both JSONs are kept in bench/results/<date>-<cpu>-<threads>t-{glia,torch}.json,
# the table beside them (-table.md). About 5-8 minutes on 2 idle cores after the build.
#   scripts/bench-compare.sh                 everything
#   scripts/bench-compare.sh --networks      the network workloads only
#   scripts/bench-compare.sh --kernels       the per-kernel workloads only
# Environment: OMP_NUM_THREADS (threads for both sides, default: all cores),
# BUILD_DIR (default build-bench), MIN_TIME / NET_MIN_TIME (seconds per kernel / network
# workload, default 0.5 / 3), LAYER_MIN_TIME (seconds per layer workload, default 0.5),
# LAYER_FILTER (regex on the layer case names, both sides; default layer/.*/cpu/batch:1/,
# 36 cases; layer/.*/cpu/ runs all 54, batch 8 too), KERNEL_FILTER (regex on the kernel
# case names, both sides; default a
# representative batch-1 set of ~160 cases: B1's stem, stages 2 and 4 and head, U-Net
# levels 1 and 3 and its first up-conv, GEMM, losses, Adam; KERNEL_FILTER=/cpu/ runs all
# ~700 CPU cases), RESULTS_TAG (appended to the file names),
# OPENBLAS_CORETYPE (default: chosen from the CPU flags by scripts/blas-env.sh, as
# scripts/glia does, since OpenBLAS 0.3.21 misdetects some virtualised AVX-512 Xeons as
# "Prescott"; the context's openblas_core shows what it ran), OMP_WAIT_POLICY
# (on a shared machine, passive keeps both sides' wall times stable).
# With one thread a second table compares CPU time, robust to other load.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Both sides load the same OpenBLAS, so both get the core type scripts/glia would choose.
source scripts/blas-env.sh

what=all
case "${1:-}" in
  --networks) what=networks ;;
  --kernels) what=kernels ;;
  "") ;;
  *) echo "bench-compare: unknown argument '$1' (expected --networks or --kernels)" >&2; exit 2 ;;
esac

build_dir=${BUILD_DIR:-build-bench}
threads=${OMP_NUM_THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
min_time=${MIN_TIME:-0.5}
net_min_time=${NET_MIN_TIME:-3}
layer_min_time=${LAYER_MIN_TIME:-0.5} layer_filter=${LAYER_FILTER:-layer/.*/cpu/batch:1/}
python=/usr/bin/python3  # Debian's torch, not a pyenv python3 on PATH
if ! "$python" -c "import torch, torchvision" 2>/dev/null; then
  echo "bench-compare: $python cannot import torch and torchvision (apt install python3-torch python3-torchvision)" >&2
  exit 1
fi

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DGLIA_CUDA=OFF -DGLIA_BUILD_BENCH=ON -DGLIA_BUILD_TESTS=OFF
fi
kernel_bins=(bench_conv2d bench_conv_transpose2d bench_gemm bench_elementwise bench_reduce bench_softmax
             bench_batch_norm bench_pool bench_dropout bench_resample bench_copy bench_optim)
kernel_filter=${KERNEL_FILTER:-'/cpu/(b1_stem|b1_s2_|b1_s4_|b1_head|unet_l1_|unet_l3_|unet_up1_|square_1024|fc_1280to4/|classes_4/|unet_out|b1_params|unet_params)[^/]*(/n:1)?(/real_time)?$'}
cmake --build "$build_dir" --target "${kernel_bins[@]}" bench_layers bench_networks -j "$(nproc)"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr 'A-Z' 'a-z' |
      sed 's/([^)]*)//g; s/ cpu / /; s/processor//; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')
stem=bench/results/$(date -u +%Y-%m-%d)-${cpu:-cpu}-${threads}t${RESULTS_TAG:+-$RESULTS_TAG}
mkdir -p bench/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "bench-compare: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc --all) cores; $threads threads each side"

run_glia() {  # binary, min_time, [filter]
  local bin=$1 t=$2
  "$build_dir/bench/$bin" --benchmark_min_time="$t" --benchmark_out="$tmp/$bin.json" \
    --benchmark_out_format=json ${3:+--benchmark_filter="$3"} >&2
}
torch_args=(--threads "$threads" --min-time "$min_time" --net-min-time "$net_min_time"
            --layer-min-time "$layer_min_time" --layer-filter "$layer_filter")
if [ "$what" != networks ]; then
  for bin in "${kernel_bins[@]}"; do run_glia "$bin" "$min_time" "$kernel_filter"; done
  torch_args+=(--kernel-filter "$kernel_filter")
else
  torch_args+=(--no-kernels)
fi
if [ "$what" != kernels ]; then
  run_glia bench_layers "$layer_min_time" "$layer_filter"
  run_glia bench_networks "$net_min_time" "/cpu/"
else
  torch_args+=(--no-networks)
fi
"$python" tools/bench_torch.py "${torch_args[@]}" --out "$stem-torch.json" >/dev/null

# One glia JSON: the first binary's context, every binary's benchmarks.
"$python" - "$stem-glia.json" "$tmp"/bench_*.json <<'PY'
import json, sys
out, docs = sys.argv[1], [json.load(open(p)) for p in sys.argv[2:]]
merged = {"context": docs[0]["context"], "benchmarks": [b for d in docs for b in d["benchmarks"]]}
for d in docs:
    for k, v in d["context"].items():
        merged["context"].setdefault(k, v)  # e.g. openblas_core from the kernel binaries
json.dump(merged, open(out, "w"), indent=2)
PY
{
  echo "# glia vs PyTorch, $(date -u '+%Y-%m-%d %H:%M UTC'), scripts/bench-compare.sh${1:+ $1}"
  echo
  "$python" tools/bench_table.py --glia "$stem-glia.json" --torch "$stem-torch.json"
  echo
  if [ "$threads" = 1 ]; then  # CPU time is comparable only with one thread (glia's is the main thread's)
    echo "Single-thread CPU time (robust when other processes share the cores):"
    echo
    "$python" tools/bench_table.py --glia "$stem-glia.json" --torch "$stem-torch.json" --time cpu | tail -n +3
    echo
  fi
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$stem-table.md"
echo "bench-compare: wrote $stem-glia.json, $stem-torch.json, $stem-table.md"
