"""The weighted fuser: a weighted average of the modalities, the weights chosen on the
training clips by stratified k-fold cross-validation over a grid of the simplex."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emocli.artifacts import Artifact, ArtifactWriter
from emocli.errors import ParamsError
from emocli.fusion.base import Fuser, mean_of_present, stratified_folds, write_search_table

#: Probabilities are clipped to [EPS, 1] before a log (log-loss of a candidate weighting).
EPS = 1e-12


@dataclass
class WeightedFuser(Fuser):
    """A weighted average of the modalities; weights (M,) sum to 1.

    A clip lacking a modality uses the weights of the modalities it has, renormalised.
    """

    weights: np.ndarray
    grid: dict[str, np.ndarray] = field(default_factory=dict)
    method: str = "weighted"

    def predict(self, probs: np.ndarray, present: np.ndarray) -> np.ndarray:
        w = present * self.weights[None, :]
        totals = w.sum(axis=1, keepdims=True)
        fused = np.einsum("nm,nmk->nk", w, probs) / np.where(totals > 0, totals, 1.0)
        # a clip whose only modalities weigh 0: plain mean of what it has
        lost = totals[:, 0] <= 0
        if lost.any():
            fused[lost] = mean_of_present(probs[lost], present[lost])
        return fused

    def save(self, writer: ArtifactWriter) -> None:
        writer.write_group(
            "fuser", {"weights": self.weights.astype(np.float64)}, {"method": self.method}
        )
        write_search_table(writer, self.grid)

    @classmethod
    def load(
        cls, art: Artifact, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]
    ) -> Fuser:
        return cls(np.asarray(arrays["weights"], np.float64))


def simplex_grid(m: int, step: float) -> np.ndarray:
    """(W, m) float64: every weight vector on the grid ``step`` whose entries sum to 1."""
    parts = round(1.0 / step)
    if parts < 1 or abs(parts * step - 1.0) > 1e-9:
        raise ParamsError(f"the weight step must divide 1 (0.05, 0.1, 0.25 ...), not {step}")
    combos = [c for c in itertools.product(range(parts + 1), repeat=m - 1) if sum(c) <= parts]
    return np.array([[*c, parts - sum(c)] for c in combos], dtype=np.float64) / parts


def fit_weighted(
    probs: np.ndarray, labels: np.ndarray, *, step: float = 0.05, folds: int = 5, seed: int = 0
) -> WeightedFuser:
    """Choose modality weights on training clips by stratified k-fold cross-validation.

    probs : (N, M, K) of complete training clips; labels : (N,) int64 >= 0.
    Every weight vector of :func:`simplex_grid` is scored by its accuracy on each held-out
    fold; the best mean accuracy wins, ties broken by the lower mean log-loss.
    """
    grid = simplex_grid(probs.shape[1], step)
    fused = np.einsum("wm,nmk->wnk", grid, probs)  # (W, N, K)
    correct = fused.argmax(axis=2) == labels[None, :]
    nll = -np.log(np.clip(fused[:, np.arange(len(labels)), labels], EPS, 1.0))
    splits = stratified_folds(labels, folds, seed)
    acc = np.stack([correct[:, held].mean(axis=1) for _, held in splits], axis=1)  # (W, F)
    loss = np.stack([nll[:, held].mean(axis=1) for _, held in splits], axis=1)
    mean_acc, mean_loss = acc.mean(axis=1), loss.mean(axis=1)
    best = int(np.lexsort((mean_loss, -mean_acc))[0])
    table = {
        "weights": grid,
        "mean_accuracy": mean_acc,
        "std_accuracy": acc.std(axis=1),
        "mean_log_loss": mean_loss,
    }
    return WeightedFuser(grid[best], table)
