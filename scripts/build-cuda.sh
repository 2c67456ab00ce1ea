#!/usr/bin/env bash
# Compile-and-link check of the real-CUDA configuration (hand-written kernels with nvcc,
# cuDNN/cuBLAS variants) for sm_80 and sm_90, Release. Needs nvcc, not a GPU. Its build
# folder is also the GPU bundle's (scripts/gpu-bundle.sh), so CI compiles CUDA once: hence
# the portable rpath (executables look in $ORIGIN/../lib first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "build-cuda: no nvcc on this machine; skipping the CUDA compile check"
  exit 0
fi
export PATH=$PATH:/usr/local/cuda/bin
BUILD_DIR=${BUILD_DIR:-build-cuda} \
GLIA_CMAKE_ARGS="-DGLIA_CUDA=ON -DGLIA_CUDNN=ON -DCMAKE_CUDA_ARCHITECTURES=80;90 -DCMAKE_BUILD_TYPE=Release -DGLIA_PORTABLE_RPATH=ON ${GLIA_CMAKE_EXTRA:-}" \
  scripts/setup.sh
