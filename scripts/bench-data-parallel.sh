#!/usr/bin/env bash
# Data-parallel costs on this machine: bench_data_parallel (bench/data_parallel.cpp) on 1
# process (no MPI) and under mpirun with 2 ranks, one OpenMP thread each. JSON to
# bench/results/<date>-<cpu>-data-parallel-{1,2}ranks.json; a short table on stdout.
#   scripts/bench-data-parallel.sh [BUILD_DIR]     (default build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/bench/bench_data_parallel
[ -x "$bin" ] || { echo "bench-data-parallel: $bin is missing (build bench_data_parallel; needs MPI)" >&2; exit 1; }
# shellcheck source=scripts/blas-env.sh
. "$root/scripts/blas-env.sh"
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1 | tr -cs 'A-Za-z0-9' '-' | sed 's/-$//' | tr 'A-Z' 'a-z')
out=$root/bench/results/$(date -u +%F)-${cpu:-cpu}-data-parallel
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$bin" --benchmark_out="$out-1rank.json" --benchmark_out_format=json
mpirun -np 2 --oversubscribe --bind-to none "$bin" --benchmark_out="$out-2ranks.json" --benchmark_out_format=json
GLIA_ALLREDUCE=mpi mpirun -np 2 --oversubscribe --bind-to none -x GLIA_ALLREDUCE "$bin" \
  --benchmark_filter=all_reduce --benchmark_out="$out-2ranks-mpi-allreduce.json" --benchmark_out_format=json
echo "bench-data-parallel: $out-*.json"
