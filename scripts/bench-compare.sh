#!/usr/bin/env bash
# glia beside PyTorch on this machine: builds the CPU benchmarks if needed, runs them
# (one bench_<family> per kernel family, bench_layers, bench_networks) and tools/bench_torch.py with the same
# thread count, and prints one table (tools/bench_table.py): workload, glia, PyTorch at
# the same threads, PyTorch on one thread, ratios. The JSONs are kept in
# bench/results/<date>-<cpu>-<threads>t-{glia,torch,torch-1t}.json, the table beside them
# (-table.md). About 12 minutes on 2 idle cores after the build (glia ~4, PyTorch's
# probe ~1, PyTorch at N threads ~3.5, on one thread ~3.5); --e2e adds ~6.
#   scripts/bench-compare.sh                 everything
#   scripts/bench-compare.sh --networks      the network workloads only
#   scripts/bench-compare.sh --kernels       the per-kernel workloads only
#   scripts/bench-compare.sh --e2e           also end-to-end training rows (scripts/bench-e2e.sh
#                                            at E2E_SIZES, default 160, E2E_ROUNDS rounds, default 1,
#                                            no preload run), in the same
#                                            table; skipped with a message when the data is absent
# Each side runs in its own best configuration for the thread count. glia: OpenBLAS on
# one thread (the CPU kernels set it), GEMMs and convolutions split across its OpenMP
# threads. PyTorch (Debian's torch 1.13: convolutions on oneDNN over OpenMP, matrix
# products on OpenBLAS's pthreads) under the configuration tools/bench_torch_config.py
# picks with a short probe on this machine: OPENBLAS_NUM_THREADS in {1, N} x
# OMP_WAIT_POLICY in {unset, passive} on B1 inference (batch 1 and 8), the B1 training
# step and the U-Net width-16 step, one process per configuration, PROBE_MIN_TIME
# (default 1) seconds each; the lowest mean relative time wins and every PyTorch
# workload runs under it. The table header states it and lists the probe's numbers.
# TORCH_OPENBLAS_NUM_THREADS / TORCH_OMP_WAIT_POLICY ('' = unset) fix a variable instead.
# PyTorch's one-thread run (OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1) is a column of the
# same table; TORCH_ONE_THREAD=0 skips it. With one thread there is one PyTorch column.
# Environment: OMP_NUM_THREADS (threads for both sides, default: all cores),
# BUILD_DIR (default build-bench), MIN_TIME / NET_MIN_TIME (seconds per kernel / network
# workload, default 0.5 / 3), LAYER_MIN_TIME (seconds per layer workload, default 0.5),
# NET_FILTER (regex on the network case names, both sides; default /cpu/, all 9),
# PROBE_FILTER (regex: the network workloads PyTorch's configuration probe times),
# LAYER_FILTER (regex on the layer case names, both sides; default layer/.*/cpu/batch:1/,
# 36 cases; layer/.*/cpu/ runs all 54, batch 8 too), KERNEL_FILTER (regex on the kernel
# case names, both sides; default a
# representative batch-1 set of ~160 cases: B1's stem, stages 2 and 4 and head, U-Net
# levels 1 and 3 and its first up-conv, GEMM, losses, Adam; KERNEL_FILTER=/cpu/ runs all
# ~700 CPU cases), RESULTS_TAG (appended to the file names),
# OPENBLAS_CORETYPE (default: chosen from the CPU flags by scripts/blas-env.sh, as
# scripts/glia does, since OpenBLAS 0.3.21 misdetects some virtualised AVX-512 Xeons as
# "Prescott"; the context's openblas_core shows what it ran), OMP_WAIT_POLICY (glia's;
# PyTorch's is probed; on a shared machine, passive keeps glia's wall times stable),
# GLIA_DATA (the folder holding brain-tumor-mri/, for --e2e; default ../shared/data).
# With one thread a second table compares CPU time, robust to other load.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Both sides load the same OpenBLAS, so both get the core type scripts/glia would choose.
source scripts/blas-env.sh

what=all e2e=0
for arg in "$@"; do
  case "$arg" in
    --networks) what=networks ;;
    --kernels) what=kernels ;;
    --e2e) e2e=1 ;;
    *) echo "bench-compare: unknown argument '$arg' (expected --networks, --kernels or --e2e)" >&2; exit 2 ;;
  esac
done

build_dir=${BUILD_DIR:-build-bench}
threads=${OMP_NUM_THREADS:-$(nproc)}
# glia's environment; glia puts OpenBLAS on one thread itself. PyTorch's is set per run below.
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
one_thread=${TORCH_ONE_THREAD:-1}
[ "$threads" != 1 ] || one_thread=0  # the N-thread run is the one-thread run
probe_min_time=${PROBE_MIN_TIME:-1}
data=${GLIA_DATA:-$root/../shared/data}
if [ "$e2e" = 1 ] && [ ! -d "$data/brain-tumor-mri/Training" ]; then
  echo "bench-compare: --e2e skipped: $data/brain-tumor-mri/Training not found" \
       "(set GLIA_DATA to the folder holding brain-tumor-mri/)" >&2
  e2e=0
