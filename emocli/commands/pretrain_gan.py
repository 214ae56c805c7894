"""`emocli pretrain-gan`: the semi-supervised DCGAN whose discriminator classifies emotions."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from emocli.commands.common import OUTPUT, StageCall, argument, option, run_and_report, with_params
from emocli.stage_params.gan import PretrainGanParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(PretrainGanParams, resume=True)
def command(
    call: StageCall,
    labelled: Path = argument("Labelled faces artifact (e.g. emocli-work/faces/ckplus.h5)."),
    unlabelled: Optional[list[Path]] = option(
        "Unlabelled faces artifact(s) for the adversarial game (repeat the option); their "
        "labels are ignored.",
        "--unlabelled",
        "--unlabeled",
        "-u",
    ),
    predictions_output: Optional[Path] = option(
        "Predictions artifact \\[default: <workdir>/predictions/<labelled>-gan.h5]."
    ),
    output: Optional[Path] = OUTPUT,
) -> None:
    """Train the semi-supervised DCGAN; its discriminator becomes the emotion classifier.

    Example: emocli pretrain-gan emocli-work/faces/ckplus.h5 -u emocli-work/faces/utkface.h5
    """
    from emocli.console import print_notice
    from stages import pretrain_gan as stage

    def action(progress: ProgressHook) -> StageResult:
        params: PretrainGanParams = call.params()
        out = output or call.workspace.default_output("model", labelled, "-gan")
        preds = predictions_output or call.workspace.default_output("predictions", labelled, "-gan")
        paths = (labelled, list(unlabelled or []), out, preds)
        return stage.run(params, *paths, notice=print_notice, **call.options(progress))

    run_and_report(action, stage.describe)  # torch loads when training starts


#: Parameters renamed (old name -> new name): the British spelling, and ``--rich-bar``'s
#: parameter, now the field it sets. Configs and artifacts written before still give them
#: under the old names (:mod:`emocli.config`).
RENAMED_PARAMETERS = {
    "labeled": "labelled",
    "unlabeled": "unlabelled",
    "labeled_batch_size": "labelled_batch_size",
    "max_unlabeled": "max_unlabelled",
    "rich_bar": "rich_progress",
}
#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "model", "predictions_output": "predictions"}
