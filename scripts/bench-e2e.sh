#!/usr/bin/env bash
# End-to-end classifier training speed, glia beside PyTorch, loader included (read,
# decode, resize, augment, forward, backward, Adam step): bench/e2e_train.cpp (the
# pipeline, loader, decoded-image cache, model and Trainer of `glia train-cls`) and
# tools/bench_torch_e2e.py (the same training written as a PyTorch user would: PIL,
# torchvision transforms, DataLoader workers), on the same images of
# ../shared/data/brain-tumor-mri, with the same threads in total (THREADS compute threads
# + WORKERS loader threads or processes). PyTorch runs decoding every epoch (a plain
# Dataset), again with --preload (every image decoded and resized once into memory
# before training, counted in epoch 1, as the issue's PyTorch script did), and decoding
# every epoch on one compute thread (the same WORKERS).
# Each side trains a fresh EfficientNet-B1 + the study's head for EPOCHS epochs at each
# size; epoch 1 starts cold (glia fills its cache, PyTorch preloads), "epoch:2+" is every
# later epoch. glia and PyTorch (decoding every epoch) run ROUNDS times, alternating, and
# each row is that side's median round (tools/bench_rounds.py; the table lists every
# round): this VM's speed wandered by up to 1.5x within an hour, which decided single-run
# comparisons (glia 1.28x PyTorch at 160 px in one run, 0.95x two hours later). The
# preload and one-thread runs run once. Writes bench/results/<date>-<cpu>-<threads>t-e2e-{glia,torch,torch-preload,
# torch-1t}.json (Google Benchmark-style rows: ms per step, images/s, loader_wait_s) and
# -e2e-table.md (OUT_STEM replaces bench/results/<date>-<cpu>-<threads>t-e2e).
#   scripts/bench-e2e.sh
# Defaults: IMAGES=512 (128 per class, evenly spaced in file-name order) SIZES=160,240
# EPOCHS=2 ROUNDS=3 BATCH=32 THREADS=<all cores> WORKERS=2 CACHE=ram TORCH_PRELOAD=1 (0: skip
# the preload run) TORCH_ONE_THREAD=1 (0: skip the one-thread run) BUILD_DIR=build-bench
# GLIA_DATA=<folder holding brain-tumor-mri/> RESULTS_TAG (appended to the file names).
# About 40 minutes on 2 idle cores after the build (each glia round ~3, PyTorch's probe
# ~2, each PyTorch run 4-7); scripts/bench-compare.sh --e2e runs it at 160 px without the
# preload run (ROUNDS=1 there: ~6 minutes).
# Thread configuration. glia runs with OMP_WAIT_POLICY=passive, as the glia binary sets
# for itself. PyTorch runs under the configuration tools/bench_torch_config.py picks by
# probing this very workload (OPENBLAS_NUM_THREADS in {1, THREADS} x OMP_WAIT_POLICY in
# {unset, passive}, PROBE_BATCHES=3 steps of a second epoch at the first size, one
# process each, its loader workers included), as a careful PyTorch user would; the
# tables state it. With THREADS + WORKERS above the core count, or other load, spinning
# OpenMP threads can starve the rest (on 2 loaded cores a PyTorch B1 step at 64 px took
# 10-16 s spinning and 0.3-1 s passive), so the probe's choice may differ from
# bench-compare's. TORCH_OPENBLAS_NUM_THREADS / TORCH_OMP_WAIT_POLICY ('' = unset) fix a
# variable instead of probing it. A tiny check that it works:
#   IMAGES=32 SIZES=64 EPOCHS=2 BATCH=8 PROBE_BATCHES=1 ROUNDS=2 scripts/bench-e2e.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/blas-env.sh  # both sides load the same OpenBLAS

