"""finetune: train a registry classifier on a faces or spectrograms artifact (transfer learning).

1. read the input (``images`` of a faces artifact; ``features`` or the rendered ``images`` of a
   spectrograms artifact), labels in the artifact's ``classes``;
2. choose rows: train on ``train`` (and unsplit) rows, validate on ``val`` rows, or on
   ``val_fraction`` of the training rows held out by group (subject, else clip, else
   stratified); with ``folds`` = K, K group-independent folds over every labelled non-test row
   (``fold`` = i runs one of them); with ``stacking``, folds over the training rows only, so
   that a fuser can learn from their out-of-fold predictions;
3. build the model (``init``: random, a torchvision ImageNet checkpoint ``imagenet:PATH``, or a
   model artifact whose every layer but the classifier is transferred), freeze per ``freeze``,
   train with Lightning (augmentation, class weights, early stopping on the validation split,
   best-epoch weights restored; a NaN loss stops with an error and writes nothing);
4. write a ``model`` artifact (weights, architecture + kwargs, classes, input description with
   the normalisation, per-epoch history; a training-curve PNG next to it) and a
   ``predictions`` artifact: class probabilities for every row of the input (or of
   ``predict_on``), or the out-of-fold predictions with a ``fold`` column; with ``stacking``,
   every row of the input (or of ``predict_on``) with its split, out of fold where a fold held
   it out. The model artifact is the last fold's model (``refit``: the model of every
   training row).

This module holds the recipe; the parameters are :mod:`emocli.stage_params.finetune`'s
:class:`FinetuneParams`, the work is in :mod:`emocli.training`: step 1 in ``datamodule``,
step 2 in ``plan``, step 3 in ``fit``, step 4 in ``outputs``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emocli.artifacts import ArtifactWriter, InputRef, fingerprint_artifact, fingerprint_raw
from emocli.errors import ParamsError
from emocli.fields import from_attributes
from emocli.progress import ProgressHook, no_progress
from emocli.stage import StageInfo, StageResult
from emocli.stage_params.choices import DEFAULT_MODEL, INIT_IMAGENET
from emocli.stage_params.finetune import FinetuneParams
from emocli.training.fit import (
    RunConfig,
    Trained,
    architecture_name,
    train_one,
    use_threads,
    world_size,
)
from emocli.training.outputs import (
    PredictConfig,
    training_summary,
    write_model_artifact,
    write_predictions_artifact,
)
from emocli.training.plan import Plan, SplitPolicy, plan_runs
from emocli.training.resume import Resumer, rows_digest
from emocli.training.stage_run import run_training_stage

STAGE = StageInfo("finetune", 1)


# --------------------------------------------------------------------------- running


def run(
    params: FinetuneParams,
    input: Path,
    output: Path,
    predictions_output: Path,
    force: bool = False,
    progress: ProgressHook = no_progress,
    resume: bool = True,
    notice: Callable[[str], None] | None = None,
) -> StageResult:
    """Fine-tune on the ``faces``/``spectrograms`` artifact ``input``; write the model
    ``output`` and the predictions ``predictions_output``, keeping resume points
    (:func:`~emocli.training.stage_run.run_training_stage`: ``resume``, ``notice``).

    Raises :class:`~emocli.errors.ArtifactError` / :class:`~emocli.errors.ParamsError` for
    unusable inputs or options and :class:`~emocli.errors.TrainingError` when the loss diverges.
    """
    inputs = [fingerprint_artifact(input, ("faces", "spectrograms"), role="input")]
    inputs += _init_inputs(params)
    if params.predict_on:
        inputs.append(
            fingerprint_artifact(params.predict_on, ("faces", "spectrograms"), role="predict_on")
        )

    train = functools.partial(_execute, params, Path(input), Path(output))
    return run_training_stage(
        STAGE, params, inputs, output, predictions_output, train, force, progress, resume, notice
    )


def output_suffix(params: FinetuneParams) -> str:
    """The suffix of the default output names: ``-<model>`` (the init model's name for
    ``--model auto``), and ``-fold<i>`` for one fold."""
    init_name = Path(params.init).stem if params.init.endswith(".h5") else DEFAULT_MODEL
    name = params.model if params.model != "auto" else init_name
    return f"-{name}" + (f"-fold{params.fold}" if params.fold >= 0 else "")


def describe(result: StageResult) -> list[str]:
    """What the terminal shows of a run: notes, training rows per class, and the accuracy:
    of the folds, of the stacking's out-of-fold predictions, or per split."""
    s = result.summary
    lines = [f"note: {note}" for note in s.get("notes", [])]
    if s.get("train_class_counts"):
        counts = ", ".join(f"{k} {v}" for k, v in s["train_class_counts"].items())
        lines.append(f"training rows per class: {counts}")
    if s.get("fold_accuracy"):
        lines.append(
            f"{s['model']}: {len(s['fold_accuracy'])}-fold accuracy "
            f"{100 * s['cv_accuracy_mean']:.2f} % ± {100 * s['cv_accuracy_std']:.2f} "
            f"(folds: {', '.join(f'{100 * a:.1f}' for a in s['fold_accuracy'])}; "
            f"by {s['group_by']})"
        )
    if "stacking" in s:
        lines += _describe_stacking(s["stacking"])
    elif s.get("accuracy"):
        parts = ", ".join(f"{k} {100 * v:.2f} %" for k, v in s["accuracy"].items())
        lines.append(
            f"{s['model']}: accuracy {parts} (train {s['train']}, val {s['val']}, "
            f"best epoch {s['best_epoch']}, {s['train_seconds']} s)"
        )
    return lines


