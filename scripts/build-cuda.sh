#!/usr/bin/env bash
# Compile-and-link check of the real-CUDA configuration (hand-written kernels with nvcc,
# cuDNN/cuBLAS variants) for sm_80 and sm_90. Needs nvcc, not a GPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "build-cuda: no nvcc on this machine; skipping the CUDA compile check"
  exit 0
fi
export PATH=$PATH:/usr/local/cuda/bin
BUILD_DIR=${BUILD_DIR:-build-cuda} \
GLIA_CMAKE_ARGS="-DGLIA_CUDA=ON -DGLIA_CUDNN=ON -DCMAKE_CUDA_ARCHITECTURES=80;90 ${GLIA_CMAKE_EXTRA:-}" \
  scripts/setup.sh
