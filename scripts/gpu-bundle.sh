#!/usr/bin/env bash
# The GPU bundle: what scripts/gpu-check.sh needs on an offline CUDA machine that has a
# driver, the toolkit or PyTorch's nvidia-* wheels, and python3 with torch, but none of
# glia's build dependencies. Built here from the CUDA configuration (sm_80 + sm_90,
# Release; scripts/build-cuda.sh's folder, so CI compiles CUDA once), it holds:
#   gpu-bundle/glia-gpu.tar.xz   bin/  the check's test and benchmark binaries (no OpenCV),
#                                      DT_RPATH $ORIGIN/../lib
#                                lib/  every shared library they load that such a machine
#                                      may lack (OpenBLAS, libgfortran, libgomp, Google
#                                      Benchmark, the CUDA runtime), found by following
#                                      DT_NEEDED; not the base system (below), not libcuda,
#                                      cuDNN, cuBLAS or NCCL, which the machine has
#                                scripts/, tools/  gpu-check.sh and its python helpers
#                                MANIFEST  commit, configuration, sizes, libraries
#   gpu-bundle/MANIFEST          the same, readable without unpacking
# Carried compressed (xz): at most GLIA_BUNDLE_MAX_MIB (50) MiB, checked.
#   scripts/gpu-bundle.sh            build (or reuse) and pack
#   scripts/gpu-bundle.sh --check    CI's check of a packed bundle: size; every DT_NEEDED
#                                    of every binary and library resolves (ldd, with
#                                    LD_LIBRARY_PATH unset) inside the bundle or to the
#                                    base system; the binaries run from it on cpu and sim
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${GLIA_BUNDLE_DIR:-gpu-bundle}
max_mib=${GLIA_BUNDLE_MAX_MIB:-50}
build_dir=${BUILD_DIR:-build-cuda}
tests=(test_kernels_ops test_tensor test_nets_ops test_reference)
benches=(bench_gemm bench_conv2d bench_batch_norm bench_networks)
# The machine's own: the C runtime and compiler runtime of any Linux that runs CUDA.
base_libs="linux-vdso.so.1 ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1
           libstdc++.so.6 libgcc_s.so.1"
# Found on the GPU machine by gpu-check.sh (toolkit or python's nvidia/*/lib).
machine_lib_pattern='^(libcuda\.so|libcudnn|libcublas|libcublasLt|libnccl)'

