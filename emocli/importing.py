"""Read another system's per-sample class probabilities (CSV) as :class:`Predictions`.

Predictions CSV: an id column (``clip_id`` and/or ``sample_id``), optional ``split``,
``subject``, ``fold`` and ``label`` columns, and one column per class name (any spelling
:func:`emocli.labels.normalise_class_name` understands: ``Angry``, ``anger`` ...). Ids are
read as text, so leading zeros survive. Labels CSV: ``clip_id`` or ``sample_id``, optional
``split`` and ``label`` (a class name; empty = unlabelled).

A row whose probabilities are missing, not finite, negative, or do not sum to 1 within a
tolerance is rejected with a reason (with ``renormalize`` a positive row that does not sum
to 1 is divided by its sum instead; a row summing to 0, or whose sum overflows, is rejected
either way); rejects are returned, never silently dropped.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emocli.errors import InputError
from emocli.labels import LabelTable, normalise_class_name, sort_classes
from emocli.predictions import Predictions
from emocli.stage_params.import_predictions import LEVELS, SUM_TOLERANCE

#: Columns that identify or describe a row; every other column is a class.
ID_FIELDS: tuple[str, ...] = ("sample_id", "clip_id", "split", "subject", "fold", "label")

#: What :func:`_check_sum` returns as the "reason" of a row it divided by its sum.
RENORMALISED = "renormalised"


@dataclass(frozen=True)
class Reject:
    """A CSV row that was not imported: its id, where it is (``file:line``) and why."""

    sample_id: str
    where: str
    reason: str


@dataclass
class ImportedPredictions:
    """The predictions read from a CSV, the rows rejected and what was inferred."""

    predictions: Predictions
    rejects: list[Reject]
    n_rows: int
    n_renormalised: int = 0
    id_column: str = "clip_id"
    notes: list[str] = field(default_factory=list)


def _open_csv(path: Path) -> tuple[list[str], list[dict[str, str]], list[int]]:
    """Header (stripped names), rows and their 1-based line numbers."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows, lines = [], []
            for raw in reader:
                rows.append({str(k).strip(): (v or "").strip() for k, v in raw.items() if k})
                lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from exc
    if not header:
        raise InputError(f"{path}: empty CSV (no header line)")
    return header, rows, lines


def read_labels(path: Path | str) -> LabelTable:
    """Read a labels CSV (``clip_id`` or ``sample_id``, optional ``split``, ``label``)."""
    path = Path(path)
    header, rows, lines = _open_csv(path)
    id_column = "clip_id" if "clip_id" in header else "sample_id" if "sample_id" in header else ""
    if not id_column or "label" not in header:
        raise InputError(
            f"{path}: a labels CSV needs a 'clip_id' (or 'sample_id') column and a 'label' "
            f"column; found {header}"
        )
    table = LabelTable(path, id_column, "split" in header)
    for row, line in zip(rows, lines, strict=True):
        key = row.get(id_column, "")
        if not key:
            raise InputError(f"{path}:{line}: empty {id_column}")
        label = row.get("label", "")
        table.add(row.get("split", ""), key, normalise_class_name(label) if label else "", line)
    return table


