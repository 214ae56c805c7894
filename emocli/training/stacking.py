"""Stacking: which fold model never saw a row, so that its prediction is out of fold.

``finetune --folds K --stacking`` trains K fold models over the training rows; a fuser then
learns from each training row's prediction by the one model that held it out (Wolpert 1992,
stacked generalisation). A plan here is any object with ``fold`` (int) and ``test`` (the
input rows that fold holds out, (M,) int64); tables are
:class:`~emocli.training.datamodule.SampleTable` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emocli.errors import ParamsError


def clip_folds(table: Any, plans: Sequence[Any]) -> dict[str, int]:
    """Clip id -> the fold that holds out every row of that clip, for the fold plans.

    Raises :class:`ParamsError` when a clip has rows in several folds: then no fold model is
    out of fold for it (checked before any training)."""
    folds_of: dict[str, set[int]] = {}
    for plan in plans:
        for clip in table.clip_id[plan.test]:
            if clip:
                folds_of.setdefault(str(clip), set()).add(plan.fold)
    straddling = sorted(c for c, f in folds_of.items() if len(f) > 1)
    if straddling:
        raise ParamsError(
            f"--stacking: {len(straddling)} clips of {table.path} (e.g. {straddling[0]!r}) have "
            "rows in several folds, so no fold model is out of fold for them; keep clips whole "
            "with --group-by clip_id (or subject)"
        )
    return {clip: folds.pop() for clip, folds in folds_of.items()}


def held_out_fold(table: Any, target: Any, plans: Sequence[Any], same: bool) -> np.ndarray:
    """(N,) int64 per ``target`` row: the fold whose model never saw it, -1 for rows no fold
    trained on. ``same``: the target is the input itself (rows matched by index); otherwise
    training rows of the target (split ``train`` or unsplit) are matched to the input's
    held-out rows by clip id."""
    owner = np.full(len(target.label), -1, np.int64)
    if same:
        for plan in plans:
            owner[plan.test] = plan.fold
        return owner
    clip_fold = clip_folds(table, plans)
    training = np.isin(target.split, ["train", ""])
    for i, clip in enumerate(target.clip_id):
        if training[i] and str(clip) in clip_fold:
            owner[i] = clip_fold[str(clip)]
    return owner
