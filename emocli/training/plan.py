"""Run planning for finetune: which rows of the input each training run trains on, validates
on and predicts out of fold.

:func:`plan_runs` turns a :class:`~emocli.training.datamodule.SampleTable` and a
:class:`SplitPolicy` into :class:`Plan` objects: one run on the ``train`` (and unsplit) rows,
validated on the ``val`` split or on a hold-out of the training rows by group; or, with
``folds`` = K, K group-independent folds over every labelled non-test row (over the training
rows only with ``stacking``, plus one refit run on all of them with ``stacking="refit"``).
Row sets are (M,) int64 indices into the table's rows. The splits themselves are
:mod:`emocli.training.splits`'s (:func:`~emocli.training.splits.kfold_splits`,
:func:`~emocli.training.splits.holdout_split`). Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from emocli.errors import ParamsError
from emocli.training.options import subject_mask
from emocli.training.splits import holdout_folds, holdout_split, kfold_splits, resolve_groups

if TYPE_CHECKING:
    from emocli.training.datamodule import SampleTable


@dataclass(frozen=True)
class SplitPolicy:
    """finetune's options that choose the rows (same names and meanings as ``FinetuneParams``).

    validation : ``auto`` | ``split`` | ``holdout`` | ``none``; val_fraction : share of the
    training rows held out by group (0 = none); group_by : ``auto`` | subject | group | clip_id
    | none; test_subjects : subjects made the test split (``17-20``; empty = the input's
    splits); folds : K >= 2 for K-fold (0 = off); fold : run only fold i (-1 = all);
    stacking : ``none`` | ``mean`` | ``refit``; seed : of every split (fold i uses seed + i).
    """

    validation: str
    val_fraction: float
    group_by: str
    test_subjects: str
    folds: int
    fold: int
    stacking: str
    seed: int


@dataclass
class Plan:
    """One training run: row indices of the input to train on, validate on, and predict
    out of fold (``fold`` = -1 and ``test`` empty outside k-fold and for the model that
    ``--stacking refit`` trains on every training row)."""

    fold: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    val_source: str = "none"  # "split", "holdout" or "none"
    notes: list[str] = field(default_factory=list)  # fallbacks taken, for the summary


def _holdout(
    policy: SplitPolicy,
    table: SampleTable,
    rows: np.ndarray,
    groups: np.ndarray | None,
    seed: int,
    where: str,
) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """(train, val, val source, notes) for the training ``rows`` (M,) of ``table``: about
    ``val_fraction`` of them held out by group (``groups``: (M,) or None), unless validation
    is off. A note states a hold-out cut coarser than asked; ``where`` (``fold 2: ``)
    prefixes notes and errors."""
    if policy.validation == "none" or policy.val_fraction <= 0:
        return rows, rows[:0], "none", []
    labels, fraction, classes = table.label[rows], policy.val_fraction, table.classes
    try:
        folds = holdout_folds(labels, groups, fraction, classes)
        train, val = holdout_split(rows, labels, groups, fraction, seed, classes)
    except ParamsError as exc:
        raise ParamsError(f"{where}{exc}") from exc
    notes = []
    if folds.used < folds.wanted:
        notes.append(
            f"{where}validation hold-out of 1/{folds.used} of the training rows ({len(val)}) "
            f"instead of 1/{folds.wanted} (--val-fraction {fraction}): {folds.reason}"
        )
    return train, val, "holdout", notes


def plan_runs(policy: SplitPolicy, table: SampleTable) -> tuple[list[Plan], str]:
    """The training runs for ``table`` and the name of the grouping column used (``none`` when
    splits are stratified by class).

    ``test_subjects`` rewrites ``table.split`` in place (those subjects' rows become ``test``,
    other ``test`` rows unsplit). With ``stacking`` on a faces input, checks that no clip has
    frames in several folds (:func:`~emocli.training.stacking.clip_folds`), before any training.
    """
    group_name, groups = resolve_groups(table, policy.group_by)
    labelled = table.label >= 0
    if policy.test_subjects:
        held = subject_mask(table.subject, policy.test_subjects)
        if not held.any():
            raise ParamsError(
                f"--test-subjects {policy.test_subjects}: no row of {table.path} belongs to "
                f"these subjects (it has {len(set(table.subject.tolist()))} subjects)"
            )
        table.split = np.where(held, "test", np.where(table.split == "test", "", table.split))

    def grouped(rows: np.ndarray) -> np.ndarray | None:
        return groups[rows] if groups is not None else None

    def with_val(fold: int, rows: np.ndarray, seed: int, test: np.ndarray | None = None) -> Plan:
        where = f"fold {fold}: " if fold >= 0 else "refit: " if policy.folds else ""
        train, val, source, notes = _holdout(policy, table, rows, grouped(rows), seed, where)
        test = rows[:0] if test is None else test
        return Plan(fold, train, val, test, source, notes)

    if policy.folds:
        if policy.stacking != "none":  # the training rows only: val, test unseen by every fold
            pool = np.flatnonzero(labelled & np.isin(table.split, ["train", ""]))
        else:
            pool = np.flatnonzero(labelled & (table.split != "test"))
        if len(pool) == 0:
            raise ParamsError(f"{table.path}: no labelled rows to cross-validate")
        labels, k = table.label[pool], policy.folds
        splits = kfold_splits(pool, labels, grouped(pool), k, policy.seed, table.classes)
        plans = [
            with_val(i, rest, policy.seed + i, test)
            for i, (rest, test) in enumerate(splits)
            if policy.fold in (-1, i)
        ]
        if policy.stacking == "refit":  # and a model of every training row, for the others
            plans.append(with_val(-1, pool, policy.seed))
        if policy.stacking != "none" and table.kind == "faces":  # frames of one clip: one fold
            from emocli.training.stacking import clip_folds

            clip_folds(table, [p for p in plans if p.fold >= 0])
        return plans, group_name
    train = np.flatnonzero(labelled & np.isin(table.split, ["train", ""]))
    if len(train) == 0:
        raise ParamsError(
            f"{table.path}: no labelled 'train' rows to learn from (splits present: "
            f"{sorted(set(table.split.tolist()))})"
        )
    val = np.flatnonzero(labelled & (table.split == "val"))
    if policy.validation == "split" and len(val) == 0:
        raise ParamsError(f"--validation split: {table.path} has no labelled 'val' rows")
    if policy.validation in ("split", "auto") and len(val):
        return [Plan(-1, train, val, val_source="split")], group_name
    return [with_val(-1, train, policy.seed)], group_name
