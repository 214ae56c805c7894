"""Late fusion: frames -> clips, and several modalities (audio, video ...) -> one prediction.

Pure functions on :class:`~emocli.predictions.Predictions` (no artifact I/O except the
fuser (de)serialisation at the end):

* :func:`reduce_to_clips` combines the rows of one clip (SPEC eq. 1: the mean of the frame
  probability vectors; also the median and the most confident frame). The clip keeps the
  clip's label, not the frames'.
* :func:`join_modalities` joins clip-level predictions of several modalities on
  ``(split, clip_id)``, counting clips that lack a modality; ``drop`` removes them,
  ``fallback`` keeps them and fuses the modalities they have.
* Fusers turn the joined ``(N, M, K)`` probabilities into ``(N, K)`` probabilities:
  :class:`MeanFuser`, :class:`WeightedFuser` (weights chosen by cross-validation on the
  training split) and :class:`SvmFuser` (standardised concatenated vectors -> RBF SVM, C
  and gamma by grid search, sigmoid-calibrated probabilities). The MLP fuser lives in
  :mod:`emocli.fusion_mlp` (torch).

Trained fusers are stored as ``model`` artifacts with plain HDF5 datasets. The SVM is
re-applied by evaluating its decision function in numpy from the stored support vectors,
dual coefficients, intercepts and calibration parameters: nothing is unpickled, and a
fuser gives the same probabilities at fit time and after reloading, because both go
through the same numpy code (checked against scikit-learn in the tests).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from emocli.artifacts import ArtifactWriter, open_artifact, read_group
from emocli.errors import ArtifactError, InputError, ParamsError
from emocli.importing import LabelTable
from emocli.labels import remap_labels
from emocli.predictions import Predictions

#: How the rows of one clip are combined.
CLIP_REDUCTIONS: tuple[str, ...] = ("mean", "median", "max-confidence")
#: What happens to clips that lack a modality.
MISSING_POLICIES: tuple[str, ...] = ("drop", "fallback")
#: Fusion methods of ``emocli fuse``.
FUSION_METHODS: tuple[str, ...] = ("mean", "weighted", "svm", "mlp")
#: Methods with parameters fitted on the training split (stored as a ``model`` artifact).
TRAINED_METHODS: tuple[str, ...] = ("weighted", "svm", "mlp")
#: Rows of the RBF kernel evaluated at once (bounds memory to rows x support vectors x D).
KERNEL_CHUNK = 256
#: Probabilities are clipped to [EPS, 1] before a log (log-loss of a candidate weighting).
EPS = 1e-12


# --------------------------------------------------------------------------- classes


def align_classes(preds: Predictions, classes: Sequence[str]) -> Predictions:
    """``preds`` with its probability columns and labels in the order of ``classes``, by name.

    Raises :class:`InputError` when the class sets differ: probabilities over different
    classes cannot be combined or compared.
    """
    classes = list(classes)
    if preds.classes == classes:
        return preds
    if set(preds.classes) != set(classes) or len(preds.classes) != len(classes):
        missing = sorted(set(classes) - set(preds.classes))
        extra = sorted(set(preds.classes) - set(classes))
        raise InputError(
            f"{preds.source or 'predictions'}: its classes {preds.classes} are not the classes "
            f"{classes} of the other input(s) (missing {missing}, extra {extra}); predictions "
            "are combined and compared by class name, over the same set of classes"
        )
    order = [preds.classes.index(name) for name in classes]
    return Predictions(
        classes=classes,
        probs=preds.probs[:, order],
        label=remap_labels(preds.label, preds.classes, classes),
        sample_id=preds.sample_id,
        clip_id=preds.clip_id,
        subject=preds.subject,
        split=preds.split,
        fold=preds.fold,
        modality=preds.modality,
        level=preds.level,
        source=preds.source,
        extra=dict(preds.extra),
    )


# --------------------------------------------------------------------------- frame -> clip


def clip_keys(preds: Predictions) -> np.ndarray:
    """(N,) str: each row's clip id, or its sample id when the clip id is empty (own clip)."""
    clip = np.asarray(preds.clip_id, dtype=str)
    return np.where(clip == "", np.asarray(preds.sample_id, dtype=str), clip)