def _class_columns(path: Path, header: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Class names in canonical order and ``{class name: CSV column}``; refuses duplicates."""
    columns = [h for h in header if h and h.lower() not in ID_FIELDS]
    by_name: dict[str, str] = {}
    for column in columns:
        name = normalise_class_name(column)
        if name in by_name:
            raise InputError(
                f"{path}: columns {by_name[name]!r} and {column!r} both mean class {name!r}"
            )
        by_name[name] = column
    if len(by_name) < 2:
        raise InputError(
            f"{path}: expected one probability column per class (at least two) besides "
            f"{list(ID_FIELDS)}; found {list(header)}"
        )
    return sort_classes(list(by_name)), by_name


def _parse_probabilities(
    row: dict[str, str], classes: Sequence[str], column_of: dict[str, str]
) -> tuple[np.ndarray | None, str]:
    values = np.empty(len(classes), dtype=np.float64)
    for i, name in enumerate(classes):
        text = row.get(column_of[name], "")
        try:
            value = float(text)
        except ValueError:
            return None, f"missing or non-numeric probability for {name!r} ({text!r})"
        if not math.isfinite(value):
            return None, f"missing probability for {name!r} ({text!r})"
        if value < 0:
            return None, f"negative probability for {name!r} ({value})"
        values[i] = value
    return values, ""


def _row_sum(probs: np.ndarray) -> float:
    """The sum of a row's probabilities; ``inf`` (without a warning) when it overflows."""
    with np.errstate(over="ignore"):
        return float(probs.sum())


def _check_sum(
    probs: np.ndarray, renormalize: bool, tolerance: float
) -> tuple[np.ndarray | None, str]:
    """A row's probabilities as stored, or ``None`` and why the row is rejected.

    Accepted as given when ``|sum - 1| <= tolerance``; otherwise, with ``renormalize``,
    divided by their sum (the reason is then :data:`RENORMALISED`). A sum that overflows or
    is 0 is rejected either way: no division makes such a row a probability distribution.
    """
    total = _row_sum(probs)
    if not math.isfinite(total):
        return None, (
            f"probabilities too large: their sum overflows to {total}; give probabilities in [0, 1]"
        )
    if total == 0:
        return None, (
            "all probabilities are 0: an all-zero row cannot be renormalised; give the row "
            "its probabilities or remove it"
        )
    if abs(total - 1.0) <= tolerance:
        return probs, ""
    if not renormalize:
        return None, (
            f"probabilities sum to {total:.6g}, not 1 (±{tolerance:g}); "
            "pass --renormalize to divide them by their sum"
        )
    return probs / total, RENORMALISED


def _no_usable_rows(path: Path, rejects: Sequence[Reject]) -> InputError:
    """The error for a CSV whose every row was rejected: the first row of each reason."""
    if not rejects:
        return InputError(f"{path}: no usable rows (the file has a header but no data rows)")
    first: dict[str, str] = {}
    for reject in rejects:
        first.setdefault(reject.reason, reject.where)
    examples = "; ".join(f"{where}: {reason}" for reason, where in list(first.items())[:3])
    return InputError(f"{path}: no usable rows ({len(rejects)} rejected, e.g. {examples})")


def read_predictions_csv(
    path: Path | str,
    *,
    labels: Path | str | None = None,
    modality: str = "video",
    level: str = "auto",
    renormalize: bool = False,
    tolerance: float = SUM_TOLERANCE,
) -> ImportedPredictions:
    """Read a predictions CSV (and optionally a labels CSV) into :class:`Predictions`.

    probs : (N, K) float32 in canonical class order (:func:`emocli.labels.sort_classes`),
    values as given (or divided by their sum with ``renormalize``).
    level : ``auto`` -> ``frame`` when a ``sample_id`` column exists and clip ids repeat
    within a split, else ``clip``.
    Raises :class:`InputError` for a file that cannot be used at all (no id column, no
    class columns, every row rejected); bad rows become :class:`Reject` entries.
    """
    path = Path(path)
    if level not in LEVELS:
        raise InputError(f"level must be one of {list(LEVELS)}, not {level!r}")
    header, rows, lines = _open_csv(path)
    if "clip_id" not in header and "sample_id" not in header:
        raise InputError(f"{path}: needs a 'clip_id' or 'sample_id' column; found {header}")
    classes, column_of = _class_columns(path, header)
    label_table = read_labels(labels) if labels is not None else None
    id_column = "sample_id" if "sample_id" in header else "clip_id"
    if label_table is not None and label_table.id_column not in header:
        raise InputError(
            f"{label_table.path}: its ids are {label_table.id_column!r}, which {path} lacks"
        )

    rejects: list[Reject] = []
    kept: dict[str, list] = {k: [] for k in ("probs", "sample", "clip", "split", "subject")}
    kept_fold: list[int] = []
    kept_label: list[int] = []
    seen: dict[tuple[str, str], int] = {}
    n_renormalised = 0
    position = {name: i for i, name in enumerate(classes)}
    for row, line in zip(rows, lines, strict=True):
        where = f"{path.name}:{line}"
        sample = row.get(id_column, "")
        clip = row.get("clip_id", "")
        split = row.get("split", "")
        if not sample:
            rejects.append(Reject("", where, f"empty {id_column}"))
            continue
        probs, reason = _parse_probabilities(row, classes, column_of)
        if probs is None:
            rejects.append(Reject(sample, where, reason))
            continue
        probs, reason = _check_sum(probs, renormalize, tolerance)
        if probs is None:
            rejects.append(Reject(sample, where, reason))
            continue
        if reason == RENORMALISED:
            n_renormalised += 1
        label_name = normalise_class_name(row["label"]) if row.get("label") else ""
        if label_table is not None:
            lookup_key = row.get(label_table.id_column, "")
            found = label_table.lookup(split, lookup_key)
            if found is None and label_table.is_ambiguous(lookup_key) and not split:
                rejects.append(
                    Reject(
                        sample,
                        where,
                        f"{label_table.id_column} {lookup_key!r} is in several splits of "
                        f"{label_table.path.name}; add a 'split' column to {path.name}",
                    )
                )
                continue
            if found is not None:
                split = split or found[0]
                label_name = found[1] or label_name
        if label_name and label_name not in position:
            rejects.append(
                Reject(sample, where, f"label {label_name!r} is not one of the classes {classes}")
            )
            continue
        if (split, sample) in seen:
            rejects.append(
                Reject(
                    sample, where, f"duplicate {id_column} (first on line {seen[split, sample]})"
                )
            )
            continue
        seen[(split, sample)] = line
        fold_text = row.get("fold", "")
        try:
            fold = int(fold_text) if fold_text else -1
        except ValueError:
            rejects.append(Reject(sample, where, f"fold {fold_text!r} is not an integer"))
            continue
        kept["probs"].append(probs)
        kept["sample"].append(sample)
        kept["clip"].append(clip)
        kept["split"].append(split)
        kept["subject"].append(row.get("subject", ""))
        kept_fold.append(fold)
        kept_label.append(position[label_name] if label_name else -1)

    if not kept["probs"]:
        raise _no_usable_rows(path, rejects)

    sample_ids = np.array(kept["sample"], dtype=object)
    splits = np.array(kept["split"], dtype=object)
    notes: list[str] = []
    if len(set(sample_ids.tolist())) < len(sample_ids):
        # the same id in two splits (AFEW reuses clip ids between Train and Val): qualify it
        sample_ids = np.array([f"{s}/{i}" for s, i in zip(splits, sample_ids, strict=True)])
        notes.append(f"{id_column}s repeat across splits: sample ids are written as split/id")
    clip_ids = np.array(kept["clip"], dtype=object)
    if level == "auto":
        level = "clip"
        if id_column == "sample_id" and "clip_id" in header:
            pairs = [(s, c) for s, c in zip(splits, clip_ids, strict=True) if c]
            if len(set(pairs)) < len(pairs):
                level = "frame"
    preds = Predictions.build(
        classes,
        np.array(kept["probs"], dtype=np.float32),
        sample_ids,
        label=np.array(kept_label, dtype=np.int64),
        clip_id=clip_ids,
        subject=np.array(kept["subject"], dtype=object),
        split=splits,
        fold=np.array(kept_fold, dtype=np.int64),
        modality=modality,
        level=level,
    )
    return ImportedPredictions(preds, rejects, len(rows), n_renormalised, id_column, notes)
