"""`emocli evaluate`: metrics, pictures and a report for one or more predictions artifacts."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from emocli.commands.common import StageCall, argument, option, run_and_report, with_params
from emocli.stage_params.evaluate import EvaluateParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(EvaluateParams)
def command(
    call: StageCall,
    inputs: list[Path] = argument("Predictions artifacts to evaluate and compare."),
    name: Optional[list[str]] = option("Display name of each input, in order (repeat the option)."),
    output: Optional[Path] = option(
        "Report folder \\[default: <workdir>/reports/<input names>/].", "--output", "-o"
    ),
    no_plots: bool = option("Skip the PNG pictures.", "--no-plots", default=False),
) -> None:
    """Evaluate predictions: accuracy, F1, per-class metrics, confusion matrices, class
    distributions, fold summaries and training curves, as metrics.json, report.md and PNGs.

    Example: emocli evaluate emocli-work/predictions/fused-svm.h5 --split val
    """
    from stages import evaluate as stage

    names = list(name or []) or stage.display_names(inputs)
    report_dir = output or call.workspace.dir_for("evaluation") / stage.report_name(names)

    def action(progress: ProgressHook) -> StageResult:
        params = call.params(names=tuple(names), plots=not no_plots)
        return stage.run(params, inputs, report_dir, **call.options(progress))

    run_and_report(action, stage.describe)


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """``--as-config``: ``--name`` and ``--no-plots`` give the recorded ``names`` and ``plots``;
    the output is the report folder that holds the evaluation artifact."""
    artifact = outputs.get("evaluation")
    return {
        "name": params.get("names") or None,
        "no_plots": not params.get("plots", True),
        "output": str(Path(artifact).parent) if artifact else None,
    }
