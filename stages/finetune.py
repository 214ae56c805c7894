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
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocli.artifacts import ArtifactWriter, InputRef, fingerprint_artifact, fingerprint_raw
from emocli.errors import ParamsError
from emocli.labels import map_labels_by_name
from emocli.parallel import auto_threads, distributed_rank
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
from emocli.training.options import AUGMENT_PRESETS, TTAS
from emocli.training.resume import Resumer, discard_after_commit, rows_digest

STAGE = StageInfo("finetune", 1)

INIT_IMAGENET = "imagenet:"
AUGMENTS = ("auto", *AUGMENT_PRESETS)
CLASS_WEIGHTS = ("none", "balanced")
INPUT_COLUMNS = ("auto", "images", "features")
MONITORS = ("val_loss", "val_accuracy")
VALIDATIONS = ("auto", "split", "holdout", "none")
#: How --stacking predicts the rows no fold held out: the fold models' mean, or a refitted model.
STACKINGS = ("none", "mean", "refit")
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "64-true")
#: Model used when neither --model nor an artifact --init names one (the sources' VGG16).
DEFAULT_MODEL = "vgg16"


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


# --------------------------------------------------------------------------- planning


@dataclass
class Plan:
    """One training run: row indices of the input to train on, validate on, and predict
    out of fold (``fold`` = -1 and ``test`` empty outside k-fold and for the model that
    ``--stacking refit`` trains on every training row)."""

    fold: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    val_source: str = "none"  # "split", "holdout" or "none"
    notes: list[str] = field(default_factory=list)  # fallbacks taken, for the summary


def _holdout(
    params: FinetuneParams,
    table: Any,
    rows: np.ndarray,
    groups: np.ndarray | None,
    seed: int,
    where: str,
) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """(train, val, val source, notes) for the training ``rows`` (M,) of ``table``: about
    ``val_fraction`` of them held out by group (``groups``: (M,) or None), unless validation
    is off. A note states a hold-out cut coarser than asked; ``where`` (``fold 2: ``)
    prefixes notes and errors."""
    from emocli.training.datamodule import holdout_folds, holdout_split

    if params.validation == "none" or params.val_fraction <= 0:
        return rows, rows[:0], "none", []
    labels, fraction, classes = table.label[rows], params.val_fraction, table.classes
    try:
        folds = holdout_folds(labels, groups, fraction, classes)
        train, val = holdout_split(rows, labels, groups, fraction, seed, classes)
    except ParamsError as exc:
        raise ParamsError(f"{where}{exc}") from exc
    notes = []
    if folds.used < folds.wanted:
        notes.append(
            f"{where}validation hold-out of 1/{folds.used} of the training rows ({len(val)}) "
            f"instead of 1/{folds.wanted} (--val-fraction {fraction}): {folds.reason}"
        )
    return train, val, "holdout", notes


