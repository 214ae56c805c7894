"""`emocli import-predictions`: another system's per-sample probabilities (CSV) -> predictions."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from emocli.commands.common import OUTPUT, StageCall, argument, option, run_and_report, with_params
from emocli.stage_params.import_predictions import ImportPredictionsParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(ImportPredictionsParams)
def command(
    call: StageCall,
    csv_path: Path = argument(
        "CSV: clip_id or sample_id, optional split/subject/fold/label, one probability column "
        "per class name."
    ),
    labels: Optional[Path] = option(
        "Labels CSV (clip_id or sample_id, optional split, label = class name)."
    ),
    modality: Optional[str] = option(
        "face, video, audio ... \\[default: audio if the file name contains 'audio', else video]."
    ),
    output: Optional[Path] = OUTPUT,
) -> None:
    """Import another system's per-sample class probabilities (CSV) to fuse and evaluate them.

    Example: emocli import-predictions audio_vgg16.csv --labels labels.csv
    """
    from stages import import_predictions as stage

    def action(progress: ProgressHook) -> StageResult:
        params = call.params(modality=modality or stage.guess_modality(csv_path))
        out = output or call.workspace.default_output("predictions", csv_path)
        return stage.run(params, csv_path, out, labels=labels, **call.options(progress))

    run_and_report(action, stage.describe)
