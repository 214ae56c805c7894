"""What every classifier of the registry shares: input geometry, blocks, head, freezing hooks.

A classifier maps ``x : (B, C, H, W)`` float to logits ``(B, n_classes)``. Each one says

* which of its parameters form the **classifier** (the last layer, replaced on transfer when
  the class sets differ): :attr:`EmotionNet.classifier_prefix`;
* which modules are its **base** (the feature extractor; the rest is the head):
  :meth:`EmotionNet.base_blocks`, in input-to-output order, one entry per convolutional block,
  so that "freeze all but the last N blocks" means the same thing for every architecture.

Modules marked frozen (:func:`emocli.transfer.apply_freeze`) keep their batch-norm statistics:
:meth:`EmotionNet.train` leaves them in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: Attribute set on a module whose parameters are frozen (its batch norms stay in eval mode).
FROZEN_FLAG = "_emocli_frozen"


def pair(size: int | Sequence[int]) -> tuple[int, int]:
    """``48`` -> ``(48, 48)``; ``(40, 300)`` -> ``(40, 300)`` (height, width in pixels / bins)."""
    if isinstance(size, int):
        return (size, size)
    values = tuple(int(s) for s in size)
    if len(values) != 2:
        raise ValueError(f"input_size must be an int or (height, width), got {size!r}")
    return (values[0], values[1])


class EmotionNet(nn.Module):
    """Base class of the registry's classifiers.

    in_channels : channels of the input (1 for grey faces and spectrograms, 3 for RGB images);
    input_size : (H, W) the network is built for; n_classes : outputs.
    """

    #: Dotted module name of the final classification layer (its parameters are the classifier).
    classifier_prefix: str = "classifier"

    def __init__(self, in_channels: int, input_size: int | Sequence[int], n_classes: int) -> None:
        super().__init__()
        if in_channels < 1 or n_classes < 1:
            raise ValueError("in_channels and n_classes must be positive")
        self.in_channels = int(in_channels)
        self.input_size = pair(input_size)
        self.n_classes = int(n_classes)

    def base_blocks(self) -> list[nn.Module]:
        """The convolutional blocks of the base, input to output (for ``all-but-last-N``)."""
        raise NotImplementedError

    def classifier_layer(self) -> nn.Module:
        """The module whose parameters are the classifier."""
        return self.get_submodule(self.classifier_prefix)

    def regularization_loss(self) -> torch.Tensor | None:
        """Extra loss term (e.g. an L2 penalty on some weights), or ``None``."""
        return None

    def train(self, mode: bool = True) -> EmotionNet:
        super().train(mode)
        if mode:
            for module in self.modules():
                if getattr(module, FROZEN_FLAG, False):
                    module.eval()
        return self


def flat_features(module: nn.Module, in_channels: int, size: tuple[int, int]) -> int:
    """Number of features ``module`` outputs per sample for a ``(in_channels, *size)`` input."""
    was_training = module.training
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(1, in_channels, *size))
    module.train(was_training)
    return int(out.numel())


def scaled_width(width: int, mult: float) -> int:
    """``width`` channels scaled by ``mult`` (``width_mult``), rounded, at least 1."""
    return max(1, round(width * mult))


def check_min_size(name: str, size: tuple[int, int], minimum: int) -> None:
    """Raise ``ValueError`` when an input is smaller than the architecture can take."""
    if min(size) < minimum:
        raise ValueError(f"{name} needs inputs of at least {minimum}x{minimum}, got {size}")