def qualified_ids(split: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Unique sample ids for clips: the clip id, or ``split/clip id`` if ids repeat across splits."""
    key = np.asarray(key, dtype=str)
    if len(set(key.tolist())) == len(key):
        return key
    return np.array([f"{s}/{k}" for s, k in zip(split, key, strict=True)], dtype=str)


@dataclass
class ClipReduction:
    """The clip-level predictions and what happened on the way.

    n_rows : (C,) int64, the rows (frames) combined into each clip.
    label_conflicts : clips whose labelled frames disagree (the majority label is used).
    from_labels : clips whose label came from the labels table; unlabelled : clips the table lacks.
    """

    predictions: Predictions
    n_rows: np.ndarray
    label_conflicts: int = 0
    from_labels: int = 0
    unlabelled: int = 0


def _group(split: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group index of every row (groups in order of first appearance) and each group's first row."""
    index: dict[tuple[str, str], int] = {}
    inverse = np.empty(len(key), dtype=np.int64)
    first: list[int] = []
    for row, pair in enumerate(zip(split.tolist(), key.tolist(), strict=True)):
        group = index.get(pair)
        if group is None:
            group = index[pair] = len(first)
            first.append(row)
        inverse[row] = group
    return inverse, np.array(first, dtype=np.int64)


def _reduce_probs(probs: np.ndarray, inverse: np.ndarray, n_groups: int, how: str) -> np.ndarray:
    """(C, K) float64 combined probability vectors of each group of rows of ``probs`` (N, K)."""
    p = probs.astype(np.float64)
    counts = np.bincount(inverse, minlength=n_groups).astype(np.float64)
    if how == "mean":
        sums = np.zeros((n_groups, p.shape[1]))
        np.add.at(sums, inverse, p)
        return sums / counts[:, None]
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=n_groups))[:-1]
    out = np.empty((n_groups, p.shape[1]))
    for g, rows in enumerate(np.split(order, bounds)):
        block = p[rows]
        if how == "median":
            med = np.median(block, axis=0)
            total = med.sum()
            out[g] = med / total if total > 0 else np.full(p.shape[1], 1.0 / p.shape[1])
        else:  # max-confidence: the row whose top probability is highest (first on ties)
            out[g] = block[int(np.argmax(block.max(axis=1)))]
    return out


def _majority(
    labels: np.ndarray, inverse: np.ndarray, n_groups: int, k: int
) -> tuple[np.ndarray, int]:
    """Most frequent label >= 0 per group (lowest index on ties, -1 if none), and conflicts."""
    counts = np.zeros((n_groups, k), dtype=np.int64)
    valid = labels >= 0
    np.add.at(counts, (inverse[valid], labels[valid]), 1)
    majority = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1).astype(np.int64)
    conflicts = int(((counts > 0).sum(axis=1) > 1).sum())
    return majority, conflicts


def reduce_to_clips(
    preds: Predictions, how: str = "mean", labels: LabelTable | None = None
) -> ClipReduction:
    """Combine the rows of each clip, grouped by ``(split, clip id)``.

    how : ``mean`` (SPEC eq. 1, ``(1/n) sum_i x_i``), ``median`` (renormalised to sum 1) or
    ``max-confidence`` (the vector of the frame whose top probability is highest).
    labels : clip labels (a ``clip_id`` labels table); a clip's label is the table's, or, without
    a table, the one its frames carry (majority if they disagree, counted in the result).
    A clip-level input whose ids are unique comes back unchanged (as clip level).
    """
    if how not in CLIP_REDUCTIONS:
        raise ParamsError(f"clip reduction must be one of {list(CLIP_REDUCTIONS)}, not {how!r}")
    split = np.asarray(preds.split, dtype=str)
    key = clip_keys(preds)
    inverse, first = _group(split, key)
    n_groups = len(first)
    k = len(preds.classes)
    probs = _reduce_probs(preds.probs, inverse, n_groups, how).astype(np.float32)
    label, conflicts = _majority(np.asarray(preds.label, np.int64), inverse, n_groups, k)
    from_labels = unlabelled = 0
    if labels is not None:
        if labels.id_column != "clip_id":
            raise InputError(f"{labels.path}: clip labels need a 'clip_id' column")
        position = {name: i for i, name in enumerate(preds.classes)}
        for g, row in enumerate(first):
            found = labels.lookup(split[row], key[row])
            if found is None or not found[1]:
                label[g] = -1
                unlabelled += 1
                continue
            if found[1] not in position:
                raise InputError(
                    f"{labels.path}: clip {key[row]!r} is labelled {found[1]!r}, which is not "
                    f"one of the classes {preds.classes}"
                )
            label[g] = position[found[1]]
            from_labels += 1
    clip_split = split[first]
    clip_key = key[first]
    out = Predictions(
        classes=list(preds.classes),
        probs=probs,
        label=label,
        sample_id=qualified_ids(clip_split, clip_key),
        clip_id=clip_key,
        subject=np.asarray(preds.subject, dtype=str)[first],
        split=clip_split,
        fold=np.asarray(preds.fold, np.int64)[first],
        modality=preds.modality,
        level="clip",
        source=preds.source,
        extra=dict(preds.extra),
    )
    n_rows = np.bincount(inverse, minlength=n_groups).astype(np.int64)
    return ClipReduction(out, n_rows, conflicts, from_labels, unlabelled)


