"""The semi-supervised GAN's discriminator as a classifier: its logits and features, the
recomputation of its batch-norm statistics on real faces, and its class probabilities.

Batch norm: D sees real, generated and labelled batches separately, so its running
statistics mix real and fake images. Before every evaluation, and before the weights are
stored, :func:`recalibrate_batchnorm` recomputes them on real images only, so the classifier
that finetune/evaluate load behaves as it did in training.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from emocli.errors import TrainingError
from emocli.training.module import flip_tta


def discriminator_outputs(d: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (B, K), features (B, F))`` of discriminator ``d`` for images ``x``.

    Uses ``d.forward_features(x)`` (the flattened input of the classification layer), then
    ``d.dropout`` (if any) and ``d.classifier_layer()``, as ``dcgan_d``'s own forward does;
    otherwise ``d(x)`` must return the pair.
    """
    forward_features = getattr(d, "forward_features", None)
    classifier_layer = getattr(d, "classifier_layer", None)
    if callable(forward_features) and callable(classifier_layer):
        feats = forward_features(x)
        dropout = getattr(d, "dropout", None)
        head_in = dropout(feats) if isinstance(dropout, nn.Module) else feats
        return classifier_layer()(head_in), feats
    out = d(x)
    if isinstance(out, tuple):
        return out[0], out[1]
    raise TypeError("the discriminator must offer forward_features() or return (logits, features)")


@torch.no_grad()
def recalibrate_batchnorm(d: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Recompute every batch norm's running mean/var of ``d`` as the plain average over
    ``batches`` of real images (B, 1, S, S); leaves ``d`` in eval mode."""
    norms = [m for m in d.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        d.eval()
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    d.train()
    seen = False
    for x in batches:
        if x.shape[0] > 1:
            discriminator_outputs(d, x)
            seen = True
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    d.eval()
    if not seen:
        raise TrainingError("no batch of at least 2 real images to recompute batch norm on")


@torch.no_grad()
def predict_probs(
    d: nn.Module, images: torch.Tensor, batch: int = 256, tta: str = "none"
) -> np.ndarray:
    """Softmax over the K classes of ``d`` (in eval mode) for (N, 1, S, S) images: (N, K).

    tta : ``"flip"`` averages each image's probabilities with its mirror image's.
    """
    d.eval()
    out = []
    device = next(d.parameters()).device

    def logits_of(x: torch.Tensor) -> torch.Tensor:
        return discriminator_outputs(d, x)[0]

    for start in range(0, images.shape[0], batch):
        x = images[start : start + batch].to(device)
        if tta == "flip":
            probs = flip_tta(logits_of, x)
        else:
            probs = torch.softmax(logits_of(x).float(), dim=1)
        out.append(probs.cpu().numpy())
    k = out[0].shape[1] if out else 0
    return np.concatenate(out) if out else np.zeros((0, k), np.float32)
