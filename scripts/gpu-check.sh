#!/usr/bin/env bash
# The whole first check of glia on an NVIDIA GPU, in one command of under 8 minutes (issue 16), on a
# machine where nothing can be installed (the offline GPU machine) or on a user's CUDA box.
#   scripts/gpu-check.sh --bundle gpu-bundle [--out DIR]   from scripts/gpu-bundle.sh's bundle
#   scripts/gpu-check.sh --build DIR [--out DIR]           from a CUDA build folder
#   scripts/gpu-check.sh [--out DIR]                       builds build-gpu/ first (setup.sh)
#   scripts/gpu-check.sh --dry-run [--bundle D | --build D] the same flow here, sim for cuda
# Steps, each time-boxed (GLIA_CHECK_BUDGET seconds in all, default 470, unpacking
# included; a step that overruns is killed, reported and the rest still run):
#   device     nvidia-smi and PyTorch's view of the card; glia's own (the cuda cases listed)
#   kernels    every kernel suite (test_kernels_ops) on cuda and cudnn against the CPU reference
#   tensor     test_tensor and test_nets_ops on cuda
#   refs, reference   PyTorch there writes the references; the networks' reference tests on cuda
#   bench-glia, bench-torch-fp32, bench-torch-default   the quick benchmark set (below)
#   bench-bf16-glia, bench-bf16-torch   tensor cores: bf16 GEMM at 4096^2 (hand and cuBLAS),
#              bf16 convs (hand and cuDNN), B1 and U-Net bf16 training steps beside
#              PyTorch's eager autocast; the report states issue 17's goals and whether met
#   profile    glia profile of a B1 training step (from a build folder; glia is not bundled)
#   memcheck, racecheck, synccheck   compute-sanitizer over a few kernel suites
# Benchmarks: SGEMM at 4096^2 and the networks' shapes, B1's depthwise and 1x1 convs, the
# U-Net's 3x3 convs, batch norm, B1 training steps at batch 32 and 128, U-Net steps at 8 and
# 32, inference of both. glia's hand-written kernels and its cuDNN/cuBLAS variants, with
# NVIDIA_TF32_OVERRIDE=0 (exact fp32), beside PyTorch with TF32 off and with its defaults.
# Writes <out>/<date>-<card>.json (every step, test count and benchmark row), .md (the
# summary) and .log (everything printed); default out: bench/results.
# Exit status: 0 all passed; 1 a test or step failed or overran; 2 no usable GPU, a device
# asked for is missing, a library cannot be found, or no cuda test ran.
# Environment: python3 from PATH (GLIA_PYTHON overrides) with torch; cuDNN, cuBLAS and NCCL
# from the CUDA toolkit, the system, or python's site-packages/nvidia/*/lib.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bundle="" build="" out="" dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=${2:?--bundle needs a folder}; shift 2 ;;
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$bundle" ] && [ -n "$build" ] && { echo "gpu-check: give --bundle or --build, not both" >&2; exit 2; }
case "$out" in ""|/*) ;; *) out=$PWD/$out ;; esac
case "$bundle" in ""|/*) ;; *) bundle=$PWD/$bundle ;; esac
case "$build" in ""|/*) ;; *) build=$PWD/$build ;; esac

if [ $dry = 1 ]; then dev=sim; else dev=cuda; fi
start=$(date +%s)
# The dry run proves the flow, not the timing, on whatever a shared CI machine gives it:
# its time boxes are 4x as long (GLIA_CHECK_BOX_SCALE).
scale=${GLIA_CHECK_BOX_SCALE:-$([ $dry = 1 ] && echo 4 || echo 1)}
deadline=$((start + ${GLIA_CHECK_BUDGET:-470} * scale))
work=$(mktemp -d "${TMPDIR:-/tmp}/glia-gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gtest" "$work/bench" "$work/steps"
exec > >(tee -a "$work/log") 2>&1
say() { echo "gpu-check: [+$(( $(date +%s) - start )) s] $*"; }
fatal=""  # why the run cannot count (exit 2)

# ---- python, threads --------------------------------------------------------------------
# The first of GLIA_PYTHON, python3 on PATH, /usr/bin/python3 that has PyTorch (without
# one, the reference and PyTorch benchmark steps fail and say so).
py=""
for p in ${GLIA_PYTHON:-} "$(command -v python3 || true)" /usr/bin/python3; do
  [ -n "$p" ] && [ -x "$p" ] || continue
  [ -z "$py" ] && py=$p
  if "$p" -c "import torch" 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { say "no python3 on PATH (GLIA_PYTHON overrides)"; exit 2; }
ncpu=$(nproc)
shards=$(( ncpu >= 16 ? 4 : ncpu >= 4 ? 2 : 1 ))
export OMP_WAIT_POLICY=passive  # idle OpenMP threads must not spin against the other shards
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( ncpu / shards > 0 ? ncpu / shards : 1 ))}
export GLIA_SOURCE_DIR=$root PYTHONUNBUFFERED=1
export PATH=$PATH:/usr/local/cuda/bin

# ---- the card ---------------------------------------------------------------------------
if [ $dry = 1 ]; then
  card="dry-run-sim"
  say "dry run: sim in place of cuda, tiny shapes, no sanitizer"
else
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    say "no NVIDIA driver here (nvidia-smi not found); this check needs a GPU"; exit 2
  fi
  card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  if [ -z "$card" ]; then
    say "nvidia-smi lists no GPU: $(nvidia-smi -L 2>&1 | head -3)"; exit 2
  fi
fi
slug=$(echo "$card" | tr 'A-Z' 'a-z' | sed 's/nvidia//; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')
out=${out:-$root/bench/results}
mkdir -p "$out"
stem=$out/$(date -u +%Y-%m-%d)-$slug
say "python: $py"
say "$card; results to $stem.{json,md,log}; $ncpu cores, $shards test shards x $OMP_NUM_THREADS threads"

# ---- binaries -----------------------------------------------------------------------------
bin=$work/bin
tools=$root/tools
if [ -n "$bundle" ]; then
  [ -f "$bundle/glia-gpu.tar.xz" ] || { say "$bundle/glia-gpu.tar.xz not found (scripts/gpu-bundle.sh makes it)"; exit 2; }
  # python's tarfile: no xz binary needed on the machine.
  "$py" -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$bundle/glia-gpu.tar.xz" "$work/bundle" ||
    { say "could not unpack $bundle/glia-gpu.tar.xz"; exit 2; }
  # The binaries stay where they are: their rpath, $ORIGIN/../lib, is not followed through
  # a symbolic link. LD_LIBRARY_PATH too, in case a loader ignores DT_RPATH.
  bin=$work/bundle/bin
  export LD_LIBRARY_PATH=$work/bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  tools=$work/bundle/tools
  say "bundle: $(sed -n 's/^commit: //p' "$work/bundle/MANIFEST")"
else
  if [ -z "$build" ]; then
    if [ $dry = 1 ]; then
      build=$root/build
    else
      build=$root/build-gpu
      BUILD_DIR=build-gpu GLIA_CMAKE_ARGS="-DGLIA_CUDA=ON -DGLIA_CUDNN=ON -DCMAKE_CUDA_ARCHITECTURES=native -DCMAKE_BUILD_TYPE=Release" \
        GLIA_BUILD_TARGETS="test_kernels_ops test_tensor test_nets_ops test_reference bench_gemm bench_conv2d bench_batch_norm bench_networks" \
        scripts/setup.sh || { say "the CUDA build failed"; exit 2; }
    fi
  fi
  mkdir -p "$bin"
  for t in test_kernels_ops test_tensor test_nets_ops test_reference; do ln -s "$build/tests/$t" "$bin/$t"; done
  for b in bench_gemm bench_conv2d bench_batch_norm bench_networks; do ln -s "$build/bench/$b" "$bin/$b"; done
fi
for f in "$bin"/*; do [ -x "$f" ] || { say "missing binary $(basename "$f") (build it, or rebuild the bundle)"; exit 2; }; done

# ---- shared libraries the machine must supply (cuDNN, cuBLAS, NCCL, CUDA runtime) ---------
missing_libs() { for f in "$bin"/*; do ldd "$f" 2>/dev/null; done | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p' | sort -u; }
lib_dirs() {
  local d
  for d in ${CUDA_HOME:+$CUDA_HOME/lib64 $CUDA_HOME/lib} /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-*/lib64 \
           /usr/local/cuda-*/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [ -d "$d" ] && echo "$d"
  done
  # pip's nvidia-* wheels (PyTorch's own cuDNN/cuBLAS/NCCL), and torch/lib.
  "$py" - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = list(site.getsitepackages()) + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")]
