#!/usr/bin/env bash
# Fuzzes glia's readers of untrusted bytes with libFuzzer + ASan + UBSan, each target for
# a bounded time from the committed seed corpus (tools/fuzz/corpus/<target>/; the image
# seeds are not committed but made at every run into build-fuzz/seeds/decode/):
#   decode        image decoding (io/image.cpp, io/image_header.cpp)
#   safetensors   the safetensors reader (tensor/safetensors.cpp) and the NaN check
#   checkpoint    the checkpoint reader (train/checkpoint.cpp)
#   json          the JSON parser and writer (tensor/json.cpp)
#
#   scripts/fuzz.sh [seconds=60]   build into build-fuzz/ (clang), run every target; exit
#                                  non-zero naming each target that crashed, leaked,
#                                  hung (10 s) or ran out of memory (2 GB), and its input
#   scripts/fuzz.sh --seeds        rewrite the committed seed corpus (no images)
# New inputs the fuzzer finds go to build-fuzz/corpus/<target>/ (kept between runs);
# a failing input is left as build-fuzz/crashes/<target>/crash-<sha1> (or leak-, timeout-,
# oom-); replay it with   build-fuzz/tools/fuzz/fuzz_<target> <that file>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/build-fuzz"
targets=(decode safetensors checkpoint json)

packages=(clang libclang-rt-dev libomp-dev cmake ninja-build pkg-config libopencv-dev libopenblas-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$out/CMakeCache.txt" ]; then
  # Warnings are the main build's business (gcc, -Werror in CI); this one hunts crashes.
  env -u CI CC=clang CXX=clang++ cmake -S . -B "$out" -G Ninja -DGLIA_FUZZ=ON -DGLIA_SIM=OFF -DGLIA_CUDA=OFF \
    -DGLIA_BUILD_TESTS=OFF -DGLIA_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Also without CI here: a re-configure during the build would otherwise turn -Werror on.
env -u CI cmake --build "$out" -j "${GLIA_JOBS:-$(nproc)}" --target make_image_seeds "${targets[@]/#/fuzz_}"

if [ "${1:-}" = "--seeds" ]; then
  python3 tools/fuzz/make_corpus.py
  echo "fuzz: seeds written to tools/fuzz/corpus/"
  exit 0
fi
seconds=${1:-60}

# Image seeds: small encoded images of every format glia reads, and a PNG whose header
# claims 30000x30000 pixels; made here so the repository holds no image files.
image_seeds="$out/seeds/decode"
rm -rf "$image_seeds"
mkdir -p "$image_seeds"
"$out/tools/fuzz/make_image_seeds" "$image_seeds"
python3 tools/fuzz/make_corpus.py --decode "$image_seeds"

# Small budgets keep a forged header from spending the fuzzer's memory: glia refuses
# larger images itself (io/image_header.h), OpenCV's cap is a second line.
export GLIA_MAX_IMAGE_PIXELS=${GLIA_MAX_IMAGE_PIXELS:-4194304}
export OPENCV_IO_MAX_IMAGE_PIXELS=${OPENCV_IO_MAX_IMAGE_PIXELS:-4194304}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "$out/crashes/$t"
  log="$out/fuzz_$t.log"
  # libjpeg/libpng/libtiff print their complaints on stderr; -close_fd_mask=2 silences
  # them (libFuzzer and the sanitizers keep their own copy of stderr for reports).
  mask=0 seeds="tools/fuzz/corpus/$t"
  [ "$t" = decode ] && mask=2 seeds="$image_seeds"
  start=$(date +%s)
  set +e
  "$out/tools/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=$mask \
    -artifact_prefix="$out/crashes/$t/" -print_final_stats=1 "$out/corpus/$t" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t: ok, ${runs:-?} inputs in $(( $(date +%s) - start )) s"
  else
    input=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    echo "fuzz: $t: FAILED (exit $rc) on ${input:-an input not saved}; log $log:"
    grep -E "ERROR|SUMMARY|runtime error|==[0-9]+==|#[0-9]+ 0x" "$log" | head -12 || tail -20 "$log"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds} s each without a finding"
