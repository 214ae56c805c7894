"""`emocli predict`: emotion probabilities of new videos, images or audio files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from emocli.commands.common import Workdir

#: Output folder inside the workspace's reports folder.
DEFAULT_SUBDIR = "predict"
#: Class names are cut to this many characters in the table's header.
CLASS_HEADER = 4


def command(
    clips: Annotated[
        list[Path],
        typer.Argument(help="Videos, images or audio files to predict.", show_default=False),
    ],
    face_model: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--face-model", help="Face model artifact (finetune on faces)."),
    ] = None,
    audio_model: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--audio-model", help="Audio model artifact (finetune on spectrograms)."),
    ] = None,
    fuser: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--fuser",
            help="Fuser model artifact (emocli fuse) \\[default: mean of the modalities].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            help="Output folder \\[default: <workdir>/reports/predict].",
            show_default=False,
        ),
    ] = None,
    workdir: Workdir = None,
) -> None:
    """Predict the emotion of videos, images or audio files with trained models.

    Frames, faces and log-mel spectrograms are prepared with the parameters stored in the
    models. Writes predictions.csv/json, and per clip a timeline (CSV, PNG) and the face track.

    Example: emocli predict clip.mp4 --face-model models/face.h5 --audio-model models/audio.h5
    """
    from emocli.console import console, execute
    from emocli.predict import load_predictor, predict
    from emocli.progress import ProgressHook
    from emocli.timeline import write_outputs
    from emocli.workspace import resolve_workspace

    out = output or resolve_workspace(workdir).dir_for("evaluation") / DEFAULT_SUBDIR

    def action(progress: ProgressHook) -> tuple[object, dict[str, Path]]:
        predictor = load_predictor(face_model, audio_model, fuser)
        result = predict(clips, predictor, progress)
        try:
            written = write_outputs(result, out)
        except OSError as exc:
            from emocli.errors import InputError

            raise InputError(f"cannot write the outputs in {out}: {exc}") from exc
        return result, written

    result, written = execute(action, preload=("torch",))
    _print_table(result)
    console.print(f"[green]predict[/]: wrote {len(written)} files in {out}")


def _print_table(result: object) -> None:
    """Per clip: the modalities used, the predicted class and every class's probability (%)."""
    from rich import box
    from rich.table import Table

    from emocli.console import console
    from emocli.predict import PredictResult

    assert isinstance(result, PredictResult)
    fusions = sorted({c.fusion for c in result.clips if c.fusion})
    table = Table(
        title="Per-clip probabilities (%)",
        title_justify="left",
        caption=f"fusion: {', '.join(fusions)}" if fusions else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("clip", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("pred", style="bold", no_wrap=True)
    for name in result.classes:
        table.add_column(name[:CLASS_HEADER], justify="right", no_wrap=True)
    for clip in result.clips:
        if clip.probs is None:
            cells = ["-"] * len(result.classes)
        else:
            best = int(clip.probs.argmax())
            cells = [
                f"[bold]{p * 100:.0f}[/]" if k == best else f"{p * 100:.0f}"
                for k, p in enumerate(clip.probs)
            ]
        table.add_row(
            clip.name,
            "+".join(clip.modalities) or "-",
            clip.predicted(result.classes) or "-",
            *cells,
        )
    console.print(table)
    for clip in result.clips:
        for note in clip.notes:
            console.print(f"[yellow]{clip.name}[/]: {note}")
