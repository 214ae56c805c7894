"""The thesis's two spectrogram CNNs (``seeds/001`` section IV-B).

Both take ``x : (B, in_channels, n_mels, T)`` (a log-mel spectrogram as a one-channel image,
or a rendered spectrogram image) and return logits ``(B, n_classes)``.

* ``audio_urbansound`` -- three blocks of [conv 3x3 "same" (32, 64, 128) ReLU, max pool 2x2,
  dropout]; flatten; dense 512 ReLU; dropout; dense ``n_classes``. ``time_pool="meanstd"``
  replaces the flattening by statistics pooling over time (the mean and std of each feature
  map row over the frames, as x-vectors do, Snyder et al. 2018): the head then sees the same
  number of features whatever the clip's length (2 x C x F instead of C x F x T' after the
  pools: 18x fewer dense weights for a 3 s clip).
* ``audio_fayek`` (after Fayek, Lech & Cavedon 2017) -- conv 16 10x10 and conv 32 10x10, each
  with an L2 penalty of 0.01 on its kernel and batch norm; two dense 716 ReLU layers with
  batch norm and dropout 0.5; dense ``n_classes``. The thesis does not say how the map is
  reduced before the dense layers; flattening the full 32 x n_mels x T map of a 3 s clip would
  give a 200M-weight dense layer, so each convolution is followed by a ``pool`` x ``pool`` max
  pool (``pool=1`` disables it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from emocli.models.base import EmotionNet, check_min_size, flat_features

#: Filters of the UrbanSound model's three convolutional blocks.
URBANSOUND_WIDTHS: tuple[int, ...] = (32, 64, 128)
#: Units of the UrbanSound model's dense layer.
URBANSOUND_HIDDEN = 512
#: How the last feature map (B, C, F, T) reaches the dense layer: all of it, or pooled over T.
TIME_POOLS = ("flatten", "mean", "meanstd")
#: Filters and kernel of the Fayek model's two convolutions.
FAYEK_WIDTHS: tuple[int, ...] = (16, 32)
FAYEK_KERNEL = 10
#: Units of the Fayek model's two dense layers.
FAYEK_HIDDEN = 716
#: Keras-style L2 factor on the Fayek convolutions: loss += l2 * sum(w ** 2).
FAYEK_L2 = 0.01


class TimePool(nn.Module):
    """(B, C, F, T) -> (B, features): ``flatten`` everything (C*F*T), the ``mean`` of each
    (channel, frequency) row over the T frames (C*F), or ``meanstd``: the means, then the
    standard deviations (2*C*F)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        if how not in TIME_POOLS:
            raise ValueError(f"time_pool must be one of {', '.join(TIME_POOLS)}, not {how!r}")
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.how == "flatten":
            return x.flatten(1)
        mean = x.mean(dim=3)
        if self.how == "mean":
            return mean.flatten(1)
        return torch.cat([mean, x.std(dim=3, unbiased=False)], dim=1).flatten(1)


class AudioUrbanSound(EmotionNet):
    """The "UrbanSound" Kaggle CNN used as the thesis's audio model 0."""

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | Sequence[int] = (40, 300),
        n_classes: int = 7,
        widths: Sequence[int] = URBANSOUND_WIDTHS,
        hidden: int = URBANSOUND_HIDDEN,
        conv_dropout: float = 0.25,
        dropout: float = 0.5,
        time_pool: str = "flatten",
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        widths = tuple(int(w) for w in widths)
        check_min_size("audio_urbansound", self.input_size, 2 ** len(widths))
        pool = TimePool(time_pool)
        blocks: list[nn.Module] = []
        channels = in_channels
        for width in widths:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, kernel_size=3, padding=1),
                    nn.ReLU(inplace=True),
                    nn.MaxPool2d(2),
                    nn.Dropout(conv_dropout),
                )
            )
            channels = width
        self.features = nn.Sequential(*blocks)
        flat = flat_features(nn.Sequential(self.features, pool), in_channels, self.input_size)
        self.head = nn.Sequential(
            pool, nn.Linear(flat, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)
        )
        self.classifier = nn.Linear(hidden, n_classes)

    def base_blocks(self) -> list[nn.Module]:
        return list(self.features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.features(x)))


class AudioFayek(EmotionNet):
    """The Fayek et al. CNN used as the thesis's audio model 1."""

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | Sequence[int] = (40, 300),
        n_classes: int = 7,
        widths: Sequence[int] = FAYEK_WIDTHS,
        kernel: int = FAYEK_KERNEL,
        hidden: int = FAYEK_HIDDEN,
        dropout: float = 0.5,
        l2: float = FAYEK_L2,
        pool: int = 2,
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        widths = tuple(int(w) for w in widths)
        check_min_size("audio_fayek", self.input_size, max(1, pool) ** len(widths))
        self.l2 = float(l2)
        blocks: list[nn.Module] = []
        self._convs: list[nn.Conv2d] = []  # the L2-penalised kernels (also inside features)
        channels = in_channels
        for width in widths:
            conv = nn.Conv2d(channels, width, kernel_size=kernel)
            self._convs.append(conv)
            before, after = (kernel - 1) // 2, kernel // 2  # Keras "same": the extra row after
            layers: list[nn.Module] = [
                nn.ZeroPad2d((before, after, before, after)),
                conv,
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if pool > 1:
                layers.append(nn.MaxPool2d(pool))
            blocks.append(nn.Sequential(*layers))
            channels = width
        self.features = nn.Sequential(*blocks)
        flat = flat_features(self.features, in_channels, self.input_size)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )
        self.classifier = nn.Linear(hidden, n_classes)

    def base_blocks(self) -> list[nn.Module]:
        return list(self.features)

    def regularization_loss(self) -> torch.Tensor | None:
        """``l2 * sum(w ** 2)`` over the convolution kernels (Keras ``kernel_regularizer``)."""
        if self.l2 <= 0:
            return None
        total = torch.stack([c.weight.pow(2).sum() for c in self._convs]).sum()
        return self.l2 * total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.features(x)))