images=${IMAGES:-512} sizes=${SIZES:-160,240} epochs=${EPOCHS:-2} batch=${BATCH:-32}
threads=${THREADS:-$(nproc)} workers=${WORKERS:-2} cache=${CACHE:-ram} preload=${TORCH_PRELOAD:-1}
one_thread=${TORCH_ONE_THREAD:-1} probe_batches=${PROBE_BATCHES:-3} rounds=${ROUNDS:-3}
[ "$rounds" -ge 1 ] 2>/dev/null || { echo "bench-e2e: ROUNDS must be a whole number >= 1, not '$rounds'" >&2; exit 2; }
[ "$threads" != 1 ] || one_thread=0  # the THREADS run is the one-thread run
build_dir=${BUILD_DIR:-build-bench}
data=${GLIA_DATA:-$root/../shared/data}
python=/usr/bin/python3  # Debian's torch, not a pyenv python3 on PATH
if [ ! -d "$data/brain-tumor-mri/Training" ]; then
  echo "bench-e2e: $data/brain-tumor-mri/Training not found; set GLIA_DATA to the folder holding brain-tumor-mri/" >&2
  exit 1
fi
if ! "$python" -c "import torch, torchvision, PIL" 2>/dev/null; then
  echo "bench-e2e: $python cannot import torch, torchvision and PIL (apt install python3-torch python3-torchvision)" >&2
  exit 1
fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DGLIA_CUDA=OFF -DGLIA_BUILD_BENCH=ON -DGLIA_BUILD_TESTS=OFF
fi
cmake --build "$build_dir" --target bench_e2e_train -j "$(nproc)"
# The commit the binary was built from, taken now: edits made while the rounds run are not in it.
commit=$(git rev-parse --short=12 HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || commit+="+dirty"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr 'A-Z' 'a-z' |
      sed 's/([^)]*)//g; s/ cpu / /; s/processor//; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')
