"""Fit one semi-supervised GAN (or its supervised-only baseline) with Lightning.

:func:`fit_gan` takes ready tensors (labelled train, unlabelled pool, optional validation
set), builds the loaders and the Trainer (CPU/GPU/DDP through Lightning's flags), runs
the manual-optimisation loop of :class:`~emocli.training.gan.SemiSupervisedGan`, and after
every epoch recalibrates D's batch norm on real labelled images, measures validation
accuracy, and draws a grid of generated faces from a fixed noise batch. It returns the
networks (D at the best validation epoch when asked), the per-epoch history and the grids.

With ``d_ema_decay`` the returned D is the moving average of D's weights (evaluated and
selected as such; history keys ``*_accuracy_averaged``), and the last trained weights come
back beside it for comparison. The average is evaluated under a forked random-number state,
so the training itself takes the same course as without averaging.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import CombinedLoader
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from emocli.errors import InputError
from emocli.progress import ProgressHook, no_progress
from emocli.training.augment import preset as augment_preset
from emocli.training.gan import SemiSupervisedGan
from emocli.training.gan_data import from_unit_range, image_grid
from emocli.training.gan_discriminator import predict_probs, recalibrate_batchnorm
from emocli.training.resume import RunResume
from emocli.training.resume_callback import ResumeCallback
from emocli.training.trainer import Hardware, fit_interruptibly, lightning_trainer, quiet_lightning

#: Real labelled images used to recompute D's batch-norm statistics.
RECALIBRATION_IMAGES = 4096
#: Batch size of the recalibration passes.
RECALIBRATION_BATCH = 128
#: Generated faces per grid (a square).
GRID_SIDE = 8


@dataclass(frozen=True)
class FitConfig:
    """Training settings of :func:`fit_gan` (see PretrainGanParams for their meaning)."""

    nz: int = 100
    epochs: int = 25
    batch_size: int = 64
    labelled_batch_size: int = 64
    lr_d: float = 2e-4
    lr_g: float = 2e-4
    schedule: str = "periodic"
    supervised_every: int = 1
    supervised_weight: float = 1.0
    g_loss: str = "feature-matching"
    flip: bool = True
    augment: str = "none"
    steps_per_epoch: int = 0
    select_best: bool = True
    seed: int = 0
    hardware: Hardware = Hardware(accelerator="cpu", devices="1")
    fast_dev_run: bool = False
    rich_progress: bool = False
    collapse_patience: int = 200
    lr_decay_start: float = 1.0
    tta: str = "none"
    d_ema_decay: float = 0.0
    consistency_weight: float = 0.0
    consistency_threshold: float = 0.95


@dataclass
class FitResult:
    """What :func:`fit_gan` produced: trained networks, history and sample grids.

    history : {metric: per-epoch list}; grids : (E, H, W) uint8 (one per epoch; E = 0 when the
    schedule does not train G);
    best_epoch : the 0-based epoch whose D was kept (-1 = the last);
    last_weights : with weight averaging and no epoch selection, D's last trained weights
    (batch norm recomputed) beside the averaged ``discriminator``; else None.
    """

    discriminator: nn.Module
    generator: nn.Module
    history: dict[str, list[float]] = field(default_factory=dict)
    grids: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1), np.uint8))
    best_epoch: int = -1
    last_weights: nn.Module | None = None


class _ProgressCallback(pl.Callback):
    """Report training steps to an emocli progress hook (no printing from library code)."""

    def __init__(self, progress: ProgressHook, task: str) -> None:
        self.progress, self.task = progress, task

    def on_train_batch_end(self, trainer: pl.Trainer, *_args: Any) -> None:
        batches = trainer.num_training_batches
        finite = np.isfinite(batches)
        total = int(batches * (trainer.max_epochs or 1)) if finite else None
        done = trainer.current_epoch * int(batches if finite else 0)
        self.progress(self.task, done + int(trainer.fit_loop.batch_idx) + 1, total)


def _loader(tensors: tuple[torch.Tensor, ...], batch: int, seed: int, world: int) -> DataLoader:
    """Shuffled batches; the ragged end dropped when a process draws a whole batch (under DDP
    each of the ``world`` processes draws its own ceil(n / world) of the n rows)."""
    n = tensors[0].shape[0]
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(*tensors),
        batch_size=min(batch, n),
        shuffle=True,
        drop_last=-(-n // world) >= batch,
        generator=generator,
    )


def _train_loader(
    x_labelled: torch.Tensor,
    y_labelled: torch.Tensor,
    x_unlabelled: torch.Tensor | None,
    config: FitConfig,
    world: int,
) -> CombinedLoader:
    """The labelled (and, unless supervised-only, unlabelled) batches of one training step."""
    loaders: dict[str, DataLoader] = {
        "labelled": _loader(
            (x_labelled, y_labelled), config.labelled_batch_size, config.seed + 1, world
        )
    }
    if config.schedule != "supervised-only":
        assert x_unlabelled is not None
        loaders["unlabelled"] = _loader((x_unlabelled,), config.batch_size, config.seed + 2, world)
    with quiet_lightning():  # its pytree helper warns about a deprecated check
        return CombinedLoader(loaders, mode="max_size_cycle")


def _batches(images: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [images[i : i + size] for i in range(0, images.shape[0], size)]


def fit_gan(
    make_generator: Callable[[], nn.Module],
    make_discriminator: Callable[[], nn.Module],
    x_labelled: torch.Tensor,
    y_labelled: torch.Tensor,
    x_unlabelled: torch.Tensor | None,
    config: FitConfig,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    progress: ProgressHook = no_progress,
    task: str = "training GAN",
    resume: RunResume | None = None,
) -> FitResult:
    """Train G and D; returns a :class:`FitResult`.

    x_labelled : (L, 1, S, S) float in [-1, 1]; y_labelled : (L,) int64;
    x_unlabelled : (U, 1, S, S) float in [-1, 1] (ignored, may be None, for supervised-only);
    x_val, y_val : optional validation images/labels for per-epoch accuracy and selection;
    resume : this run's resume point, written after every epoch and resumed from when it
    matches (:mod:`emocli.training.resume`).
    Raises :class:`~emocli.errors.TrainingError` on NaN losses or collapse.
    """
    pl.seed_everything(config.seed, workers=True, verbose=False)
    generator, discriminator = make_generator(), make_discriminator()
    module = SemiSupervisedGan(
        generator,
        discriminator,
        nz=config.nz,
        lr_d=config.lr_d,
        lr_g=config.lr_g,
        schedule=config.schedule,
        supervised_every=config.supervised_every,
        supervised_weight=config.supervised_weight,
        g_loss=config.g_loss,
        flip=config.flip,
        augment=augment_preset(config.augment),
        collapse_patience=config.collapse_patience,
        lr_decay_start=config.lr_decay_start,
        d_ema_decay=config.d_ema_decay,
        consistency_weight=config.consistency_weight,
        consistency_threshold=config.consistency_threshold,
    )
    if config.schedule != "supervised-only" and (x_unlabelled is None or x_unlabelled.shape[0] < 2):
        raise InputError(
            "the semi-supervised schedules need at least 2 unlabelled images: pass "
            "-u <faces artifact> or use --schedule supervised-only"
        )

    torch_gen = torch.Generator().manual_seed(config.seed + 3)
    fixed_noise = torch.randn(GRID_SIDE * GRID_SIDE, config.nz, generator=torch_gen)
    recal_rows = torch.randperm(x_labelled.shape[0], generator=torch_gen)[:RECALIBRATION_IMAGES]
    recal = _batches(x_labelled[recal_rows], RECALIBRATION_BATCH)
    history: dict[str, list[float]] = {}
    grids: list[np.ndarray] = []
    best: dict[str, Any] = {"acc": -1.0, "epoch": -1, "d": None, "g": None}

    has_val = x_val is not None and y_val is not None and len(y_val) > 0

    def evaluate(d: nn.Module, device: torch.device, suffix: str) -> float:
        """Recompute ``d``'s batch norm, log its accuracies; its validation accuracy (or -1)."""
        recalibrate_batchnorm(d, (b.to(device) for b in recal))
        train_acc = _accuracy(d, x_labelled, y_labelled, config.tta)
        history.setdefault(f"train_accuracy{suffix}", []).append(train_acc)
        if not has_val:
            return -1.0
        assert x_val is not None and y_val is not None
        acc = _accuracy(d, x_val, y_val, config.tta)
        history.setdefault(f"val_accuracy{suffix}", []).append(acc)
        return acc

    def end_of_epoch(gan: SemiSupervisedGan) -> None:
        device = gan.device
        for key, value in gan.epoch_means().items():
            history.setdefault(key, []).append(value)
        history.setdefault("epoch", []).append(float(gan.current_epoch))
        history.setdefault("lr_d", []).append(gan.lr_d * gan.last_lr_factor)
        kept, acc = gan.discriminator, evaluate(gan.discriminator, device, "")
        if gan.averaged_discriminator is not None:
            with _own_random_state(device):  # recalibration runs dropout: keep G/D's draws
                kept = gan.averaged_discriminator.module
                acc = evaluate(kept, device, "_averaged")
        if has_val and acc > best["acc"]:
            best.update(
                acc=acc,
                epoch=gan.current_epoch,
                d=copy.deepcopy(kept.state_dict()),
                g=copy.deepcopy(gan.generator.state_dict()),
            )
        gan.discriminator.train()
        if gan.adversarial:
            was_training = gan.generator.training
            gan.generator.eval()
            with torch.no_grad():
                fake = gan.generator(fixed_noise.to(device)).float().cpu().numpy()
            gan.generator.train(was_training)
            grids.append(image_grid(from_unit_range(fake), GRID_SIDE))

    module.epoch_hooks.append(end_of_epoch)
    callbacks: list[pl.Callback] = []
    resume_callback = None
    if resume is not None:
        resume_callback = _resume_callback(resume, module, history, grids, best)
        callbacks.append(resume_callback)
    if config.rich_progress:
        from pytorch_lightning.callbacks import RichProgressBar

        callbacks.append(RichProgressBar())
    else:
        callbacks.append(_ProgressCallback(progress, task))
    with quiet_lightning():  # also around the Trainer: it reports the accelerators found
        trainer = lightning_trainer(
            config.hardware.flags,
            **_ddp_ready(config.hardware).trainer_kwargs(),
            max_epochs=config.epochs,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=config.rich_progress,
            callbacks=callbacks,
            limit_train_batches=config.steps_per_epoch or None,
            num_sanity_val_steps=0,
            fast_dev_run=config.fast_dev_run,
            deterministic=False,
            log_every_n_steps=50,
        )
        combined = _train_loader(x_labelled, y_labelled, x_unlabelled, config, trainer.world_size)
        if resume_callback is not None:  # the loaders' shuffling generators are saved too
            resume_callback.generators = [
                dl.generator for dl in combined.flattened if dl.generator is not None
            ]
        fit_interruptibly(trainer, module, train_dataloaders=combined)
    discriminator, generator = module.discriminator.cpu(), module.generator.cpu()
    last_weights = None
    if module.averaged_discriminator is not None:
        discriminator, last_weights = module.averaged_discriminator.module.cpu(), discriminator
    best_epoch = -1
    if config.select_best and best["d"] is not None:
        discriminator.load_state_dict(best["d"])
        generator.load_state_dict(best["g"])
        best_epoch, last_weights = int(best["epoch"]), None
    else:
        for d in (discriminator, last_weights):
            if d is not None:
                recalibrate_batchnorm(d, (b.cpu() for b in recal))
    discriminator.eval()
    generator.eval()
    stacked = np.stack(grids) if grids else np.zeros((0, 1, 1), np.uint8)
    return FitResult(discriminator, generator, history, stacked, best_epoch, last_weights)


