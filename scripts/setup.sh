#!/usr/bin/env bash
# Installs what glia needs and configures + builds it. Debian 12, Ubuntu 22.04 and 24.04
# (scripts/distro.sh chooses the packages from /etc/os-release), with or without CUDA.
# Idempotent: a second run installs nothing and only rebuilds what changed.
#   scripts/setup.sh            main build in build/ (cpu + sim; + cuda when a GPU is present)
#   BUILD_DIR=... GLIA_CMAKE_ARGS="..." scripts/setup.sh   another configuration
#   GLIA_BUILD_TARGETS="test_io test_sim" scripts/setup.sh     only those targets
#   GLIA_SKIP_PACKAGES=1        install nothing (an offline machine, or another distribution)
#   GLIA_TORCH=apt|pip|none     where PyTorch comes from (default: scripts/distro.sh's choice)
# PyTorch from pip and CMake from pip (when the distribution's is older than 3.25) go into
# a venv in the build folder, $BUILD_DIR/.venv; the tests' python (GLIA_PYTHON) is then
# that venv's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/distro.sh
. scripts/distro.sh

build_dir=${BUILD_DIR:-build}
jobs=${GLIA_JOBS:-$(nproc)}
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

torch=${GLIA_TORCH:-}
cmake_from=apt
if [ "${GLIA_SKIP_PACKAGES:-0}" != 1 ]; then
  plan=$(glia_distro_plan /etc/os-release)
  packages=$(sed -n 's/^packages=//p' <<<"$plan")
  torch=${torch:-$(sed -n 's/^torch=//p' <<<"$plan")}
  cmake_from=$(sed -n 's/^cmake=//p' <<<"$plan")
  missing=()
  for p in $packages; do
    # PyTorch from pip: leave the distribution's python3-torch out.
    if [ "$torch" != apt ] && [[ $p == python3-torch* ]]; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: $(sed -n 's/^distro=//p' <<<"$plan"): installing ${missing[*]}"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# A GPU here (nvidia-smi lists one): build real CUDA too (GLIA_CUDA=AUTO finds nvcc, and
# cuDNN in the system, the toolkit, CUDNN_ROOT or python's nvidia-cudnn wheel). Without
# one the main build leaves it out; the CUDA compile check has its own build
# (scripts/build-cuda.sh). GLIA_CMAKE_ARGS overrides.
[ -d /usr/local/cuda/bin ] && export PATH=$PATH:/usr/local/cuda/bin
gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then gpu=1; fi
if [ -n "${GLIA_CMAKE_ARGS:-}" ]; then
  cmake_args=$GLIA_CMAKE_ARGS
elif [ $gpu = 1 ]; then
  cmake_args="-DGLIA_CUDA=AUTO -DGLIA_CUDNN=AUTO"
else
  cmake_args="-DGLIA_CUDA=OFF"
fi
# Setup installed OpenMPI above, so the build requires it (GLIA_MPI=ON): the data-parallel
# tests (ctest label mpi) are then never left out quietly. GLIA_SKIP_PACKAGES=1 or
# GLIA_CMAKE_ARGS leave it at AUTO (found or not; a build without it still trains on one process).
if [ -z "${GLIA_CMAKE_ARGS:-}" ] && [ "${GLIA_SKIP_PACKAGES:-0}" != 1 ]; then
  cmake_args="$cmake_args -DGLIA_MPI=ON"
fi

# pip's PyTorch and/or CMake, in a venv that still sees the distribution's numpy/scipy.
case "$build_dir" in /*) venv=$build_dir/.venv ;; *) venv=$root/$build_dir/.venv ;; esac
glia_cmake_new_enough cmake || cmake_from=pip
if [ "$torch" = pip ] || [ "$cmake_from" = pip ]; then
  if [ ! -x "$venv/bin/python3" ]; then
    mkdir -p "$build_dir"
    python3 -m venv --system-site-packages "$venv"
  fi
  if [ "$cmake_from" = pip ] && ! glia_cmake_new_enough "$venv/bin/cmake"; then
    echo "setup: CMake $(cmake --version 2>/dev/null | head -1 | sed 's/cmake version //') is older than 3.25; CMake from pip into $venv"
    "$venv/bin/python3" -m pip install -q "cmake>=3.25"
  fi
  if [ "$torch" = pip ] && ! "$venv/bin/python3" -c "import torch, torchvision" 2>/dev/null; then
    # Without a GPU, the CPU wheels (a tenth of the download).
    index=()
    [ $gpu = 1 ] || index=(--index-url https://download.pytorch.org/whl/cpu)
    echo "setup: PyTorch from pip into $venv"
    "$venv/bin/python3" -m pip install -q "${index[@]}" torch torchvision
  fi
  [ -x "$venv/bin/cmake" ] && export PATH=$venv/bin:$PATH
  if [ "$torch" = pip ] && [[ $cmake_args != *GLIA_PYTHON* ]]; then
    cmake_args="$cmake_args -DGLIA_PYTHON=$venv/bin/python3"
  fi
fi

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S . -B "$build_dir" -G Ninja $cmake_args
fi
# shellcheck disable=SC2086
cmake --build "$build_dir" -j "$jobs" ${GLIA_BUILD_TARGETS:+--target $GLIA_BUILD_TARGETS}
echo "setup: built in $build_dir"
