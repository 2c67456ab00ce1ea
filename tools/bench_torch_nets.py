"""Layer and network workloads for tools/bench_torch.py, under the same names as glia's:
  layer/...  bench/layers.cpp: EfficientNet-B1's stem, the first MBConv of each stage
             (torchvision's efficientnet_b1().features[i][0]) and the head conv; the
             residual U-Net's (tools/unet.py, width 64) encoder blocks, bottleneck and
             decoder steps (transposed conv + concat + residual block); fwd (eval, no
             autograd) and fwd_bwd (training mode, backward of a fixed random upstream
             gradient to the parameters and the block's inputs, gradients dropped)
  net/...    bench/networks.cpp: whole networks, inference, forward+backward and
             training steps; the training steps also at .../precision:bf16 (and
             precision:fp16 on cuda), as glia's --precision: forward and loss under
             torch.autocast, backward and Adam outside it, fp32 parameters and Adam
             state; fp16 with torch.cuda.amp.GradScaler (PyTorch's eager mixed precision)
torchvision pads its convolutions symmetrically by (k-1)/2, as glia's EfficientNet does,
so the blocks compute the same thing."""
import functools
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import ResUNet  # noqa: E402

# ---- layers (bench/layers.cpp) --------------------------------------------------------------
class DecoderStep(nn.Module):
    """One U-Net decoder level as ResUNet.forward runs it: up-sample, concat with the skip."""
    def __init__(self, up, dec):
        super().__init__()
        self.up, self.dec = up, dec

    def forward(self, x, skip):
        return self.dec(torch.cat([skip, self.up(x)], dim=1))


