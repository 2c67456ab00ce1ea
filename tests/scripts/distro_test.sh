#!/usr/bin/env bash
# scripts/distro.sh against the os-release files of the systems setup supports (copied
# from their images into tests/scripts/os-release/) and one it does not: which packages,
# where PyTorch and CMake come from. This machine cannot boot them; the real package
# step on Ubuntu was not run here (README says so).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/distro.sh
. "$here/../../scripts/distro.sh"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
field() { sed -n "s/^$1=//p" <<<"$2"; }
has_package() { [[ " $(field packages "$1") " == *" $2 "* ]]; }

expect() {  # file distro torch cmake
  local plan
  if ! plan=$(glia_distro_plan "$here/os-release/$1"); then fail "$1: no plan"; return; fi
  [ "$(field distro "$plan")" = "$2" ] || fail "$1: distro '$(field distro "$plan")', expected $2"
  [ "$(field torch "$plan")" = "$3" ] || fail "$1: torch from '$(field torch "$plan")', expected $3"
  [ "$(field cmake "$plan")" = "$4" ] || fail "$1: cmake from '$(field cmake "$plan")', expected $4"
  for p in build-essential libopenblas-dev libopencv-dev libgtest-dev libbenchmark-dev libcli11-dev python3-venv libopenmpi-dev openmpi-bin; do
    has_package "$plan" "$p" || fail "$1: package $p missing from the plan"
  done
  if [ "$3" = apt ]; then
    has_package "$plan" python3-torch || fail "$1: torch from apt but python3-torch not in the plan"
  else
    ! has_package "$plan" python3-torch || fail "$1: torch from pip but python3-torch in the plan"
  fi
}
expect debian-12 debian-12 apt apt
expect ubuntu-22.04 ubuntu-22.04 pip pip
expect ubuntu-24.04 ubuntu-24.04 pip apt

# An unknown system is an error that names the file and what it says.
if msg=$(glia_distro_plan "$here/os-release/fedora-40" 2>&1); then
  fail "fedora-40: a plan for an unknown system"
elif [[ $msg != *fedora-40* || $msg != *"ID=fedora"* || $msg != *"VERSION_ID=40"* ]]; then
  fail "fedora-40: the error does not name the file and its ID/VERSION_ID: $msg"
fi
if msg=$(glia_distro_plan "$here/os-release/no-such-file" 2>&1); then
  fail "a plan from a missing file"
elif [[ $msg != *no-such-file* ]]; then
  fail "the missing file is not named: $msg"
fi

# glia_cmake_new_enough against fake cmake binaries printing a version.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in 3.22.1 3.24.4 3.25.1 3.28.3 4.0.2 bogus; do
  printf '#!/bin/sh\necho "cmake version %s"\n' "$v" >"$tmp/cmake-$v"
  chmod +x "$tmp/cmake-$v"
done
for v in 3.22.1 3.24.4 bogus; do
  ! glia_cmake_new_enough "$tmp/cmake-$v" || fail "cmake $v taken as >= 3.25"
done
for v in 3.25.1 3.28.3 4.0.2; do
  glia_cmake_new_enough "$tmp/cmake-$v" || fail "cmake $v taken as < 3.25"
done
! glia_cmake_new_enough "$tmp/no-cmake" || fail "a missing cmake taken as new enough"

[ $failures -eq 0 ] && echo "distro_test: all passed"
exit $((failures > 0))
