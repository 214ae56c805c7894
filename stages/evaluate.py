"""evaluate: metrics, pictures and a report for one or more predictions artifacts.

For each input, on one split (``auto``: ``val``, else ``test``, else every labelled row):
accuracy, macro / weighted F1, per-class precision / recall / F1 / support, the confusion
matrix (counts and row-normalised), the class distribution of every split and, with a
``fold`` column, per-fold metrics and their mean ± std. Several inputs share one comparison
table. Output: an ``evaluation`` artifact (one group per input under ``results/``) with
``metrics.json``, ``report.md`` and PNGs written next to it as sidecars; training curves are
drawn when an input's ``model`` attribute names a model artifact with a ``history/`` group.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.artifacts import (
    ArtifactWriter,
    InputRef,
    fingerprint_artifact,
    open_artifact,
    read_group,
)
from emocli.errors import ArtifactError, InputError
from emocli.fusion import align_classes
from emocli.metrics import class_distribution, classification_metrics, fold_summary, split_order
from emocli.predictions import Predictions, load_predictions
from emocli.progress import ProgressHook, no_progress
from emocli.report import InputEvaluation, metrics_document, render_report
from emocli.stage import OutputSpec, StageInfo, StageResult, run_stage
from emocli.stage_params.evaluate import ALL, AUTO, AUTO_ORDER, EvaluateParams

if TYPE_CHECKING:
    from rich.table import Table

STAGE = StageInfo("evaluate", 1)

#: Name of the evaluation artifact inside the report folder.
ARTIFACT_NAME = "evaluation.h5"
#: Longest default report folder name (longer joined names are cut and given a hash).
MAX_REPORT_NAME = 80


def display_names(paths: Sequence[Path]) -> list[str]:
    """File stems, made unique with the parent folder's name (then a counter) where they clash."""
    stems = [Path(p).stem for p in paths]
    names = [
        f"{Path(p).parent.name}-{s}" if stems.count(s) > 1 else s
        for p, s in zip(paths, stems, strict=True)
    ]
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return unique


def report_name(names: list[str]) -> str:
    """The default report folder name: the input names joined by ``+`` (cut if very long)."""
    joined = "+".join(names)
    if len(joined) <= MAX_REPORT_NAME:
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()[:8]
    return f"{joined[: MAX_REPORT_NAME - 9]}-{digest}"


