"""`emocli evaluate`: metrics, pictures and a report for one or more predictions artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Workdir, run_and_report, with_params
from emocli.stage_params.evaluate import EvaluateParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """``--as-config``: ``--name`` and ``--no-plots`` give the recorded ``names`` and ``plots``;
    the output is the report folder that holds the evaluation artifact."""
    artifact = outputs.get("evaluation")
    return {
        "name": params.get("names") or None,
        "no_plots": not params.get("plots", True),
        "output": str(Path(artifact).parent) if artifact else None,
    }


@with_params(EvaluateParams)
def command(
    inputs: Annotated[
        list[Path], typer.Argument(help="Predictions artifacts to evaluate and compare.")
    ],
    name: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--name", help="Display name of each input, in order (repeat the option)."),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            help="Report folder \\[default: <workdir>/reports/<input names>/].",
            show_default=False,
        ),
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG pictures.")] = False,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
    **values: Any,
) -> None:
    """Evaluate predictions: accuracy, F1, per-class metrics, confusion matrices, class
    distributions, fold summaries and training curves, as metrics.json, report.md and PNGs.

    Example: emocli evaluate emocli-work/predictions/fused-svm.h5 --split val
    """
    from emocli.workspace import resolve_workspace
    from stages import evaluate as stage

    names = list(name or []) or stage.display_names(inputs)
    reports = resolve_workspace(workdir).dir_for("evaluation")
    report_dir = output or reports / stage.report_name(names)

    def action(progress: ProgressHook) -> StageResult:
        params = EvaluateParams(**values, names=tuple(names), plots=not no_plots)
        return stage.run(params, inputs, report_dir, force=force, progress=progress)

    run_and_report(action, stage.describe)
