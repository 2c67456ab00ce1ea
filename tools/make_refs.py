#!/usr/bin/env python3
"""Writes PyTorch reference outputs for glia's network tests (correctness rung 3).

For each model: seeded weights with EVERY parameter and buffer randomised (see
randomise()), an input batch and a probe tensor R; then, in float64 and again in float32
(the dtype training uses) from the same float32-representable weights and input:
the eval-mode output and the gradients of loss = sum(out * R) for every parameter in
eval mode (batch norm on its running statistics, as Grad-CAM and a frozen base use it);
the train-mode output, gradients and the running statistics after that train forward.
In float64 only: the parameters after 3 Adam steps (lr 1e-3, weight_decay 1e-4 as L2,
PyTorch's Adam). Dropout and stochastic depth are set to p = 0 so train-mode outputs
are deterministic on both sides.

Names (float64; the float32 results carry the prefix "f32."): param.<state_dict name>,
buffer.<name>, input, probe, eval.out, eval.grad.<name>, train.out, grad.<name>,
train.buffer.<name>, adam3.param.<name>.

Also writes torchvision_efficientnet_b1.safetensors through tools/export_torchvision.py
(random weights and batch-norm buffers, float32, plus the eval output of a fixed input)
so the C++ tests check that an exported torchvision state_dict loads into glia and
computes the same thing.

Usage: make_refs.py --out DIR [--models efficientnet_b0,efficientnet_b1_classifier,...,export_b1]
"""
import argparse
import copy
import os
import sys

import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision  # noqa: E402
import safetensors_lite  # noqa: E402
from unet import ResUNet  # noqa: E402


def no_randomness(model):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if type(m).__name__ == "StochasticDepth":
            m.p = 0.0
    return model


def randomise(model, gen, calibration_input):
    """Moves every parameter and buffer off its default initialisation, so a wiring bug that
    ignores one (a bias, batch norm's gamma/beta, its running mean/variance, the count of
    batches) changes the results. Default init would hide it: torchvision sets batch norm
    to gamma 1, beta 0, mean 0, variance 1 and biases to 0. Conv/linear weights are random
    already. The running statistics are those each layer sees in eval mode on
    `calibration_input` (a batch holding the test input), perturbed (mean by +-0.2 standard
    deviations, variance by x0.6..1.6: still far from what train mode computes), so eval
    mode runs at the scale of a trained network. Random statistics of order 1 do not:
    against the real variance of ~1e-4 in EfficientNet's inner layers the eval outputs were
    made of betas and means alone, the same for any input, and the first layers' gradients
    were 1e-9 of the last ones'. Statistics of another random batch do not either: a random
    EfficientNet in eval mode amplifies the difference between two inputs layer by layer,
    and the other input's activations reached 1e4 by the last stage.
    Fails if any tensor is left constant."""
    def uniform(shape, lo, hi, dtype=torch.float32):
        return lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=dtype)

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(uniform(m.weight.shape, 0.5, 1.5))
                m.bias.copy_(uniform(m.bias.shape, -0.3, 0.3))
            elif isinstance(getattr(m, "bias", None), torch.Tensor):
                m.bias.copy_(uniform(m.bias.shape, -0.2, 0.2))
        # One eval forward in which each batch norm, just before it runs, takes the
        # statistics of its own input: the layers above it are already set, so every
        # layer sees what it will see in the test.
        def calibrate(m, inputs):
            x = inputs[0].transpose(0, 1).reshape(inputs[0].shape[1], -1)
            std = x.var(dim=1).sqrt()
            m.running_mean.copy_(x.mean(dim=1) + std * uniform(std.shape, -0.2, 0.2))
            m.running_var.copy_(std.square() * uniform(std.shape, 0.6, 1.6))
            m.num_batches_tracked.fill_(int(torch.randint(2, 1000, (1,), generator=gen)))
        hooks = [m.register_forward_pre_hook(calibrate) for m in norms]
        model.eval()(calibration_input)
        for h in hooks:
            h.remove()
    for k, v in list(model.named_parameters()) + list(model.named_buffers()):
        flat = v.detach().reshape(-1)
        if k.endswith("num_batches_tracked"):
            assert int(flat[0]) > 1, f"randomise: {k} is {int(flat[0])}"
        elif flat.numel() > 1:
            assert bool((flat != flat[0]).any()), f"randomise: {k} is constant ({float(flat[0])})"
        else:
            assert float(flat[0]) not in (0.0, 1.0), f"randomise: {k} is {float(flat[0])}"
    return model