stem=${OUT_STEM:-bench/results/$(date -u +%Y-%m-%d)-${cpu:-cpu}-${threads}t-e2e${RESULTS_TAG:+-$RESULTS_TAG}}
mkdir -p bench/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The images both sides train on: IMAGES/4 per class, evenly spaced in file-name order.
"$python" - "$data/brain-tumor-mri/Training" "$images" > "$tmp/list.txt" <<'PY'
import os, sys
root, images = sys.argv[1], int(sys.argv[2])
classes = ["glioma", "meningioma", "notumor", "pituitary"]  # io::tumour_class_names() order
per_class = max(1, images // len(classes))
for label, name in enumerate(classes):
    folder = os.path.join(root, name)
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    k = min(per_class, len(files))
    for i in range(k):
        print(label, os.path.abspath(os.path.join(folder, files[i * len(files) // k])))
PY
echo "bench-e2e: $(wc -l < "$tmp/list.txt") images, sizes $sizes, $epochs epochs, batch $batch," \
     "$threads compute threads + $workers loader workers each side; load average $(cut -d' ' -f1-3 /proc/loadavg)"

common=(--list "$tmp/list.txt" --sizes "$sizes" --batch "$batch" --epochs "$epochs" --threads "$threads"
        --workers "$workers")
run_glia() {
  OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} OMP_NUM_THREADS=$threads \
    "$build_dir/bench/bench_e2e_train" "${common[@]}" --cache "$cache" --out "$1"
}
# PyTorch's configuration for $threads threads, probed on a few steps of this workload.
probe_torch() {
  local env_line
  env_line=$("$python" tools/bench_torch_config.py --threads "$threads" --out "$tmp/torch-config.json" \
    --rows 'epoch:2\+$' -- "$python" tools/bench_torch_e2e.py "${common[@]}" --sizes "${sizes%%,*}" --epochs 2 \
    --max-batches "$probe_batches" --out '{out}')
  read -ra torch_env <<< "$env_line"
  torch_run=(env "${torch_env[@]}" "$python" tools/bench_torch_e2e.py "${common[@]}" --config "$tmp/torch-config.json")
}
# The two sides alternate, ROUNDS times, and each row is the median round
# (tools/bench_rounds.py): a slow spell of the machine then hits one round of one side
# instead of deciding the comparison.
glia_rounds=() torch_rounds=()
for ((round = 1; round <= rounds; round++)); do
  echo "bench-e2e: round $round of $rounds"
  run_glia "$tmp/glia-$round.json"
  glia_rounds+=("$tmp/glia-$round.json")
  [ "$round" != 1 ] || probe_torch
  "${torch_run[@]}" --out "$tmp/torch-$round.json"
  torch_rounds+=("$tmp/torch-$round.json")
done
"$python" tools/bench_rounds.py --out "$stem-glia.json" "${glia_rounds[@]}"
"$python" tools/bench_rounds.py --out "$stem-torch.json" "${torch_rounds[@]}"
"$python" - "$stem-glia.json" "$commit" <<'PY'
import json, sys
path, commit = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
doc["context"]["glia_commit"] = commit
json.dump(doc, open(path, "w"), indent=2)
PY
if [ "$preload" != 0 ]; then
  "${torch_run[@]}" --preload --out "$stem-torch-preload.json"
fi
torch1=()
if [ "$one_thread" != 0 ]; then
  env_line=$("$python" tools/bench_torch_config.py --threads 1 --out "$tmp/torch-config-1t.json")
  read -ra torch_env <<< "$env_line"
  env "${torch_env[@]}" "$python" tools/bench_torch_e2e.py "${common[@]}" --threads 1 \
    --config "$tmp/torch-config-1t.json" --out "$stem-torch-1t.json"
  torch1=(--torch1 "$stem-torch-1t.json")
fi

{
  echo "# glia vs PyTorch end to end (classifier training, loader included), $(date -u '+%Y-%m-%d %H:%M UTC'), scripts/bench-e2e.sh"
  echo
  echo "$(wc -l < "$tmp/list.txt") images of brain-tumor-mri, batch $batch, $epochs epochs per size," \
       "$threads compute threads + $workers loader workers each side, glia --cache $cache."
  echo "ratio below 1: glia takes less time per step. Speed-up = PyTorch's step time / glia's."
  echo
  echo "## PyTorch decoding every epoch"
  echo
  "$python" tools/bench_table.py --glia "$stem-glia.json" --torch "$stem-torch.json" "${torch1[@]}"
  if [ "$preload" != 0 ]; then
    echo
    echo "## PyTorch with every image decoded once before training (--preload)"
    echo
    "$python" tools/bench_table.py --glia "$stem-glia.json" --torch "$stem-torch-preload.json"
  fi
  echo
  echo "Loader wait (s) and speed-up per workload:"
  echo
  sides=("PyTorch=$stem-torch.json")
  [ "$preload" = 0 ] || sides+=("PyTorch preload=$stem-torch-preload.json")
  [ "$one_thread" = 0 ] || sides+=("PyTorch 1 thread=$stem-torch-1t.json")
  "$python" - "$stem-glia.json" "${sides[@]}" <<'PY'
import json, sys
labels = [a.split("=", 1)[0] for a in sys.argv[2:]]
paths = [sys.argv[1]] + [a.split("=", 1)[1] for a in sys.argv[2:]]
rows = [{b["name"]: b for b in json.load(open(p))["benchmarks"]} for p in paths]
print("| workload | glia img/s | wait | " + " | ".join(f"{x} img/s | wait | speed-up" for x in labels) + " |")
print("|---|---:|---:|" + "---:|---:|---:|" * len(labels))
for name, g in rows[0].items():
    cells = [name, f"{g['images/s']:.2f}", f"{g['loader_wait_s']:.1f}"]
    for side in rows[1:]:
        t = side.get(name)
        cells += [f"{t['images/s']:.2f}", f"{t['loader_wait_s']:.1f}", f"{g['images/s'] / t['images/s']:.2f}x"] if t else ["", "", ""]
    print("| " + " | ".join(cells) + " |")
if "real_time_rounds" in next(iter(rows[0].values()), {}):
    print(f"\nEvery round (ms per step, in run order; glia and {labels[0]} alternated, the tables above"
          " use each side's median round):\n")
    print(f"| workload | glia | {labels[0]} | speed-up per round |")
    print("|---|---|---|---|")
    for name, g in rows[0].items():
        t = rows[1].get(name, {}).get("real_time_rounds", [])
        gr = g["real_time_rounds"]
        per_round = ", ".join(f"{b / a:.2f}x" for a, b in zip(gr, t))
        print(f"| {name} | {', '.join(f'{v:.0f}' for v in gr)} | {', '.join(f'{v:.0f}' for v in t)} | {per_round} |")
PY
  echo
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$stem-table.md"
written="$stem-glia.json, $stem-torch.json"
[ "$preload" = 0 ] || written+=", $stem-torch-preload.json"
[ "$one_thread" = 0 ] || written+=", $stem-torch-1t.json"
echo "bench-e2e: wrote $written, $stem-table.md"
