# Sourced by scripts/glia and the benchmark scripts. On virtual machines whose CPUID names
# a generic "Intel Xeon Processor", OpenBLAS 0.3.21 falls back to its Prescott (SSE3)
# kernels and runs GEMM 3-4x slower. When the caller has not chosen a core type, pick the
# one the CPU's flags support. The test suite runs the GEMM and conv kernels once more
# under this choice (ctest blas_coretype.*), so the driver's path is tested too.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -r /proc/cpuinfo ]; then
  if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
