"""`emocli import-predictions`: another system's per-sample probabilities (CSV) -> predictions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Output, Workdir, run_and_report, with_params
from emocli.stage_params.import_predictions import ImportPredictionsParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(ImportPredictionsParams)
def command(
    csv_path: Annotated[
        Path,
        typer.Argument(
            help="CSV: clip_id or sample_id, optional split/subject/fold/label, one probability "
            "column per class name.",
            show_default=False,
        ),
    ],
    labels: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--labels",
            help="Labels CSV (clip_id or sample_id, optional split, label = class name).",
        ),
    ] = None,
    modality: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--modality",
            help="face, video, audio ... \\[default: audio if the file name contains 'audio', "
            "else video].",
            show_default=False,
        ),
    ] = None,
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
    **values: Any,
) -> None:
    """Import another system's per-sample class probabilities (CSV) to fuse and evaluate them.

    Example: emocli import-predictions audio_vgg16.csv --labels labels.csv
    """
    from emocli.workspace import resolve_workspace
    from stages import import_predictions as stage

    def action(progress: ProgressHook) -> StageResult:
        modality_name = modality or stage.guess_modality(csv_path)
        params = ImportPredictionsParams(**values, modality=modality_name)
        out = output or resolve_workspace(workdir).default_output("predictions", csv_path)
        return stage.run(params, csv_path, out, labels=labels, force=force, progress=progress)

    run_and_report(action, stage.describe)
