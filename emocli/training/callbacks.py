"""Lightning callbacks of every training run: the NaN guard, the best-weights keeper, the
progress hook and the epoch timer."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from emocli.errors import TrainingError
from emocli.progress import ProgressHook

#: Metrics whose larger values are better (the others are minimised).
MAXIMISED = ("val_accuracy", "train_accuracy")


class NaNGuard(Callback):
    """Stops training with :class:`TrainingError` on the first non-finite training loss."""

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss.detach()).all()):
            raise TrainingError(
                f"training diverged: the loss became {loss.item()} at epoch "
                f"{trainer.current_epoch}, batch {batch_idx}; lower --lr, check the input "
                "artifact, or use --precision 32-true"
            )


class BestWeights(Callback):
    """Keeps a CPU copy of the model's weights at the best value of ``monitor``."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.maximise = monitor in MAXIMISED
        self.best = -math.inf if self.maximise else math.inf
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value_f = float(value)
        better = value_f > self.best if self.maximise else value_f < self.best
        if better and math.isfinite(value_f):
            self.best, self.best_epoch = value_f, trainer.current_epoch
            model = pl_module.model
            assert isinstance(model, torch.nn.Module)
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """For a resume point: the best value, its epoch and weights."""
        return {"best": self.best, "best_epoch": self.best_epoch, "state": self.state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.best_epoch = float(state_dict["best"]), int(state_dict["best_epoch"])
        self.state = state_dict["state"]


class HookProgress(Callback):
    """Reports finished epochs to an emocli progress hook (the CLI draws it)."""

    def __init__(self, hook: ProgressHook, task: str, total: int) -> None:
        self.hook, self.task, self.total = hook, task, total

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.hook(self.task, trainer.current_epoch, self.total)  # > 0 after a resume

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.hook(self.task, trainer.current_epoch + 1, self.total)


class EpochTimer(Callback):
    """Logs each epoch's wall time (training + validation) as ``epoch_seconds``."""

    def __init__(self) -> None:
        self.started = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pl_module.log("epoch_seconds", time.perf_counter() - self.started, on_epoch=True)
