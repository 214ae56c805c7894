"""`emocli fuse`: late fusion of predictions (frames -> clips; audio + video -> one)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Output, Workdir, run_and_report, with_params
from emocli.stage_params.fuse import FuseParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "predictions", "model_output": "model"}


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """``--as-config``: ``--modality`` gives the recorded ``modalities``."""
    return {"modality": params.get("modalities") or None}


@with_params(FuseParams)
def command(
    inputs: Annotated[
        Optional[list[Path]],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Argument(
            help="Predictions artifacts (e.g. video and audio) \\[default: the face/video and the "
            "audio artifact in <workdir>/predictions/].",
            show_default=False,
        ),
    ] = None,
    method: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--method",
            "-m",
            help="mean | weighted | svm | mlp \\[default: mean, or the --fuser's method].",
            show_default=False,
        ),
    ] = None,
    labels: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--labels", help="Clip labels CSV (clip_id, optional split, label)."),
    ] = None,
    fuser: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--fuser", help="Apply a fuser trained earlier (a model artifact)."),
    ] = None,
    modality: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--modality", help="Modality name of each input, in order (repeat the option)."
        ),
    ] = None,
    svm_c: Annotated[
        Optional[list[float]],  # noqa: UP045
        typer.Option(
            "--svm-c", help="SVM C values to search (repeat) \\[default: 0.01 0.1 1 10 100]."
        ),
    ] = None,
    svm_gamma: Annotated[
        Optional[list[float]],  # noqa: UP045
        typer.Option(
            "--svm-gamma", help="SVM gamma values to search (repeat) \\[default: 0.001 0.01 0.1 1]."
        ),
    ] = None,
    model_output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--model-output",
            help="Where a trained fuser goes \\[default: <workdir>/models/fuser-<method>.h5].",
            show_default=False,
        ),
    ] = None,
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
    **values: Any,
) -> None:
    """Fuse predictions: frames into clips, then modalities (mean, weighted, SVM or MLP).

    Example: emocli fuse --method svm
    """
    from emocli.workspace import resolve_workspace
    from stages import fuse as stage

    workspace = resolve_workspace(workdir)

    def action(progress: ProgressHook) -> StageResult:
        chosen = stage.chosen_method(method, fuser)
        defaults = FuseParams()
        params = FuseParams(
            **values,
            method=chosen,
            svm_c=tuple(svm_c or defaults.svm_c),
            svm_gamma=tuple(svm_gamma or defaults.svm_gamma),
            modalities=tuple(modality or ()),
        )
        paths = list(inputs or []) or stage.find_default_inputs(workspace.dir_for("predictions"))
        out = output or workspace.dir_for("predictions") / f"fused-{chosen}.h5"
        model_out = model_output or workspace.dir_for("model") / f"fuser-{chosen}.h5"
        return stage.run(
            params,
            paths,
            out,
            model_output=model_out,
            fuser=fuser,
            labels=labels,
            force=force,
            progress=progress,
        )

    run_and_report(action, stage.describe)
