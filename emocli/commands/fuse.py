"""`emocli fuse`: late fusion of predictions (frames -> clips; audio + video -> one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Output, Workdir


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """This command's parameters from an artifact's recorded params (``--as-config``)."""
    return {
        **params,
        "modality": params.get("modalities") or None,
        "output": outputs.get("predictions"),
        "model_output": outputs.get("model"),
    }


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
    missing: Annotated[
        str, typer.Option("--missing", help="Clips lacking a modality: drop | fallback.")
    ] = "drop",
    reduce: Annotated[
        str,
        typer.Option("--reduce", help="Frames -> clip: mean | median | max-confidence."),
    ] = "mean",
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
    train_split: Annotated[
        str, typer.Option("--train-split", help="The only split trained fusers learn from.")
    ] = "train",
    cv_folds: Annotated[
        int, typer.Option("--cv-folds", min=2, help="Folds of the cross-validation.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of folds, SVM and MLP.")] = 0,
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
) -> None:
    """Fuse predictions: frames into clips, then modalities (mean, weighted, SVM or MLP).

    Example: emocli fuse --method svm
    """
    from emocli.console import console, execute, print_result
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import fuse as stage

    workspace = resolve_workspace(workdir)

    def action(progress: ProgressHook) -> StageResult:
        chosen = method
        if fuser is not None:
            from emocli.fusion import read_fuser

            stored = read_fuser(fuser).fuser.method
            chosen = chosen or stored
        chosen = (chosen or "mean").lower()
        defaults = stage.FuseParams()
        params = stage.FuseParams(
            method=chosen,
            svm_c=tuple(svm_c or defaults.svm_c),
            svm_gamma=tuple(svm_gamma or defaults.svm_gamma),
            missing=missing,
            reduce=reduce,
            train_split=train_split,
            cv_folds=cv_folds,
            seed=seed,
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

    result = execute(action)
    print_result(result)
    s = result.summary
    console.print(
        f"{s['method']} fusion of {', '.join(s['modalities'])}: {s['clips']} clips "
        f"{s['clips_per_split']}; missing policy {s['missing_policy']}, {s['dropped']} dropped"
    )
    lacking = {m: c for m, c in s["clips_lacking"].items() if any(c.values())}
    if lacking:
        console.print(f"clips lacking a modality (before the policy): {lacking}")
    if s["fitted_on"]:
        console.print(f"fuser fitted on {s['fitted_on']}: {json.dumps(s['fuser'])}")
    in_sample = [name for name, oof in s.get("inputs_out_of_fold", {}).items() if not oof]
    if in_sample:
        console.print(
            f"warning: the fuser learnt from in-sample predictions of {', '.join(in_sample)} "
            "(not out of fold on its training clips), so it trusts an over-fitted input more "
            "than it deserves; fit it on out-of-fold predictions: finetune --folds K --stacking mean "
            "(docs/usage.md, section fuse)"
        )
    console.print(f"accuracy by split: {s['accuracy']}  (evaluate on val: emocli evaluate ...)")
