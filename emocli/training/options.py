"""Which rows a training run uses: subjects named by ranges, and the column that keeps related
rows together in dev splits and folds (the choices themselves: :mod:`emocli.stage_params.choices`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from emocli.errors import ParamsError
from emocli.stage_params.choices import GROUP_COLUMNS, parse_subjects


def subject_mask(subjects: np.ndarray, text: str) -> np.ndarray:
    """(N,) bool: rows whose subject is named in ``text`` or falls in one of its ranges
    (numeric subjects such as RAVDESS actors ``"17"``, or ``"S017"``; names compare exactly)."""
    names, ranges = parse_subjects(text)

    def selected(subject: str) -> bool:
        if subject in names:
            return True
        digits = subject.lstrip("Ss")
        return digits.isdigit() and any(lo <= int(digits) <= hi for lo, hi in ranges)

    return np.array([selected(str(s)) for s in subjects], dtype=bool)


def pick_groups(
    values_of: Callable[[str], np.ndarray | None], group_by: str
) -> tuple[str, np.ndarray | None]:
    """The grouping column for leakage-free splits: ``auto`` takes the first of
    :data:`GROUP_COLUMNS` that is filled in; ``none`` (or nothing filled in) stratifies by
    class only. ``values_of(name)`` gives a column's (N,) str values, ``None`` when absent.
    Returns (column name or ``"none"``, its values or ``None``)."""
    if group_by == "none":
        return "none", None
    for name in GROUP_COLUMNS if group_by == "auto" else (group_by,):
        values = values_of(name)
        if values is None:
            if group_by != "auto":
                raise ParamsError(
                    f"--group-by {group_by}: the input has no such column "
                    f"(use one of {', '.join(GROUP_COLUMNS)}, auto or none)"
                )
            continue
        if np.any(values != ""):
            return name, values
    if group_by != "auto":
        raise ParamsError(f"--group-by {group_by}: the column is empty in this input")
    return "none", None
