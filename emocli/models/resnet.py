"""``resnet_small``: a compact pre-pooling ResNet for small grey faces and spectrograms.

Not from the sources: emocli's own efficient architecture, added because the thesis's
networks need ImageNet weights (not shipped) or many GPU hours to reach the accuracy the
sources report. It is a ResNet (He et al. 2016) cut to CPU budgets: a 3x3 stem (stride
``stem_stride``), then one stage per width, each of ``blocks`` basic residual blocks (two 3x3
convolutions with batch norm), stages after the first halving the map; global average pool,
dropout, linear classifier. With the defaults (1.2 M parameters) a 48x48 face costs 36 MMAC.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emocli.models.base import EmotionNet, check_min_size

#: Channels of the four stages.
RESNET_WIDTHS: tuple[int, ...] = (32, 64, 128, 256)
#: Basic blocks per stage.
RESNET_BLOCKS: tuple[int, ...] = (1, 1, 1, 1)


class BasicBlock(nn.Module):
    """conv 3x3 (stride) BN ReLU -> conv 3x3 BN, plus the (projected) input, ReLU."""

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or inplanes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class ResNetSmall(EmotionNet):
    """``x : (B, in_channels, H, W)`` -> logits ``(B, n_classes)``."""

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | Sequence[int] = 48,
        n_classes: int = 7,
        widths: Sequence[int] = RESNET_WIDTHS,
        blocks: Sequence[int] = RESNET_BLOCKS,
        stem_stride: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        widths = tuple(int(w) for w in widths)
        blocks = tuple(int(b) for b in blocks)
        if len(widths) != len(blocks) or not widths:
            raise ValueError("resnet_small: widths and blocks need the same, non-zero length")
        check_min_size("resnet_small", self.input_size, stem_stride * 2 ** (len(widths) - 1))
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        channels = widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            layers = []
            for j in range(count):
                layers.append(BasicBlock(channels, width, 2 if (i > 0 and j == 0) else 1))
                channels = width
            stages.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        self.classifier = nn.Linear(channels, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def base_blocks(self) -> list[nn.Module]:
        """The stem, then each stage."""
        return [self.stem, *self.features]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.features(self.stem(x))))