is_base() { [[ " $(echo $base_libs) " == *" $1 "* ]]; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

check_bundle() {
  local pack=$out/glia-gpu.tar.xz
  [ -f "$pack" ] || { echo "gpu-bundle --check: no $pack (run scripts/gpu-bundle.sh)" >&2; return 1; }
  local bytes fail=0
  bytes=$(du -cb "$out" | tail -1 | cut -f1)
  echo "gpu-bundle --check: $out is $((bytes / 1048576)) MiB as carried (limit $max_mib)"
  [ "$bytes" -le $((max_mib * 1048576)) ] || { echo "gpu-bundle --check: over $max_mib MiB" >&2; fail=1; }
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  tar -xJf "$pack" -C "$tmp"
  local f line name path
  for f in "$tmp"/bin/* "$tmp"/lib/*; do
    # Every direct dependency is in lib/, the base system, or the machine's CUDA libraries.
    for name in $(needed "$f"); do
      is_base "$name" || [[ $name =~ $machine_lib_pattern ]] || [ -f "$tmp/lib/$name" ] ||
        { echo "gpu-bundle --check: $(basename "$f") needs $name, which is not in the bundle" >&2; fail=1; }
    done
  done
  # And the loader, with no LD_LIBRARY_PATH, finds them there: the executables' DT_RPATH
  # ($ORIGIN/../lib) serves the libraries' own dependencies too.
  for f in "$tmp"/bin/*; do
    while read -r line; do
      name=${line%% *}
      path=$(sed -n 's/.*=> \([^ ]*\).*/\1/p' <<<"$line")
      [ -n "$path" ] || continue
      [[ $name =~ $machine_lib_pattern ]] && continue
      if [ "$path" = "not" ]; then
        echo "gpu-bundle --check: $(basename "$f"): $name not found" >&2; fail=1
      elif [[ $path != "$tmp"/* ]] && ! is_base "$name"; then
        echo "gpu-bundle --check: $(basename "$f"): $name resolves outside the bundle ($path)" >&2; fail=1
      fi
    done < <(env -u LD_LIBRARY_PATH ldd "$f" 2>&1)
  done
  # The binaries run from the bundle (cpu, sim; there is no GPU here). cuDNN/cuBLAS come
  # from this machine's toolkit, as gpu-check.sh finds them on the GPU machine.
  local cuda_lib
  cuda_lib=$(dirname "$(ldconfig -p | sed -n 's/.*libcublas\.so\.[0-9]* .*=> //p' | head -1)" 2>/dev/null || true)
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do [ -d "$d" ] && cuda_lib="$cuda_lib:$d"; done
  run() { (cd "$tmp" && LD_LIBRARY_PATH=$cuda_lib OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive timeout 300 "$@") >"$tmp/run.log" 2>&1 ||
            { echo "gpu-bundle --check: '$*' failed:" >&2; tail -20 "$tmp/run.log" >&2; fail=1; }; }
  run env GLIA_TEST_DEVICES=cpu,sim bin/test_kernels_ops --gtest_brief=1
  run env GLIA_TEST_DEVICES=cpu,sim bin/test_tensor --gtest_brief=1
  run env GLIA_TEST_DEVICES=cpu,sim bin/test_nets_ops --gtest_brief=1 '--gtest_filter=*/cpu'
  run env GLIA_TEST_DEVICES=cpu,sim bin/test_reference --gtest_list_tests
  for b in gemm conv2d batch_norm; do
    run "bin/bench_$b" '--benchmark_filter=/(cpu|sim)/tiny' --benchmark_min_time=0.001
  done
  run bin/bench_networks --benchmark_list_tests
  [ $fail -eq 0 ] && echo "gpu-bundle --check: passed"
  return $fail
}

if [ "${1:-}" = "--check" ]; then
  check_bundle
  exit $?
fi

if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "gpu-bundle: no nvcc on this machine; the bundle needs the CUDA configuration" >&2
  exit 1
fi
export PATH=$PATH:/usr/local/cuda/bin
targets="${tests[*]} ${benches[*]}"
if [ -f "$build_dir/CMakeCache.txt" ]; then
  # build-cuda.sh's folder (CI built it just before): make sure it is the configuration
  # the bundle needs; an older one without the portable rpath only relinks.
  grep -q GLIA_HAVE_CUDNN "$build_dir/compile_commands.json" 2>/dev/null ||
    { echo "gpu-bundle: $build_dir is not configured with CUDA and cuDNN; remove it or set BUILD_DIR" >&2; exit 1; }
  grep -q '^GLIA_PORTABLE_RPATH:BOOL=ON' "$build_dir/CMakeCache.txt" ||
    cmake -S . -B "$build_dir" -DGLIA_PORTABLE_RPATH=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" -j "${GLIA_JOBS:-$(nproc)}" --target $targets
else
  BUILD_DIR=$build_dir GLIA_BUILD_TARGETS="$targets" scripts/build-cuda.sh
fi
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build_dir/CMakeCache.txt" ||
  { echo "gpu-bundle: $build_dir is not a Release build" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/scripts" "$stage/tools"
for t in "${tests[@]}"; do cp "$build_dir/tests/$t" "$stage/bin/"; done
for b in "${benches[@]}"; do cp "$build_dir/bench/$b" "$stage/bin/"; done

# Shared libraries: follow DT_NEEDED from the binaries; ldd (this machine's loader) says
# where each one is. Stop at the base system and at the machine's CUDA libraries.
declare -A seen=()
queue=("$stage"/bin/*)
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}
  queue=("${queue[@]:1}")
  declare -A where=()
  while read -r name _ path _; do [ -n "${path:-}" ] && where[$name]=$path; done < <(ldd "$f" | grep '=>')
  for name in $(needed "$f"); do
    is_base "$name" && continue
    [[ $name =~ $machine_lib_pattern ]] && continue
    [ -n "${seen[$name]:-}" ] && continue
    seen[$name]=1
    src=${where[$name]:-}
    [ -n "$src" ] && [ "$src" != "not" ] || { echo "gpu-bundle: $(basename "$f") needs $name, not found here" >&2; exit 1; }
    cp -L "$src" "$stage/lib/$name"
    queue+=("$stage/lib/$name")
  done
  unset where
done

# The check and what it runs besides the binaries.
cp scripts/gpu-check.sh "$stage/scripts/"
# Every python tool (a few hundred KiB): a helper that one of them starts importing must
# not be the thing a first GPU run finds missing.
cp tools/*.py "$stage/tools/"

{
  echo "glia GPU bundle"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
  echo "nvcc: $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'); architectures: $(sed -n 's/^CMAKE_CUDA_ARCHITECTURES:[A-Z]*=//p' "$build_dir/CMakeCache.txt"); $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt")"
  echo "needs from the machine: NVIDIA driver (libcuda), $(for f in "$stage"/bin/* "$stage"/lib/*; do needed "$f"; done | grep -E "$machine_lib_pattern" | sort -u | tr '\n' ' ')"
  echo "needs glibc >= $(for f in "$stage"/bin/* "$stage"/lib/*; do objdump -T "$f" 2>/dev/null; done | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 | cut -d_ -f2), libstdc++ with $(for f in "$stage"/bin/* "$stage"/lib/*; do objdump -T "$f" 2>/dev/null; done | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)"
  echo "files:"
  (cd "$stage" && find bin lib -type f -printf '  %p %s\n' | sort)
} >"$stage/MANIFEST"

rm -rf "$out"
mkdir -p "$out"
XZ_OPT=${XZ_OPT:--9 -T2} tar -cJf "$out/glia-gpu.tar.xz" -C "$stage" .
cp "$stage/MANIFEST" "$out/MANIFEST"
unpacked=$(du -sb "$stage" | cut -f1)
packed=$(du -cb "$out" | tail -1 | cut -f1)
echo "gpu-bundle: $out: $((packed / 1048576)) MiB packed ($((unpacked / 1048576)) MiB unpacked), $(ls "$stage/bin" | wc -l) binaries, $(ls "$stage/lib" | wc -l) libraries"
if [ "$packed" -gt $((max_mib * 1048576)) ]; then
  echo "gpu-bundle: over the $max_mib MiB limit" >&2
  exit 1
fi
