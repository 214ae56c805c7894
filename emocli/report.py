"""The written side of an evaluation: ``metrics.json`` and ``report.md`` (tables + pictures).

:class:`InputEvaluation` holds everything measured on one predictions artifact;
:func:`metrics_document` turns a list of them into JSON, :func:`render_report` into
markdown that links the PNGs written next to it. Pure functions: the caller writes files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emocli import __version__
from emocli.metrics import ClassificationMetrics, FoldSummary
from emocli.render import COMPARISON_COLUMNS


@dataclass
class InputEvaluation:
    """The evaluation of one predictions artifact on one split.

    split : the split evaluated (``all`` = every labelled row); requested : what was asked.
    distribution : labelled samples per class (K,) of every split of the artifact.
    figures : ``{"confusion" | "f1" | "distribution" | "curves": PNG file name}``.
    """

    name: str
    path: str
    modality: str
    level: str
    split: str
    requested: str
    n_rows: int
    n_unlabelled: int
    metrics: ClassificationMetrics
    folds: FoldSummary | None = None
    distribution: dict[str, np.ndarray] = field(default_factory=dict)
    model: str = ""
    history: dict[str, np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    def headline(self) -> dict[str, Any]:
        """The figures of the comparison table (JSON-ready)."""
        row: dict[str, Any] = {
            "name": self.name,
            "modality": self.modality,
            "level": self.level,
            "split": self.split,
            "n": self.metrics.n,
            "accuracy": self.metrics.accuracy,
            "macro_f1": self.metrics.macro_f1,
            "weighted_f1": self.metrics.weighted_f1,
        }
        if self.folds is not None:
            row["folds"] = {
                "n": len(self.folds.folds),
                "mean": self.folds.mean,
                "std": self.folds.std,
            }
        return row


def metrics_document(evaluations: Sequence[InputEvaluation], requested: str) -> dict[str, Any]:
    """The content of ``metrics.json``."""
    inputs = []
    for ev in evaluations:
        entry = {
            **ev.headline(),
            "path": ev.path,
            "requested_split": ev.requested,
            "n_rows": ev.n_rows,
            "n_unlabelled_in_split": ev.n_unlabelled,
            "classes": ev.metrics.classes,
            "metrics": ev.metrics.as_dict(),
            "folds": None if ev.folds is None else ev.folds.as_dict(),
            "class_distribution": {s: c.tolist() for s, c in ev.distribution.items()},
            "model": ev.model,
            "notes": ev.notes,
            "figures": ev.figures,
        }
        inputs.append(entry)
    return {"emocli_version": __version__, "requested_split": requested, "inputs": inputs}


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _fold_cell(ev: InputEvaluation) -> str:
    if ev.folds is None:
        return "-"
    mean, std = ev.folds.mean["accuracy"], ev.folds.std["accuracy"]
    return f"{100 * mean:.2f} ± {100 * std:.2f} % ({len(ev.folds.folds)} folds)"


def comparison_rows(evaluations: Sequence[InputEvaluation]) -> list[list[str]]:
    """One row per input: name, modality, level, split, n, accuracy, macro-F1, weighted-F1, folds."""
    return [
        [
            ev.name,
            ev.modality or "-",
            ev.level,
            ev.split,
            str(ev.metrics.n),
            _pct(ev.metrics.accuracy),
            _pct(ev.metrics.macro_f1),
            _pct(ev.metrics.weighted_f1),
            _fold_cell(ev),
        ]
        for ev in evaluations
    ]


COMPARISON_HEADER = (*COMPARISON_COLUMNS, "folds (accuracy mean ± std)")


def _split_phrase(ev: InputEvaluation) -> str:
    if ev.split == "all":
        return "all labelled rows (no split given)"
    return f"split `{ev.split}`"


def _input_section(ev: InputEvaluation) -> list[str]:
    m = ev.metrics
    lines = [
        f"## {ev.name}",
        "",
        f"Source: `{ev.path}` ({ev.modality or 'unknown modality'}, {ev.level} level, "
        f"{ev.n_rows} rows). Evaluated on {_split_phrase(ev)}: {m.n} labelled rows"
        + (f", {ev.n_unlabelled} unlabelled rows of that split left out" if ev.n_unlabelled else "")
        + ".",
        "",
        f"Accuracy **{_pct(m.accuracy)}** ({int(np.trace(m.confusion))}/{m.n}), "
        f"macro-F1 {_pct(m.macro_f1)}, weighted-F1 {_pct(m.weighted_f1)}.",
        "",
    ]
    for note in ev.notes:
        lines += [f"> {note}", ""]
    lines += ["### Per class", ""]
    lines += _table(
        ("class", "precision", "recall", "F1", "support"),
        [
            [c, f"{m.precision[i]:.3f}", f"{m.recall[i]:.3f}", f"{m.f1[i]:.3f}", int(m.support[i])]
            for i, c in enumerate(m.classes)
        ],
    )
    lines += ["", "### Confusion matrix (rows: true class, columns: predicted)", ""]
    lines += _table(
        ("true \\ predicted", *m.classes, "total"),
        [
            [c, *(int(v) for v in m.confusion[i]), int(m.confusion[i].sum())]
            for i, c in enumerate(m.classes)
        ],
    )
    if "confusion" in ev.figures:
        lines += ["", f"![confusion matrix of {ev.name}]({ev.figures['confusion']})"]
    if ev.folds is not None:
        lines += ["", "### Folds", ""]
        lines += _table(
            ("fold", "n", "accuracy", "macro-F1", "weighted-F1"),
            [
                [f, fm.n, _pct(fm.accuracy), _pct(fm.macro_f1), _pct(fm.weighted_f1)]
                for f, fm in zip(ev.folds.folds, ev.folds.per_fold, strict=True)
            ]
            + [
                [
                    "mean ± std",
                    "",
                    *(
                        f"{100 * ev.folds.mean[k]:.2f} ± {100 * ev.folds.std[k]:.2f} %"
                        for k in ("accuracy", "macro_f1", "weighted_f1")
                    ),
                ]
            ],
        )
    if ev.distribution:
        lines += ["", "### Class distribution (labelled rows of every split)", ""]
        lines += _table(
            ("split", *m.classes, "total"),
            [
                [s, *(int(v) for v in counts), int(counts.sum())]
                for s, counts in ev.distribution.items()
            ],
        )
        if "distribution" in ev.figures:
            lines += ["", f"![class distribution of {ev.name}]({ev.figures['distribution']})"]
    if "curves" in ev.figures:
        lines += [
            "",
            "### Training curves",
            "",
            f"From the model artifact `{ev.model}`.",
            "",
            f"![training curves of {ev.name}]({ev.figures['curves']})",
        ]
    return [*lines, ""]


def render_report(
    evaluations: Sequence[InputEvaluation], requested: str, shared_figures: Mapping[str, str]
) -> str:
    """``report.md``: comparison table, per-class F1 picture, then one section per input."""
    names = ", ".join(ev.name for ev in evaluations)
    splits = sorted({ev.split for ev in evaluations})
    lines = [
        f"# Evaluation: {names}",
        "",
        f"Split evaluated: **{', '.join(splits)}** (requested: `{requested}`). Predicted class = "
        "argmax of each row's probabilities; unlabelled rows are left out. Written by "
        f"emocli {__version__}.",
        "",
        "## Summary",
        "",
        *_table(COMPARISON_HEADER, comparison_rows(evaluations)),
        "",
    ]
    if "f1" in shared_figures:
        lines += [f"![per-class F1]({shared_figures['f1']})", ""]
    for ev in evaluations:
        lines += _input_section(ev)
    return "\n".join(lines).rstrip() + "\n"
