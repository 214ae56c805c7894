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

This module holds the options and the recipe; the work is in :mod:`emocli.training`:
step 1 in ``datamodule``, step 2 in ``plan``, step 3 in ``fit``, step 4 in ``outputs``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emocli.artifacts import ArtifactWriter, InputRef, fingerprint_artifact, fingerprint_raw
from emocli.errors import ParamsError
from emocli.parallel import distributed_rank
from emocli.params import require, runtime_field
from emocli.progress import ProgressHook, no_progress
from emocli.stage import (
    OutputSpec,
    StageInfo,
    StageResult,
    outputs_up_to_date,
    run_stage,
    stage_fingerprint,
)
from emocli.training.fit import (
    RunConfig,
    Trained,
    architecture_name,
    train_one,
    use_threads,
    world_size,
)
from emocli.training.options import AUGMENT_PRESETS, INIT_IMAGENET, TTAS
from emocli.training.outputs import (
    PredictConfig,
    training_summary,
    write_model_artifact,
    write_predictions_artifact,
)
from emocli.training.plan import Plan, SplitPolicy, plan_runs
from emocli.training.resume import Resumer, discard_after_commit, rows_digest

STAGE = StageInfo("finetune", 1)

AUGMENTS = ("auto", *AUGMENT_PRESETS)
CLASS_WEIGHTS = ("none", "balanced")
INPUT_COLUMNS = ("auto", "images", "features")
MONITORS = ("val_loss", "val_accuracy")
VALIDATIONS = ("auto", "split", "holdout", "none")
#: How --stacking predicts the rows no fold held out: the fold models' mean, or a refitted model.
STACKINGS = ("none", "mean", "refit")
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "64-true")


