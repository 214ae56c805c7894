"""`emocli build-spectrograms`: normalised log-mel spectrograms (and images) of audio clips."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Output, Workdir, run_and_report, with_params
from emocli.stage_params.spectrograms import BuildSpectrogramsParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(BuildSpectrogramsParams)
def command(
    audio: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Argument(
            help="An audio artifact (from extract-audio); default: the only one in "
            "<workdir>/audio/.",
            show_default=False,
        ),
    ] = None,
    stats_from: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--stats-from",
            help="Reuse the front end and statistics of this spectrograms artifact (for val/test "
            "sets: nothing of this artifact enters the statistics).",
        ),
    ] = None,
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
    **values: Any,
) -> None:
    """Log-mel spectrograms of an audio artifact: pad, pre-emphasis, 25 ms Hamming frames,
    40 mel bands, log, per-spectrogram then training-set normalisation.

    Example: emocli build-spectrograms emocli-work/audio/ravdess.h5 --train-subjects 01-16
    """
    from emocli.workspace import resolve_workspace
    from stages import build_spectrograms as stage

    workspace = resolve_workspace(workdir)

    def action(progress: ProgressHook) -> StageResult:
        params = BuildSpectrogramsParams(**values)
        source = audio or workspace.only_artifact("audio", made_by="extract-audio DATASET")
        out = output or workspace.default_output("spectrograms", source)
        return stage.run(params, source, out, stats_from=stats_from, force=force, progress=progress)

    run_and_report(action, stage.describe)
