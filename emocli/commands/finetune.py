"""`emocli finetune`: train a classifier on faces or spectrograms, with transfer learning."""

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
    Workers,
    run_and_report,
    with_params,
)
from emocli.stage_params.finetune import DATA, FinetuneParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult

#: ``--compile``'s parameter was ``compile_model`` (old name -> new name): configs written
#: before still give it under that name (:mod:`emocli.config`).
RENAMED_PARAMETERS = {"compile_model": "compile"}


#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "model", "predictions": "predictions"}


@with_params(FinetuneParams)
def command(
    input: Annotated[
        Path,
        typer.Argument(
            help="A faces (preprocess-faces) or spectrograms (build-spectrograms) artifact.",
            show_default=False,
        ),
    ],
    predict_on: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--predict-on",
            help="Predict this artifact instead of the input's splits.",
            rich_help_panel=DATA,
        ),
    ] = None,
    output: Output = None,
    predictions: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--predictions",
            help="Predictions artifact path (default: the workspace's "
            "predictions/<input>-<model>.h5).",
        ),
    ] = None,
    workdir: Workdir = None,
    workers: Workers = 0,
    force: Force = False,
    resume: Resume = True,
    config: Config = None,
    **values: Any,
) -> None:
    """Train a classifier on a faces or spectrograms artifact (transfer learning, k-fold);
    write a model artifact and its predictions.

    Example: emocli finetune emocli-work/faces/ckplus48.h5 --model resnet_small --folds 5
    """
    from emocli.console import execute, is_interactive, print_notice
    from emocli.workspace import resolve_workspace
    from emocli.zoo import BUNDLED, resolve_model
    from stages import finetune as stage

    workspace = resolve_workspace(workdir)

    def build(_progress: ProgressHook) -> FinetuneParams:
        if values["init"] in BUNDLED:  # a bundled model's name: its file
            values["init"] = str(resolve_model(values["init"], "--init"))
        return FinetuneParams(
            **values,
            predict_on=str(predict_on) if predict_on else "",
            workers=workers,
            progress_bar=is_interactive(),
        )

    params: FinetuneParams = execute(build)  # checked before torch loads (below)

    def action(progress: ProgressHook) -> StageResult:
        suffix = stage.output_suffix(params)
        model_out = output or workspace.default_output("model", input, suffix)
        pred_source = predict_on or input
        pred_out = predictions or workspace.default_output("predictions", pred_source, suffix)
        return stage.run(
            params,
            input,
            model_out,
            pred_out,
            force=force,
            progress=progress,
            resume=resume,
            notice=print_notice,
        )

    run_and_report(action, stage.describe, preload=("torch",))
