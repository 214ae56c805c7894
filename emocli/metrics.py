"""Classification metrics from true and predicted labels (scikit-learn, no I/O).

Accuracy, macro / weighted F1, per-class precision / recall / F1 / support, confusion
matrices (counts and row-normalised), k-fold summaries (mean ± std) and per-split class
distributions. Definitions follow scikit-learn's defaults, so the figures are comparable
with published ones: a ratio whose denominator is zero counts as 0 (``zero_division=0``),
and the macro average runs over the classes present in the true **or** predicted labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Label value of an unlabelled sample (excluded from every metric).
UNLABELLED = -1


@dataclass
class ClassificationMetrics:
    """Metrics of one set of predictions.

    precision, recall, f1 : (K,) float64, per class in ``classes`` order.
    support : (K,) int64, true samples per class.
    confusion : (K, K) int64, rows = true class, columns = predicted class.
    """

    classes: list[str]
    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    confusion: np.ndarray

    @property
    def confusion_normalised(self) -> np.ndarray:
        """(K, K) float64: each row divided by its total (rows of absent classes stay 0)."""
        totals = self.confusion.sum(axis=1, keepdims=True).astype(np.float64)
        return np.divide(
            self.confusion,
            totals,
            out=np.zeros(self.confusion.shape, dtype=np.float64),
            where=totals > 0,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: scalars, per-class rows and both confusion matrices."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "weighted_f1": self.weighted_f1,
            "per_class": {
                name: {
                    "precision": float(self.precision[i]),
                    "recall": float(self.recall[i]),
                    "f1": float(self.f1[i]),
                    "support": int(self.support[i]),
                }
                for i, name in enumerate(self.classes)
            },
            "confusion": self.confusion.tolist(),
            "confusion_normalised": self.confusion_normalised.round(6).tolist(),
        }


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = true label, columns = predicted label (both in 0..K-1)."""
    from sklearn import metrics

    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    if y_true.size and (
        min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n_classes
    ):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    if not y_true.size:
        return np.zeros((n_classes, n_classes), np.int64)
    labels = np.arange(n_classes)
    return np.asarray(metrics.confusion_matrix(y_true, y_pred, labels=labels), np.int64)


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]
) -> ClassificationMetrics:
    """Every metric of :class:`ClassificationMetrics` for labelled samples, by scikit-learn
    (``precision_recall_fscore_support``, undefined ratios 0).

    y_true, y_pred : (N,) int, indices into ``classes``; N may be 0 (all metrics are then 0).
    The macro F1 averages the classes that occur (as labels or predictions): a class absent
    from both does not pull it down.
    """
    from sklearn import metrics

    k = len(classes)
    cm = confusion_matrix(y_true, y_pred, k)
    support = cm.sum(axis=1)
    n = int(cm.sum())
    if n:
        with warnings.catch_warnings():  # "a single label was found": fine for one class
            warnings.simplefilter("ignore", UserWarning)
            precision, recall, f1, _ = metrics.precision_recall_fscore_support(
                y_true, y_pred, labels=np.arange(k), zero_division=0
            )
    else:
        precision = recall = f1 = np.zeros(k)
    seen = (support + cm.sum(axis=0)) > 0
    return ClassificationMetrics(
        classes=list(classes),
        n=n,
        accuracy=float(np.trace(cm) / n) if n else 0.0,
        macro_f1=float(f1[seen].mean()) if seen.any() else 0.0,
        weighted_f1=float((f1 * support).sum() / n) if n else 0.0,
        precision=np.asarray(precision, np.float64),
        recall=np.asarray(recall, np.float64),
        f1=np.asarray(f1, np.float64),
        support=support.astype(np.int64),
        confusion=cm,
    )


@dataclass
class FoldSummary:
    """Per-fold metrics of out-of-fold predictions and their mean ± std (population std)."""

    folds: list[int]
    per_fold: list[ClassificationMetrics]
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "per_fold": [
                {
                    "fold": f,
                    "n": m.n,
                    "accuracy": m.accuracy,
                    "macro_f1": m.macro_f1,
                    "weighted_f1": m.weighted_f1,
                }
                for f, m in zip(self.folds, self.per_fold, strict=True)
            ],
            "mean": self.mean,
            "std": self.std,
        }


#: The scalar metrics summarised over folds.
FOLD_METRICS: tuple[str, ...] = ("accuracy", "macro_f1", "weighted_f1")


def fold_summary(
    y_true: np.ndarray, y_pred: np.ndarray, folds: np.ndarray, classes: Sequence[str]
) -> FoldSummary | None:
    """Metrics per fold and their mean ± std over folds; ``None`` unless >= 2 folds are present.

    folds : (N,) int, the fold of each out-of-fold prediction (``-1`` = none, ignored).
    """
    folds = np.asarray(folds, dtype=np.int64)
    ids = [int(f) for f in np.unique(folds) if f >= 0]
    if len(ids) < 2:
        return None
    per_fold = [
        classification_metrics(y_true[folds == f], y_pred[folds == f], classes) for f in ids
    ]
    summary = FoldSummary(ids, per_fold)
    for name in FOLD_METRICS:
        values = np.array([getattr(m, name) for m in per_fold], dtype=np.float64)
        summary.mean[name] = float(values.mean())
        summary.std[name] = float(values.std())
    return summary


def class_distribution(
    labels: np.ndarray, splits: np.ndarray, n_classes: int
) -> dict[str, np.ndarray]:
    """Labelled samples per class in each split: ``{split: (K,) int64}`` (``""`` -> ``"(none)"``).

    Unlabelled samples (label -1) are not counted.
    """
    labels = np.asarray(labels, dtype=np.int64)
    splits = np.asarray(splits, dtype=str)
    out: dict[str, np.ndarray] = {}
    for split in sorted(set(splits.tolist()), key=split_order):
        rows = (splits == split) & (labels >= 0)
        out[split or "(none)"] = np.bincount(labels[rows], minlength=n_classes).astype(np.int64)
    return out


_SPLIT_RANK: Mapping[str, int] = {"train": 0, "val": 1, "test": 2}


def split_order(split: str) -> tuple[int, str]:
    """Sort key: train, val, test, then any other split alphabetically."""
    return (_SPLIT_RANK.get(split, 3), split)
