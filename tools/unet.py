"""The residual U-Net, in PyTorch: the reference glia's nets/unet must match layer for
layer and name for name (state_dict keys).

  ResidualBlock(cin, cout): conv3x3(cin->cout, no bias) BN ReLU conv3x3(cout->cout, no bias) BN,
      shortcut = identity if cin == cout else conv1x1(cin->cout, no bias) BN; out = ReLU(main + shortcut)
  encoder level i (i = 0..depth-1): ResidualBlock(prev, width*2^i), then max-pool 2x2 (stride 2)
  bottleneck: ResidualBlock(width*2^(depth-1), width*2^depth)      (width 64, depth 4 -> 1024 filters)
  decoder level i (deepest first): ConvTranspose2d(k=2, s=2, c -> c/2, bias) up-sampling,
      concat [skip, up] on channels, ResidualBlock(c, c/2)
  head: conv1x1(width -> 1, bias); sigmoid is applied by the loss / at prediction time.
"""
import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + s)


class ResUNet(nn.Module):
    def __init__(self, in_channels=3, width=64, depth=4):
        super().__init__()
        widths = [width * 2 ** i for i in range(depth)]
        self.encoders = nn.ModuleList()
        prev = in_channels
        for w in widths:
            self.encoders.append(ResidualBlock(prev, w))
            prev = w
        self.bottleneck = ResidualBlock(prev, prev * 2)
        self.upconvs = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for w in reversed(widths):
            self.upconvs.append(nn.ConvTranspose2d(2 * w, w, 2, stride=2))
            self.decoders.append(ResidualBlock(2 * w, w))
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, x):
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = torch.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.upconvs, self.decoders, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], dim=1))
        return self.head(x)  # logits; probabilities = sigmoid(logits)