# --------------------------------------------------------------------------- joining


@dataclass
class Joined:
    """Clip-level predictions of M modalities on the same clips.

    probs : (N, M, K) float64, 0 where a modality is missing; present : (N, M) bool.
    label, fold : (N,) int64; sample_id, clip_id, split, subject : (N,) str.
    missing : clips (before the missing policy) lacking each modality, per split.
    """

    classes: list[str]
    modalities: list[str]
    probs: np.ndarray
    present: np.ndarray
    label: np.ndarray
    fold: np.ndarray
    sample_id: np.ndarray
    clip_id: np.ndarray
    split: np.ndarray
    subject: np.ndarray
    missing: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped: int = 0
    label_conflicts: int = 0

    def __len__(self) -> int:
        return int(self.probs.shape[0])

    @property
    def complete(self) -> np.ndarray:
        """(N,) bool: clips that have every modality."""
        return np.asarray(self.present.all(axis=1), dtype=bool)

    def features(self) -> np.ndarray:
        """(N, M*K) float64: the modalities' probability vectors concatenated, in modality order."""
        return self.probs.reshape(len(self), -1)


def join_modalities(
    inputs: Sequence[Predictions], modalities: Sequence[str], missing: str = "drop"
) -> Joined:
    """Join clip-level predictions (same classes, same order) on ``(split, clip id)``.

    Clips are keyed by ``(split, clip id)`` when every input knows every row's split (AFEW
    reuses clip ids across Train and Val), otherwise by clip id alone. Labels come from the
    first input that has one (disagreements are counted). ``missing="drop"`` keeps only clips
    every modality has; ``"fallback"`` keeps all.
    """
    if missing not in MISSING_POLICIES:
        raise ParamsError(f"--missing must be one of {list(MISSING_POLICIES)}, not {missing!r}")
    if not inputs:
        raise InputError("nothing to join: no predictions given")
    if len(set(modalities)) != len(modalities):
        raise InputError(f"two inputs have the same modality name: {list(modalities)}")
    classes = list(inputs[0].classes)
    use_split = all(bool((np.asarray(p.split, dtype=str) != "").all()) for p in inputs)
    index: dict[tuple[str, str], int] = {}
    rows: list[dict[str, Any]] = []
    m, k = len(inputs), len(classes)
    for j, preds in enumerate(inputs):
        if preds.classes != classes:
            raise InputError("join_modalities needs inputs with the same class order")
        keys = clip_keys(preds)
        splits = np.asarray(preds.split, dtype=str)
        seen: set[tuple[str, str]] = set()
        for r in range(len(preds)):
            key = (splits[r] if use_split else "", str(keys[r]))
            if key in seen:
                raise InputError(
                    f"{preds.source or modalities[j]}: clip {key[1]!r} occurs twice"
                    + ("" if use_split else "; give every row a split so clips can be told apart")
                )
            seen.add(key)
            at = index.get(key)
            if at is None:
                at = index[key] = len(rows)
                rows.append(
                    {
                        "probs": np.zeros((m, k)),
                        "present": np.zeros(m, dtype=bool),
                        "label": -1,
                        "fold": -1,
                        "split": str(splits[r]),
                        "clip": key[1],
                        "subject": str(preds.subject[r]),
                        "labels": set(),
                    }
                )
            row = rows[at]
            row["probs"][j] = preds.probs[r]
            row["present"][j] = True
            lab = int(preds.label[r])
            if lab >= 0:
                row["labels"].add(lab)
                if row["label"] < 0:
                    row["label"] = lab
            if row["fold"] < 0:
                row["fold"] = int(preds.fold[r])
            if not row["split"]:
                row["split"] = str(splits[r])
            if not row["subject"]:
                row["subject"] = str(preds.subject[r])
    present = np.array([row["present"] for row in rows], dtype=bool).reshape(len(rows), m)
    split = np.array([row["split"] for row in rows], dtype=str)
    missing_counts: dict[str, dict[str, int]] = {}
    for j, name in enumerate(modalities):
        lacking = ~present[:, j]
        missing_counts[name] = {
            s: int((lacking & (split == s)).sum()) for s in sorted(set(split.tolist()))
        }
    keep = np.asarray(present.all(axis=1) if missing == "drop" else np.ones(len(rows), bool))
    kept = [row for row, ok in zip(rows, keep, strict=True) if ok]
    clip = np.array([row["clip"] for row in kept], dtype=str)
    split = np.array([row["split"] for row in kept], dtype=str)
    return Joined(
        classes=classes,
        modalities=list(modalities),
        probs=np.array([row["probs"] for row in kept], dtype=np.float64).reshape(len(kept), m, k),
        present=present[keep],
        label=np.array([row["label"] for row in kept], dtype=np.int64),
        fold=np.array([row["fold"] for row in kept], dtype=np.int64),
        sample_id=qualified_ids(split, clip),
        clip_id=clip,
        split=split,
        subject=np.array([row["subject"] for row in kept], dtype=str),
        missing=missing_counts,
        dropped=int((~keep).sum()),
        label_conflicts=sum(len(row["labels"]) > 1 for row in kept),
    )


