#!/usr/bin/env bash
# The whole check on a machine with an NVIDIA GPU: builds with real CUDA and cuDNN for
# this card (build-gpu/), runs every test suite on cpu, sim and cuda
# (GLIA_TEST_DEVICES=cpu,sim,cuda), runs the GPU benchmarks (every bench_<family> kernel
# binary's cuda and cudnn cases, hand-written vs cuDNN/cuBLAS, KERNEL_MIN_TIME seconds each,
# default 0.1; bench_layers' and bench_networks' cuda cases) and writes bench/results/<date>-<card>.json,
# then `glia profile` of a B1 training step (<date>-<card>-profile.txt, its trace and roofline).
# When PyTorch there sees the GPU, the network comparison also runs against it
# (<date>-<card>-torch.json and a table, as scripts/bench-compare.sh does on the CPU).
# Without a GPU it stops at once with an error (exit 1); it never pretends to have passed.
#   scripts/gpu-check.sh                 build, test, benchmark
#   scripts/gpu-check.sh --bench-only    skip the test suites
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=$PATH:/usr/local/cuda/bin

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA driver here (nvidia-smi not found); this check needs a machine with a GPU" >&2
  exit 1
fi
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
if [ -z "$card" ]; then
  echo "gpu-check: nvidia-smi lists no GPU ($(nvidia-smi -L 2>&1 | head -1)); this check needs one" >&2
  exit 1
fi
if ! command -v nvcc >/dev/null 2>&1; then
  echo "gpu-check: no nvcc (looked on PATH and in /usr/local/cuda/bin); install the CUDA toolkit" >&2
  exit 1
fi
echo "gpu-check: $card, driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"

build_dir=${BUILD_DIR:-build-gpu}
BUILD_DIR=$build_dir \
GLIA_CMAKE_ARGS="-DGLIA_CUDA=ON -DGLIA_CUDNN=ON -DCMAKE_CUDA_ARCHITECTURES=native -DGLIA_BUILD_BENCH=ON" \
  scripts/setup.sh || { echo "gpu-check: the CUDA build failed" >&2; exit 1; }
if ! grep -q "GLIA_HAVE_CUDA" "$build_dir/compile_commands.json" 2>/dev/null; then
  echo "gpu-check: $build_dir was configured without CUDA; remove it or set BUILD_DIR" >&2
  exit 1
fi

status=0
if [ "${1:-}" != "--bench-only" ]; then
  (cd "$build_dir" && GLIA_TEST_DEVICES=cpu,sim,cuda OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} \
     ctest --output-on-failure -j "$(nproc)" --timeout 900) || status=1
  [ $status -ne 0 ] && echo "gpu-check: some tests FAILED (benchmarks still run)" >&2
fi

slug=$(echo "$card" | tr 'A-Z' 'a-z' | sed 's/nvidia//; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')
stem=bench/results/$(date -u +%Y-%m-%d)-$slug
mkdir -p bench/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for family in conv2d conv_transpose2d gemm elementwise reduce softmax batch_norm pool dropout resample copy optim; do
  "$build_dir/bench/bench_$family" --benchmark_filter='/(cuda|cudnn)/' --benchmark_min_time=${KERNEL_MIN_TIME:-0.1} \
    --benchmark_out="$tmp/kernels_$family.json" --benchmark_out_format=json || status=1
done
"$build_dir/bench/bench_layers" --benchmark_filter=/cuda/ --benchmark_min_time=${LAYER_MIN_TIME:-0.5} \
  --benchmark_out="$tmp/layers.json" --benchmark_out_format=json || status=1
"$build_dir/bench/bench_networks" --benchmark_filter=/cuda/ --benchmark_min_time=${NET_MIN_TIME:-3} \
  --benchmark_out="$tmp/networks.json" --benchmark_out_format=json || status=1
/usr/bin/python3 - "$stem.json" "$tmp"/kernels_*.json "$tmp"/layers.json "$tmp"/networks.json <<'PY' || status=1
import json, sys
docs = [json.load(open(p)) for p in sys.argv[2:]]
merged = {"context": docs[0]["context"], "benchmarks": [b for d in docs for b in d["benchmarks"]]}
json.dump(merged, open(sys.argv[1], "w"), indent=2)
PY
echo "gpu-check: wrote $stem.json"

# Where a B1 training step spends its time on this card, per op and layer (the ops to
# attack first), with its Chrome trace (open in ui.perfetto.dev; Nsight Systems shows the
# same names through NVTX).
"$build_dir/apps/glia" profile --device cuda --model b1 --batch-size 32 --steps 5 --top 30 \
  --trace "$stem-profile-trace.json" --roofline "$stem-roofline.png" | tee "$stem-profile.txt" || status=1

if /usr/bin/python3 -c "import torch, torchvision, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  /usr/bin/python3 tools/bench_torch.py --device cuda --min-time "${KERNEL_MIN_TIME:-0.1}" --net-min-time "${NET_MIN_TIME:-3}" \
    --layer-filter "" --layer-min-time "${LAYER_MIN_TIME:-0.5}" \
    --out "$stem-torch.json" >/dev/null || status=1
  /usr/bin/python3 tools/bench_table.py --glia "$stem.json" --torch "$stem-torch.json" | tee "$stem-table.md"
else
  echo "gpu-check: no PyTorch with CUDA here; glia's GPU numbers only"
fi
exit $status
