"""`emocli evaluate`: metrics, pictures and a report for one or more predictions artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Workdir

#: Longest default report folder name (longer joined names are cut and given a hash).
MAX_REPORT_NAME = 80


def report_name(names: list[str]) -> str:
    """The default report folder name: the input names joined by ``+`` (cut if very long)."""
    import hashlib

    joined = "+".join(names)
    if len(joined) <= MAX_REPORT_NAME:
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()[:8]
    return f"{joined[: MAX_REPORT_NAME - 9]}-{digest}"


def _print_tables(summary: dict[str, Any], report_dir: Path) -> None:
    from rich.table import Table

    from emocli.console import console

    table = Table(
        "input",
        "modality",
        "level",
        "split",
        "n",
        "accuracy",
        "macro-F1",
        "weighted-F1",
        "folds",
        title=f"evaluation (requested split: {summary['requested_split']})",
        title_justify="left",
    )
    for row in summary["inputs"]:
        folds = row.get("folds")
        fold_text = (
            f"{100 * folds['mean']['accuracy']:.2f} ± {100 * folds['std']['accuracy']:.2f} %"
            if folds
            else "-"
        )
        table.add_row(
            row["name"],
            row["modality"] or "-",
            row["level"],
            row["split"],
            str(row["n"]),
            f"{100 * row['accuracy']:.2f} %",
            f"{100 * row['macro_f1']:.2f} %",
            f"{100 * row['weighted_f1']:.2f} %",
            fold_text,
        )
    console.print(table)
    metrics_path = report_dir / "metrics.json"
    if len(summary["inputs"]) == 1 and metrics_path.is_file():
        entry = json.loads(metrics_path.read_text())["inputs"][0]
        per_class = Table(
            "class", "precision", "recall", "F1", "support", title="per class", title_justify="left"
        )
        for name, m in entry["metrics"]["per_class"].items():
            per_class.add_row(
                name,
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['f1']:.3f}",
                str(m["support"]),
            )
        console.print(per_class)
    console.print(f"report: {report_dir / 'report.md'}")


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """This command's parameters from an artifact's recorded params (``--as-config``): the
    output is the report folder that holds the evaluation artifact."""
    artifact = outputs.get("evaluation")
    return {
        "split": params.get("split"),
        "name": params.get("names") or None,
        "no_plots": not params.get("plots", True),
        "output": str(Path(artifact).parent) if artifact else None,
    }


def command(
    inputs: Annotated[
        list[Path], typer.Argument(help="Predictions artifacts to evaluate and compare.")
    ],
    split: Annotated[
        str,
        typer.Option(
            "--split", help="Split to evaluate: auto (val, else test, else all), all, or a name."
        ),
    ] = "auto",
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
) -> None:
    """Evaluate predictions: accuracy, F1, per-class metrics, confusion matrices, class
    distributions, fold summaries and training curves, as metrics.json, report.md and PNGs.

    Example: emocli evaluate emocli-work/predictions/fused-svm.h5 --split val
    """
    from emocli.console import execute, print_result
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import evaluate as stage

    names = list(name or []) or stage.display_names(inputs)
    report_dir = output or resolve_workspace(workdir).dir_for("evaluation") / report_name(names)

    def action(progress: ProgressHook) -> StageResult:
        params = stage.EvaluateParams(split=split, names=tuple(names), plots=not no_plots)
        return stage.run(params, inputs, report_dir, force=force, progress=progress)

    result = execute(action)
    print_result(result)
    _print_tables(result.summary, report_dir)
