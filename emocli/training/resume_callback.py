"""The Lightning callback that writes and restores resume points (see
:mod:`emocli.training.resume`), and the random states it saves."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from emocli.training.resume import RunResume


def capture_rng(generators: Sequence[torch.Generator] = ()) -> dict[str, Any]:
    """Every random state training draws from: torch (CPU, CUDA), numpy, random, loaders'."""
    legacy = np.random.get_state(legacy=True)
    assert isinstance(legacy, tuple)
    keys, pos, has_gauss, gauss = legacy[1:]
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": int(version), "internal": list(internal), "gauss": gauss_next},
        "generators": [g.get_state() for g in generators],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generators: Sequence[torch.Generator] = ()) -> None:
    """Put back what :func:`capture_rng` returned."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["gauss"],
        )
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    for gen, saved in zip(generators, state.get("generators", []), strict=False):
        gen.set_state(saved)


# --------------------------------------------------------------------------- the callback


def _cpu(value: Any) -> Any:
    """Tensors of nested dicts/lists detached and copied to the CPU (others unchanged)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_cpu(v) for v in value)
    return value


def _global_step_trackers(trainer: pl.Trainer) -> list[Any]:
    loop = trainer.fit_loop.epoch_loop
    return [
        loop.automatic_optimization.optim_progress.optimizer.step.total,
        loop.manual_optimization.optim_step_progress.total,
    ]


def _start_persistent_workers(loaders: Any) -> None:
    """Start the workers of persistent-worker loaders now, before the random state is put
    back: an uninterrupted run started them in its first epoch, and starting one draws its
    base seed from torch's generator (later epochs only reuse them)."""
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    for loader in loaders if isinstance(loaders, (list, tuple)) else [loaders]:
        if getattr(loader, "persistent_workers", False) and getattr(loader, "num_workers", 0):
            iter(loader)


class ResumeCallback(Callback):
    """Writes a run's resume point at the start of every epoch after the first (the state
    after the previous epoch, everything of it logged and stepped) and when training ends;
    restores one in ``on_train_start``. Put it first among the callbacks.

    extra : the stage's own bookkeeping to store (plain values and tensors);
    load_extra : gets that back on resume; generators : the data loaders' own generators.
    """

    def __init__(
        self,
        point: RunResume,
        extra: Callable[[pl.Trainer], dict[str, Any]] | None = None,
        load_extra: Callable[[dict[str, Any]], None] | None = None,
        generators: Sequence[torch.Generator] = (),
    ) -> None:
        self.point = point
        self.extra = extra
        self.load_extra = load_extra
        self.generators = list(generators)
        self.restored_epoch = -1
        self.restored_finished = False

    # ----------------------------------------------------------------- restoring
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        state = self.point.read()
        if state is None:
            return
        _start_persistent_workers(trainer.val_dataloaders)
        pl_module.load_state_dict(state["module"])
        for opt, saved in zip(trainer.optimizers, state["optimizers"], strict=True):
            opt.load_state_dict(saved)
        for config, saved in zip(trainer.lr_scheduler_configs, state["schedulers"], strict=True):
            config.scheduler.load_state_dict(saved)
        if state.get("precision"):  # the mixed-precision loss scale
            trainer.precision_plugin.load_state_dict(state["precision"])
        callbacks = state.get("callbacks", {})
        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            if callback is not self and callback.state_key in callbacks:
                callback.load_state_dict(callbacks[callback.state_key])
        done = int(state["epochs_done"])
        epochs = trainer.fit_loop.epoch_progress
        for tracker in (epochs.current, epochs.total):
            for name in ("ready", "started", "processed", "completed"):
                setattr(tracker, name, done)
        for tracker in _global_step_trackers(trainer):
            tracker.ready = tracker.completed = int(state["global_step"])
        trainer.fit_loop.epoch_loop._batches_that_stepped = int(state["batches_that_stepped"])
        trainer.should_stop = bool(state["should_stop"])
        if self.load_extra is not None:
            self.load_extra(state.get("extra", {}))
        self.restored_epoch, self.restored_finished = done, bool(state["finished"])
        restore_rng(state["rng"], self.generators)  # last: nothing may draw after it

    # ----------------------------------------------------------------- saving
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        done = trainer.current_epoch
        if done > 0 and done != self.restored_epoch:
            self._write(trainer, pl_module, finished=False)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.restored_finished and not trainer.sanity_checking:
            self._write(trainer, pl_module, finished=True)

    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, finished: bool) -> None:
        if not self.point.writable or not trainer.is_global_zero:
            return
        done = int(trainer.current_epoch)
        callbacks = {}
        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            if callback is not self:
                saved = callback.state_dict()
                if saved:
                    callbacks[callback.state_key] = _cpu(saved)
        state = {
            "epochs_done": done,
            "finished": finished,
            "should_stop": bool(trainer.should_stop),
            "global_step": int(trainer.global_step),
            "batches_that_stepped": int(trainer.fit_loop.epoch_loop._batches_that_stepped),
            "module": _cpu(dict(pl_module.state_dict())),
            "optimizers": [_cpu(opt.state_dict()) for opt in trainer.optimizers],
            "schedulers": [_cpu(c.scheduler.state_dict()) for c in trainer.lr_scheduler_configs],
            "callbacks": callbacks,
            "precision": _cpu(trainer.precision_plugin.state_dict()),
            "extra": _cpu(self.extra(trainer)) if self.extra is not None else {},
            "rng": capture_rng(self.generators),
        }
        self.point.write(state, done, finished)
