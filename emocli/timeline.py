"""The files ``emocli predict`` writes: per-clip predictions (CSV, JSON), per-frame timelines
(CSV, PNG) and the tracked face (CSV of boxes, contact sheet PNG).

Every file is written to a temporary name next to its target and moved into place with
:func:`os.replace`, so an interrupted run never leaves a half-written file. matplotlib and
OpenCV are imported inside the functions that draw.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emocli.predict.results import FUSION_SINGLE, ClipResult, PredictResult

#: Resolution of the timeline PNGs (dots per inch).
DPI = 110
#: Faces per row of a face-track contact sheet, and the most faces shown.
SHEET_COLUMNS, SHEET_MAX_FACES = 10, 40
#: Decimals of the probabilities in CSV files.
DECIMALS = 6


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """``write(tmp)`` then ``os.replace(tmp, path)``; the temporary is removed on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _prob(value: float) -> str:
    return f"{value:.{DECIMALS}f}"


def predictions_rows(result: PredictResult) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per clip: file, modalities, fusion, predicted class, P(class)..."""
    header = ["file", "clip", "modalities", "fusion", "predicted", *result.classes]
    rows = []
    for clip in result.clips:
        probs = [""] * len(result.classes) if clip.probs is None else [_prob(p) for p in clip.probs]
        rows.append(
            [
                str(clip.path),
                clip.name,
                "+".join(clip.modalities),
                clip.fusion,
                clip.predicted(result.classes),
                *probs,
            ]
        )
    return header, rows


def predictions_json(result: PredictResult) -> dict[str, Any]:
    """The JSON document: classes, then per clip its probabilities, per modality too, and notes."""

    def as_dict(values: np.ndarray | None) -> dict[str, float] | None:
        if values is None:
            return None
        return {c: round(float(v), DECIMALS) for c, v in zip(result.classes, values, strict=True)}

    return {
        "classes": result.classes,
        "clips": [
            {
                "file": str(clip.path),
                "clip": clip.name,
                "kind": clip.kind,
                "modalities": clip.modalities,
                "fusion": clip.fusion,
                "predicted": clip.predicted(result.classes),
                "probabilities": as_dict(clip.probs),
                "modality_probabilities": {m: as_dict(p) for m, p in clip.modality_probs.items()},
                "frames": len(clip.frames),
                "frames_with_face": sum(f.probs is not None for f in clip.frames),
                "notes": clip.notes,
            }
            for clip in result.clips
        ],
    }


def timeline_rows(clip: ClipResult, classes: Sequence[str]) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per sampled frame: index, time (s), face box, status, P(class)..."""
    header = ["frame", "time_s", "x", "y", "w", "h", "status", *classes]
    rows = []
    for frame in clip.frames:
        box = ["", "", "", ""] if frame.box is None else [f"{v:.1f}" for v in frame.box]
        probs = [""] * len(classes) if frame.probs is None else [_prob(p) for p in frame.probs]
        rows.append([frame.index, f"{frame.time:.3f}", *box, frame.status, *probs])
    return header, rows


def plot_timeline(path: Path, clip: ClipResult, classes: Sequence[str]) -> Path:
    """A PNG of the per-frame probability of each class over time; frames without a face grey."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    times = np.array([f.time for f in clip.frames])
    probs = np.array(
        [f.probs if f.probs is not None else np.full(len(classes), np.nan) for f in clip.frames]
    ).reshape(len(clip.frames), len(classes))
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    for t, row in zip(times, probs, strict=True):
        if np.isnan(row).all():
            ax.axvspan(t - step / 2, t + step / 2, color="0.85", lw=0)
    for k, name in enumerate(classes):
        ax.plot(times, probs[:, k], marker="o", ms=3, lw=1.4, label=name)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    title = clip.name
    if clip.probs is not None:
        via = "+".join(clip.modalities)
        if clip.fusion != FUSION_SINGLE:
            via = f"{clip.fusion} of {via}"
        title += f": {clip.predicted(classes)} ({float(np.max(clip.probs)):.0%}, {via})"
    ax.set_title(title + "\nper-frame face model probabilities (grey: no face)", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def track_rows(clip: ClipResult) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per sampled frame: the tracked face's box (empty when lost)."""
    header = ["frame", "time_s", "x", "y", "w", "h", "status"]
    rows = []
    for frame in clip.frames:
        box = ["", "", "", ""] if frame.box is None else [f"{v:.1f}" for v in frame.box]
        rows.append([frame.index, f"{frame.time:.3f}", *box, frame.status])
    return header, rows


def face_sheet(path: Path, faces: np.ndarray) -> Path:
    """Up to :data:`SHEET_MAX_FACES` of the clip's face crops (evenly spread), one PNG."""
    import cv2

    from emocli.faces.sheet import contact_sheet

    pick = np.unique(np.linspace(0, len(faces) - 1, min(len(faces), SHEET_MAX_FACES)).round())
    chosen = [faces[int(i)] for i in pick]
    rows = [
        (f"{len(faces)} faces" if start == 0 else "", chosen[start : start + SHEET_COLUMNS])
        for start in range(0, len(chosen), SHEET_COLUMNS)
    ]
    sheet = contact_sheet(rows, min(SHEET_COLUMNS, len(chosen)))
    ok, data = cv2.imencode(".png", sheet)
    if not ok:
        raise OSError(f"cannot encode {path}")
    return atomic_write(path, lambda tmp: tmp.write_bytes(data.tobytes()))


def write_outputs(result: PredictResult, out: Path) -> dict[str, Path]:
    """Write every output into ``out``; returns ``{label: path}`` of what was written."""
    written: dict[str, Path] = {}
    header, rows = predictions_rows(result)
    written["predictions.csv"] = _write_text(out / "predictions.csv", _csv_text(header, rows))
    document = json.dumps(predictions_json(result), indent=2, allow_nan=False)
    written["predictions.json"] = _write_text(out / "predictions.json", document + "\n")
    for clip in result.clips:
        if not clip.frames:
            continue
        header, rows = timeline_rows(clip, result.classes)
        name = clip.name
        written[f"timeline-{name}.csv"] = _write_text(
            out / f"timeline-{name}.csv", _csv_text(header, rows)
        )
        written[f"timeline-{name}.png"] = plot_timeline(
            out / f"timeline-{name}.png", clip, result.classes
        )
        header, rows = track_rows(clip)
        written[f"track-{name}.csv"] = _write_text(
            out / f"track-{name}.csv", _csv_text(header, rows)
        )
        if clip.faces is not None and len(clip.faces):
            written[f"track-{name}.png"] = face_sheet(out / f"track-{name}.png", clip.faces)
    return written
