"""The LightningModule that trains any registry classifier on raw batches from the DataModule.

Batches arrive raw (uint8 pixels or float spectrogram values, ``(B, C, H, W)``);
:class:`InputTransform` scales pixels to [0, 1], augments (training only) and normalises
with the training split's per-channel mean and std, on whatever device the batch is on.
Loss: cross-entropy with optional class weights and label smoothing, plus the model's own
regularisation term (the Fayek model's L2). Logged per epoch: ``train_loss``,
``train_accuracy``, ``val_loss``, ``val_accuracy``, ``lr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from emocli.models.base import EmotionNet
from emocli.training.augment import AugmentConfig, augment_batch

#: Share of the steps OneCycle spends warming up.
ONECYCLE_WARMUP = 0.25
#: Factor and patience (epochs) of the plateau schedule.
PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.5, 3


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and schedule. ``weight_decay`` is decoupled for AdamW, L2 otherwise."""

    optimizer: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: str = "none"
    epochs: int = 30
    steps_per_epoch: int = 1
    plateau_monitor: str = "val_loss"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class InputTransform(nn.Module):
    """raw batch -> float, [0, 1] for uint8 pixels -> (augment) -> ``(x - mean) / std``.

    mean, std : per-channel statistics of the training rows (after the [0, 1] scaling).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, mean: Sequence[float], std: Sequence[float], augment: AugmentConfig | None = None
    ) -> None:
        super().__init__()
        self.register_buffer(
            "mean", torch.tensor(list(mean), dtype=torch.float32)[None, :, None, None]
        )
        self.register_buffer(
            "std", torch.tensor(list(std), dtype=torch.float32)[None, :, None, None]
        )
        self.augment = augment

    def forward(self, x: torch.Tensor, train: bool = False) -> torch.Tensor:
        scaled = x.dtype == torch.uint8
        x = x.float()
        if scaled:
            x = x / 255.0
        if train and self.augment is not None:
            x = augment_batch(x, self.augment)
        return (x - self.mean) / self.std


def flip_tta(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Class probabilities averaged over ``x`` and its mirror image: ``(B, K)``.

    model : a network (or any function) mapping images ``(B, C, H, W)`` to logits ``(B, K)``.
    """
    probs = F.softmax(model(x).float(), dim=1)
    return (probs + F.softmax(model(torch.flip(x, dims=[3])).float(), dim=1)) / 2


class ClassifierModule(pl.LightningModule):
    """Trains ``model`` (a registry classifier) with cross-entropy on batches ``(x, y, pos)``."""

    class_weights: torch.Tensor | None

    def __init__(
        self,
        model: EmotionNet,
        transform: InputTransform,
        optim: OptimConfig,
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile_model: bool = False,
    ) -> None:
        super().__init__()
        self.model = model
        self.transform = transform
        self.optim = optim
        self.label_smoothing = float(label_smoothing)
        self.channels_last = channels_last
        weights = torch.tensor(list(class_weights), dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # the compiled network shares the model's parameters; kept out of the module tree so
        # state dicts keep the registry's names
        self._train_net: Any = torch.compile(self.model) if compile_model else self.model

    def _inputs(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        x = self.transform(x, train=train)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K)`` of a raw batch."""
        return self.model(self._inputs(x, train=False))

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(), y, weight=self.class_weights, label_smoothing=self.label_smoothing
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        logits = self._train_net(self._inputs(x, train=True))
        loss = self._loss(logits, y)
        extra = self.model.regularization_loss()
        total = loss + extra if extra is not None else loss
        acc = (logits.argmax(1) == y).float().mean()
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("train_accuracy", acc, on_step=False, on_epoch=True, sync_dist=True)
        return total

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y, _ = batch
        logits = self.model(self._inputs(x, train=False))
        self.log("val_loss", self._loss(logits, y), on_epoch=True, prog_bar=True, sync_dist=True)
        acc = (logits.argmax(1) == y).float().mean()
        self.log("val_accuracy", acc, on_epoch=True, prog_bar=True, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        opt = self.optimizers()
        if isinstance(opt, list):
            opt = opt[0]
        self.log("lr", float(opt.param_groups[0]["lr"]), on_epoch=True, sync_dist=True)

    def configure_optimizers(self) -> Any:
        cfg = self.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                weight_decay=cfg.weight_decay,
            )  # fmt: skip
        elif cfg.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "adamw":
            opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "rmsprop":
            opt = torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            raise ValueError(f"unknown optimizer {cfg.optimizer!r}")
        if cfg.scheduler == "onecycle":
            total = max(1, cfg.epochs * cfg.steps_per_epoch)
            sched: Any = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=cfg.lr, total_steps=total, pct_start=ONECYCLE_WARMUP
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if cfg.scheduler == "cosine":
            total = max(1, cfg.epochs * cfg.steps_per_epoch)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if cfg.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE
            )
            return {
                "optimizer": opt,
                "lr_scheduler": {
                    "scheduler": sched,
                    "monitor": cfg.plateau_monitor,
                    "interval": "epoch",
                },
            }
        return opt


def steps_per_epoch(n_train: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps per epoch with ``drop_last`` when more than one batch (as the DataModule)."""
    per_device = math.ceil(n_train / max(1, world_size))
    if per_device > batch_size:
        return per_device // batch_size
    return 1
