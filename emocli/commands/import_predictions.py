"""`emocli import-predictions`: another system's per-sample probabilities (CSV) -> a predictions artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from emocli.commands.common import Config, Force, Output, Workdir


def guess_modality(csv_path: Path) -> str:
    """``audio`` when the file name mentions audio, else ``video``."""
    return "audio" if "audio" in csv_path.name.lower() else "video"


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
    level: Annotated[
        str, typer.Option("--level", help="frame, clip or auto (frame if clip ids repeat).")
    ] = "auto",
    renormalize: Annotated[
        bool,
        typer.Option(
            "--renormalize", help="Divide rows that do not sum to 1 by their sum (else reject)."
        ),
    ] = False,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Accepted |sum of a row - 1|.")
    ] = 0.01,
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
) -> None:
    """Import another system's per-sample class probabilities (CSV) to fuse and evaluate them.

    Example: emocli import-predictions audio_vgg16.csv --labels labels.csv
    """
    from emocli.console import console, execute, print_result
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import import_predictions as stage

    def action(progress: ProgressHook) -> StageResult:
        params = stage.ImportPredictionsParams(
            modality=modality or guess_modality(csv_path),
            level=level,
            renormalize=renormalize,
            tolerance=tolerance,
        )
        out = output or resolve_workspace(workdir).default_output("predictions", csv_path)
        return stage.run(params, csv_path, out, labels=labels, force=force, progress=progress)

    result = execute(action)
    print_result(result)
    s = result.summary
    console.print(
        f"{s['imported']} of {s['rows']} rows imported ({s['modality']}, {s['level']} level, "
        f"{len(s['classes'])} classes; labelled per split: {s['labelled_per_split']})"
    )
    if s["rejected"]:
        console.print(f"[yellow]{s['rejected']} rows rejected[/] (all listed in rejects/):")
        for line in s["first_rejects"]:
            console.print(f"  {line}")
    for note in s.get("notes", []):
        console.print(f"note: {note}")
