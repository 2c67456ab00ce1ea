#!/usr/bin/env bash
# Fuzzes glia's image decode path (io/image.cpp) with libFuzzer + ASan + UBSan for a
# bounded time. Not part of the default build or of scripts/test.sh.
#   scripts/fuzz.sh [seconds=60]      build into build-fuzz/, run, exit non-zero on a finding
# Crashing inputs are left in build-fuzz/ as crash-*; replay one with
#   build-fuzz/fuzz_decode build-fuzz/crash-<hash>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
out="$root/build-fuzz"
mkdir -p "$out/corpus"
cxx=${CXX_FUZZ:-clang++}
opencv_flags=$(pkg-config --cflags opencv4)
opencv_libs="-lopencv_imgcodecs -lopencv_imgproc -lopencv_core"

"$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" $opencv_flags \
  "$root/tools/fuzz/fuzz_decode.cpp" "$root/io/image.cpp" "$root/kernels/error.cpp" \
  $opencv_libs -o "$out/fuzz_decode"
"$cxx" -std=c++17 -O1 $opencv_flags "$root/tools/fuzz/make_seeds.cpp" $opencv_libs -o "$out/make_seeds"
"$out/make_seeds" "$out/corpus"

# OpenCV refuses headers that claim more pixels than this before allocating, so a
# forged size cannot make the fuzzer run out of memory (the default allows 2^30).
export OPENCV_IO_MAX_IMAGE_PIXELS=${OPENCV_IO_MAX_IMAGE_PIXELS:-4194304}
# libjpeg/libpng/libtiff print their complaints; -close_fd_mask=2 keeps the log readable.
cd "$out"
./fuzz_decode -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 \
  -print_final_stats=1 corpus