fi
min_time=${MIN_TIME:-0.5}
net_min_time=${NET_MIN_TIME:-3}
layer_min_time=${LAYER_MIN_TIME:-0.5} layer_filter=${LAYER_FILTER:-layer/.*/cpu/batch:1/}
net_filter=${NET_FILTER:-/cpu/}
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
torch_args=(--min-time "$min_time" --net-min-time "$net_min_time"
            --layer-min-time "$layer_min_time" --layer-filter "$layer_filter" --net-filter "$net_filter")
if [ "$what" != networks ]; then
  for bin in "${kernel_bins[@]}"; do run_glia "$bin" "$min_time" "$kernel_filter"; done
  torch_args+=(--kernel-filter "$kernel_filter")
else
  torch_args+=(--no-kernels)
fi
if [ "$what" != kernels ]; then
  run_glia bench_layers "$layer_min_time" "$layer_filter"
  run_glia bench_networks "$net_min_time" "$net_filter"
else
  torch_args+=(--no-networks)
fi
# PyTorch's configuration for $threads threads (tools/bench_torch_config.py), then every
# PyTorch workload under it, in one process; then the same on one thread.
probe_default='^net/(effnet_b1_infer/cpu/batch:(1|8)|effnet_b1_train/cpu/batch:8|'
probe_default+='unet_train/cpu/width:16/batch:1)/'
probe_filter=${PROBE_FILTER:-$probe_default}
env_line=$("$python" tools/bench_torch_config.py --threads "$threads" --out "$tmp/torch-config.json" -- \
  "$python" tools/bench_torch.py --threads "$threads" --no-kernels --no-layers --filter "$probe_filter" \
  --net-min-time "$probe_min_time" --out '{out}')
read -ra torch_env <<< "$env_line"
env "${torch_env[@]}" "$python" tools/bench_torch.py --threads "$threads" "${torch_args[@]}" \
  --config "$tmp/torch-config.json" --out "$stem-torch.json" >/dev/null
torch1=()  # becomes --torch1 FILE...
if [ "$one_thread" = 1 ]; then
  env_line=$("$python" tools/bench_torch_config.py --threads 1 --out "$tmp/torch-config-1t.json")
  read -ra torch_env <<< "$env_line"
  env "${torch_env[@]}" "$python" tools/bench_torch.py --threads 1 "${torch_args[@]}" \
    --config "$tmp/torch-config-1t.json" --out "$stem-torch-1t.json" >/dev/null
  torch1=(--torch1 "$stem-torch-1t.json")
fi

# One glia JSON: the first binary's context, every binary's benchmarks.
"$python" - "$stem-glia.json" "$tmp"/bench_*.json <<'PY'
import json, os, sys
# A binary whose filter matched nothing leaves an empty file.
out, docs = sys.argv[1], [json.load(open(p)) for p in sys.argv[2:] if os.path.getsize(p) > 0]
merged = {"context": docs[0]["context"], "benchmarks": [b for d in docs for b in d["benchmarks"]]}
for d in docs:
    for k, v in d["context"].items():
        merged["context"].setdefault(k, v)  # e.g. openblas_core from the kernel binaries
merged["context"]["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "unset")
merged["context"].setdefault("openblas_core", os.environ.get("OPENBLAS_CORETYPE", "OpenBLAS's own detection"))
json.dump(merged, open(out, "w"), indent=2)
PY

# End-to-end rows: scripts/bench-e2e.sh (its own PyTorch configuration probe, on its workload).
glia_docs=("$stem-glia.json") torch_docs=("$stem-torch.json")
if [ "$e2e" = 1 ]; then
  SIZES=${E2E_SIZES:-160} ROUNDS=${E2E_ROUNDS:-1} TORCH_PRELOAD=0 TORCH_ONE_THREAD=$one_thread THREADS=$threads GLIA_DATA=$data \
    BUILD_DIR=$build_dir OUT_STEM=$stem-e2e scripts/bench-e2e.sh >&2
  glia_docs+=("$stem-e2e-glia.json") torch_docs+=("$stem-e2e-torch.json")
  [ "$one_thread" != 1 ] || torch1+=("$stem-e2e-torch-1t.json")  # after the first --torch1 file
fi
{
  echo "# glia vs PyTorch, $(date -u '+%Y-%m-%d %H:%M UTC'), scripts/bench-compare.sh${*:+ $*}"
  echo
  "$python" tools/bench_table.py --glia "${glia_docs[@]}" --torch "${torch_docs[@]}" "${torch1[@]}"
  echo
  if [ "$threads" = 1 ]; then  # CPU time is comparable only with one thread (glia's is the main thread's)
    echo "Single-thread CPU time (robust when other processes share the cores):"
    echo
    "$python" tools/bench_table.py --glia "$stem-glia.json" --torch "$stem-torch.json" --time cpu |
      sed -n '/^| workload/,/^$/p'
    echo
  fi
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$stem-table.md"
echo "bench-compare: wrote ${glia_docs[*]} ${torch_docs[*]} ${torch1[*]:1} $stem-table.md"