def relu_inputs(model, x, dtype, train):
    """The input of every ReLU (nn.ReLU modules and torch.relu calls) in one forward of a
    copy of `model` in `dtype`, as float64."""
    seen = []
    relu, relu_ = torch.relu, torch.relu_

    def spy(t):
        seen.append(t.detach().double())
        return relu(t)

    def spy_(t):
        seen.append(t.detach().double())
        return relu_(t)

    torch.relu, torch.relu_ = spy, spy_
    try:
        with torch.no_grad():
            copy.deepcopy(model).to(dtype).train(train)(x.to(dtype))
    finally:
        torch.relu, torch.relu_ = relu, relu_
    return seen


def clear_head_kinks(model, x, gen, margin=1e-3):
    """The paper head's ReLU sees only batch x 512 values, and a float32 run that puts one
    on the other side of zero than float64 does changes that unit's gradients completely
    (seen: a pre-activation of 7e-5 where PyTorch's float32 error was 2e-5). Redraws the
    bias of each unit whose pre-activation in eval or train mode lies within `margin` of
    the largest one from zero."""
    head = model.classifier[0]
    z = []
    for train in (False, True):
        m = copy.deepcopy(model).double().train(train)
        m.classifier[0].register_forward_hook(lambda mod, i, o: z.append(o.detach()))
        with torch.no_grad():
            m(x.double())
    z = torch.cat(z)  # [2 * batch, units]
    width = margin * float(z.abs().max())
    with torch.no_grad():
        base = z - head.bias.double()
        for j in range(base.shape[1]):
            while bool(((base[:, j] + float(head.bias[j])).abs() < width).any()):
                head.bias[j] = -0.2 + 0.4 * float(torch.rand((), generator=gen))
    return model


def check_relu_margins(model, x):
    """Every ReLU input (float64) must lie farther from zero than twice PyTorch's own float32
    error on that layer, or glia's float32 run could take the other branch there and its
    gradients would differ by far more than round-off."""
    for train in (False, True):
        z64, z32 = relu_inputs(model, x, torch.float64, train), relu_inputs(model, x, torch.float32, train)
        for i, (a, b) in enumerate(zip(z64, z32)):
            err, closest = float((a - b).abs().max()), float(a.abs().min())
            assert closest > 2 * err, (f"ReLU {i} ({'train' if train else 'eval'} mode): an input is {closest:.3g} "
                                       f"from zero, PyTorch's float32 error there {err:.3g}; change the seed")


def paper_classifier(base):
    """EfficientNet-B1 base -> global average pooling -> Dense 512 ReLU -> Dropout 0.4 -> Dense 4."""
    base.classifier = nn.Sequential(nn.Linear(1280, 512), nn.ReLU(), nn.Dropout(0.4), nn.Linear(512, 4))
    return base


MODELS = {
    # name: (constructor, input shape)
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(), (2, 3, 64, 64)),
    "efficientnet_b1_classifier": (lambda: paper_classifier(torchvision.models.efficientnet_b1()), (2, 3, 64, 64)),
    # The same network at a size the emulator (device sim) runs in CI. Not 32x32: there
    # the last stages run on 1x1 maps, train-mode batch norm then normalises over just the
    # 2 samples, whose deep features nearly coincide, and PyTorch's own float32 train
    # output is off from its float64 one by 60%. At 40x40 (2x2 maps at the end) that is
    # 1e-5, as at 64x64.
    "efficientnet_b1_classifier_40px": (lambda: paper_classifier(torchvision.models.efficientnet_b1()),
                                        (2, 3, 40, 40)),
    "unet": (lambda: ResUNet(in_channels=3, width=8, depth=3), (2, 3, 32, 32)),
}


