"""What every fuser is: joined probabilities (N, M, K) with a presence mask (N, M) in,
(N, K) probabilities out (:class:`Fuser`); fusers of the concatenated vectors of complete
clips (:class:`FeatureFuser`); and the name -> class registry of ``emocli fuse --method``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from emocli.artifacts import Artifact, ArtifactWriter
from emocli.errors import InputError
from emocli.stage_params.fuse import FUSION_METHODS as FUSION_METHODS

#: Fusion methods of ``emocli fuse`` -> their fuser class (``module:Class``, imported when
#: used: the MLP needs torch).
FUSERS: dict[str, str] = {
    "mean": "emocli.fusion.mean:MeanFuser",
    "weighted": "emocli.fusion.weighted:WeightedFuser",
    "svm": "emocli.fusion.svm:SvmFuser",
    "mlp": "emocli.fusion.mlp:MlpFuser",
}
#: Methods with parameters fitted on the training split (stored as a ``model`` artifact).
TRAINED_METHODS: tuple[str, ...] = ("weighted", "svm", "mlp")


class Fuser:
    """Turns joined probabilities (N, M, K) with a presence mask (N, M) into (N, K)
    probabilities; stored in (and read back from) a ``model`` artifact, never pickled."""

    method: str = ""

    def predict(self, probs: np.ndarray, present: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def save(self, writer: ArtifactWriter) -> None:
        raise NotImplementedError

    @classmethod
    def load(
        cls, art: Artifact, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]
    ) -> Fuser:
        """The fuser stored in ``art`` (its ``fuser`` group's ``arrays`` and ``attrs``)."""
        raise NotImplementedError


class FeatureFuser(Fuser):
    """A fuser of the concatenated probability vectors (N, M*K) of complete clips; a clip
    lacking a modality gets the mean of the modalities it has."""

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """(N, K) float64 probabilities of concatenated features (N, D)."""
        raise NotImplementedError

    def predict(self, probs: np.ndarray, present: np.ndarray) -> np.ndarray:
        complete = present.all(axis=1)
        out = np.zeros((probs.shape[0], probs.shape[2]))
        if complete.any():
            out[complete] = self.predict_features(probs[complete].reshape(int(complete.sum()), -1))
        if (~complete).any():
            out[~complete] = mean_of_present(probs[~complete], present[~complete])
        return out


def write_search_table(writer: ArtifactWriter, grid: Mapping[str, np.ndarray]) -> None:
    """Store the table of a fuser's cross-validated search (column -> (G,) values, a row per
    candidate) as the group ``grid``; nothing without one (a fuser read back from a file)."""
    if grid:
        writer.write_group("grid", grid)


def fuser_class(method: str) -> type[Fuser]:
    """The fuser class of a fusion method (a name of :data:`FUSERS`)."""
    module, name = FUSERS[method].split(":")
    found: type[Fuser] = getattr(importlib.import_module(module), name)
    return found


def mean_of_present(probs: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, K) float64: the mean of the probability vectors of the modalities each clip has."""
    weights = present.astype(np.float64)
    counts = weights.sum(axis=1, keepdims=True)
    if (counts == 0).any():
        raise InputError("a clip has no modality at all; cannot fuse it")
    return np.einsum("nm,nmk->nk", weights, probs) / counts


def stratified_folds(
    labels: np.ndarray, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) of a seeded stratified k-fold split.

    Fewer folds are used when the rarest class has fewer than ``folds`` samples (at least 2).
    """
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(labels)
    rarest = int(counts[counts > 0].min()) if counts.size else 0
    n_splits = min(folds, rarest)
    if n_splits < 2:
        raise InputError(
            "cross-validation on the training split needs at least 2 samples of every class "
            f"that occurs there (class counts: {counts.tolist()})"
        )
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))
