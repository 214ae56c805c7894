"""Predictions over the same classes (:func:`align_classes`) and frames -> clips
(:func:`reduce_to_clips`: SPEC eq. 1, the mean of the frame probability vectors; also the
median and the most confident frame). A clip keeps the clip's label, not the frames'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from emocli.errors import InputError, ParamsError
from emocli.labels import LabelTable, column_order, remap_labels
from emocli.predictions import Predictions
from emocli.stage_params.fuse import CLIP_REDUCTIONS


def align_classes(preds: Predictions, classes: Sequence[str]) -> Predictions:
    """``preds`` with its probability columns and labels in the order of ``classes``, by name.

    Raises :class:`InputError` when the class sets differ: probabilities over different
    classes cannot be combined or compared.
    """
    classes = list(classes)
    if preds.classes == classes:
        return preds
    order = column_order(preds.classes, classes, preds.source or "predictions", InputError)
    return replace(
        preds,
        classes=classes,
        probs=preds.probs[:, order],
        label=remap_labels(preds.label, preds.classes, classes),
        extra=dict(preds.extra),
    )


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
