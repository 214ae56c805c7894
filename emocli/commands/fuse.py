"""`emocli fuse`: late fusion of predictions (frames -> clips; audio + video -> one)."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from emocli.commands.common import OUTPUT, StageCall, argument, option, run_and_report, with_params
from emocli.stage_params.fuse import FuseParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(FuseParams)
def command(
    call: StageCall,
    inputs: Optional[list[Path]] = argument(
        "Predictions artifacts (e.g. video and audio) \\[default: the face/video and the audio "
        "artifact in <workdir>/predictions/].",
        default=None,
    ),
    method: Optional[str] = option(
        "mean | weighted | svm | mlp \\[default: mean, or the --fuser's method].", "--method", "-m"
    ),
    labels: Optional[Path] = option("Clip labels CSV (clip_id, optional split, label)."),
    fuser: Optional[Path] = option("Apply a fuser trained earlier (a model artifact)."),
    modality: Optional[list[str]] = option(
        "Modality name of each input, in order (repeat the option)."
    ),
    svm_c: Optional[list[float]] = option(
        "SVM C values to search (repeat) \\[default: 0.01 0.1 1 10 100]."
    ),
    svm_gamma: Optional[list[float]] = option(
        "SVM gamma values to search (repeat) \\[default: 0.001 0.01 0.1 1]."
    ),
    model_output: Optional[Path] = option(
        "Where a trained fuser goes \\[default: <workdir>/models/fuser-<method>.h5]."
    ),
    output: Optional[Path] = OUTPUT,
) -> None:
    """Fuse predictions: frames into clips, then modalities (mean, weighted, SVM or MLP).

    Example: emocli fuse --method svm
    """
    from stages import fuse as stage

    predictions, models = call.workspace.dir_for("predictions"), call.workspace.dir_for("model")

    def action(progress: ProgressHook) -> StageResult:
        chosen = stage.chosen_method(method, fuser)
        defaults = FuseParams()
        params = call.params(
            method=chosen,
            svm_c=tuple(svm_c or defaults.svm_c),
            svm_gamma=tuple(svm_gamma or defaults.svm_gamma),
            modalities=tuple(modality or ()),
        )
        paths = list(inputs or []) or stage.find_default_inputs(predictions)
        return stage.run(
            params,
            paths,
            output or predictions / f"fused-{chosen}.h5",
            model_output=model_output or models / f"fuser-{chosen}.h5",
            fuser=fuser,
            labels=labels,
            **call.options(progress),
        )

    run_and_report(action, stage.describe)


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """``--as-config``: ``--modality`` gives the recorded ``modalities``."""
    return {"modality": params.get("modalities") or None}


#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "predictions", "model_output": "model"}
