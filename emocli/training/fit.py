"""One finetune training run: build the classifier, start it (random, ImageNet, or transferred
from a model artifact), freeze, normalise, and train it with Lightning on a plan's rows.

:func:`train_one` trains on the rows of a :class:`~emocli.training.plan.Plan` read from a
:class:`~emocli.training.datamodule.RowSource`: raw rows ``(N, C, H, W)``, uint8 pixels (scaled
to [0, 1] by 1/255) or float32 spectrogram values (scale 1). The input normalisation is
``(raw / scale - mean) / std`` with ``mean`` and ``std`` lists of C floats (the --init model's
when it saw the same kind of input, else the training rows'). The returned :class:`Trained`
holds the module with its best-epoch weights and the per-epoch history.
Also here: the thread policy (:func:`use_threads`) and the DDP world size (:func:`world_size`).
Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.errors import ParamsError
from emocli.progress import ProgressHook
from emocli.stage_params.choices import DEFAULT_MODEL, INIT_IMAGENET
from emocli.training.plan import Plan

if TYPE_CHECKING:
    from emocli.training.datamodule import RowSource, SampleTable
    from emocli.training.module import OptimConfig
    from emocli.training.trainer import TrainerConfig

#: Constructor arguments that come from the input, never from --model-kwargs or an --init model.
INPUT_KWARGS = ("in_channels", "input_size", "n_classes")


@dataclass(frozen=True)
class RunConfig:
    """The settings of every training run: finetune's options less the choice of rows (same
    names and meanings as ``FinetuneParams``).

    model : registry name or ``auto`` (the ``init`` artifact's architecture, else
    :data:`~emocli.training.options.DEFAULT_MODEL`); model_kwargs : extra constructor
    arguments; init : ``none``, ``imagenet:PATH`` or a model artifact ``.h5``; freeze :
    ``none``, ``base`` or ``all-but-last-N``; augment : a preset or ``auto``; class_weights :
    ``none`` or ``balanced``; batch_size : rows per training step and device; workers : data
    loader processes; seed : of weights, augmentation and statistics.
    optim : the optimiser and schedule (``steps_per_epoch`` and ``plateau_monitor`` are set per
    run); trainer : the Lightning Trainer's settings.
    """

    model: str
    model_kwargs: dict[str, Any]
    init: str
    freeze: str
    augment: str
    class_weights: str
    label_smoothing: float
    batch_size: int
    workers: int
    seed: int
    channels_last: bool
    compile: bool
    optim: OptimConfig
    trainer: TrainerConfig


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


def use_threads(threads: int) -> int:
    """Size torch's CPU thread pool: ``threads``, or with 0 the cores that the 1-minute load
    average leaves free (:func:`~emocli.parallel.auto_threads`). Returns the count."""
    import torch

    from emocli.parallel import auto_threads

    count = threads or auto_threads()
    torch.set_num_threads(count)
    return count


def world_size(devices: str, num_nodes: int = 1) -> int:
    """Training processes of a run on ``devices`` (``auto``, a count ``2`` or a list ``0,1``;
    ``auto`` counts as 1) per node, times ``num_nodes``."""
    text = str(devices).strip()
    if "," in text:
        per_node = len([d for d in text.split(",") if d.strip()])
    else:
        per_node = int(text) if text.isdigit() and int(text) > 0 else 1
    return per_node * num_nodes


def architecture_name(model: str, init: str) -> str:
    """The registry name of the model to train, as far as the input column depends on it:
    ``model``, or for ``auto`` the architecture of an ``init`` model artifact (read from its
    attributes); ``auto`` stays ``auto`` otherwise."""
    if model == "auto" and init.endswith((".h5", ".hdf5")):
        from emocli.training.model_store import read_model_info

        return read_model_info(init).architecture
    return model


def _resolve_architecture(config: RunConfig, table: SampleTable) -> tuple[str, dict[str, Any], Any]:
    """(architecture, constructor kwargs, source ModelInfo or None) for ``table``'s input."""
    from emocli.training.model_store import read_model_info

    shape = table.shape
    fixed = {
        "in_channels": shape[0],
        "input_size": [shape[1], shape[2]],
        "n_classes": len(table.classes),
    }
    source = None
    arch = DEFAULT_MODEL if config.model == "auto" else config.model
    base_kwargs: dict[str, Any] = {}
    if config.init.endswith((".h5", ".hdf5")):
        source = read_model_info(config.init)
        if config.model not in ("auto", source.architecture):
            raise ParamsError(
                f"--init {config.init} holds a {source.architecture!r} model; use --model "
                f"{source.architecture} (or leave --model out)"
            )
        arch = source.architecture
        base_kwargs = {k: v for k, v in source.model_kwargs.items() if k not in INPUT_KWARGS}
    return arch, {**base_kwargs, **config.model_kwargs, **fixed}, source