def safe_filename(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``_``, ``+`` and ``-`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def resolve_split(preds: Predictions, requested: str) -> str:
    """The split to evaluate: ``requested``, or for ``auto`` the first labelled of val, test, all.

    Raises :class:`InputError` when there is nothing labelled to evaluate there.
    """
    labelled = preds.label >= 0
    present = sorted({s for s in preds.split.tolist()}, key=split_order)
    if requested == AUTO:
        for split in AUTO_ORDER:
            if (labelled & (preds.split == split)).any():
                return split
        if labelled.any():
            return ALL
    elif requested == ALL:
        if labelled.any():
            return ALL
    elif (labelled & (preds.split == requested)).any():
        return requested
    raise InputError(
        f"{preds.source}: no labelled rows to evaluate in split {requested!r} (splits present: "
        f"{present or ['none']}, labelled rows: {int(labelled.sum())}); choose --split, or "
        "import the predictions with --labels"
    )


def _model_history(pred_path: Path, model_attr: str) -> tuple[Path, dict[str, np.ndarray]] | None:
    """The model artifact named by a predictions artifact and its ``history/`` group, if any.

    Relative paths are tried from the working directory, then from the predictions file's
    folder and its parent (a workspace keeps ``predictions/`` and ``models/`` side by side).
    """
    if not model_attr:
        return None
    given = Path(model_attr)
    candidates = (
        [given]
        if given.is_absolute()
        else [
            given,
            pred_path.parent / given,
            pred_path.parent.parent / given,
            pred_path.parent.parent / "models" / given.name,
        ]
    )
    for candidate in candidates:
        if candidate.is_file():
            try:
                with open_artifact(candidate, "model") as art:
                    history = read_group(art, "history")
            except ArtifactError:
                return None
            return (candidate, history) if history else None
    return None


def _evaluate_one(
    path: Path, name: str, requested: str, classes: list[str] | None
) -> tuple[InputEvaluation, Path | None]:
    preds = load_predictions(path)
    if classes is not None:
        preds = align_classes(preds, classes)
    split = resolve_split(preds, requested)
    in_split = np.ones(len(preds), dtype=bool) if split == ALL else preds.split == split
    rows = in_split & (preds.label >= 0)
    y_true = preds.label[rows]
    y_pred = preds.probs[rows].argmax(axis=1)
    metrics = classification_metrics(y_true, y_pred, preds.classes)
    folds = fold_summary(y_true, y_pred, preds.fold[rows], preds.classes)
    with open_artifact(path, "predictions") as art:
        model_attr = str(art.attrs.get("model", "") or "")
        fitted = art.column("fitted")[rows] if art.has("fitted") else None
    notes = []
    if fitted is not None and fitted.any():
        notes.append(
            f"{int(fitted.sum())} of the {int(rows.sum())} evaluated clips were used to fit the "
            "fuser: these figures are in-sample for them"
        )
    found = _model_history(path, model_attr)
    ev = InputEvaluation(
        name=name,
        path=str(path),
        modality=preds.modality,
        level=preds.level,
        split=split,
        requested=requested,
        n_rows=len(preds),
        n_unlabelled=int((in_split & (preds.label < 0)).sum()),
        metrics=metrics,
        folds=folds,
        distribution=class_distribution(preds.label, preds.split, len(preds.classes)),
        model=str(found[0]) if found else model_attr,
        history=found[1] if found else None,
        notes=notes,
    )
    return ev, (found[0] if found else None)


def _write_group(writer: ArtifactWriter, ev: InputEvaluation) -> None:
    m = ev.metrics
    arrays: dict[str, Any] = {
        "confusion": m.confusion,
        "confusion_normalised": m.confusion_normalised,
        "precision": m.precision,
        "recall": m.recall,
        "f1": m.f1,
        "support": m.support,
        "distribution": np.array(list(ev.distribution.values()), dtype=np.int64).reshape(
            len(ev.distribution), len(m.classes)
        ),
        "distribution_splits": np.array(list(ev.distribution), dtype=object),
    }
    attrs: dict[str, Any] = {
        "name": ev.name,
        "path": ev.path,
        "modality": ev.modality,
        "level": ev.level,
        "split": ev.split,
        "n": m.n,
        "n_unlabelled": ev.n_unlabelled,
        "accuracy": m.accuracy,
        "macro_f1": m.macro_f1,
        "weighted_f1": m.weighted_f1,
    }
    if ev.folds is not None:
        arrays["fold_ids"] = np.array(ev.folds.folds, dtype=np.int64)
        for key in ("accuracy", "macro_f1", "weighted_f1"):
            arrays[f"fold_{key}"] = np.array([getattr(f, key) for f in ev.folds.per_fold])
            attrs[f"fold_mean_{key}"] = ev.folds.mean[key]
            attrs[f"fold_std_{key}"] = ev.folds.std[key]
    writer.write_group(f"results/{safe_filename(ev.name)}", arrays, attrs)


def _draw(writer: ArtifactWriter, evaluations: list[InputEvaluation]) -> dict[str, str]:
    """Write every PNG as a sidecar; returns the shared figures (per-input ones go in ``figures``)."""
    from emocli import plots

    for ev in evaluations:
        stem = safe_filename(ev.name)
        classes = ev.metrics.classes
        split = "all labelled rows" if ev.split == ALL else ev.split
        ev.figures["confusion"] = f"confusion-{stem}.png"
        plots.plot_confusion(
            writer.sidecar(ev.figures["confusion"]),
            ev.metrics.confusion,
            classes,
            f"{ev.name} ({split}): accuracy {100 * ev.metrics.accuracy:.1f} %",
        )
        ev.figures["distribution"] = f"distribution-{stem}.png"
        plots.plot_class_distribution(
            writer.sidecar(ev.figures["distribution"]),
            ev.distribution,
            classes,
            f"{ev.name}: labelled samples per split",
        )
        if ev.history:
            ev.figures["curves"] = f"curves-{stem}.png"
            plots.plot_history(
                writer.sidecar(ev.figures["curves"]),
                ev.history,
                f"{ev.name}: training of {Path(ev.model).name}",
            )
    shared = {"f1": "f1-per-class.png"}
    split_text = ", ".join(sorted({ev.split for ev in evaluations}))
    plots.plot_f1_bars(
        writer.sidecar(shared["f1"]),
        {ev.name: ev.metrics.f1 for ev in evaluations},
        evaluations[0].metrics.classes,
        f"per-class F1 ({split_text})",
    )
    return shared


def run(
    params: EvaluateParams,
    inputs: Sequence[Path],
    output_dir: Path,
    force: bool = False,
    progress: ProgressHook = no_progress,
) -> StageResult:
    """Evaluate the predictions artifacts ``inputs`` into the report folder ``output_dir``."""
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise InputError("evaluate needs at least one predictions artifact")
    names = list(params.names) or display_names(inputs)
    if len(names) != len(inputs):
        raise InputError(f"{len(names)} names given for {len(inputs)} inputs")
    refs: list[InputRef] = [fingerprint_artifact(p, "predictions", role="inputs") for p in inputs]
    for path in inputs:  # the curves depend on the model artifact an input points at
        with open_artifact(path, "predictions") as art:
            found = _model_history(path, str(art.attrs.get("model", "") or ""))
        if found is not None:
            refs.append(fingerprint_artifact(found[0], "model"))
    output = Path(output_dir) / ARTIFACT_NAME
    stage_params = EvaluateParams(params.split, tuple(names), params.plots)

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        writer = writers["evaluation"]
        evaluations: list[InputEvaluation] = []
        classes: list[str] | None = None
        for i, (path, name) in enumerate(zip(inputs, names, strict=True)):
            progress("evaluating", i, len(inputs))
            ev, _ = _evaluate_one(path, name, params.split, classes)
            classes = classes or ev.metrics.classes
            evaluations.append(ev)
        assert classes is not None
        writer.set_classes(classes)
        writer.set_attr("split", params.split)
        writer.set_attr("names", names)
        for ev in evaluations:
            _write_group(writer, ev)
        shared = _draw(writer, evaluations) if params.plots else {}
        document = metrics_document(evaluations, params.split)
        writer.sidecar("metrics.json").write_text(json.dumps(document, indent=2) + "\n")
        writer.sidecar("report.md").write_text(render_report(evaluations, params.split, shared))
        progress("evaluating", len(inputs), len(inputs))
        return {
            "requested_split": params.split,
            "report": str(Path(output_dir) / "report.md"),
            "inputs": [ev.headline() for ev in evaluations],
        }

    outputs = {"evaluation": OutputSpec(output, "evaluation")}
    with removed_if_failed(Path(output_dir)):
        return run_stage(STAGE, stage_params, refs, outputs, build, force)


def describe(result: StageResult) -> list[str | Table]:
    """What the terminal shows of a run: the comparison table, the per-class metrics of a
    single input, and where the report is."""
    from emocli.render import evaluation_table, per_class_table

    report_dir = result.outputs["evaluation"].parent
    lines: list[str | Table] = [evaluation_table(result.summary)]
    metrics_path = report_dir / "metrics.json"
    if len(result.summary["inputs"]) == 1 and metrics_path.is_file():
        entry = json.loads(metrics_path.read_text())["inputs"][0]
        lines.append(per_class_table(entry["metrics"]["per_class"]))
    lines.append(f"report: {report_dir / 'report.md'}")
    return lines


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return missing


@contextlib.contextmanager
def removed_if_failed(folder: Path) -> Iterator[None]:
    """Remove the folders up to ``folder`` that the block creates, if the block fails.

    A failed evaluate must leave nothing new behind: the stage writes its files atomically,
    but the report folder is made before ``build`` runs. Only empty folders are removed.
    """
    created = missing_folders(folder.absolute())
    try:
        yield
    except BaseException:
        for path in created:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