def _describe_stacking(st: dict[str, Any]) -> list[str]:
    """Which rows were predicted out of fold, and a warning for training rows that were not."""
    by_split = ", ".join(f"{k} {100 * v:.2f} %" for k, v in st["other_accuracy"].items())
    oof = st["out_of_fold_accuracy"]
    others = "the fold models' mean" if st["others_from"] == "mean" else "the refitted model"
    lines = [
        f"stacking: {st['out_of_fold_rows']} rows predicted out of fold"
        + (f" ({100 * oof:.2f} %)" if oof is not None else "")
        + f", {st['other_rows']} by {others}"
        + (f" ({by_split})" if by_split else "")
    ]
    if st["training_rows_not_out_of_fold"]:
        lines.append(
            f"warning: {st['training_rows_not_out_of_fold']} labelled train rows of the "
            "predicted artifact match no held-out clip of the input (no clip id in common): "
            "their predictions come from models that may have seen them"
        )
    return lines


def _execute(
    params: FinetuneParams,
    input: Path,
    output: Path,
    writers: dict[str, ArtifactWriter] | None,
    progress: ProgressHook,
    resumer: Resumer | None,
) -> dict[str, Any]:
    """Plan the runs, train them, and (rank 0, ``writers`` given) write both artifacts;
    returns the summary ({} without writers)."""
    from emocli.training.datamodule import open_source, read_table

    started, cpu_started = time.perf_counter(), time.process_time()
    threads = use_threads(params.threads)
    audio_model = architecture_name(params.model, params.init).startswith("audio_")
    table = read_table(input, params.input_column, audio_model=audio_model)
    if not table.classes:
        raise ParamsError(f"{input}: the input artifact has no classes to learn")
    plans, group_name = plan_runs(_split_policy(params), table)
    source = open_source(table, params.max_memory_mb * 2**20)
    points = _resume_points(resumer, params, plans)
    config = _run_config(params)
    runs: list[Trained] = []
    for i, plan in enumerate(plans):
        task = f"training fold {plan.fold + 1}/{params.folds}" if plan.fold >= 0 else "training"
        progress("folds", i, len(plans)) if len(plans) > 1 else None
        runs.append(train_one(config, table, source, plan, progress, task, points[i]))
    if writers is None:
        return {}
    summary = training_summary(table, runs, group_name, threads)
    predict = _predict_config(params)
    write_predictions_artifact(
        predict, table, source, runs, writers["predictions"], output, summary
    )
    write_model_artifact(table, runs, writers["model"], output, params.freeze, params.folds)
    summary["seconds"] = round(time.perf_counter() - started, 1)  # all but imports and writing
    summary["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    return summary


# --------------------------------------------------------------------------- library settings


def _split_policy(params: FinetuneParams) -> SplitPolicy:
    """The options that choose each run's rows (the params of the same names)."""
    return from_attributes(SplitPolicy, params)


def _run_config(params: FinetuneParams) -> RunConfig:
    """The options of every training run: model, start, optimiser and Lightning Trainer (the
    params of the same names)."""
    from emocli.training.module import OptimConfig
    from emocli.training.trainer import Hardware, TrainerConfig

    hardware = from_attributes(Hardware, params)
    trainer = from_attributes(
        TrainerConfig,
        params,
        max_epochs=params.epochs,
        hardware=hardware,
        defaults=["deterministic"],
    )
    # set per run: the steps of an epoch and what a plateau schedule watches
    optim = from_attributes(OptimConfig, params, defaults=["steps_per_epoch", "plateau_monitor"])
    return from_attributes(
        RunConfig, params, model_kwargs=params.kwargs(), optim=optim, trainer=trainer
    )


def _predict_config(params: FinetuneParams) -> PredictConfig:
    """How the trained models predict: twice the training batch (no gradients to keep)."""
    return PredictConfig(
        batch_size=max(1, params.batch_size * 2),
        tta=params.tta,
        workers=params.workers,
        predict_on=params.predict_on,
        max_memory_bytes=params.max_memory_mb * 2**20,
        folds=params.folds,
        stacking=params.stacking,
    )


# --------------------------------------------------------------------------- inputs, resume


def _resume_points(resumer: Resumer | None, params: FinetuneParams, plans: list[Plan]) -> list[Any]:
    """Each run's resume point (None for every run without a resumer)."""
    if resumer is None:
        return [None] * len(plans)
    world = world_size(params.devices, params.num_nodes)
    keys = [
        resumer.key(i, len(plans), rows_digest(p.fold, p.train, p.val), params.epochs, world=world)
        for i, p in enumerate(plans)
    ]
    labels = [f"fold {p.fold + 1}/{params.folds}" if p.fold >= 0 else "the refit" for p in plans]
    return resumer.prepare(keys, labels)


def _init_inputs(params: FinetuneParams) -> list[InputRef]:
    if params.init.startswith(INIT_IMAGENET):
        return [fingerprint_raw(params.init[len(INIT_IMAGENET) :], role="init")]
    if params.init != "none":
        return [fingerprint_artifact(params.init, "model", role="init")]
    return []
