"""`emocli pretrain-gan`: the semi-supervised DCGAN whose discriminator classifies emotions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from emocli.commands.common import (
    Config,
    Force,
    Output,
    Resume,
    Workdir,
    run_and_report,
    with_params,
)
from emocli.stage_params.gan import PretrainGanParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult

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


@with_params(PretrainGanParams)
def command(
    labelled: Annotated[
        Path, typer.Argument(help="Labelled faces artifact (e.g. emocli-work/faces/ckplus.h5).")
    ],
    unlabelled: Annotated[
        Optional[list[Path]],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--unlabelled",
            "--unlabeled",
            "-u",
            help="Unlabelled faces artifact(s) for the adversarial game (repeat the option); "
            "their labels are ignored.",
        ),
    ] = None,
    predictions_output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--predictions-output",
            help="Predictions artifact \\[default: <workdir>/predictions/<labelled>-gan.h5].",
            show_default=False,
        ),
    ] = None,
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    resume: Resume = True,
    config: Config = None,
    **values: Any,
) -> None:
    """Train the semi-supervised DCGAN; its discriminator becomes the emotion classifier.

    Example: emocli pretrain-gan emocli-work/faces/ckplus.h5 -u emocli-work/faces/utkface.h5
    """
    from emocli.console import execute, print_notice
    from emocli.workspace import resolve_workspace
    from stages import pretrain_gan as stage

    workspace = resolve_workspace(workdir)

    # checked before torch loads (below), so an invalid parameter is reported at once
    params: PretrainGanParams = execute(lambda _progress: PretrainGanParams(**values))

    def action(progress: ProgressHook) -> StageResult:
        out = output or workspace.default_output("model", labelled, "-gan")
        preds_out = predictions_output or workspace.default_output("predictions", labelled, "-gan")
        return stage.run(
            params,
            labelled,
            list(unlabelled or []),
            out,
            preds_out,
            force=force,
            progress=progress,
            resume=resume,
            notice=print_notice,
        )

    run_and_report(action, stage.describe, preload=("torch",))
