"""Run planning for pretrain-gan: which rows of the labelled artifact each training run learns
from, selects its epoch on and predicts, and which unlabelled images it plays the adversarial
game on.

* :func:`plan_runs` makes one run on the ``train`` rows (part of them held out as a dev set
  with ``dev_fraction``, else the ``val`` split selects the epoch), or with ``folds`` = K, K
  subject-independent folds over every labelled row (each predicts the rows it held out).
* :func:`labelled_rows` keeps ``labels_per_class`` labelled images per class of a run's
  training rows; the rest lose their labels.
* :class:`UnlabelledPool` gives each run its unlabelled images: the unlabelled artifacts'
  faces, the training images set aside by ``labels_per_class``, capped by a seeded subsample.

Row sets are (M,) int64 indices into the labelled artifact's N rows; images are (M, S, S)
uint8. Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emocli.errors import ArtifactError
from emocli.training.gan_data import (
    GanInputs,
    carve_dev_rows,
    few_label_subset,
    grouped_folds,
)


@dataclass(frozen=True)
class GanRun:
    """One training run: ``fold`` (-1 outside k-fold); ``train``, its labelled training rows
    (before ``labels_per_class``); ``val``, the rows whose accuracy selects the epoch (empty:
    none); ``predict``, the rows its discriminator predicts."""

    fold: int
    train: np.ndarray
    val: np.ndarray
    predict: np.ndarray

    def rows(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """(fold, train, val, predict): what identifies the run's resume point."""
        return self.fold, self.train, self.val, self.predict


def train_rows(split: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Training rows: split ``train`` (or unsplit rows when no row is marked train), labelled."""
    base = split == "train"
    if not base.any():
        base = split == ""
    return np.flatnonzero(base & (label >= 0))


def plan_runs(
    data: GanInputs, folds: int, dev_fraction: float, seed: int
) -> tuple[list[GanRun], np.ndarray]:
    """The training runs and the (N,) object ``role`` column of the predictions, ``dev`` on the
    held-out dev rows and ``""`` elsewhere so far.

    With ``folds`` = K: K runs, fold f trains on the labelled rows of the other folds and
    predicts its own (group-independent, stratified: :func:`grouped_folds`). Else one run on
    :func:`train_rows`, selecting the epoch on about ``dev_fraction`` of them held out by
    group (:func:`carve_dev_rows`), or on the labelled ``val`` rows; it predicts every row.
    """
    role = np.full(len(data.label), "", dtype=object)
    if folds:
        labelled = np.flatnonzero(data.label >= 0)
        fold_of = np.full(len(data.label), -1, np.int64)
        fold_of[labelled] = grouped_folds(data.label[labelled], data.groups[labelled], folds, seed)
        none = np.zeros(0, np.int64)
        runs = [
            GanRun(f, labelled[fold_of[labelled] != f], none, np.flatnonzero(fold_of == f))
            for f in range(folds)
        ]
        return runs, role
    train = train_rows(data.split, data.label)
    if dev_fraction > 0:
        val = carve_dev_rows(train, data.label, data.groups, dev_fraction, seed)
        train = np.setdiff1d(train, val)
        role[val] = "dev"
    else:
        val = np.flatnonzero((data.split == "val") & (data.label >= 0))
    return [GanRun(-1, train, val, np.arange(len(data.label)))], role


def labelled_rows(
    run: GanRun, data: GanInputs, per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, rest): the run's training rows that keep their labels (``per_class`` of each
    class, seeded; all with 0) and those that lose them. Raises :class:`ArtifactError` when
    fewer than 2 are kept."""
    train, rest = run.train, np.zeros(0, np.int64)
    if per_class:
        train, rest = few_label_subset(data.label, train, per_class, len(data.classes), seed)
    if len(train) < 2:
        raise ArtifactError(f"{data.source}: fewer than 2 labelled training images")
    return train, rest


class UnlabelledPool:
    """The unlabelled images of each run, drawn in run order from one seeded generator.

    A run's pool is ``data.unlabelled`` plus, with ``leftover``, the labelled artifact's images
    of the rows passed to :meth:`for_run` (those whose labels ``labels_per_class`` set aside);
    with ``cap`` > 0 a larger pool is subsampled to ``cap`` images (kept in their order).
    """

    def __init__(self, data: GanInputs, leftover: bool, cap: int, seed: int) -> None:
        self.data, self.leftover, self.cap = data, leftover, cap
        self.rng = np.random.default_rng(seed)

    def for_run(self, rest: np.ndarray) -> np.ndarray:
        """(P, S, S) uint8: the pool of a run whose training rows ``rest`` lost their labels."""
        parts = [self.data.unlabelled]
        if self.leftover and len(rest):
            parts.append(self.data.images[rest])
        pool = np.concatenate(parts)
        if self.cap and len(pool) > self.cap:
            pool = pool[np.sort(self.rng.choice(len(pool), self.cap, replace=False))]
        return pool