def results(model, x, probe, dtype, adam):
    """eval/train outputs, gradients and statistics of a copy of `model` in `dtype`."""
    model = copy.deepcopy(model).to(dtype)
    x, probe = x.to(dtype), probe.to(dtype)
    params = dict(model.named_parameters())
    t = {}
    model.eval()
    out = model(x)
    t["eval.out"] = out.detach().clone()
    (out * probe).sum().backward()
    for k, p in params.items():
        t["eval.grad." + k] = p.grad.clone()
        p.grad = None

    model.train()
    out = model(x)
    t["train.out"] = out.detach().clone()
    (out * probe).sum().backward()
    for k, p in params.items():
        t["grad." + k] = p.grad.clone()
    for k, v in model.state_dict().items():
        if k not in params:
            t["train.buffer." + k] = v.clone()
    if not adam:
        return t
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(3):
        opt.zero_grad()
        (model(x) * probe).sum().backward()
        opt.step()
    for k, p in model.named_parameters():
        t["adam3.param." + k] = p.detach().clone()
    return t


def make(name, out_dir, seed=1234):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    ctor, shape = MODELS[name]
    # Built and randomised in float32, so the float64 run starts from exactly the same
    # numbers as the float32 one (float32 -> float64 is exact).
    x = torch.rand(shape, generator=gen)
    model = randomise(no_randomness(ctor()), gen, x)
    if isinstance(getattr(model, "classifier", None), nn.Sequential) and \
            any(isinstance(m, nn.ReLU) for m in model.classifier):
        clear_head_kinks(model, x, gen)
    check_relu_margins(model, x)
    with torch.no_grad():
        out_shape = copy.deepcopy(model).eval()(x).shape
    probe = torch.randn(out_shape, generator=gen)
    params = dict(model.named_parameters())
    t = {}
    for k, v in model.state_dict().items():
        t[("param." if k in params else "buffer.") + k] = v.clone() if v.dtype == torch.int64 else v.double()
    t["input"] = x.double()
    t["probe"] = probe.double()
    t.update(results(model, x, probe, torch.float64, adam=True))
    t.update({"f32." + k: v for k, v in results(model, x, probe, torch.float32, adam=False).items()})
    path = os.path.join(out_dir, name + ".safetensors")
    safetensors_lite.save(t, path, metadata={"model": name, "torch": torch.__version__, "seed": seed})
    print(f"make_refs: wrote {path} ({len(t)} tensors)")


def make_export(out_dir, seed=99):
    """torchvision efficientnet_b1 -> safetensors via the export tool; eval output at 64x64 stored beside."""
    model = export_torchvision.build("efficientnet_b1", pretrained=False, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((1, 3, 64, 64), generator=torch.Generator().manual_seed(seed))
    # Statistics of x and three more images: of x alone, the last stages' 2x2 maps give
    # variances down to 2e-8 and PyTorch's own float32 output was 60% off its float64 one.
    model = randomise(model, gen, torch.cat([x, torch.rand((3, 3, 64, 64), generator=gen)])).eval()
    path = os.path.join(out_dir, "torchvision_efficientnet_b1.safetensors")
    export_torchvision.export(model, path, torch.float32, {"model": "efficientnet_b1", "seed": seed})
    with torch.no_grad():
        out = model(x)
    safetensors_lite.save({"input": x, "eval.out": out}, os.path.join(out_dir, "torchvision_efficientnet_b1.io.safetensors"))
    print(f"make_refs: wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(list(MODELS) + ["export_b1"]))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.models.split(","):
        if name == "export_b1":
            make_export(args.out)
            continue
        if name not in MODELS:
            sys.exit(f"make_refs: unknown model '{name}' (known: {', '.join(MODELS)})")
        make(name, args.out)


if __name__ == "__main__":
    main()