@dataclass(frozen=True)
class FinetuneParams:
    """model : registry name (``auto`` = the --init artifact's architecture, else vgg16);
    model_kwargs : JSON object of extra constructor arguments (``{"head": "torchvision"}``).
    init : ``none``, ``imagenet:PATH`` (torchvision .pth) or a model artifact ``.h5``.
    freeze : ``none``, ``base`` or ``all-but-last-N``.
    input_column : ``auto`` (faces: images; spectrograms: features for audio_* models, else the
    rendered images when present), ``images`` or ``features``.
    augment : ``auto`` (``spec`` for faces, ``none`` for spectrograms), ``spec``, ``strong``,
    ``specaugment`` (spectrogram features), ``speech`` (specaugment with speed and pitch
    perturbation), ``none``. class_weights : ``none`` or ``balanced``.
    patience : epochs without improvement of ``monitor`` before stopping (0 = off).
    validation : where early stopping and best-epoch selection look: ``auto`` (the input's
    ``val`` split, else a hold-out), ``split`` (the ``val`` split), ``holdout`` (ignore the
    ``val`` split, e.g. FER2013's PublicTest when it is the test set: hold out training rows),
    ``none`` (train ``epochs`` epochs, keep the last weights).
    val_fraction : share of the training rows held out (by group) for a hold-out
    (0 with ``auto`` and no ``val`` split = no validation). group_by : ``auto`` | subject | group |
    clip_id | none. test_subjects : subjects held out as the test split whatever the input's
    split column says (``17-20``, ``01,03,10-12``), e.g. RAVDESS's speaker-independent protocol.
    folds : K >= 2 = K-fold cross-validation; fold : run only fold i (0-based; -1 = all).
    stacking : ``none``, or with ``folds`` an honest prediction of every row for a fuser to
    learn from (Wolpert's stacked generalisation): the folds cover the training rows only, a
    training row (or a ``predict_on`` row of the same clip) gets the out-of-fold prediction,
    every other row (val, test, unlabelled) the ``mean`` of the K fold models' probabilities
    (the same models, so a fuser sees inputs of one kind) or, with ``refit``, the prediction of
    one more model trained on every training row (the model artifact then).
    tta : ``flip`` averages each prediction with the mirror image's.
    predict_on : another artifact of the same kind to predict instead of the input.
    """

    model: str = "auto"
    model_kwargs: str = "{}"
    init: str = "none"
    freeze: str = "none"
    input_column: str = "auto"
    augment: str = "auto"
    class_weights: str = "none"
    optimizer: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: str = "none"
    label_smoothing: float = 0.0
    batch_size: int = 32
    epochs: int = 30
    patience: int = 5
    monitor: str = "val_loss"
    validation: str = "auto"
    val_fraction: float = 0.1
    group_by: str = "auto"
    test_subjects: str = ""
    folds: int = 0
    fold: int = -1
    stacking: str = "none"
    tta: str = "none"
    predict_on: str = ""
    precision: str = "32-true"
    seed: int = 0
    fast_dev_run: bool = False
    accelerator: str = runtime_field("auto")
    devices: str = runtime_field("auto")
    num_nodes: int = runtime_field(1)
    strategy: str = runtime_field("auto")
    workers: int = runtime_field(0)
    threads: int = runtime_field(0)
    channels_last: bool = runtime_field(True)
    compile: bool = runtime_field(False)
    max_memory_mb: int = runtime_field(4096)
    progress_bar: bool = runtime_field(False)

    def __post_init__(self) -> None:
        from emocli.training.options import MODEL_NAMES, OPTIMIZERS, SCHEDULERS, parse_freeze

        require(
            self.model == "auto" or self.model in MODEL_NAMES,
            f"--model must be one of: {', '.join(sorted(MODEL_NAMES))} (got {self.model!r})",
        )
        _parse_kwargs(self.model_kwargs)
        require(
            self.init == "none"
            or self.init.startswith(INIT_IMAGENET)
            or self.init.endswith((".h5", ".hdf5")),
            f"--init must be none, imagenet:PATH or a model artifact .h5 (got {self.init!r})",
        )
        parse_freeze(self.freeze)
        require(
            self.input_column in INPUT_COLUMNS,
            f"--input-column must be one of {', '.join(INPUT_COLUMNS)}",
        )
        require(self.augment in AUGMENTS, f"--augment must be one of {', '.join(AUGMENTS)}")
        require(self.class_weights in CLASS_WEIGHTS, "--class-weights must be none or balanced")
        require(self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        require(self.scheduler in SCHEDULERS, f"--scheduler must be one of {', '.join(SCHEDULERS)}")
        require(self.lr > 0, "--lr must be > 0")
        require(self.weight_decay >= 0, "--weight-decay must be >= 0")
        require(0 <= self.momentum < 1, "--momentum must be in [0, 1)")
        require(0 <= self.label_smoothing < 1, "--label-smoothing must be in [0, 1)")
        require(self.batch_size >= 1, "--batch-size must be >= 1")
        require(self.epochs >= 1, "--epochs must be >= 1")
        require(self.patience >= 0, "--patience must be >= 0")
        require(self.monitor in MONITORS, f"--monitor must be one of {', '.join(MONITORS)}")
        require(0 <= self.val_fraction < 1, "--val-fraction must be in [0, 1)")
        require(
            self.validation in VALIDATIONS, f"--validation must be one of {', '.join(VALIDATIONS)}"
        )
        require(
            self.validation != "holdout" or self.val_fraction > 0,
            "--validation holdout needs --val-fraction > 0",
        )
        require(
            not (self.folds and self.validation == "split"),
            "--validation split cannot be combined with --folds (folds hold out their own rows)",
        )
        require(self.folds == 0 or self.folds >= 2, "--folds must be 0 (off) or >= 2")
        require(
            self.fold == -1 or (self.folds >= 2 and 0 <= self.fold < self.folds),
            "--fold i needs --folds K with 0 <= i < K",
        )
        require(self.stacking in STACKINGS, f"--stacking must be one of {', '.join(STACKINGS)}")
        stacked = self.stacking != "none"
        require(
            not (self.folds and self.predict_on and not stacked),
            "--predict-on with --folds needs --stacking (each row is then predicted out of fold)",
        )
        require(not stacked or self.folds >= 2, "--stacking needs --folds K (K >= 2)")
        require(not (stacked and self.fold != -1), "--stacking needs every fold: leave --fold out")
        if self.test_subjects:
            from emocli.training.options import parse_subjects

            parse_subjects(self.test_subjects)
        require(self.tta in TTAS, f"--tta must be one of {', '.join(TTAS)}")
        require(self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}")
        require(self.workers >= 0 and self.threads >= 0, "--workers and --threads must be >= 0")
        require(self.max_memory_mb >= 0, "--max-memory-mb must be >= 0")
        require(self.num_nodes >= 1, "--num-nodes must be >= 1")

    def kwargs(self) -> dict[str, Any]:
        """The extra model constructor arguments given as JSON."""
        return _parse_kwargs(self.model_kwargs)


def _parse_kwargs(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise ParamsError(f"--model-kwargs is not valid JSON ({exc.msg}): {text!r}") from exc
    if not isinstance(value, dict):
        raise ParamsError(f"--model-kwargs must be a JSON object, got {text!r}")
    reserved = {"in_channels", "input_size", "n_classes"} & set(value)
    if reserved:
        raise ParamsError(f"--model-kwargs cannot set {sorted(reserved)}: they come from the input")
    return value


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
    """Fine-tune on the ``faces``/``spectrograms`` artifact ``input``.

    Writes ``output`` (model) and ``predictions_output`` (predictions). Raises
    :class:`~emocli.errors.ArtifactError` / :class:`~emocli.errors.ParamsError` for unusable
    inputs or options and :class:`~emocli.errors.TrainingError` when the loss diverges.
    A resume point beside ``output`` is kept after every epoch; the same command resumes from
    it after a kill (``resume`` False: start over), ``notice`` gets the line that says so
    (:mod:`emocli.training.resume`); it is deleted once the outputs are committed.
    """
    inputs = [fingerprint_artifact(input, ("faces", "spectrograms"), role="input")]
    inputs += _init_inputs(params)
    if params.predict_on:
        inputs.append(
            fingerprint_artifact(params.predict_on, ("faces", "spectrograms"), role="predict_on")
        )
    outputs = {
        "model": OutputSpec(Path(output), "model"),
        "predictions": OutputSpec(Path(predictions_output), "predictions"),
    }
    rank = distributed_rank()
    resumer = _resumer(params, inputs, Path(output), resume, rank, notice)
    if rank > 0:  # a DDP worker started by Lightning or a launcher: train, write nothing
        if not force and outputs_up_to_date(STAGE, params, inputs, outputs):
            return StageResult(STAGE.name, {}, True, "", {"distributed_rank": rank})  # as rank 0
        _execute(params, Path(input), None, Path(output), no_progress, resumer)  # rank 0 reports
        return StageResult(STAGE.name, {}, False, "", {"distributed_rank": rank})

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        return _execute(params, Path(input), writers, Path(output), progress, resumer)

    result = run_stage(STAGE, params, inputs, outputs, build, force)
    discard_after_commit(Path(output))
    return result


def _execute(
    params: FinetuneParams,
    input: Path,
    writers: dict[str, ArtifactWriter] | None,
    output: Path,
    progress: ProgressHook,
    resumer: Resumer | None = None,
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
    """The options that choose each run's rows."""
    return SplitPolicy(
        validation=params.validation,
        val_fraction=params.val_fraction,
        group_by=params.group_by,
        test_subjects=params.test_subjects,
        folds=params.folds,
        fold=params.fold,
        stacking=params.stacking,
        seed=params.seed,
    )


def _run_config(params: FinetuneParams) -> RunConfig:
    """The options of every training run: model, start, optimiser and Lightning Trainer."""
    from emocli.training.module import OptimConfig
    from emocli.training.trainer import TrainerConfig

    optim = OptimConfig(
        optimizer=params.optimizer,
        lr=params.lr,
        weight_decay=params.weight_decay,
        momentum=params.momentum,
        scheduler=params.scheduler,
        epochs=params.epochs,
    )
    trainer = TrainerConfig(
        max_epochs=params.epochs,
        accelerator=params.accelerator,
        devices=params.devices,
        num_nodes=params.num_nodes,
        strategy=params.strategy,
        precision=params.precision,
        patience=params.patience,
        monitor=params.monitor,
        progress_bar=params.progress_bar,
        fast_dev_run=params.fast_dev_run,
    )
    return RunConfig(
        model=params.model,
        model_kwargs=params.kwargs(),
        init=params.init,
        freeze=params.freeze,
        augment=params.augment,
        class_weights=params.class_weights,
        label_smoothing=params.label_smoothing,
        batch_size=params.batch_size,
        workers=params.workers,
        seed=params.seed,
        channels_last=params.channels_last,
        compile=params.compile,
        optim=optim,
        trainer=trainer,
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


def _resumer(
    params: FinetuneParams,
    inputs: list[InputRef],
    output: Path,
    resume: bool,
    rank: int,
    notice: Callable[[str], None] | None,
) -> Resumer | None:
    """Where this command's resume points go and what they must match (None: none kept)."""
    if params.fast_dev_run:
        return None
    fingerprint = stage_fingerprint(STAGE, params, inputs)
    say = notice if notice is not None and rank == 0 else (lambda text: None)
    return Resumer(STAGE.name, output, fingerprint, resume, rank == 0, say)


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
