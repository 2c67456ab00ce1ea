#!/usr/bin/env bash
# Runs glia's test suites through ctest; sets up and builds first when needed.
#   scripts/test.sh                 every suite on cpu and sim (and cuda when a GPU is present)
#   scripts/test.sh --sanitize      ASan+UBSan build (build-asan/) running the fast suites
#   scripts/test.sh --tsan          ThreadSanitizer build (build-tsan/) running the loader (io)
#                                   and SIMT emulator (sim) suites, the ones with threads
#   scripts/test.sh -L tensor ...   extra arguments go to ctest
#   GLIA_TEST_SLOW=1 scripts/test.sh  also the suites labelled *slow*
# Exit status is ctest's: non-zero when any test fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build_dir=build
ctest_args=()
if [ "${1:-}" = "--sanitize" ]; then
  shift
  build_dir=build-asan
  export GLIA_CMAKE_ARGS="-DGLIA_CUDA=OFF -DGLIA_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLIA_BUILD_BENCH=OFF"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # mpi: OpenMPI's own allocations (MPI_Init, its plugins) are reported as leaks and its
  # launcher is not instrumented; the data-parallel suites run in the ordinary build only.
  ctest_args+=(-LE "slow|reference|data|bench|mpi")
elif [ "${1:-}" = "--tsan" ]; then
  shift
  build_dir=build-tsan
  export GLIA_CMAKE_ARGS="-DGLIA_CUDA=OFF -DGLIA_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLIA_BUILD_BENCH=OFF"
  export GLIA_BUILD_TARGETS="test_io test_sim"  # only these suites: the build is slow
  # halt_on_error: the first race fails its test; second_deadlock_stack: both stacks of a
  # lock-order report. OpenMP and OpenBLAS are not instrumented, so they get one thread:
  # their own workers would be reported as races TSan cannot see the ordering of.
  # scripts/tsan.supp: third-party reports only (GDAL's own lock order), each explained.
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp}
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
  ctest_args+=(-L "^(io|sim)$" -LE "slow|reference|data|bench")
fi

# Suites labelled *slow* (minutes each, e.g. explain_slow) run only when asked for:
# GLIA_TEST_SLOW=1 scripts/test.sh, or scripts/test.sh -L explain_slow.
if [ "${#ctest_args[@]}" -eq 0 ] && [ "${GLIA_TEST_SLOW:-0}" != 1 ] && [[ " $* " != *" -L "* ]]; then
  ctest_args+=(-LE slow)
fi

BUILD_DIR=$build_dir scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
# OpenMP workers that spin after a parallel region starve OpenBLAS's own threads and the
# other tests ctest runs beside them (measured: a U-Net step 20x slower on 2 cores).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 900 "${ctest_args[@]}" "$@"