def _resume_callback(
    point: RunResume,
    module: SemiSupervisedGan,
    history: dict[str, list[float]],
    grids: list[np.ndarray],
    best: dict[str, Any],
) -> ResumeCallback:
    """The resume callback of :func:`fit_gan`, with its bookkeeping: the history, the grids,
    the best epoch's networks and the module's step counters."""

    def extra(trainer: pl.Trainer) -> dict[str, Any]:
        return {
            "history": {k: [float(v) for v in values] for k, values in history.items()},
            "grids": [torch.from_numpy(np.ascontiguousarray(g)) for g in grids],
            "best": {
                "acc": float(best["acc"]),
                "epoch": int(best["epoch"]),
                "d": best["d"],
                "g": best["g"],
            },
            "gan": {
                "d_steps": int(module.d_steps),
                "low_d_steps": int(module._low_d_steps),
                "last_lr_factor": float(module.last_lr_factor),
                "total_steps": int(module.total_steps),
            },
        }

    def load_extra(state: dict[str, Any]) -> None:
        history.clear()
        history.update({k: list(values) for k, values in state["history"].items()})
        grids[:] = [g.numpy() for g in state["grids"]]
        best.update(state["best"])
        gan = state["gan"]
        module.d_steps, module._low_d_steps = gan["d_steps"], gan["low_d_steps"]
        module.last_lr_factor, module.total_steps = gan["last_lr_factor"], gan["total_steps"]

    return ResumeCallback(point, extra, load_extra)


def _own_random_state(device: torch.device) -> Any:
    """A context that restores torch's random state (CPU, and ``device`` if CUDA) on exit."""
    cuda = [device.index or 0] if device.type == "cuda" else []
    return torch.random.fork_rng(devices=cuda)


def _accuracy(d: nn.Module, x: torch.Tensor, y: torch.Tensor, tta: str = "none") -> float:
    probs = predict_probs(d, x, tta=tta)
    return float((probs.argmax(axis=1) == y.numpy()).mean()) if len(y) else float("nan")


def _ddp_ready(hardware: Hardware) -> Hardware:
    """``hardware`` with plain DDP told to look for unused parameters: it cannot know that G's
    sit out D's step (and vice versa)."""
    if hardware.strategy != "ddp":
        return hardware
    return replace(hardware, strategy="ddp_find_unused_parameters_true")
