"""`emocli extract-audio`: the audio track of every clip (AFEW videos, RAVDESS, audio folders)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from emocli.commands.common import Config, Force, Output, Workdir, run_and_report, with_params
from emocli.stage_params.audio import ExtractAudioParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "audio"}


@with_params(ExtractAudioParams)
def command(
    source: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder (AFEW Train|Val/<Emotion>/*.avi, RAVDESS Actor_XX/*.wav, "
            "<class>/*.wav) or one media file."
        ),
    ],
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
    **values: Any,
) -> None:
    """Decode the audio of every clip to mono float32 at one sample rate (PyAV); clips without
    usable audio are listed as rejects with the reason.

    Example: emocli extract-audio ../datasets/AFEW --sample-rate 16000
    """
    from emocli.workspace import resolve_workspace
    from stages import extract_audio as stage

    def action(progress: ProgressHook) -> StageResult:
        out = output or resolve_workspace(workdir).default_output("audio", source)
        params = ExtractAudioParams(**values)
        return stage.run(params, source, out, force=force, progress=progress)

    run_and_report(action, stage.describe)
