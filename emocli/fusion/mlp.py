"""The thesis's MLP fuser (torch): concatenated probability vectors -> dense 28 ReLU ->
dropout 0.25 -> dense K softmax, trained with RMSprop.

Training uses the training split only: a stratified part of it (``holdout``) is held out
for early stopping on its loss, and the weights of the best epoch are kept. Everything is
seeded. The thesis picked its epoch on the validation curve, i.e. on the data it reported;
this module never sees the evaluation split. Weights are stored through
:mod:`emocli.weights` (HDF5 datasets) and the per-epoch history in ``history/``.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from emocli.artifacts import Artifact, ArtifactWriter, read_group
from emocli.errors import InputError, TrainingError
from emocli.fusion.base import FeatureFuser, Fuser
from emocli.stage_params.fuse import FuseParams
from emocli.weights import read_state_dict, write_state_dict

#: Keras's RMSprop defaults, which the thesis used (torch's ``alpha`` is Keras's ``rho``).
RMSPROP_RHO = 0.9
RMSPROP_EPS = 1e-7


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the setting.

    The network is tiny (a few hundred weights): with several intra-op threads every step
    pays for thread hand-offs, and on a busy machine spinning threads made a 40-epoch fit
    60x slower (18.8 s against 0.33 s on the 2-core development machine).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class FusionMLP(nn.Module):
    """x : (N, D) concatenated probabilities -> (N, K) logits (softmax applied by the caller)."""

    def __init__(self, in_features: int, n_classes: int, hidden: int = 28, dropout: float = 0.25):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass(frozen=True)
class MlpConfig:
    """Training settings; defaults: ``emocli fuse``'s (:class:`FuseParams` ``mlp_*`` and
    ``seed``). lr, batch size: Keras defaults (the thesis kept them)."""

    hidden: int = FuseParams.mlp_hidden
    dropout: float = FuseParams.mlp_dropout
    lr: float = FuseParams.mlp_lr
    batch_size: int = FuseParams.mlp_batch_size
    max_epochs: int = FuseParams.mlp_max_epochs
    patience: int = FuseParams.mlp_patience
    holdout: float = FuseParams.mlp_holdout
    seed: int = FuseParams.seed


@dataclass
class MlpFuser(FeatureFuser):
    """A trained :class:`FusionMLP` and its training history (one value per epoch)."""

    model: FusionMLP
    kwargs: dict[str, Any]
    history: dict[str, np.ndarray] = field(default_factory=dict)
    best_epoch: int = 0
    method: str = "mlp"

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """(N, K) float64 softmax probabilities of concatenated features (N, D)."""
        self.model.eval()
        with single_thread(), torch.no_grad():
            logits = self.model(torch.as_tensor(np.asarray(features, dtype=np.float32)))
            return torch.softmax(logits, dim=1).numpy().astype(np.float64)

    def save(self, writer: ArtifactWriter) -> None:
        writer.set_attr("model_kwargs", self.kwargs)
        write_state_dict(writer, self.model.state_dict())
        writer.write_group("fuser", {}, {"method": self.method, "best_epoch": int(self.best_epoch)})
        if self.history:
            writer.write_group(
                "history",
                self.history,
                {"note": "holdout = part of the training split held out for early stopping"},
            )

    @classmethod
    def load(
        cls, art: Artifact, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]
    ) -> Fuser:
        kwargs = dict(art.attrs.get("model_kwargs") or {})
        model = FusionMLP(**kwargs)
        model.load_state_dict(read_state_dict(art))
        model.eval()
        best = int(art.h5["fuser"].attrs.get("best_epoch", 0)) if "fuser" in art.h5 else 0
        return cls(model, kwargs, read_group(art, "history"), best)


def _holdout_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train rows, held-out rows); unstratified if a class is too rare."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(labels))
    counts = np.bincount(labels)
    present = int((counts > 0).sum())
    held = math.ceil(fraction * len(labels))
    # scikit-learn stratifies only with 2+ rows per class and a class-sized part on each side
    fits = counts[counts > 0].min() >= 2 and present <= min(held, len(labels) - held)
    stratify = labels if fits else None
    train, held = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(held)


def fit_mlp(
    features: np.ndarray, labels: np.ndarray, n_classes: int, config: MlpConfig = MlpConfig()
) -> MlpFuser:
    """Train the MLP fuser on training clips only, with early stopping on a held-out part.

    features : (N, D) float; labels : (N,) int64 in 0..K-1.
    Raises :class:`TrainingError` if the loss becomes NaN or infinite.
    """
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) < 4 or len(np.unique(y)) < 2:
        raise InputError("the MLP fuser needs at least 4 training clips of two or more classes")
    with single_thread():
        return _fit(x, y, n_classes, config)


def _fit(x: np.ndarray, y: np.ndarray, n_classes: int, config: MlpConfig) -> MlpFuser:
    torch.manual_seed(config.seed)
    train_rows, held_rows = _holdout_split(y, config.holdout, config.seed)
    kwargs: dict[str, Any] = {
        "in_features": int(x.shape[1]),
        "n_classes": int(n_classes),
        "hidden": config.hidden,
        "dropout": config.dropout,
    }
    model = FusionMLP(**kwargs)
    optimiser = torch.optim.RMSprop(
        model.parameters(), lr=config.lr, alpha=RMSPROP_RHO, eps=RMSPROP_EPS
    )
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x[train_rows]), torch.from_numpy(y[train_rows])
    xh, yh = torch.from_numpy(x[held_rows]), torch.from_numpy(y[held_rows])
    generator = torch.Generator().manual_seed(config.seed)
    history: dict[str, list[float]] = {
        k: [] for k in ("epoch", "train_loss", "train_accuracy", "holdout_loss", "holdout_accuracy")
    }
    best_loss, best_epoch, best_state, waited = (
        float("inf"),
        0,
        copy.deepcopy(model.state_dict()),
        0,
    )
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        order = torch.randperm(len(yt), generator=generator)
        total, correct = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimiser.zero_grad()
            logits = model(xt[batch])
            loss = loss_fn(logits, yt[batch])
            if not torch.isfinite(loss):
                raise TrainingError(f"MLP fuser: the loss became {loss.item()} at epoch {epoch}")
            loss.backward()
            optimiser.step()
            total += float(loss.item()) * len(batch)
            correct += int((logits.argmax(dim=1) == yt[batch]).sum())
        model.eval()
        with torch.no_grad():
            held_logits = model(xh)
            held_loss = float(loss_fn(held_logits, yh))
            held_acc = float((held_logits.argmax(dim=1) == yh).float().mean())
        history["epoch"].append(epoch)
        history["train_loss"].append(total / len(yt))
        history["train_accuracy"].append(correct / len(yt))
        history["holdout_loss"].append(held_loss)
        history["holdout_accuracy"].append(held_acc)
        if held_loss < best_loss - 1e-6:
            best_loss, best_epoch, waited = held_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    arrays = {
        k: np.asarray(v, dtype=np.int64 if k == "epoch" else np.float64) for k, v in history.items()
    }
    return MlpFuser(model, kwargs, arrays, best_epoch)