for r in dict.fromkeys(roots):
    for d in sorted(glob.glob(os.path.join(r, "nvidia", "*", "lib"))) + [os.path.join(r, "torch", "lib")]:
        if os.path.isdir(d):
            print(d)
PY
}
need=$(missing_libs)
if [ -n "$need" ]; then
  added=""
  for lib in $need; do
    for d in $(lib_dirs); do
      if [ -e "$d/$lib" ]; then
        case ":$added:" in *":$d:"*) ;; *) added=${added:+$added:}$d ;; esac
        break
      fi
    done
  done
  export LD_LIBRARY_PATH=$added${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  say "libraries from: ${added:-nowhere}"
  still=$(missing_libs)
  if [ -n "$still" ]; then
    say "cannot find $(echo $still) (looked in the CUDA toolkit, /usr/lib and python's nvidia/*/lib)"
    exit 2
  fi
fi
for lib in libcudnn.so.9 libcublas.so; do
  where=$(ldd "$bin/test_kernels_ops" 2>/dev/null | sed -n "s/^[[:space:]]*$lib[^ ]* => \([^ ]*\).*/\1/p" | head -1)
  [ -n "$where" ] && say "$lib: $where"
done

# ---- the step runner ------------------------------------------------------------------------
# step NAME BUDGET CMD...: runs CMD under `timeout` for BUDGET seconds or what is left of
# the whole budget; records status (pass, fail, overrun, skipped), seconds and a note.
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$work/steps.tsv"; }
step() {
  local name=$1 budget=$2; shift 2
  local now left box t0 rc
  budget=$((budget * scale))
  now=$(date +%s); left=$((deadline - now))
  box=$(( budget < left ? budget : left ))
  if [ "$box" -lt 5 ]; then
    say "[$name] skipped: the check's time budget is spent"
    record "$name" skipped 0 "$budget" "no time left in the check's budget"
    return 0
  fi
  say "[$name] start (up to ${box} s)"
  t0=$(date +%s)
  # bash -c: a step may be one of the functions below (exported).
  timeout -k 5 "$box" bash -c '"$@"' "$name" "$@" >"$work/steps/$name.out" 2>&1
  rc=$?
  cat "$work/steps/$name.out"
  local took=$(( $(date +%s) - t0 ))
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    say "[$name] OVERRUN: stopped after ${took} s (box ${box} s); the rest still runs"
    record "$name" overrun "$took" "$box" "stopped at its time box"
  elif [ $rc -ne 0 ]; then
    say "[$name] FAILED (exit $rc) after ${took} s"
    record "$name" fail "$took" "$box" "exit $rc: $(grep -m1 -E 'FAILED|rror' "$work/steps/$name.out" | cut -c1-200)"
  else
    say "[$name] passed in ${took} s"
    record "$name" pass "$took" "$box" ""
  fi
  return 0
}
skip() { say "[$1] skipped: $2"; record "$1" skipped 0 0 "$2"; }

# gtest in parallel shards; each writes $work/gtest/<label>.<i>.json.
gtest_sharded() {
  local label=$1 n=$2; shift 2
  local i pids=() rc=0
  for ((i = 0; i < n; i++)); do
    GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i "$@" --gtest_brief=1 --gtest_output="json:$work/gtest/$label.$i.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

# ---- device -----------------------------------------------------------------------------------
device_query() {
  if [ $dry = 0 ]; then
    nvidia-smi --query-gpu=name,pci.bus_id,memory.total,clocks.max.sm,clocks.max.mem,driver_version,compute_cap,persistence_mode \
      --format=csv || return 1
  fi
  "$py" - "$work/device.json" "$dev" <<'PY'
import json, sys
info = {"glia_device": sys.argv[2]}
try:
    import torch
    info["torch"] = torch.__version__
    info["torch_cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(name=p.name, sms=p.multi_processor_count, memory_gib=round(p.total_memory / 2**30, 1),
                    capability=f"{p.major}.{p.minor}", cudnn=torch.backends.cudnn.version())
        info["l2_mib"] = round(getattr(p, "L2_cache_size", 0) / 2**20, 1)
    else:
        info["torch_sees_gpu"] = False
except Exception as e:  # the check still runs glia's side without PyTorch
    info["torch_error"] = str(e)
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(json.dumps(info))
PY
  [ $dry = 0 ] && nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1 >"$work/driver"
  # glia's own view: its kernel suites list a case per device it can run.
  local n
  n=$(GLIA_TEST_DEVICES=cpu,$dev "$bin/test_kernels_ops" --gtest_list_tests 2>"$work/devices.err" | grep -c "/$dev\b")
  cat "$work/devices.err"
  echo "glia lists $n kernel test cases on $dev"
  [ "$n" -gt 0 ]
}
# The references, one python per model in parallel (make_refs keeps each to one thread).
make_refs() {
  local m pids=() rc=0
  for m in ${1//,/ }; do
    "$py" "$tools/make_refs.py" --out "$work/refs" --models "$m" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}
export -f gtest_sharded device_query make_refs
export work bin dev dry py tools
step device 30 device_query
if ! grep -q "glia lists [1-9][0-9]* kernel test cases" "$work/steps/device.out"; then
  fatal="glia cannot use device '$dev' here: $(grep -m1 -iE 'cuda|error|available' "$work/devices.err" 2>/dev/null || echo 'no cases listed')"
  say "$fatal"
fi

if [ $dry = 1 ]; then kfilter='*/sim'; else kfilter='*/cuda:*/cudnn'; fi
if [ -z "$fatal" ]; then
  # ---- correctness --------------------------------------------------------------------------
  step kernels 80 gtest_sharded kernels_ops "$shards" env GLIA_TEST_DEVICES=cpu,$dev "$bin/test_kernels_ops" "--gtest_filter=$kfilter"

  models=$(GLIA_TEST_DEVICES=cpu,$dev "$bin/test_reference" --gtest_list_tests 2>/dev/null |
           sed -n "s/^  [A-Za-z]*\/\(.*\)_float\(32\|64\)_${dev}\([_ ].*\)\{0,1\}$/\1/p" | sort -u | paste -sd, -)
  # The dry run keeps to the small U-Net: B1 at 40 px on the emulator takes minutes here.
  rfilter="*_${dev}*"
  [ $dry = 1 ] && models=unet rfilter="*/unet_*_${dev}*"
  if [ -n "$models" ]; then
    step refs 60 make_refs "$models"
    step reference 80 env GLIA_TEST_DEVICES=cpu,$dev GLIA_REF_DIR="$work/refs" \
      "$bin/test_reference" --gtest_brief=1 "--gtest_filter=$rfilter" --gtest_output="json:$work/gtest/reference.0.json"
  else
    skip reference "test_reference lists no case on $dev"
  fi
  step tensor 50 gtest_sharded tensor "$shards" env GLIA_TEST_DEVICES=cpu,$dev "$bin/test_tensor" "--gtest_filter=*/$dev"
  step nets_ops 30 env GLIA_TEST_DEVICES=cpu,$dev "$bin/test_nets_ops" --gtest_brief=1 "--gtest_filter=*/$dev" \
    --gtest_output="json:$work/gtest/nets_ops.0.json"

  # ---- benchmarks ---------------------------------------------------------------------------
  if [ $dry = 1 ]; then
    hand=sim lib=none torch_dev=cpu kmin=0.001 nmin=0.001
    gemm='^gemm/forward/BK/tiny' conv='^conv2d/[a-z_]+/BK/tiny' bn='^batch_norm/[a-z_]+/BK/tiny'
    net='^net/unet_(train|infer)/cpu/width:16/batch:1/'
    gemm16='^gemm_bf16/forward/BK/tiny' conv16='^conv2d_bf16/[a-z_]+/BK/tiny' net16='^net/unet_train/cpu/width:16/batch:1/precision:bf16/'
  else
    hand=cuda lib=cudnn torch_dev=cuda kmin=${KERNEL_MIN_TIME:-0.05} nmin=${NET_MIN_TIME:-0.2}
    gemm='^gemm/forward/BK/(square_4096/n:1|b1_s2_expand_im2col_144x3600x24/n:32|b1_head_im2col_1280x64x320/n:32|unet_l3_im2col_256x4096x2304/n:32|fc_1280to1000/n:32)/'
    conv='^conv2d/(forward|backward_input|backward_weight)/BK/(b1_s2_dw3x3s1_144|b1_s4_dw3x3s1_480|b1_s3_dw5x5s1_240|b1_s2_expand_24to144|b1_s6_project_1152to192|b1_head_1x1_320to1280|unet_l1_3x3_64to64|unet_l3_3x3_256to256)/n:32/'
    bn='^batch_norm/(forward_train|backward)/BK/(b1_s2_144x60|b1_s6_1152x8|unet_l1_64x256|unet_l3_256x64)/n:32/'
    net='^net/(effnet_b1_infer/cuda/batch:(1|32)|effnet_b1_train/cuda/batch:(32|128)|unet_train/cuda/width:64/batch:(8|32)|unet_infer/cuda/width:64/batch:(8|32))/'
    # Tensor cores (issue 17's goals: hand bf16 GEMM >= 60 % of cuBLAS at 4096^2, B1 bf16
    # training >= 1.25x PyTorch eager autocast).
    gemm16='^gemm_bf16/forward/BK/(square_4096/n:1|unet_l3_im2col_256x4096x2304/n:32|b1_head_im2col_1280x64x320/n:32)/'
    conv16='^conv2d_bf16/(forward|backward_input|backward_weight)/BK/(b1_s2_expand_24to144|b1_head_1x1_320to1280|b1_s2_dw3x3s1_144|unet_l1_3x3_64to64|unet_l3_3x3_256to256)/n:32/'
    net16='^net/(effnet_b1_train/cuda/batch:32|unet_train/cuda/width:64/batch:8)/precision:bf16/'
  fi
  glia_bk="($hand|$lib)" torch_bk="($torch_dev|cuda|cudnn)"
  bench_glia() {
    local rc=0 b f exe
    # Exact fp32 on glia's side: cuDNN/cuBLAS may pick TF32 for fp32 on Ampere and later.
    export NVIDIA_TF32_OVERRIDE=0
    for b in gemm conv bn; do
      f=${!b}
      case $b in gemm) exe=bench_gemm ;; conv) exe=bench_conv2d ;; bn) exe=bench_batch_norm ;; esac
      "$bin/$exe" "--benchmark_filter=${f//BK/$glia_bk}" --benchmark_min_time="$kmin" \
        --benchmark_out="$work/bench/glia_$b.json" --benchmark_out_format=json || rc=1
    done
    "$bin/bench_networks" "--benchmark_filter=$net" --benchmark_min_time="$nmin" \
      --benchmark_out="$work/bench/glia_net.json" --benchmark_out_format=json || rc=1
    return $rc
  }
  export -f bench_glia
  export gemm conv bn net glia_bk kmin nmin
  step bench-glia 110 bench_glia
  torch_filter="${gemm//BK/$torch_bk}|${conv//BK/$torch_bk}|${bn//BK/$torch_bk}|$net"
  [ $dry = 1 ] && torch_filter=${torch_filter//\/sim\//\/cpu\/}
  step bench-torch-fp32 60 env NVIDIA_TF32_OVERRIDE=0 "$py" "$tools/bench_torch.py" --device "$torch_dev" --tf32 off \
    --filter "$torch_filter" --no-layers --min-time "$kmin" --net-min-time "$nmin" --out "$work/bench/torch_fp32.json" \
    --quiet
  if [ $dry = 1 ]; then
    skip bench-torch-default "on cpu PyTorch's defaults are its fp32 (no TF32): the same column"
  else
    step bench-torch-default 40 "$py" "$tools/bench_torch.py" --device "$torch_dev" --tf32 default \
      --filter "$torch_filter" --no-layers --min-time "$kmin" --net-min-time "$nmin" --out "$work/bench/torch_default.json" \
      --quiet
  fi

  # bf16 on tensor cores: glia's hand kernels and cuDNN/cuBLAS (a backend whose kernel has
  # no bf16 yet reports that as the case's error), and PyTorch's bf16 / autocast. These
  # come before profile and the sanitizers so a first run always has the numbers.
  bench_bf16_glia() {
    local rc=0
    "$bin/bench_gemm" "--benchmark_filter=${gemm16//BK/$glia_bk}" --benchmark_min_time="$kmin" \
      --benchmark_out="$work/bench/glia_bf16_gemm.json" --benchmark_out_format=json || rc=1
    "$bin/bench_conv2d" "--benchmark_filter=${conv16//BK/$glia_bk}" --benchmark_min_time="$kmin" \
      --benchmark_out="$work/bench/glia_bf16_conv.json" --benchmark_out_format=json || rc=1
    if "$bin/bench_networks" --benchmark_list_tests "--benchmark_filter=$net16" 2>/dev/null | grep -q .; then
      "$bin/bench_networks" "--benchmark_filter=$net16" --benchmark_min_time="$nmin" \
        --benchmark_out="$work/bench/glia_bf16_net.json" --benchmark_out_format=json || rc=1
    else
      echo "bench-bf16-glia: this build has no bf16 training-step cases (bench_networks .../precision:bf16)"
    fi
    return $rc
  }
  export -f bench_bf16_glia
  export gemm16 conv16 net16
  step bench-bf16-glia 45 bench_bf16_glia
  torch16_filter="${gemm16//BK/$torch_bk}|${conv16//BK/$torch_bk}|$net16"
  [ $dry = 1 ] && torch16_filter=${torch16_filter//\/sim\//\/cpu\/}
  step bench-bf16-torch 45 "$py" "$tools/bench_torch.py" --device "$torch_dev" --filter "$torch16_filter" --no-layers \
    --min-time "$kmin" --net-min-time "$nmin" --out "$work/bench/torch_bf16.json" --quiet

  # Where a B1 training step spends its time on this card, per op and layer (the ops to
  # attack first), with its Chrome trace. glia itself links OpenCV, so it is not in the
  # bundle: this step runs from a build folder (--build, or the one built here).
  profile_step() {
    if [ "$dry" = 1 ]; then set -- --model b0 --image-size 32 --batch-size 2 --steps 1 --warmup 0
    else set -- --model b1 --batch-size 32 --steps 5; fi
    "$build/apps/glia" profile --device "$dev" "$@" --top 30 --trace "$stem-profile-trace.json" | tee "$stem-profile.txt"
  }
  export -f profile_step
  export build stem
  if [ -n "$build" ] && [ -x "$build/apps/glia" ]; then
    step profile 40 profile_step
  else
    skip profile "glia (it links OpenCV) is not in the bundle; --build DIR runs glia profile"
  fi

  # ---- compute-sanitizer --------------------------------------------------------------------
  # A few suites cover each kind of kernel: shared-memory tiles and barriers (gemm, conv,
  # batch norm's reductions, softmax, reduce), plain elementwise indexing (copy, pool).
  # racecheck (the slowest) takes the shared-memory ones only.
  sfilter='Backends/GemmOps.*/cuda:Backends/ConvOps.*/cuda:Backends/BatchNormOps.*/cuda:Backends/SoftmaxOps.*/cuda:Backends/ReduceOps.*/cuda:Backends/PoolOps.*/cuda:Backends/ElementwiseOps.*/cuda'
  rfilter_shared='Backends/GemmOps.*/cuda:Backends/BatchNormOps.*/cuda:Backends/SoftmaxOps.*/cuda:Backends/ReduceOps.*/cuda'
  sanitize() {  # tool filter; the test binary is compute-sanitizer's own child (no env wrapper)
    GLIA_TEST_DEVICES=cpu,cuda compute-sanitizer --tool "$1" --error-exitcode 3 --print-limit 20 \
      "$bin/test_kernels_ops" --gtest_brief=1 "--gtest_filter=$2"
  }
  export -f sanitize
  if [ $dry = 1 ]; then
    skip memcheck "dry run: sim has its own checked mode (guard pages, three thread orders), which the kernels step ran"
    skip racecheck "dry run"; skip synccheck "dry run"
  elif ! command -v compute-sanitizer >/dev/null 2>&1; then
    skip memcheck "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
  else
    step memcheck 40 sanitize memcheck "$sfilter"
    step racecheck 35 sanitize racecheck "$rfilter_shared"
    step synccheck 30 sanitize synccheck "$sfilter"
  fi
else
  for s in kernels refs reference tensor nets_ops bench-glia bench-torch-fp32 bench-torch-default bench-bf16-glia \
           bench-bf16-torch profile memcheck racecheck synccheck; do
    skip "$s" "$fatal"
  done
fi

# A device asked for (GLIA_TEST_DEVICES) that a suite dropped is a missing device, not a pass.
if [ -z "$fatal" ] && grep -qs "device '$dev' is not available" "$work"/steps/*.out; then
  fatal="a suite found device '$dev' unavailable: $(grep -hs -m1 "device '$dev' is not available" "$work"/steps/*.out | head -1)"
  say "$fatal"
fi

# ---- report -------------------------------------------------------------------------------------
elapsed=$(( $(date +%s) - start ))
say "steps took ${elapsed} s; writing the report"
cp "$work/log" "$stem.log"
"$py" "$tools/gpu_check_report.py" --work "$work" --card "$card" --device "$dev" --dry-run "$dry" \
  --elapsed "$elapsed" --fatal "$fatal" --json "$stem.json" --md "$stem.md" --manifest "$work/bundle/MANIFEST"
rc=$?
say "wrote $stem.json, $stem.md and $stem.log (exit $rc)"
cp "$work/log" "$stem.log"
exit $rc
