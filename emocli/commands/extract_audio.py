"""`emocli extract-audio`: the audio track of every clip (AFEW videos, RAVDESS, audio folders)."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from emocli.commands.common import OUTPUT, StageCall, argument, run_and_report, with_params
from emocli.stage_params.audio import ExtractAudioParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(ExtractAudioParams)
def command(
    call: StageCall,
    source: Path = argument(
        "Dataset folder (AFEW Train|Val/<Emotion>/*.avi, RAVDESS Actor_XX/*.wav, "
        "<class>/*.wav) or one media file."
    ),
    output: Optional[Path] = OUTPUT,
) -> None:
    """Decode the audio of every clip to mono float32 at one sample rate (PyAV); clips without
    usable audio are listed as rejects with the reason.

    Example: emocli extract-audio ../datasets/AFEW --sample-rate 16000
    """
    from stages import extract_audio as stage

    def action(progress: ProgressHook) -> StageResult:
        out = output or call.workspace.default_output("audio", source)
        return stage.run(call.params(), source, out, **call.options(progress))

    run_and_report(action, stage.describe)


#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "audio"}
