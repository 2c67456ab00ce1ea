"""Network workloads for tools/bench_torch.py: the same models, batches and training
steps as bench/networks.cpp, under the same names."""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import ResUNet  # noqa: E402

# ---- networks (bench/networks.cpp) --------------------------------------------------------
def forward_macs(model, shape):
    device = next(model.parameters()).device
    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            macs[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            macs[0] += inp[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            macs[0] += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(shape, device=device))
    model.train(was_training)
    for h in handles:
        h.remove()
    return macs[0]


def paper_classifier():
    m = torchvision.models.efficientnet_b1()
    m.classifier = nn.Sequential(nn.Linear(1280, 512), nn.ReLU(), nn.Dropout(0.4), nn.Linear(512, 4))
    return m


def bce_dice(logits, target, smooth=1.0):  # train/losses.h: BCE + soft Dice over the whole batch
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * target).sum() + smooth) / (p.sum() + target.sum() + smooth)
    return F.binary_cross_entropy_with_logits(logits, target) + dice


def train_step(model, params, x, loss_fn):
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
    return step


def network_benchmarks(suite, min_time):
    device = suite.device
    gpu = device == "cuda"
    dev = device
    infer_big, train_batch, unet_batch = (32, 32, 8) if gpu else (8, 8, 1)
    s = 240

    def effnet_infer(batch):
        def setup():
            torch.manual_seed(1)
            model = torchvision.models.efficientnet_b1().to(device).eval()
            x = torch.randn(batch, 3, s, s, device=device)

            def fn():
                with torch.no_grad():
                    model(x)
            return fn
        return setup

    for batch in (1, infer_big):
        name = f"net/effnet_b1_infer/{dev}/batch:{batch}/real_time"
        macs = forward_macs(torchvision.models.efficientnet_b1().to(device), (1, 3, s, s)) if suite.wants(name) else 0
        suite.run(name, None, flops=2 * macs * batch, images=batch, min_time=min_time, setup=effnet_infer(batch))

    def effnet_train(frozen):
        def setup():
            torch.manual_seed(1)
            model = paper_classifier().to(device).train()
            if frozen:  # Keras frozen base: no gradients, batch norm on running statistics
                for p in model.features.parameters():
                    p.requires_grad_(False)
                model.features.eval()
            x = torch.randn(train_batch, 3, s, s, device=device)
            labels = (torch.arange(train_batch) % 4).to(device)
            params = [p for p in model.parameters() if p.requires_grad]
            return train_step(model, params, x, lambda out: F.cross_entropy(out, labels))
        return setup

    for frozen in (False, True):
        name = f"net/effnet_b1_train{'_frozen' if frozen else ''}/{dev}/batch:{train_batch}/real_time"
        macs = forward_macs(paper_classifier().to(device), (1, 3, s, s)) if suite.wants(name) else 0
        suite.run(name, None, flops=(2 if frozen else 6) * macs * train_batch, images=train_batch,
                  min_time=min_time, setup=effnet_train(frozen))

    def unet_train(width):
        def setup():
            torch.manual_seed(1)
            model = ResUNet(3, width, 4).to(device).train()
            x = torch.randn(unet_batch, 3, 256, 256, device=device)
            i = torch.arange(unet_batch * 256 * 256)
            mask = (((i // 256) % 64 < 20) & (i % 256 < 100)).float().reshape(unet_batch, 1, 256, 256).to(device)
            return train_step(model, list(model.parameters()), x, lambda out: bce_dice(out, mask))
        return setup

    for width in (64, 16):
        name = f"net/unet_train/{dev}/width:{width}/batch:{unet_batch}/real_time"
        macs = forward_macs(ResUNet(3, width, 4).to(device), (1, 3, 256, 256)) if suite.wants(name) else 0
        suite.run(name, None, flops=6 * macs * unet_batch, images=unet_batch, min_time=min_time,
                  setup=unet_train(width))