def layer_blocks():
    """(name, module factory(), input shapes for one image, whether inputs get gradients)."""
    s, w, depth = 240, 64, 4

    @functools.lru_cache(maxsize=None)
    def b1():  # built once: the blocks are taken out of it
        torch.manual_seed(1)
        return torchvision.models.efficientnet_b1()

    def b1_feature(i):
        f = b1().features[i]
        return f if i in (0, 8) else f[0]

    shapes, x = [], torch.zeros(1, 3, s, s)  # each feature's input, from one forward
    with torch.no_grad():
        for f in torchvision.models.efficientnet_b1().eval().features:
            shapes.append(tuple(x.shape))
            x = f(x)
    blocks = []
    for i in range(9):
        name = "b1_stem" if i == 0 else "b1_head" if i == 8 else f"b1_mbconv{i}"
        blocks.append((name, lambda i=i: b1_feature(i), [shapes[i]], i != 0))

    @functools.lru_cache(maxsize=None)
    def unet():
        torch.manual_seed(1)
        return ResUNet(3, w, depth)

    for i in range(depth):
        blocks.append((f"unet_enc{i}", lambda i=i: unet().encoders[i],
                       [(1, 3 if i == 0 else w << (i - 1), 256 >> i, 256 >> i)], True))
    blocks.append(("unet_bottleneck", lambda: unet().bottleneck,
                   [(1, w << (depth - 1), 256 >> depth, 256 >> depth)], True))
    for i in range(depth):
        level = depth - 1 - i
        c, size = w << level, 256 >> level
        blocks.append((f"unet_dec{i}", lambda i=i: (lambda n: DecoderStep(n.upconvs[i], n.decoders[i]))(unet()),
                       [(1, 2 * c, size // 2, size // 2), (1, c, size, size)], True))
    return blocks


def layer_benchmarks(suite, min_time):
    device = suite.device
    gpu = device == "cuda"
    for name, make, shapes, input_grad in layer_blocks():
        batches = (1, 32) if gpu else (1, 8) if name.startswith("b1_") else (1,)
        for backward in (False, True):
            for batch in batches:
                full = f"layer/{name}/{'fwd_bwd' if backward else 'fwd'}/{device}/batch:{batch}/real_time"
                if not suite.wants(full):
                    continue

                def setup(make=make, shapes=shapes, input_grad=input_grad, backward=backward, batch=batch):
                    block = make().to(device)
                    torch.manual_seed(2)
                    inputs = [torch.randn((batch,) + tuple(sh[1:]), device=device) for sh in shapes]
                    if not backward:
                        block.eval()

                        def fn():
                            with torch.no_grad():
                                block(*inputs)
                        return fn
                    block.train()
                    if input_grad:
                        for t in inputs:
                            t.requires_grad_(True)
                    with torch.no_grad():
                        upstream = torch.randn_like(block(*inputs))

                    def fn():
                        block(*inputs).backward(upstream)
                        block.zero_grad(set_to_none=True)
                        for t in inputs:
                            t.grad = None
                    return fn

                macs = forward_macs(make().to(device), *shapes)
                suite.run(full, None, flops=(6 if backward else 2) * macs * batch, images=batch,
                          min_time=min_time, setup=setup)


# ---- networks (bench/networks.cpp) --------------------------------------------------------
def forward_macs(model, *shapes):
    """Multiply-adds of one forward of zeros of `shapes`, counted as nn::summarize does."""
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
        model(*[torch.zeros(shape, device=device) for shape in shapes])
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


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def precisions(device):
    """bench/networks.cpp: fp16 only on the GPU (the CPU's 16-bit type is bf16)."""
    return ("fp32", "bf16", "fp16") if device == "cuda" else ("fp32", "bf16")


def precision_suffix(precision):
    return "" if precision == "fp32" else f"/precision:{precision}"


def train_step(model, params, x, loss_fn, precision="fp32"):
    """One Adam step; bf16/fp16: forward and loss under torch.autocast, fp16 with a loss
    scaler (bf16 has float32's exponent range and needs none)."""
    opt = torch.optim.Adam(params, lr=1e-3)
    autocast_dtype = PRECISIONS[precision]
    scaler = torch.cuda.amp.GradScaler() if precision == "fp16" else None

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()

    def autocast_step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=x.device.type, dtype=autocast_dtype):
            loss = loss_fn(model(x))
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    return step if autocast_dtype is None else autocast_step


def network_benchmarks(suite, min_time):
    device = suite.device
    gpu = device == "cuda"
    dev = device
    # bench/networks.cpp: the GPU also runs B1 training at 128 and the U-Net at 32.
    infer_big, train_batches, unet_batches = (32, (32, 128), (8, 32)) if gpu else (8, (8,), (1,))
    train_batch = train_batches[0]
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

    def effnet_fwd_bwd():
        def setup():
            torch.manual_seed(1)
            model = torchvision.models.efficientnet_b1().to(device).train()
            x = torch.randn(train_batch, 3, s, s, device=device)
            labels = (torch.arange(train_batch) % 4).to(device)

            def fn():
                F.cross_entropy(model(x), labels).backward()
                model.zero_grad(set_to_none=True)
            return fn
        return setup

    name = f"net/effnet_b1_fwd_bwd/{dev}/batch:{train_batch}/real_time"
    macs = forward_macs(torchvision.models.efficientnet_b1().to(device), (1, 3, s, s)) if suite.wants(name) else 0
    suite.run(name, None, flops=6 * macs * train_batch, images=train_batch, min_time=min_time,
              setup=effnet_fwd_bwd())

    def effnet_train(frozen, train_batch, precision):
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
            return train_step(model, params, x, lambda out: F.cross_entropy(out.float(), labels), precision)
        return setup

    for precision in precisions(device):
        for train_batch in train_batches:
            for frozen in (False, True):
                name = (f"net/effnet_b1_train{'_frozen' if frozen else ''}/{dev}/batch:{train_batch}"
                        f"{precision_suffix(precision)}/real_time")
                macs = forward_macs(paper_classifier().to(device), (1, 3, s, s)) if suite.wants(name) else 0
                suite.run(name, None, flops=(2 if frozen else 6) * macs * train_batch, images=train_batch,
                          min_time=min_time, setup=effnet_train(frozen, train_batch, precision))

    def unet_train(width, unet_batch, precision):
        def setup():
            torch.manual_seed(1)
            model = ResUNet(3, width, 4).to(device).train()
            x = torch.randn(unet_batch, 3, 256, 256, device=device)
            i = torch.arange(unet_batch * 256 * 256)
            mask = (((i // 256) % 64 < 20) & (i % 256 < 100)).float().reshape(unet_batch, 1, 256, 256).to(device)
            return train_step(model, list(model.parameters()), x, lambda out: bce_dice(out.float(), mask), precision)
        return setup

    for precision in precisions(device):
        for unet_batch in unet_batches:
            for width in (64, 16):
                name = f"net/unet_train/{dev}/width:{width}/batch:{unet_batch}{precision_suffix(precision)}/real_time"
                macs = forward_macs(ResUNet(3, width, 4).to(device), (1, 3, 256, 256)) if suite.wants(name) else 0
                suite.run(name, None, flops=6 * macs * unet_batch, images=unet_batch, min_time=min_time,
                          setup=unet_train(width, unet_batch, precision))

    def unet_infer(width, unet_batch):
        def setup():
            torch.manual_seed(1)
            model = ResUNet(3, width, 4).to(device).eval()
            x = torch.randn(unet_batch, 3, 256, 256, device=device)

            def fn():
                with torch.no_grad():
                    model(x)
            return fn
        return setup

    for unet_batch in unet_batches:
        for width in (64, 16):
            name = f"net/unet_infer/{dev}/width:{width}/batch:{unet_batch}/real_time"
            macs = forward_macs(ResUNet(3, width, 4).to(device), (1, 3, 256, 256)) if suite.wants(name) else 0
            suite.run(name, None, flops=2 * macs * unet_batch, images=unet_batch, min_time=min_time,
                      setup=unet_infer(width, unet_batch))