def plan_runs(params: FinetuneParams, table: Any) -> tuple[list[Plan], str]:
    """The training runs for ``table`` (a :class:`~emocli.training.datamodule.SampleTable`) and
    the name of the grouping column used (``none`` when splits are stratified by class)."""
    from emocli.training.datamodule import kfold_splits, resolve_groups
    from emocli.training.options import subject_mask

    group_name, groups = resolve_groups(table, params.group_by)
    labelled = table.label >= 0
    if params.test_subjects:
        held = subject_mask(table.subject, params.test_subjects)
        if not held.any():
            raise ParamsError(
                f"--test-subjects {params.test_subjects}: no row of {table.path} belongs to "
                f"these subjects (it has {len(set(table.subject.tolist()))} subjects)"
            )
        table.split = np.where(held, "test", np.where(table.split == "test", "", table.split))

    def grouped(rows: np.ndarray) -> np.ndarray | None:
        return groups[rows] if groups is not None else None

    def with_val(fold: int, rows: np.ndarray, seed: int, test: np.ndarray | None = None) -> Plan:
        where = f"fold {fold}: " if fold >= 0 else "refit: " if params.folds else ""
        train, val, source, notes = _holdout(params, table, rows, grouped(rows), seed, where)
        test = rows[:0] if test is None else test
        return Plan(fold, train, val, test, source, notes)

    if params.folds:
        if params.stacking != "none":  # the training rows only: val, test unseen by every fold
            pool = np.flatnonzero(labelled & np.isin(table.split, ["train", ""]))
        else:
            pool = np.flatnonzero(labelled & (table.split != "test"))
        if len(pool) == 0:
            raise ParamsError(f"{table.path}: no labelled rows to cross-validate")
        labels, k = table.label[pool], params.folds
        splits = kfold_splits(pool, labels, grouped(pool), k, params.seed, table.classes)
        plans = [
            with_val(i, rest, params.seed + i, test)
            for i, (rest, test) in enumerate(splits)
            if params.fold in (-1, i)
        ]
        if params.stacking == "refit":  # and a model of every training row, for the others
            plans.append(with_val(-1, pool, params.seed))
        return plans, group_name
    train = np.flatnonzero(labelled & np.isin(table.split, ["train", ""]))
    if len(train) == 0:
        raise ParamsError(
            f"{table.path}: no labelled 'train' rows to learn from (splits present: "
            f"{sorted(set(table.split.tolist()))})"
        )
    val = np.flatnonzero(labelled & (table.split == "val"))
    if params.validation == "split" and len(val) == 0:
        raise ParamsError(f"--validation split: {table.path} has no labelled 'val' rows")
    if params.validation in ("split", "auto") and len(val):
        return [Plan(-1, train, val, val_source="split")], group_name
    return [with_val(-1, train, params.seed)], group_name


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
    world = _world_size(params.devices) * params.num_nodes
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


@dataclass
class Trained:
    """One finished training run."""

    plan: Plan
    module: Any
    fit: Any
    architecture: str
    kwargs: dict[str, Any]
    normalisation: dict[str, Any]
    transfer: dict[str, Any]
    frozen: list[str]


def _resolve_architecture(params: FinetuneParams, table: Any) -> tuple[str, dict[str, Any], Any]:
    """(architecture, constructor kwargs, source ModelInfo or None) for ``table``'s input."""
    from emocli.training.model_store import read_model_info

    shape = table.shape
    fixed = {
        "in_channels": shape[0],
        "input_size": [shape[1], shape[2]],
        "n_classes": len(table.classes),
    }
    source = None
    arch = DEFAULT_MODEL if params.model == "auto" else params.model
    base_kwargs: dict[str, Any] = {}
    if params.init.endswith((".h5", ".hdf5")):
        source = read_model_info(params.init)
        if params.model not in ("auto", source.architecture):
            raise ParamsError(
                f"--init {params.init} holds a {source.architecture!r} model; use --model "
                f"{source.architecture} (or leave --model out)"
            )
        arch = source.architecture
        base_kwargs = {
            k: v
            for k, v in source.model_kwargs.items()
            if k not in ("in_channels", "input_size", "n_classes")
        }
    return arch, {**base_kwargs, **params.kwargs(), **fixed}, source


def _normalisation(
    table: Any, source_rows: Any, train_rows: np.ndarray, source_model: Any, seed: int
) -> dict[str, Any]:
    """Input scaling: the --init model's when it saw the same kind of input, else the training
    rows' per-channel mean and std (after scaling uint8 pixels to [0, 1])."""
    from emocli.training.datamodule import channel_stats

    scale = 255.0 if table.dtype == np.uint8 else 1.0
    if source_model is not None:
        same = (
            source_model.input.get("kind", table.kind) == table.kind
            and source_model.channels == table.shape[0]
        )
        src_scale, mean, std = source_model.normalisation()
        if same and src_scale == scale:
            return {"scale": scale, "mean": mean, "std": std, "from": str(source_model.path)}
    mean, std = channel_stats(source_rows, train_rows, scale, seed)
    return {"scale": scale, "mean": mean, "std": std, "from": "training rows"}


