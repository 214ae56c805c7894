"""Loss terms of the semi-supervised GAN (Salimans et al. 2016, "Improved Techniques for
Training GANs", section 5), as pure functions of logits and features.

The discriminator has K outputs, one per emotion class, and no explicit "fake" output:
with ``Z(x) = sum_k exp(l_k(x))`` the probability that ``x`` is real is
``D(x) = Z / (Z + 1)`` (the fake class has a fixed logit 0). In log space, with
``s = logsumexp_k l_k``::

    log D(x)       = s - softplus(s)
    log (1 - D(x)) =   - softplus(s)

so every term below is written with ``logsumexp`` and ``softplus`` and never overflows.

All ``logits`` are (B, K) float tensors; ``labels`` are (B,) int64 class indices;
``features`` are (B, F) intermediate discriminator activations. Every loss is a scalar
mean over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

#: Weight of each of the two unsupervised terms, as in Salimans's reference code.
UNSUPERVISED_HALF = 0.5


def real_logit(logits: torch.Tensor) -> torch.Tensor:
    """``s = logsumexp_k l_k``, the logit of "real" (D = sigmoid(s)): (B, K) -> (B,)."""
    return torch.logsumexp(logits, dim=1)


def prob_real(logits: torch.Tensor) -> torch.Tensor:
    """``D(x) = Z / (Z + 1)`` with ``Z = sum_k exp(l_k)``: (B, K) -> (B,) in (0, 1)."""
    return torch.sigmoid(real_logit(logits))


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the labelled batch over the K real classes:
    ``mean(-l_y + logsumexp_k l_k)``."""
    return F.cross_entropy(logits, labels)


def unlabelled_real_loss(logits: torch.Tensor) -> torch.Tensor:
    """``mean(-log D(x))`` for real unlabelled images: ``softplus(s) - s = softplus(-s)``."""
    return F.softplus(-real_logit(logits)).mean()


def fake_loss(logits: torch.Tensor) -> torch.Tensor:
    """``mean(-log(1 - D(G(z))))`` for generated images: ``softplus(s)``."""
    return F.softplus(real_logit(logits)).mean()


def unsupervised_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's adversarial loss: ``0.5 * (-log D(x)) + 0.5 * (-log(1 - D(G(z))))``
    (Salimans's ``loss_unl``)."""
    return UNSUPERVISED_HALF * unlabelled_real_loss(real_logits) + UNSUPERVISED_HALF * fake_loss(
        fake_logits
    )


def discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    labelled_logits: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    supervised_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """All discriminator terms: ``total = unsupervised + supervised_weight * supervised``.

    The supervised term is present only when a labelled batch is given (the periodic
    schedule runs it every N iterations; the mixed schedule in every step).
    Returns ``{"total", "unsupervised", "supervised"}`` (supervised = 0 when absent).
    """
    unsup = unsupervised_loss(real_logits, fake_logits)
    if labelled_logits is None or labels is None:
        sup = torch.zeros((), dtype=unsup.dtype, device=unsup.device)
    else:
        sup = supervised_loss(labelled_logits, labels)
    return {"total": unsup + supervised_weight * sup, "unsupervised": unsup, "supervised": sup}


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Salimans's feature matching: ``mean_f (E_x f(x) - E_z f(G(z)))^2`` over the features.

    real_features, fake_features : (B, F) (batch sizes may differ). The real statistics are
    a target: they are detached so the generator loss never moves the discriminator.
    """
    diff = real_features.detach().mean(dim=0) - fake_features.mean(dim=0)
    return diff.pow(2).mean()


def non_saturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's non-saturating loss ``mean(-log D(G(z)))`` = ``softplus(-s)``."""
    return unlabelled_real_loss(fake_logits)


def consistency_loss(
    target_logits: torch.Tensor, strong_logits: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """FixMatch's unlabelled term (Sohn et al. 2020): ``mean(mask * CE(strong, argmax target))``.

    target_logits : (B, K) logits of the weakly augmented faces (detached: a target only);
    strong_logits : (B, K) logits of strongly augmented copies of the same faces; mask = the
    softmax's top probability of the target >= ``threshold``. Returns ``(loss, share)``:
    the mean over the whole batch (masked rows count as 0) and the share of rows kept.
    """
    probs = torch.softmax(target_logits.detach().float(), dim=1)
    confidence, pseudo = probs.max(dim=1)
    mask = (confidence >= threshold).to(strong_logits.dtype)
    per_face = F.cross_entropy(strong_logits, pseudo, reduction="none")
    return (per_face * mask).mean(), mask.mean()