# --------------------------------------------------------------------------- fusers


class Fuser(Protocol):
    """Turns joined probabilities (N, M, K) with a presence mask (N, M) into (N, K) probabilities."""

    method: str

    def predict(self, probs: np.ndarray, present: np.ndarray) -> np.ndarray: ...

    def save(self, writer: ArtifactWriter) -> None: ...


def mean_of_present(probs: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, K) float64: the mean of the probability vectors of the modalities each clip has."""
    weights = present.astype(np.float64)
    counts = weights.sum(axis=1, keepdims=True)
    if (counts == 0).any():
        raise InputError("a clip has no modality at all; cannot fuse it")
    return np.einsum("nm,nmk->nk", weights, probs) / counts


class MeanFuser:
    """The average of the modalities' probability vectors (the thesis's 40.9 %)."""

    method = "mean"

    def predict(self, probs: np.ndarray, present: np.ndarray) -> np.ndarray:
        return mean_of_present(probs, present)

    def save(self, writer: ArtifactWriter) -> None:
        writer.write_group("fuser", {}, {"method": self.method})


@dataclass
class WeightedFuser:
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
        if self.grid:
            writer.write_group("grid", self.grid)


def simplex_grid(m: int, step: float) -> np.ndarray:
    """(W, m) float64: every weight vector on the grid ``step`` whose entries sum to 1."""
    parts = round(1.0 / step)
    if parts < 1 or abs(parts * step - 1.0) > 1e-9:
        raise ParamsError(f"the weight step must divide 1 (0.05, 0.1, 0.25 ...), not {step}")
    combos = [c for c in itertools.product(range(parts + 1), repeat=m - 1) if sum(c) <= parts]
    return np.array([[*c, parts - sum(c)] for c in combos], dtype=np.float64) / parts


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


def _ovr_from_ovo(dec: np.ndarray, n: int) -> np.ndarray:
    """scikit-learn's one-vs-rest decision (votes + confidence in (-1/3, 1/3)) from OvO values."""
    votes = np.zeros((dec.shape[0], n))
    confidence = np.zeros((dec.shape[0], n))
    p = 0
    for i in range(n):
        for j in range(i + 1, n):
            confidence[:, i] += dec[:, p]
            confidence[:, j] -= dec[:, p]
            votes[:, i] += dec[:, p] >= 0
            votes[:, j] += dec[:, p] < 0
            p += 1
    return votes + confidence / (3 * (np.abs(confidence) + 1))