def _normalisation(
    table: SampleTable,
    source_rows: RowSource,
    train_rows: np.ndarray,
    source_model: Any,
    seed: int,
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


def _augment_config(augment: str, table: SampleTable) -> Any:
    """The augmentation preset ``augment`` (``auto``: ``spec`` for faces, ``none`` for
    spectrograms); picture presets are refused for float features."""
    from emocli.stage_params.choices import IMAGE_AUGMENTS
    from emocli.training.augment import preset

    name = augment
    if name == "auto":
        name = "spec" if table.kind == "faces" else "none"
    if name in IMAGE_AUGMENTS and table.dtype != np.uint8:
        raise ParamsError(
            f"--augment {name} transforms pictures, but the {table.column!r} input is "
            f"{table.dtype} values; use --augment specaugment, speech or none for spectrogram "
            "features"
        )
    return preset(name)


def train_one(
    config: RunConfig,
    table: SampleTable,
    source: RowSource,
    plan: Plan,
    progress: ProgressHook,
    task: str,
    resume: Any = None,
) -> Trained:
    """Train one run on ``plan``'s rows of ``source`` (labels from ``table``).

    progress : called as ``progress(task, epochs done, epochs)``; resume : the run's
    :class:`~emocli.training.resume.RunResume` (None: no resume point). Raises
    :class:`~emocli.errors.ParamsError` for unusable options and
    :class:`~emocli.errors.TrainingError` when the loss diverges."""
    import pytorch_lightning as pl

    from emocli.models import build_classifier
    from emocli.training.datamodule import HDF5DataModule
    from emocli.training.model_store import load_model
    from emocli.training.module import ClassifierModule, InputTransform, steps_per_epoch
    from emocli.training.splits import balanced_class_weights
    from emocli.training.trainer import fit, quiet_lightning
    from emocli.transfer import apply_freeze, load_imagenet, transfer_state

    with quiet_lightning():
        pl.seed_everything(config.seed, workers=True)
    arch, kwargs, source_model = _resolve_architecture(config, table)
    model = build_classifier(arch, **kwargs)
    transfer: dict[str, Any] = {"source": "none"}
    if config.init.startswith(INIT_IMAGENET):
        transfer = load_imagenet(model, config.init[len(INIT_IMAGENET) :]).summary()
    elif source_model is not None:
        src_net, src_info = load_model(config.init)
        report = transfer_state(
            model,
            src_net.state_dict(),
            src_info.classes,
            table.classes,
            source=config.init,
        )
        transfer = report.summary()
    frozen = apply_freeze(model, config.freeze)
    norm = _normalisation(table, source, plan.train, source_model, config.seed)
    labels = table.label
    weights = None
    if config.class_weights == "balanced":
        weights = balanced_class_weights(labels[plan.train], len(table.classes)).tolist()
    has_val = len(plan.val) > 0
    world = world_size(config.trainer.hardware.devices, config.trainer.hardware.num_nodes)
    optim = replace(
        config.optim,
        steps_per_epoch=steps_per_epoch(len(plan.train), config.batch_size, world),
        plateau_monitor=config.trainer.monitor if has_val else "train_loss",
    )
    module = ClassifierModule(
        model,
        InputTransform(norm["mean"], norm["std"], _augment_config(config.augment, table)),
        optim,
        class_weights=weights,
        label_smoothing=config.label_smoothing,
        channels_last=config.channels_last,
        compile_model=config.compile,
    )
    data = HDF5DataModule(
        source,
        plan.train,
        labels[plan.train],
        plan.val,
        labels[plan.val],
        batch_size=config.batch_size,
        workers=config.workers,
    )
    result = fit(module, data, config.trainer, progress=progress, task=task, resume=resume)
    return Trained(plan, module, result, arch, kwargs, norm, transfer, frozen)
