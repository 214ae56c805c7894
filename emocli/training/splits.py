"""Which rows train, which validate: training rows, dev hold-outs, folds and class weights.

Splits are by group (subject, else clip ...; :func:`resolve_groups`), so no person or clip is
on both sides; without groups they stratify by class. A hold-out too small for
``round(1 / fraction)`` folds uses fewer (:func:`holdout_folds` says why); splits that cannot
be made raise :class:`ParamsError` naming the class that is too small.
:func:`training_rows` picks the rows that global statistics are computed on.

Arrays: ``labels`` (M,) int64 class indices (>= 0 for labelled rows), ``groups`` (M,) str
or None, ``indices`` (M,) int64 row numbers. Importing this module imports no torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.errors import ParamsError
from emocli.training.options import pick_groups, subject_mask

if TYPE_CHECKING:
    from emocli.training.datamodule import SampleTable


def training_rows(
    split: np.ndarray,
    label: np.ndarray,
    subject: np.ndarray,
    train_split: str = "train",
    train_subjects: str = "",
) -> tuple[np.ndarray, str]:
    """The rows whose spectrograms give the global statistics, and how they were chosen.

    With splits recorded: rows of ``train_split``. Without: every labelled row (every row if
    none is labelled). ``train_subjects`` further keeps only those subjects.
    Raises :class:`ParamsError` when the selection is empty, saying what is available.
    """
    if np.any(split != ""):
        mask = split == train_split
        if not mask.any():
            present = sorted(set(split.tolist()) - {""})
            raise ParamsError(
                f"no rows with split {train_split!r} (splits present: {present}); "
                "choose --train-split"
            )
        how = f"split == {train_split!r}"
    elif np.any(label >= 0):
        mask, how = label >= 0, "all labelled rows (no split recorded)"
    else:
        mask, how = np.ones(len(split), dtype=bool), "all rows (no split, no labels)"
    if train_subjects:
        if not np.any(subject != ""):
            raise ParamsError("--train-subjects given but the artifact records no subjects")
        mask = mask & subject_mask(subject, train_subjects)
        if not mask.any():
            present = sorted(set(subject.tolist()) - {""})
            raise ParamsError(
                f"--train-subjects {train_subjects!r} selects no row (subjects: {present})"
            )
        how += f" and subject in {train_subjects}"
    return mask, how


def resolve_groups(table: SampleTable, group_by: str) -> tuple[str, np.ndarray | None]:
    """The grouping column for leakage-free splits: ``auto`` takes the first of subject, group,
    clip_id that is filled in; ``none`` stratifies by class only."""
    return pick_groups(table.group_values, group_by)


def _splitter(k: int, groups: np.ndarray | None, seed: int) -> Any:
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if groups is None:
        return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)


def _class_name(label: int, classes: Sequence[str] | None) -> str:
    """``'happy'`` for a label index with a known name, else ``class 3``."""
    if classes is not None and 0 <= label < len(classes):
        return repr(classes[label])
    return f"class {label}"


def _unit_word(groups: np.ndarray | None, n: int) -> str:
    """What a split keeps whole, for messages: ``groups (subjects/clips)`` or ``rows``."""
    if groups is not None:
        return "group (subject/clip)" if n == 1 else "groups (subjects/clips)"
    return "row" if n == 1 else "rows"


def _largest_class(labels: np.ndarray) -> tuple[int, int]:
    """(label, row count) of the most frequent label of (M,) ``labels`` (M >= 1)."""
    values, counts = np.unique(labels, return_counts=True)
    i = int(np.argmax(counts))
    return int(values[i]), int(counts[i])


def _require_folds_fit_a_class(labels: np.ndarray, k: int, classes: Sequence[str] | None) -> None:
    """Raise :class:`ParamsError` unless some class has ``k`` rows (else no stratified split:
    scikit-learn refuses it). labels : (M,) int64 >= 0."""
    label, count = _largest_class(labels)
    if count >= k:
        return
    fewer = f"pass --folds {count} or fewer, or " if count >= 2 else ""
    raise ParamsError(
        f"--folds {k}: every class has fewer than {k} labelled rows (the largest, "
        f"{_class_name(label, classes)}, has {count}), so no stratified {k}-fold split "
        f"exists; {fewer}add samples"
    )


def kfold_splits(
    indices: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None,
    k: int,
    seed: int,
    classes: Sequence[str] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) pairs of row indices; a group is always entirely on one side.

    indices : (M,) rows taking part; labels : (M,) int64 class indices >= 0 and groups : (M,)
    aligned with ``indices``; classes : class names, for messages. Raises :class:`ParamsError`
    when there are fewer than ``k`` groups (or rows) or every class has fewer than ``k`` rows.
    """
    if k < 2:
        raise ParamsError(f"--folds must be at least 2, got {k}")
    n_units = len(np.unique(groups)) if groups is not None else len(indices)
    if n_units < k:
        what = "groups (subjects/clips)" if groups is not None else "labelled samples"
        raise ParamsError(f"{k} folds need at least {k} {what}; the input has {n_units}")
    _require_folds_fit_a_class(labels, k, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only ..."
        splitter = _splitter(k, groups, seed)
        parts = splitter.split(np.zeros(len(indices)), labels, groups)
        return [(np.sort(indices[a]), np.sort(indices[b])) for a, b in parts]


@dataclass(frozen=True)
class HoldoutFolds:
    """How a hold-out is cut: the validation rows are one fold of a ``used``-fold split, i.e.
    about ``1/used`` of the rows; ``wanted`` = ``round(1 / val_fraction)`` (at least 2).
    ``reason`` says why ``used < wanted`` (empty when they are equal)."""

    used: int
    wanted: int
    reason: str = ""


def _require_two_units_per_class(
    labels: np.ndarray, groups: np.ndarray | None, classes: Sequence[str] | None
) -> None:
    """Raise :class:`ParamsError` naming the first class with fewer than 2 rows (or groups):
    a hold-out could take its only one, leaving nothing of it to learn from."""
    for label in np.unique(labels):
        members = labels == label
        n = len(np.unique(groups[members])) if groups is not None else int(members.sum())
        if n < 2:
            name = _class_name(int(label), classes)
            raise ParamsError(
                f"cannot hold out a validation split from {len(labels)} labelled training rows: "
                f"class {name} has only {n} {_unit_word(groups, n)} (each class needs at least 2, "
                f"one to learn from and one to validate on); add samples of {name}, or pass "
                "--validation none"
            )


def holdout_folds(
    labels: np.ndarray,
    groups: np.ndarray | None,
    fraction: float,
    classes: Sequence[str] | None = None,
) -> HoldoutFolds:
    """The fold count of a hold-out of about ``fraction`` (> 0) of the rows.

    labels : (M,) int64 class indices >= 0; groups : (M,) or None. ``round(1 / fraction)``
    folds, capped by the number of groups (or rows) and, when every class is smaller than
    that, by the largest class (scikit-learn's stratified splits need one class with a row
    per fold). Raises :class:`ParamsError` with fewer than 2 groups/rows, or when the cap by
    class size is needed and some class has fewer than 2 rows (or groups)."""
    wanted = max(2, round(1 / fraction))
    n_units = len(np.unique(groups)) if groups is not None else len(labels)
    if n_units < 2:
        raise ParamsError("cannot hold out a validation split: fewer than 2 groups/samples")
    k = min(wanted, n_units)
    few = f"only {n_units} {_unit_word(groups, n_units)}" if k < wanted else ""
    label, count = _largest_class(labels)
    if count >= k:  # scikit-learn accepts it: the split every such input always had
        return HoldoutFolds(k, wanted, few)
    _require_two_units_per_class(labels, groups, classes)
    small = f"no class has {k} rows (the largest, {_class_name(label, classes)}, has {count})"
    return HoldoutFolds(count, wanted, f"{few} and {small}" if few else small)


def holdout_split(
    indices: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None,
    fraction: float,
    seed: int,
    classes: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about ``fraction`` of ``indices`` (whole groups) for validation: (train, val).

    indices, labels, groups : (M,) as for :func:`kfold_splits`; the validation rows are the
    first fold of :func:`holdout_folds` folds."""
    if fraction <= 0:
        return np.sort(indices), np.array([], dtype=np.int64)
    k = holdout_folds(labels, groups, fraction, classes).used
    return kfold_splits(indices, labels, groups, k, seed, classes)[0]


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """sklearn's "balanced" weights ``n / (K * count_k)`` (0 for a class with no samples)."""
    counts = np.bincount(labels[labels >= 0], minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights
