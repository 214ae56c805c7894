"""Predictions artifacts: per-sample class probabilities plus the columns that identify samples.

Written by finetune, pretrain-gan, fuse and import-predictions; read by fuse and evaluate.
See docs/artifacts.md (kind ``predictions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emocli.artifacts import ArtifactWriter, open_artifact
from emocli.errors import ArtifactError

#: Identifying per-sample columns, all (N,) str except ``label`` and ``fold`` (int64).
ID_COLUMNS = ("sample_id", "clip_id", "subject", "split")


@dataclass
class Predictions:
    """In-memory predictions.

    probs : (N, K) float32, rows sum to 1, columns in ``classes`` order.
    label : (N,) int64 index into ``classes`` (-1 = unknown); fold : (N,) int64 (-1 = none).
    sample_id, clip_id, subject, split : (N,) str.
    modality : "face", "video", "audio", "fused" ...; level : "frame" or "clip".
    """

    classes: list[str]
    probs: np.ndarray
    label: np.ndarray
    sample_id: np.ndarray
    clip_id: np.ndarray
    subject: np.ndarray
    split: np.ndarray
    fold: np.ndarray
    modality: str = ""
    level: str = "frame"
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.probs.shape[0])

    @classmethod
    def build(
        cls,
        classes: list[str],
        probs: np.ndarray,
        sample_id: np.ndarray,
        *,
        label: np.ndarray | None = None,
        clip_id: np.ndarray | None = None,
        subject: np.ndarray | None = None,
        split: np.ndarray | None = None,
        fold: np.ndarray | None = None,
        modality: str = "",
        level: str = "frame",
    ) -> Predictions:
        """Fill the optional columns with their "unknown" values."""
        n = len(sample_id)
        blank = np.full(n, "", dtype=object)
        return cls(
            classes=list(classes),
            probs=np.asarray(probs, dtype=np.float32),
            label=np.full(n, -1, np.int64) if label is None else np.asarray(label, np.int64),
            sample_id=np.asarray(sample_id, dtype=str),
            clip_id=np.asarray(blank if clip_id is None else clip_id, dtype=str),
            subject=np.asarray(blank if subject is None else subject, dtype=str),
            split=np.asarray(blank if split is None else split, dtype=str),
            fold=np.full(n, -1, np.int64) if fold is None else np.asarray(fold, np.int64),
            modality=modality,
            level=level,
        )


def write_predictions(writer: ArtifactWriter, preds: Predictions) -> None:
    """Store ``preds`` in a ``predictions`` artifact writer."""
    writer.set_classes(preds.classes)
    writer.add_column("probs", preds.probs.astype(np.float32))
    writer.add_column("label", preds.label.astype(np.int64))
    writer.add_column("fold", preds.fold.astype(np.int64))
    for name in ID_COLUMNS:
        writer.add_column(name, getattr(preds, name))
    writer.set_attr("modality", preds.modality)
    writer.set_attr("level", preds.level)


def improbable_rows(probs: np.ndarray) -> dict[int, str]:
    """``{row: why}`` for the rows of (N, K) ``probs`` that cannot be probabilities.

    A row is refused when a value is not finite, a value is negative, or all are 0 (such a
    row says nothing and would be argmax-ed to the first class). Sums are not held to 1:
    an import may accept rows within a user-chosen tolerance.
    """
    values = np.asarray(probs, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        checks = (
            ("not finite", ~np.isfinite(values).all(axis=1)),
            ("negative", (values < 0).any(axis=1)),
            ("all zero", ~(values != 0).any(axis=1)),
        )
    why: dict[int, str] = {}
    for reason, bad in checks:
        for row in np.flatnonzero(bad).tolist():
            why.setdefault(row, reason)
    return dict(sorted(why.items()))


def not_probabilities(
    path: Path | str, why: dict[int, str], sample_ids: np.ndarray, shown: int = 3
) -> ArtifactError:
    """The error naming the rows ``why`` (from :func:`improbable_rows`) of ``path``."""
    first = "; ".join(
        f"row {row} ({str(sample_ids[row])!r}): {reason}"
        for row, reason in list(why.items())[:shown]
    )
    more = f" and {len(why) - shown} more" if len(why) > shown else ""
    return ArtifactError(
        f"{path}: {len(why)} {'row is' if len(why) == 1 else 'rows are'} not probabilities "
        f"({first}{more}); rewrite the artifact with the stage that made it (import-predictions "
        "rejects such rows)"
    )


def load_predictions(path: Path | str) -> Predictions:
    """Read a ``predictions`` artifact; :class:`ArtifactError` if it is not one or is malformed
    (including rows that are not probabilities: see :func:`improbable_rows`)."""
    with open_artifact(path, "predictions") as art:
        probs = art.column("probs")
        if probs.ndim != 2 or probs.shape[1] != len(art.classes):
            raise ArtifactError(
                f"{path}: probs has shape {probs.shape} but the artifact has "
                f"{len(art.classes)} classes"
            )
        n = probs.shape[0]

        def text(name: str) -> np.ndarray:
            return art.column(name) if art.has(name) else np.full(n, "", dtype=str)

        why = improbable_rows(probs)
        if why:
            raise not_probabilities(path, why, text("sample_id"))

        return Predictions(
            classes=art.classes,
            probs=probs.astype(np.float32),
            label=art.column("label") if art.has("label") else np.full(n, -1, np.int64),
            fold=art.column("fold") if art.has("fold") else np.full(n, -1, np.int64),
            modality=str(art.attrs.get("modality", "")),
            level=str(art.attrs.get("level", "frame")),
            source=str(path),
            sample_id=text("sample_id"),
            clip_id=text("clip_id"),
            subject=text("subject"),
            split=text("split"),
        )