def _augment_config(params: FinetuneParams, table: Any) -> Any:
    from emocli.training.augment import preset
    from emocli.training.options import IMAGE_AUGMENTS

    name = params.augment
    if name == "auto":
        name = "spec" if table.kind == "faces" else "none"
    if name in IMAGE_AUGMENTS and table.dtype != np.uint8:
        raise ParamsError(
            f"--augment {name} transforms pictures, but the {table.column!r} input is "
            f"{table.dtype} values; use --augment specaugment, speech or none for spectrogram "
            "features"
        )
    return preset(name)


def _train_one(
    params: FinetuneParams,
    table: Any,
    source: Any,
    plan: Plan,
    progress: ProgressHook,
    task: str,
    resume: Any = None,
) -> Trained:
    import pytorch_lightning as pl

    from emocli.models import build_classifier
    from emocli.training.datamodule import HDF5DataModule, balanced_class_weights
    from emocli.training.model_store import load_model
    from emocli.training.module import (
        ClassifierModule,
        InputTransform,
        OptimConfig,
        steps_per_epoch,
    )
    from emocli.training.trainer import TrainerConfig, fit, quiet_lightning
    from emocli.transfer import apply_freeze, load_imagenet, transfer_state

    with quiet_lightning():
        pl.seed_everything(params.seed, workers=True)
    arch, kwargs, source_model = _resolve_architecture(params, table)
    model = build_classifier(arch, **kwargs)
    transfer: dict[str, Any] = {"source": "none"}
    if params.init.startswith(INIT_IMAGENET):
        transfer = load_imagenet(model, params.init[len(INIT_IMAGENET) :]).summary()
    elif source_model is not None:
        src_net, src_info = load_model(params.init)
        report = transfer_state(
            model,
            src_net.state_dict(),
            src_info.classes,
            table.classes,
            source=params.init,
        )
        transfer = report.summary()
    frozen = apply_freeze(model, params.freeze)
    norm = _normalisation(table, source, plan.train, source_model, params.seed)
    labels = table.label
    weights = None
    if params.class_weights == "balanced":
        weights = balanced_class_weights(labels[plan.train], len(table.classes)).tolist()
    has_val = len(plan.val) > 0
    world = _world_size(params.devices) * params.num_nodes
    optim = OptimConfig(
        optimizer=params.optimizer,
        lr=params.lr,
        weight_decay=params.weight_decay,
        momentum=params.momentum,
        scheduler=params.scheduler,
        epochs=params.epochs,
        steps_per_epoch=steps_per_epoch(len(plan.train), params.batch_size, world),
        plateau_monitor=params.monitor if has_val else "train_loss",
    )
    module = ClassifierModule(
        model,
        InputTransform(norm["mean"], norm["std"], _augment_config(params, table)),
        optim,
        class_weights=weights,
        label_smoothing=params.label_smoothing,
        channels_last=params.channels_last,
        compile_model=params.compile,
    )
    data = HDF5DataModule(
        source,
        plan.train,
        labels[plan.train],
        plan.val,
        labels[plan.val],
        batch_size=params.batch_size,
        workers=params.workers,
    )
    config = TrainerConfig(
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
    result = fit(module, data, config, progress=progress, task=task, resume=resume)
    return Trained(plan, module, result, arch, kwargs, norm, transfer, frozen)


def _world_size(devices: str) -> int:
    text = str(devices).strip()
    if "," in text:
        return len([d for d in text.split(",") if d.strip()])
    return int(text) if text.isdigit() and int(text) > 0 else 1


def _execute(
    params: FinetuneParams,
    input: Path,
    writers: dict[str, ArtifactWriter] | None,
    output: Path,
    progress: ProgressHook,
    resumer: Resumer | None = None,
) -> dict[str, Any]:
    import torch

    from emocli.models import parameter_count
    from emocli.training.datamodule import open_source, read_table

    started, cpu_started = time.perf_counter(), time.process_time()
    threads = params.threads or auto_threads()
    torch.set_num_threads(threads)
    name = params.model
    if name == "auto" and params.init.endswith((".h5", ".hdf5")):
        from emocli.training.model_store import read_model_info

        name = read_model_info(params.init).architecture
    audio_model = name.startswith("audio_")
    table = read_table(input, params.input_column, audio_model=audio_model)
    if not table.classes:
        raise ParamsError(f"{input}: the input artifact has no classes to learn")
    plans, group_name = plan_runs(params, table)
    if params.stacking != "none" and table.kind == "faces":  # frames of one clip: one fold
        from emocli.training.stacking import clip_folds

        clip_folds(table, [p for p in plans if p.fold >= 0])
    source = open_source(table, params.max_memory_mb * 2**20)
    points = _resume_points(resumer, params, plans)
    runs: list[Trained] = []
    for i, plan in enumerate(plans):
        task = f"training fold {plan.fold + 1}/{params.folds}" if plan.fold >= 0 else "training"
        progress("folds", i, len(plans)) if len(plans) > 1 else None
        runs.append(_train_one(params, table, source, plan, progress, task, points[i]))
    if writers is None:
        return {}
    last = runs[-1]
    model = last.module.model
    summary: dict[str, Any] = {
        "model": last.architecture,
        "parameters": parameter_count(model),
        "trainable_parameters": parameter_count(model, trainable_only=True),
        "frozen_tensors": len(last.frozen),
        "input": {"kind": table.kind, "column": table.column, "shape": list(table.shape)},
        "classes": len(table.classes),
        "train_class_counts": {  # the imbalance the thesis asks to report (last run's rows)
            name: int(count)
            for name, count in zip(
                table.classes,
                np.bincount(table.label[last.plan.train], minlength=len(table.classes)),
                strict=True,
            )
        },
        "group_by": group_name,
        "transfer": last.transfer,
        "train_seconds": round(sum(r.fit.seconds for r in runs), 1),
        "threads": threads,
    }
    notes = list(dict.fromkeys(note for plan in plans for note in plan.notes))
    if notes:
        summary["notes"] = notes
    _write_predictions(params, table, source, runs, writers["predictions"], output, summary)
    _write_model_artifact(params, table, runs, writers["model"], output, summary)
    summary["seconds"] = round(time.perf_counter() - started, 1)  # all but imports and writing
    summary["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    return summary


# --------------------------------------------------------------------------- outputs


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float | None:
    known = labels >= 0
    if not known.any():
        return None
    return round(float((probs[known].argmax(1) == labels[known]).mean()), 4)


def _write_predictions(
    params: FinetuneParams,
    table: Any,
    source: Any,
    runs: list[Trained],
    writer: ArtifactWriter,
    output: Path,
    summary: dict[str, Any],
) -> None:
    from emocli.predictions import Predictions, write_predictions
    from emocli.training.trainer import predict_probs

    batch = max(1, params.batch_size * 2)
    modality = "face" if table.kind == "faces" else "audio"
    level = "frame" if table.kind == "faces" else "clip"  # a spectrogram is a whole clip
    if params.stacking != "none":
        preds = _stacked_predictions(params, table, source, runs, summary)
        preds.modality, preds.level = modality, level
    elif params.folds:
        rows_parts, prob_parts, fold_parts, fold_acc = [], [], [], []
        for run_ in runs:
            probs = predict_probs(
                run_.module, source, run_.plan.test, batch, params.tta, params.workers
            )
            rows_parts.append(run_.plan.test)
            prob_parts.append(probs)
            fold_parts.append(np.full(len(run_.plan.test), run_.plan.fold, np.int64))
            fold_acc.append(_accuracy(probs, table.label[run_.plan.test]) or 0.0)
        rows = np.concatenate(rows_parts)
        order = np.argsort(rows, kind="stable")
        rows, probs = rows[order], np.concatenate(prob_parts)[order]
        folds = np.concatenate(fold_parts)[order]
        preds = Predictions.build(
            table.classes,
            probs,
            table.sample_id[rows],
            label=table.label[rows],
            clip_id=table.clip_id[rows],
            subject=table.subject[rows],
            split=np.full(len(rows), "test", dtype=object),
            fold=folds,
            modality=modality,
            level=level,
        )
        summary["folds"] = [
            {
                "fold": r.plan.fold,
                "train": len(r.plan.train),
                "val": len(r.plan.val),
                "test": len(r.plan.test),
                "test_accuracy": acc,
                "best_epoch": r.fit.best_epoch,
                "epochs_run": r.fit.epochs_run,
                "seconds": round(r.fit.seconds, 1),
            }
            for r, acc in zip(runs, fold_acc, strict=True)
        ]
        summary["fold_accuracy"] = fold_acc
        summary["cv_accuracy_mean"] = round(float(np.mean(fold_acc)), 4)
        summary["cv_accuracy_std"] = round(float(np.std(fold_acc)), 4)
        summary["oof_accuracy"] = _accuracy(probs, table.label[rows])
    else:
        run_ = runs[0]
        target, target_source = _prediction_target(params, table, source)
        labels, lost = map_labels_by_name(target.label, target.classes, table.classes)
        if lost:
            summary["predict_on_unmapped_labels"] = lost
        probs = predict_probs(
            run_.module, target_source, np.arange(len(target)), batch, params.tta, params.workers
        )
        preds = _target_predictions(table, target, probs, labels)
        preds.modality, preds.level = modality, level
        summary.update(
            train=len(run_.plan.train),
            val=len(run_.plan.val),
            epochs_run=run_.fit.epochs_run,
            best_epoch=run_.fit.best_epoch,
        )
        accuracy = _split_accuracy(probs, labels, target.split)
        summary["validation"] = run_.plan.val_source
        if run_.plan.val_source == "holdout" and not params.predict_on:
            acc = _accuracy(probs[run_.plan.val], labels[run_.plan.val])
            if acc is not None:
                accuracy["held_out_val"] = acc
        summary["accuracy"] = accuracy
    write_predictions(writer, preds)
    writer.set_attr("model", str(output))


def _prediction_target(params: FinetuneParams, table: Any, source: Any) -> tuple[Any, Any]:
    """The table whose rows get predictions (``predict_on``, else the input) and its source."""
    from emocli.training.datamodule import open_source, read_table

    if not params.predict_on:
        return table, source
    target = read_table(params.predict_on, table.column)
    if target.shape != table.shape:
        raise ParamsError(
            f"--predict-on {params.predict_on}: its {target.column!r} rows are "
            f"{target.shape}, the model takes {table.shape}"
        )
    return target, open_source(target, params.max_memory_mb * 2**20)


def _stacked_predictions(
    params: FinetuneParams, table: Any, source: Any, runs: list[Trained], summary: dict[str, Any]
) -> Any:
    """Stacking: a row's out-of-fold probabilities where a fold held it (or its clip) out, else
    the fold models' mean (``mean``) or the final model's (``refit``: the run of fold -1, trained
    on every training row). Records fold and split accuracies in ``summary``."""
    from emocli.training.stacking import held_out_fold
    from emocli.training.trainer import predict_probs

    target, target_source = _prediction_target(params, table, source)
    labels, lost = map_labels_by_name(target.label, target.classes, table.classes)
    if lost:
        summary["predict_on_unmapped_labels"] = lost
    folds = [r for r in runs if r.plan.fold >= 0]
    owner = held_out_fold(table, target, [r.plan for r in folds], same=not params.predict_on)
    batch = max(1, params.batch_size * 2)

    def predict(run_: Trained, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros((0, len(table.classes)), np.float32)
        return predict_probs(run_.module, target_source, rows, batch, params.tta, params.workers)

    probs = np.zeros((len(owner), len(table.classes)), np.float32)
    fold_acc = []
    rest = np.flatnonzero(owner < 0)
    for run_ in folds:
        rows = np.flatnonzero(owner == run_.plan.fold)
        probs[rows] = predict(run_, rows)
        fold_acc.append(_accuracy(probs[rows], labels[rows]))
        if params.stacking == "mean":
            probs[rest] += predict(run_, rest) / len(folds)
    if params.stacking == "refit":
        refit = next(r for r in runs if r.plan.fold < 0)
        probs[rest] = predict(refit, rest)
    held = owner >= 0
    training = np.isin(target.split, ["train", ""]) & (labels >= 0)
    measured = [a for a in fold_acc if a is not None]  # a fold may hold no labelled target row
    summary["fold_accuracy"] = measured
    summary["cv_accuracy_mean"] = round(float(np.mean(measured)), 4) if measured else 0.0
    summary["cv_accuracy_std"] = round(float(np.std(measured)), 4) if measured else 0.0
    summary["stacking"] = {
        "others_from": params.stacking,
        "out_of_fold_rows": int(held.sum()),
        "out_of_fold_accuracy": _accuracy(probs[held], labels[held]),
        "other_rows": len(rest),
        "other_accuracy": _split_accuracy(probs[rest], labels[rest], target.split[rest]),
        "training_rows_not_out_of_fold": int((training & ~held).sum()),
    }
    return _target_predictions(table, target, probs, labels, fold=owner)


def _target_predictions(
    table: Any, target: Any, probs: np.ndarray, labels: np.ndarray, fold: Any = None
) -> Any:
    """Predictions (N, K) of ``table``'s classes for the rows of ``target``, with its ids."""
    from emocli.predictions import Predictions

    return Predictions.build(
        table.classes,
        probs,
        target.sample_id,
        label=labels,
        clip_id=target.clip_id,
        subject=target.subject,
        split=target.split,
        fold=fold,
    )


def _split_accuracy(probs: np.ndarray, labels: np.ndarray, split: np.ndarray) -> dict[str, float]:
    """Accuracy of the labelled rows of each split (``unsplit`` for an empty name)."""
    accuracy = {}
    for name in sorted(set(split.tolist())):
        rows = split == name
        if (acc := _accuracy(probs[rows], labels[rows])) is not None:
            accuracy[name or "unsplit"] = acc
    return accuracy


def _merged_history(runs: list[Trained]) -> dict[str, np.ndarray]:
    """Per-epoch history; after k-fold the folds' histories end to end with a ``fold`` column."""
    if len(runs) == 1 and runs[0].plan.fold < 0:
        return dict(runs[0].fit.history)
    names = sorted({k for r in runs for k in r.fit.history})
    merged: dict[str, list[np.ndarray]] = {name: [] for name in [*names, "fold"]}
    for r in runs:
        n = len(r.fit.history.get("epoch", []))
        for name in names:
            merged[name].append(np.asarray(r.fit.history.get(name, np.full(n, np.nan)), np.float64))
        merged["fold"].append(np.full(n, r.plan.fold, np.float64))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in merged.items()}


def _write_model_artifact(
    params: FinetuneParams,
    table: Any,
    runs: list[Trained],
    writer: ArtifactWriter,
    output: Path,
    summary: dict[str, Any],
) -> None:
    from emocli.contract import model_input
    from emocli.plots import plot_history
    from emocli.training.model_store import ModelInfo, write_model

    last = runs[-1]
    info = ModelInfo(
        architecture=last.architecture,
        model_kwargs=last.kwargs,
        classes=list(table.classes),
        input=model_input(
            table.kind, table.column, table.shape, last.normalisation, table.upstream
        ),
        history=_merged_history(runs),
    )
    extra: dict[str, Any] = {
        "best_epoch": int(last.fit.best_epoch),
        "transfer": last.transfer,
        "freeze": params.freeze,
    }
    if params.folds:
        extra["folds"] = params.folds
        extra["weights_fold"] = int(last.plan.fold)
    write_model(writer, last.module.model, info, extra)
    if last.fit.history:
        title = f"{last.architecture} on {table.path.name}"
        if last.plan.fold >= 0:
            title += f" (fold {last.plan.fold})"
        plot_history(writer.sidecar(f"{output.stem}.curves.png"), last.fit.history, title)
