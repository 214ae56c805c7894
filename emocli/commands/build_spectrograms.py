"""`emocli build-spectrograms`: normalised log-mel spectrograms (and images) of audio clips."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from emocli.commands.common import OUTPUT, StageCall, argument, option, run_and_report, with_params
from emocli.stage_params.spectrograms import BuildSpectrogramsParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(BuildSpectrogramsParams)
def command(
    call: StageCall,
    audio: Optional[Path] = argument(
        "An audio artifact (from extract-audio); default: the only one in <workdir>/audio/.",
        default=None,
    ),
    stats_from: Optional[Path] = option(
        "Reuse the front end and statistics of this spectrograms artifact (for val/test sets: "
        "nothing of this artifact enters the statistics)."
    ),
    output: Optional[Path] = OUTPUT,
) -> None:
    """Log-mel spectrograms of an audio artifact: pad, pre-emphasis, 25 ms Hamming frames,
    40 mel bands, log, per-spectrogram then training-set normalisation.

    Example: emocli build-spectrograms emocli-work/audio/ravdess.h5 --train-subjects 01-16
    """
    from stages import build_spectrograms as stage

    def action(progress: ProgressHook) -> StageResult:
        params = call.params()
        source = audio or call.workspace.only_artifact("audio", made_by="extract-audio DATASET")
        out = output or call.workspace.default_output("spectrograms", source)
        return stage.run(params, source, out, stats_from=stats_from, **call.options(progress))

    run_and_report(action, stage.describe)
