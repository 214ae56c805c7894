"""A training run's per-epoch history, read from the ``metrics.csv`` of Lightning's CSV logger
(the rows of the epochs before a resume carried over)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def read_metric_rows(metrics_csv: Path) -> list[dict[str, str]]:
    """The rows of Lightning's ``metrics.csv`` as text (none when there is no file)."""
    if not metrics_csv.is_file():
        return []
    with open(metrics_csv, newline="") as fh:
        return [{k: v for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def read_history(
    metrics_csv: Path, earlier: Sequence[dict[str, str]] = ()
) -> dict[str, np.ndarray]:
    """Per-epoch metrics from Lightning's ``metrics.csv``: ``{name: (E,) float64}`` + ``epoch``.

    earlier : rows of the epochs before a resume (:func:`read_metric_rows` of that run).
    """
    if not earlier and not metrics_csv.is_file():
        return {}
    rows = [*earlier, *read_metric_rows(metrics_csv)]
    per_epoch: dict[int, dict[str, float]] = {}
    for row in rows:
        if not row.get("epoch"):
            continue
        epoch = int(float(row["epoch"]))
        slot = per_epoch.setdefault(epoch, {})
        for key, value in row.items():
            if key in ("epoch", "step") or value in ("", None):
                continue
            slot[key] = float(value)
    epochs = sorted(per_epoch)
    names = sorted({k for e in epochs for k in per_epoch[e]})
    history = {"epoch": np.asarray(epochs, dtype=np.float64)}
    for name in names:
        history[name] = np.asarray([per_epoch[e].get(name, np.nan) for e in epochs])
    return history
