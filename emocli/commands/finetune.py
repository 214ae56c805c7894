"""`emocli finetune`: train a classifier on faces or spectrograms, with transfer learning."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from emocli.commands.common import OUTPUT, StageCall, argument, option, run_and_report, with_params
from emocli.stage_params.finetune import DATA, FinetuneParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(FinetuneParams, workers=True, resume=True)
def command(
    call: StageCall,
    input: Path = argument(
        "A faces (preprocess-faces) or spectrograms (build-spectrograms) artifact."
    ),
    predict_on: Optional[Path] = option(
        "Predict this artifact instead of the input's splits.", group=DATA
    ),
    output: Optional[Path] = OUTPUT,
    predictions: Optional[Path] = option(
        "Predictions artifact path (default: the workspace's predictions/<input>-<model>.h5)."
    ),
) -> None:
    """Train a classifier on a faces or spectrograms artifact (transfer learning, k-fold);
    write a model artifact and its predictions.

    Example: emocli finetune emocli-work/faces/ckplus48.h5 --model resnet_small --folds 5
    """
    from emocli.console import is_interactive, print_notice
    from emocli.zoo import BUNDLED, resolve_model
    from stages import finetune as stage

    def action(progress: ProgressHook) -> StageResult:
        init = call.values["init"]  # a bundled model's name: its file
        params: FinetuneParams = call.params(
            init=str(resolve_model(init, "--init")) if init in BUNDLED else init,
            predict_on=str(predict_on) if predict_on else "",
            workers=call.workers,
            progress_bar=is_interactive(),
        )
        suffix = stage.output_suffix(params)
        model_out = output or call.workspace.default_output("model", input, suffix)
        pred_source = predict_on or input
        pred_out = predictions or call.workspace.default_output("predictions", pred_source, suffix)
        return stage.run(
            params, input, model_out, pred_out, notice=print_notice, **call.options(progress)
        )

    run_and_report(action, stage.describe)  # torch loads when training starts


#: ``--compile``'s parameter was ``compile_model`` (old name -> new name): configs written
#: before still give it under that name (:mod:`emocli.config`).
RENAMED_PARAMETERS = {"compile_model": "compile"}
#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "model", "predictions": "predictions"}