@dataclass
class SvmFuser:
    """An RBF SVM on standardised concatenated probability vectors, with calibrated probabilities.

    class_index : (C,) int64, the classes seen in training (indices into the K classes).
    support_vectors : (S, D) float64 in standardised units; dual_coef : (C-1, S);
    intercept : (C(C-1)/2,); n_support : (C,) support vectors per class, in class order.
    scaler_mean, scaler_scale : (D,) standardisation of the raw features.
    calibration_a, calibration_b : (C,) (or (1,) for two classes) sigmoid parameters:
    ``p_c = 1 / (1 + exp(a_c * f_c + b_c))`` on the one-vs-rest decision ``f_c``, then
    normalised (scikit-learn's ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``).
    """

    n_classes: int
    class_index: np.ndarray
    scaler_mean: np.ndarray
    scaler_scale: np.ndarray
    support_vectors: np.ndarray
    dual_coef: np.ndarray
    intercept: np.ndarray
    n_support: np.ndarray
    gamma: float
    C: float
    calibration_a: np.ndarray
    calibration_b: np.ndarray
    grid: dict[str, np.ndarray] = field(default_factory=dict)
    cv_accuracy: float = float("nan")
    method: str = "svm"

    def decision_ovo(self, x: np.ndarray) -> np.ndarray:
        """(N, C(C-1)/2) one-vs-one decision values of standardised features ``x`` (N, D).

        Pair ``(i, j)`` (i < j, in class order) is positive for class ``i`` (libsvm's rule) when
        there are more than two classes; with two, the single value is scikit-learn's
        ``decision_function``, positive for the second class.
        """
        sv = self.support_vectors
        kernel = np.empty((x.shape[0], sv.shape[0]))
        for start in range(0, x.shape[0], KERNEL_CHUNK):
            block = x[start : start + KERNEL_CHUNK]
            sq = ((block[:, None, :] - sv[None, :, :]) ** 2).sum(axis=2)
            kernel[start : start + KERNEL_CHUNK] = np.exp(-self.gamma * sq)
        n = len(self.class_index)
        starts = np.concatenate([[0], np.cumsum(self.n_support)[:-1]]).astype(np.int64)
        dec = np.empty((x.shape[0], n * (n - 1) // 2))
        p = 0
        for i in range(n):
            for j in range(i + 1, n):
                si, sj = starts[i], starts[j]
                ci, cj = int(self.n_support[i]), int(self.n_support[j])
                dec[:, p] = (
                    kernel[:, si : si + ci] @ self.dual_coef[j - 1, si : si + ci]
                    + kernel[:, sj : sj + cj] @ self.dual_coef[i, sj : sj + cj]
                    + self.intercept[p]
                )
                p += 1
        return dec

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """(N, K) float64 calibrated probabilities of raw concatenated features (N, D)."""
        x = (np.asarray(features, dtype=np.float64) - self.scaler_mean) / self.scaler_scale
        dec = self.decision_ovo(x)
        n = len(self.class_index)
        if n == 2:
            # the stored (scikit-learn public) coefficients already give sklearn's binary
            # decision, which is positive for the second class
            p1 = 1.0 / (1.0 + np.exp(self.calibration_a[0] * dec[:, 0] + self.calibration_b[0]))
            proba = np.stack([1.0 - p1, p1], axis=1)
        else:
            f = _ovr_from_ovo(dec, n)
            proba = 1.0 / (1.0 + np.exp(self.calibration_a * f + self.calibration_b))
            total = proba.sum(axis=1, keepdims=True)
            proba = np.divide(proba, total, out=np.full_like(proba, 1.0 / n), where=total != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        out = np.zeros((features.shape[0], self.n_classes))
        out[:, self.class_index] = proba
        return out

    def predict(self, probs: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Complete clips through the SVM; clips lacking a modality: the mean of what they have."""
        return _model_or_fallback(self.predict_features, probs, present)

    def save(self, writer: ArtifactWriter) -> None:
        arrays = {
            "class_index": self.class_index.astype(np.int64),
            "scaler_mean": self.scaler_mean,
            "scaler_scale": self.scaler_scale,
            "support_vectors": self.support_vectors,
            "dual_coef": self.dual_coef,
            "intercept": self.intercept,
            "n_support": self.n_support.astype(np.int64),
            "calibration_a": self.calibration_a,
            "calibration_b": self.calibration_b,
        }
        attrs = {
            "method": self.method,
            "kernel": "rbf",
            "C": float(self.C),
            "gamma": float(self.gamma),
            "n_classes": int(self.n_classes),
            "cv_accuracy": float(self.cv_accuracy),
            "calibration": "sigmoid on the one-vs-rest decision, cross-validated (sklearn "
            "CalibratedClassifierCV ensemble=False)",
        }
        writer.write_group("fuser", arrays, attrs)
        if self.grid:
            writer.write_group("grid", self.grid)

    @classmethod
    def from_group(cls, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]) -> SvmFuser:
        return cls(
            n_classes=int(attrs["n_classes"]),
            class_index=np.asarray(arrays["class_index"], np.int64),
            scaler_mean=np.asarray(arrays["scaler_mean"], np.float64),
            scaler_scale=np.asarray(arrays["scaler_scale"], np.float64),
            support_vectors=np.asarray(arrays["support_vectors"], np.float64),
            dual_coef=np.asarray(arrays["dual_coef"], np.float64),
            intercept=np.asarray(arrays["intercept"], np.float64),
            n_support=np.asarray(arrays["n_support"], np.int64),
            gamma=float(attrs["gamma"]),
            C=float(attrs["C"]),
            calibration_a=np.asarray(arrays["calibration_a"], np.float64),
            calibration_b=np.asarray(arrays["calibration_b"], np.float64),
            cv_accuracy=float(attrs.get("cv_accuracy", float("nan"))),
        )


def _model_or_fallback(model: Any, probs: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``model(features)`` on complete clips, the mean of the present modalities elsewhere."""
    complete = present.all(axis=1)
    out = np.zeros((probs.shape[0], probs.shape[2]))
    if complete.any():
        out[complete] = model(probs[complete].reshape(int(complete.sum()), -1))
    if (~complete).any():
        out[~complete] = mean_of_present(probs[~complete], present[~complete])
    return out


def fit_svm(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    c_grid: Sequence[float] = (1.0,),
    gamma_grid: Sequence[float] = (0.1,),
    folds: int = 5,
    seed: int = 0,
) -> SvmFuser:
    """Fit an :class:`SvmFuser` on training clips only.

    features : (N, D) concatenated probability vectors; labels : (N,) int64 in 0..K-1.
    C and gamma: grid search by seeded stratified k-fold accuracy (standardisation fitted
    inside each fold); then standardisation on all N rows and an RBF SVC with sigmoid
    calibration on out-of-fold decision values (same folds), the SVC refitted on all N rows.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise InputError("the SVM fuser needs training clips of at least two classes")
    splits = stratified_folds(y, folds, seed)
    fold_of = np.empty(len(y), dtype=np.int64)
    for f, (_, held) in enumerate(splits):
        fold_of[held] = f
    cv = PredefinedSplit(fold_of)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), SVC(kernel="rbf")),
        {"svc__C": list(c_grid), "svc__gamma": list(gamma_grid)},
        cv=cv,
        scoring="accuracy",
        n_jobs=1,
    )
    search.fit(x, y)
    best_c = float(search.best_params_["svc__C"])
    best_gamma = float(search.best_params_["svc__gamma"])
    scaler = StandardScaler().fit(x)
    xs = scaler.transform(x)
    calibrated = CalibratedClassifierCV(
        SVC(kernel="rbf", C=best_c, gamma=best_gamma), method="sigmoid", ensemble=False, cv=cv
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        calibrated.fit(xs, y)
    inner = calibrated.calibrated_classifiers_[0]
    svc = inner.estimator
    results = search.cv_results_
    grid = {
        "C": np.asarray(results["param_svc__C"], dtype=np.float64),
        "gamma": np.asarray(results["param_svc__gamma"], dtype=np.float64),
        "mean_accuracy": np.asarray(results["mean_test_score"], dtype=np.float64),
        "std_accuracy": np.asarray(results["std_test_score"], dtype=np.float64),
    }
    return SvmFuser(
        n_classes=n_classes,
        class_index=np.asarray(svc.classes_, dtype=np.int64),
        scaler_mean=np.asarray(scaler.mean_, dtype=np.float64),
        scaler_scale=np.asarray(scaler.scale_, dtype=np.float64),
        support_vectors=np.asarray(svc.support_vectors_, dtype=np.float64),
        dual_coef=np.asarray(svc.dual_coef_, dtype=np.float64),
        intercept=np.asarray(svc.intercept_, dtype=np.float64),
        n_support=np.asarray(svc.n_support_, dtype=np.int64),
        gamma=best_gamma,
        C=best_c,
        calibration_a=np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
        calibration_b=np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
        grid=grid,
        cv_accuracy=float(search.best_score_),
    )


# --------------------------------------------------------------------------- storage


def write_fuser(
    writer: ArtifactWriter,
    fuser: Fuser,
    *,
    modalities: Sequence[str],
    classes: Sequence[str],
    train_split: str,
    fitted_split: np.ndarray,
    fitted_clip: np.ndarray,
) -> None:
    """Store a trained fuser in a ``model`` artifact writer (plain datasets, no pickle).

    fitted_split, fitted_clip : (T,) str, the clips it was fitted on (group ``fitted/``), so
    that applying it later can mark those clips' predictions as in-sample.
    """
    writer.set_classes(classes)
    writer.set_attr("fuser", fuser.method)
    writer.set_attr("architecture", f"fusion-{fuser.method}")
    writer.set_attr("modalities", list(modalities))
    writer.set_attr(
        "input",
        {
            "kind": "predictions",
            "level": "clip",
            "modalities": list(modalities),
            "classes": list(classes),
            "features": "class probabilities of each modality, concatenated in modality order",
            "train_split": train_split,
            "n_train": len(fitted_clip),
        },
    )
    fuser.save(writer)
    writer.write_group(
        "fitted",
        {
            "split": np.asarray(fitted_split, dtype=object),
            "clip_id": np.asarray(fitted_clip, dtype=object),
        },
    )


@dataclass
class StoredFuser:
    """A fuser read back from a ``model`` artifact, with what it expects as input."""

    fuser: Fuser
    modalities: list[str]
    classes: list[str]
    path: Path
    fitted: set[tuple[str, str]] = field(default_factory=set)

    def fitted_mask(self, split: np.ndarray, clip_id: np.ndarray) -> np.ndarray:
        """(N,) bool: which ``(split, clip id)`` rows the stored fuser was fitted on."""
        pairs = zip(np.asarray(split, str).tolist(), np.asarray(clip_id, str).tolist(), strict=True)
        return np.array([pair in self.fitted for pair in pairs], dtype=bool)


def read_fuser(path: Path | str) -> StoredFuser:
    """Rebuild the fuser stored by :func:`write_fuser` (numpy arrays / torch weights only)."""
    with open_artifact(path, "model") as art:
        method = str(art.attrs.get("fuser", ""))
        if method not in TRAINED_METHODS and method != "mean":
            raise ArtifactError(
                f"{path}: not a fuser model (attribute 'fuser' is {method or 'absent'}; "
                f"expected one of {list(TRAINED_METHODS)})"
            )
        modalities = [str(m) for m in art.attrs.get("modalities", [])]
        arrays = read_group(art, "fuser")
        attrs = {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in art.h5["fuser"].attrs.items()
        }
        fuser: Fuser
        if method == "mean":
            fuser = MeanFuser()
        elif method == "weighted":
            fuser = WeightedFuser(np.asarray(arrays["weights"], np.float64))
        elif method == "svm":
            fuser = SvmFuser.from_group(arrays, attrs)
        else:
            from emocli.fusion_mlp import MlpFuser

            fuser = MlpFuser.from_artifact(art)
        fit = read_group(art, "fitted")
        fitted = (
            set(zip(fit["split"].tolist(), fit["clip_id"].tolist(), strict=True)) if fit else set()
        )
        return StoredFuser(fuser, modalities, art.classes, Path(path), fitted)


# --------------------------------------------------------------------------- modalities

#: Modality names of the visual channel (one role for matching inputs to a stored fuser).
VISUAL_MODALITIES = ("face", "video")


def modality_role(modality: str) -> str:
    """``face`` and ``video`` play the same role (visual); other names are their own role."""
    return "visual" if modality in VISUAL_MODALITIES else modality


def order_for_fuser(names: Sequence[str], expected: Sequence[str]) -> list[int]:
    """Indices of ``names`` (the inputs' modalities) in the order a stored fuser expects.

    Matches exact names first, then roles (``face`` ~ ``video``). Raises :class:`InputError`
    naming both lists when the inputs do not provide exactly the expected modalities.
    """
    if len(names) == len(expected):
        for key in (lambda s: s, modality_role):
            lookup = {key(n): i for i, n in enumerate(names)}
            if len(lookup) == len(names) and all(key(e) in lookup for e in expected):
                return [lookup[key(e)] for e in expected]
    raise InputError(
        f"the fuser was trained on the modalities {list(expected)} but the inputs are "
        f"{list(names)}; give one predictions artifact per modality (set --modality when "
        "importing)"
    )
