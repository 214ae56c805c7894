"""SqueezeNet 1.1 (Iandola et al. 2016), with torchvision's parameter names.

``features.<i>`` (a 3x3/2 convolution, max pools and eight Fire modules whose parameters are
``squeeze``, ``expand1x1``, ``expand3x3``) and ``classifier.1`` (the 1x1 convolution that
gives one map per class, averaged), so a torchvision ImageNet checkpoint loads by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from emocli.models.base import EmotionNet, check_min_size, scaled_width

#: (squeeze, expand 1x1, expand 3x3) widths of the eight Fire modules; "M" = max pool 3/2.
SQUEEZENET11_CONFIG: tuple[tuple[int, int, int] | str, ...] = (
    "M", (16, 64, 64), (16, 64, 64), "M", (32, 128, 128), (32, 128, 128), "M",
    (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256),
)  # fmt: skip
#: Output channels of the first convolution.
STEM_WIDTH = 64


class Fire(nn.Module):
    """squeeze 1x1 -> ReLU -> [expand 1x1 | expand 3x3] -> ReLU, concatenated on channels."""

    def __init__(self, inplanes: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            1,
        )


class SqueezeNet11(EmotionNet):
    """SqueezeNet 1.1; ``x : (B, in_channels, H, W)`` -> logits ``(B, n_classes)``; H, W >= 24.

    As in torchvision the class maps pass a ReLU before the average pool.
    width_mult : scales every width (1.0 = the real network; the tiny test configuration uses
    small values with the same parameter names).
    """

    classifier_prefix = "classifier.1"

    def __init__(
        self,
        in_channels: int = 3,
        input_size: int | Sequence[int] = 224,
        n_classes: int = 7,
        dropout: float = 0.5,
        width_mult: float = 1.0,
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        check_min_size("squeezenet1_1", self.input_size, 24)

        def w(n: int) -> int:
            return scaled_width(n, width_mult)

        stem = w(STEM_WIDTH)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, stem, kernel_size=3, stride=2),
            nn.ReLU(inplace=True),
        ]
        channels = stem
        for item in SQUEEZENET11_CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
                continue
            assert isinstance(item, tuple)
            s, e1, e3 = (w(v) for v in item)
            layers.append(Fire(channels, s, e1, e3))
            channels = e1 + e3
        self.features = nn.Sequential(*layers)
        final_conv = nn.Conv2d(channels, n_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def base_blocks(self) -> list[nn.Module]:
        """The stem (convolution + first pool), then each Fire module (with a following pool)."""
        blocks: list[list[nn.Module]] = []
        for module in self.features:
            if isinstance(module, (Fire, nn.Conv2d)) or not blocks:
                blocks.append([module])
            else:
                blocks[-1].append(module)
        return [nn.Sequential(*mods) for mods in blocks]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)
