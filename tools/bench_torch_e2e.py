#!/usr/bin/python3
"""PyTorch's side of the end-to-end training benchmark (bench/e2e_train.cpp), written as a
PyTorch user would write the study's classifier training: a Dataset that opens each
image with PIL, torchvision transforms (Resize, flips, RandomAffine rotation +-15 and
zoom 0.9-1.1, ToTensor), a DataLoader with worker processes, torchvision's
EfficientNet-B1 with the study's head (Linear 512, ReLU, Dropout 0.4, Linear 4), Adam
(lr 1e-3, weight decay 1e-4), cross-entropy. Same rows, same names as glia's:

  e2e/b1_train/size:<S>/batch:<B>/epoch:1     the first epoch
  e2e/b1_train/size:<S>/batch:<B>/epoch:2+    every later epoch together

  /usr/bin/python3 tools/bench_torch_e2e.py --list FILE [--sizes 160,240] [--batch 32]
      [--epochs 2] [--threads T] [--workers W] [--preload] [--max-batches N]
      [--config CONFIG.json] [--out FILE]

--list: lines "<label> <path>", the images glia trains on (scripts/bench-e2e.sh). Threads:
torch.set_num_threads(T) for the training process and W DataLoader worker processes
(one thread each, PyTorch's default for workers), the T + W that glia runs with
--threads T --workers W. --preload decodes and resizes every image once, before the
first epoch (counted in it), into memory, as the issue's PyTorch script did; without it
every epoch decodes every file, as a plain ImageFolder-style Dataset does.
loader_wait_s is the time the training loop waited for the DataLoader. cpu_time counts
the training process only (the workers are other processes), while glia's counts every
thread of its process: compare real time. --config: the thread configuration
tools/bench_torch_config.py chose (scripts/bench-e2e.sh probes it with this script and
--max-batches); the process must run under it and the context records it.
"""
import argparse
import json
import os
import platform
import sys
import time

import torch
import torch.nn as nn
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch_config import check_and_describe, environment  # noqa: E402
from bench_torch_nets import paper_classifier  # noqa: E402


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items, size, augment, preload):
        self.items, self.size = items, size
        self.resize = transforms.Resize((size, size))
        self.augment = augment
        self.images = [self.load(path) for _, path in items] if preload else None

    def load(self, path):
        with Image.open(path) as img:
            return self.resize(img.convert("RGB"))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        img = self.images[i] if self.images is not None else self.load(self.items[i][1])
        return self.augment(img), self.items[i][0]


def read_list(path):
    items = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                label, file = line.split(" ", 1)
                items.append((int(label), file))
    return items


def row(name, seconds, cpu, wait, images, steps):
    return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
            "threads": 1, "iterations": steps, "real_time": 1e3 * seconds / steps, "cpu_time": 1e3 * cpu / steps,
            "time_unit": "ms", "images/s": images / seconds, "images": images, "seconds": seconds,
            "loader_wait_s": wait}


def run_size(args, items, size, rows):
    torch.manual_seed(0)
    augment = transforms.Compose([
        transforms.RandomHorizontalFlip(),
        transforms.RandomVerticalFlip(),
        transforms.RandomAffine(degrees=15, scale=(0.9, 1.1)),
        transforms.ToTensor(),
    ])
    model = paper_classifier().train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    cpu_start = time.process_time()
    dataset = ListDataset(items, size, augment, args.preload)
    preload_s = time.perf_counter() - start  # 0 without --preload
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0)
    epochs = []
    for epoch in range(args.epochs):
        if epoch > 0:
            start, cpu_start = time.perf_counter(), time.process_time()
        wait, images, steps = 0.0, 0, 0
        batches = iter(loader)
        while True:
            t = time.perf_counter()
            try:
                x, y = next(batches)
            except StopIteration:
                break
            wait += time.perf_counter() - t
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            images += x.shape[0]
            steps += 1
            if args.max_batches and steps >= args.max_batches:
                break
        del batches
        seconds = time.perf_counter() - start
        epochs.append((seconds, time.process_time() - cpu_start, wait, images, steps))
        extra = f" (preload {preload_s:.1f} s included)" if epoch == 0 and args.preload else ""
        print(f"  epoch {epoch + 1}: {images} images in {seconds:.1f} s, {images / seconds:.2f} img/s, "
              f"waited {wait:.2f} s for the loader{extra}", file=sys.stderr)
    stem = f"e2e/b1_train/size:{size}/batch:{args.batch}/epoch:"
    rows.append(row(stem + "1", *epochs[0]))
    if len(epochs) > 1:
        later = [sum(e[k] for e in epochs[1:]) for k in range(5)]
        rows.append(row(stem + "2+", *later))


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", required=True)
    ap.add_argument("--sizes", default="160,240")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--preload", action="store_true")
    ap.add_argument("--max-batches", type=int, default=0)
    ap.add_argument("--config", help="tools/bench_torch_config.py's JSON: checked, recorded in the context")
    ap.add_argument("--out")
    args = ap.parse_args()
    config = check_and_describe(args.config, args.threads) if args.config else None
    items = read_list(args.list)
    torch.set_num_threads(args.threads)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"bench_torch_e2e: size {size}, {len(items)} images, "
              f"{'preloaded' if args.preload else 'decoded every epoch'}", file=sys.stderr)
        run_size(args, items, size, rows)
    context = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_name": platform.node(),
        "executable": "tools/bench_torch_e2e.py" + (" --preload" if args.preload else ""),
        "num_cpus": os.cpu_count(), "cpu_model": cpu_model(),
        "library": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
        "torch_threads": torch.get_num_threads(), "workers": args.workers, "preload": args.preload,
        "images": len(items), "epochs": args.epochs, "loadavg": open("/proc/loadavg").read().strip(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset: libgomp's default)"),
        "thread_env": environment(),
    }
    if config:
        context["torch_config"] = config
    doc = json.dumps({"context": context, "benchmarks": rows}, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(doc + "\n")
    else:
        print(doc)


if __name__ == "__main__":
    main()
