"""The thesis's image baseline, "static CNN" (``seeds/001``, after Alizadeh & Fazel 2017).

conv 32 3x3 ReLU, max pool 2x2, batch norm, dropout 0.25; conv 64 3x3 ReLU, batch norm,
dropout 0.5, max pool 2x2; flatten; dense 512 ReLU; dense ``n_classes``. Convolutions are
unpadded (Keras' default "valid"); the thesis fed 128x128 grey images (lr 1e-5, batch 1,
50 epochs).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from emocli.models.base import EmotionNet, check_min_size, flat_features

#: Filters of the two convolutions.
STATIC_WIDTHS: tuple[int, int] = (32, 64)
#: Units of the hidden dense layer.
STATIC_HIDDEN = 512


class StaticCNN(EmotionNet):
    """``x : (B, in_channels, H, W)`` -> logits ``(B, n_classes)``; H, W >= 10."""

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | Sequence[int] = 128,
        n_classes: int = 7,
        widths: Sequence[int] = STATIC_WIDTHS,
        hidden: int = STATIC_HIDDEN,
        dropout: Sequence[float] = (0.25, 0.5),
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        check_min_size("static_cnn", self.input_size, 10)
        w1, w2 = (int(w) for w in widths)
        d1, d2 = (float(d) for d in dropout)
        self.features = nn.Sequential(
            nn.Sequential(
                nn.Conv2d(in_channels, w1, kernel_size=3),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.BatchNorm2d(w1),
                nn.Dropout(d1),
            ),
            nn.Sequential(
                nn.Conv2d(w1, w2, kernel_size=3),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(w2),
                nn.Dropout(d2),
                nn.MaxPool2d(2),
            ),
        )
        flat = flat_features(self.features, in_channels, self.input_size)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(hidden, n_classes)

    def base_blocks(self) -> list[nn.Module]:
        return list(self.features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.features(x)))
