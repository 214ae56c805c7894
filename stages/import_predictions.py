"""import-predictions: another system's per-sample class probabilities (CSV) -> ``predictions``.

So that emocli can fuse and evaluate models it did not train (the thesis's own AFEW
predictions, a colleague's model ...). The CSV format and the row checks are described in
:mod:`emocli.importing`; rejected rows go to the artifact's ``rejects/`` group.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from emocli.artifacts import ArtifactWriter, InputRef, fingerprint_raw
from emocli.importing import read_predictions_csv
from emocli.metrics import class_distribution
from emocli.predictions import write_predictions
from emocli.progress import ProgressHook, no_progress
from emocli.stage import OutputSpec, StageInfo, StageResult, run_stage
from emocli.stage_params.import_predictions import ImportPredictionsParams

STAGE = StageInfo("import-predictions", 1)

#: Rejects listed in the stage summary (all of them are in the artifact's ``rejects/``).
SUMMARY_REJECTS = 5


def guess_modality(csv_path: Path) -> str:
    """The modality of a CSV without ``--modality``: ``audio`` when the file name mentions
    audio, else ``video``."""
    return "audio" if "audio" in Path(csv_path).name.lower() else "video"


def run(
    params: ImportPredictionsParams,
    csv_path: Path,
    output: Path,
    labels: Path | None = None,
    force: bool = False,
    progress: ProgressHook = no_progress,
) -> StageResult:
    """Import ``csv_path`` (and the labels CSV ``labels``) into the predictions artifact ``output``."""
    inputs: list[InputRef] = [fingerprint_raw(csv_path, role="csv_path")]
    if labels is not None:
        inputs.append(fingerprint_raw(labels, role="labels"))

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        progress("reading CSV", 0, 1)
        imported = read_predictions_csv(
            csv_path,
            labels=labels,
            modality=params.modality,
            level=params.level,
            renormalize=params.renormalize,
            tolerance=params.tolerance,
        )
        preds = imported.predictions
        writer = writers["predictions"]
        write_predictions(writer, preds)
        rejects = imported.rejects
        writer.write_group(
            "rejects",
            {
                "sample_id": np.array([r.sample_id for r in rejects], dtype=object),
                "path": np.array([r.where for r in rejects], dtype=object),
                "reason": np.array([r.reason for r in rejects], dtype=object),
            },
        )
        progress("reading CSV", 1, 1)
        distribution = class_distribution(preds.label, preds.split, len(preds.classes))
        return {
            "rows": imported.n_rows,
            "imported": len(preds),
            "rejected": len(rejects),
            "renormalised": imported.n_renormalised,
            "reject_reasons": dict(Counter(r.reason.split(" (")[0] for r in rejects)),
            "first_rejects": [f"{r.where}: {r.reason}" for r in rejects[:SUMMARY_REJECTS]],
            "modality": preds.modality,
            "level": preds.level,
            "classes": preds.classes,
            "labelled": int((preds.label >= 0).sum()),
            "labelled_per_split": {
                split: int(counts.sum()) for split, counts in distribution.items()
            },
            "rows_per_split": dict(Counter(preds.split.tolist())),
            "notes": imported.notes,
        }

    outputs = {"predictions": OutputSpec(Path(output), "predictions")}
    return run_stage(STAGE, params, inputs, outputs, build, force)


def describe(result: StageResult) -> list[str]:
    """What the terminal shows of a run: rows imported, the first rejected ones, notes."""
    s = result.summary
    lines = [
        f"{s['imported']} of {s['rows']} rows imported ({s['modality']}, {s['level']} level, "
        f"{len(s['classes'])} classes; labelled per split: {s['labelled_per_split']})"
    ]
    if s["rejected"]:
        lines.append(f"[yellow]{s['rejected']} rows rejected[/] (all listed in rejects/):")
        lines += [f"  {line}" for line in s["first_rejects"]]
    return lines + [f"note: {note}" for note in s.get("notes", [])]
