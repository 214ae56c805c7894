"""Building and running the Lightning Trainer, and predicting with the trained module.

:func:`fit` trains a :class:`~emocli.training.module.ClassifierModule` and returns its
per-epoch history (:mod:`emocli.training.history`), restoring the weights of the best
validation epoch. A non-finite loss stops training with :class:`~emocli.errors.TrainingError`
(:mod:`emocli.training.callbacks`), so the stage writes no artifact. ``accelerator``,
``devices``, ``precision`` and ``strategy`` pass straight to Lightning: the same call trains
on a CPU, a GPU or several (DDP). :func:`predict_probs` gives the class probabilities of rows.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping, RichProgressBar
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from emocli.errors import ParamsError
from emocli.progress import ProgressHook, no_progress
from emocli.training.callbacks import MAXIMISED, BestWeights, EpochTimer, HookProgress, NaNGuard
from emocli.training.datamodule import HDF5DataModule, RowsDataset, RowSource, make_loader
from emocli.training.history import read_history, read_metric_rows
from emocli.training.module import ClassifierModule, flip_tta
from emocli.training.resume import RunResume
from emocli.training.resume_callback import ResumeCallback

#: Lightning's loggers, silenced to warnings while emocli trains (library code never prints).
_LIGHTNING_LOGGERS = (
    "pytorch_lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "lightning_fabric",
)


@dataclass(frozen=True)
class Hardware:
    """Where Lightning trains, as the command line gives it: ``accelerator`` (``cpu``, ``gpu``,
    ``auto`` ...), ``devices`` per node (``"auto"``, a count ``"2"`` or a list ``"0,1"``),
    ``num_nodes`` (machines of a multi-node DDP run) and ``strategy`` (``auto``, ``ddp`` ...)."""

    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"

    @property
    def flags(self) -> str:
        """The options as typed (``--accelerator gpu --devices 2 ...``), for messages."""
        return (
            f"--accelerator {self.accelerator} --devices {self.devices} "
            f"--num-nodes {self.num_nodes} --strategy {self.strategy}"
        )

    def trainer_kwargs(self) -> dict[str, Any]:
        """The ``pl.Trainer`` arguments ``accelerator``, ``devices``, ``num_nodes``, ``strategy``."""
        return {
            "accelerator": self.accelerator,
            "devices": parse_devices(self.devices),
            "num_nodes": self.num_nodes,
            "strategy": self.strategy,
        }


@dataclass(frozen=True)
class TrainerConfig:
    """What the Lightning Trainer is built from.

    patience : epochs without improvement of ``monitor`` before stopping (0 = never stop
    early).
    """

    max_epochs: int
    hardware: Hardware = Hardware()
    precision: str = "32-true"
    patience: int = 0
    monitor: str = "val_loss"
    progress_bar: bool = False
    fast_dev_run: bool = False
    deterministic: bool = True


@dataclass
class FitResult:
    """history : ``{metric: (E,) float64}`` with ``epoch``; best_epoch : -1 without validation."""

    history: dict[str, np.ndarray]
    best_epoch: int
    best_value: float
    epochs_run: int
    seconds: float
    stopped_early: bool
    extra: dict[str, Any] = field(default_factory=dict)


def parse_devices(text: str) -> Any:
    """Lightning's ``devices`` from CLI text: ``auto``, a count (``2``) or a list (``0,1``)."""
    text = str(text).strip()
    if text == "auto":
        return "auto"
    if "," in text:
        return [int(d) for d in text.split(",") if d.strip()]
    return int(text)


def validate_cluster(trainer: pl.Trainer) -> None:
    """Check the trainer's devices and nodes against the cluster's now (SLURM's tasks per node
    and nodes, torchrun's world size): Lightning's launcher would raise a mismatch inside
    ``fit``, as a traceback. Raises ``ValueError``."""
    env = getattr(trainer.strategy, "cluster_environment", None)
    if env is not None:
        env.validate_settings(num_devices=trainer.num_devices, num_nodes=trainer.num_nodes)


def lightning_trainer(flags: str, **kwargs: Any) -> pl.Trainer:
    """``pl.Trainer(**kwargs)`` checked by :func:`validate_cluster`; Lightning's refusal of
    the hardware becomes :class:`ParamsError` naming the command-line ``flags``."""
    try:
        trainer = pl.Trainer(**kwargs)
        validate_cluster(trainer)
    except (MisconfigurationException, ValueError, RuntimeError) as exc:
        raise ParamsError(f"Lightning cannot use {flags} here: {exc}") from exc
    return trainer


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's informational logging and its advisory warnings."""
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(pytorch_)?lightning.*")
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=r".*deterministic.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def build_trainer(
    cfg: TrainerConfig,
    log_dir: Path,
    has_val: bool,
    progress: HookProgress,
    first: Sequence[Callback] = (),
) -> tuple[pl.Trainer, BestWeights]:
    """A Trainer with NaN guard, best-weights keeper, epoch timer, CSV logger, the ``progress``
    callback and (optionally) early stopping and the rich progress bar; ``first`` callbacks
    run before these (the resume point's)."""
    best = BestWeights(cfg.monitor)
    callbacks: list[Callback] = [*first, NaNGuard(), best, EpochTimer(), progress]
    if has_val and cfg.patience > 0:
        callbacks.append(
            EarlyStopping(
                monitor=cfg.monitor,
                mode="max" if cfg.monitor in MAXIMISED else "min",
                patience=cfg.patience,
                check_finite=False,  # the NaN guard reports non-finite losses
            )
        )
    if cfg.progress_bar:
        callbacks.append(RichProgressBar(leave=True))
    trainer = lightning_trainer(
        f"{cfg.hardware.flags} --precision {cfg.precision}",
        **cfg.hardware.trainer_kwargs(),
        precision=cfg.precision,
        max_epochs=cfg.max_epochs,
        callbacks=callbacks,
        logger=CSVLogger(save_dir=str(log_dir), name="", version=""),
        enable_checkpointing=False,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if has_val else 0,
        log_every_n_steps=1,
        deterministic="warn" if cfg.deterministic else False,
        fast_dev_run=cfg.fast_dev_run,
    )
    return trainer, best


def fit_interruptibly(trainer: pl.Trainer, module: pl.LightningModule, **data: Any) -> None:
    """``trainer.fit(module, **data)``, raising ``KeyboardInterrupt`` on Ctrl-C or SIGTERM.

    Lightning catches the interrupt, ignores SIGINT from then on and calls ``sys.exit(1)``:
    the handler is restored here and the interrupt re-raised, so the caller's clean-up runs
    and the CLI exits with 130 (or 143).
    """
    previous_sigint = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, **data)
    except SystemExit:
        if trainer.interrupted:
            signal.signal(signal.SIGINT, previous_sigint)
            raise KeyboardInterrupt from None
        raise
    if trainer.interrupted:
        raise KeyboardInterrupt


def fit(
    module: ClassifierModule,
    data: HDF5DataModule,
    cfg: TrainerConfig,
    progress: ProgressHook = no_progress,
    task: str = "training",
    resume: RunResume | None = None,
) -> FitResult:
    """Train; restore the best validation weights; return the history.

    resume : this run's resume point: written after every epoch, resumed from when it
    matches (:mod:`emocli.training.resume`).
    Raises :class:`TrainingError` on a non-finite loss and ``KeyboardInterrupt`` on Ctrl-C
    (Lightning's own handler would exit the process).
    """
    has_val = len(data.val_set) > 0
    started = time.perf_counter()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    with tempfile.TemporaryDirectory(prefix="emocli-train-") as tmp, quiet_lightning():
        metrics_csv = Path(tmp) / "metrics.csv"
        earlier: list[dict[str, str]] = []  # the history before a resume

        def extra(trainer: pl.Trainer) -> dict[str, Any]:
            if trainer.logger is not None:
                trainer.logger.save()  # flush the rows of the finished epochs
            return {"metric_rows": [*earlier, *read_metric_rows(metrics_csv)]}

        def load_extra(state: dict[str, Any]) -> None:
            earlier[:] = list(state.get("metric_rows", []))

        first = [ResumeCallback(resume, extra, load_extra)] if resume is not None else []
        hook = HookProgress(progress, task, cfg.max_epochs)
        trainer, best = build_trainer(cfg, Path(tmp), has_val, hook, first)
        try:
            fit_interruptibly(trainer, module, datamodule=data)
        finally:
            torch.use_deterministic_algorithms(deterministic_before)
        history = read_history(metrics_csv, earlier)
    if best.state is not None:
        module.model.load_state_dict(best.state)
    epochs_run = int(trainer.current_epoch) if not cfg.fast_dev_run else 1
    callbacks = trainer.callbacks  # type: ignore[attr-defined]
    stopped = any(isinstance(c, EarlyStopping) and c.stopped_epoch > 0 for c in callbacks)
    return FitResult(
        history=history,
        best_epoch=best.best_epoch,
        best_value=best.best if best.best_epoch >= 0 else float("nan"),
        epochs_run=epochs_run,
        seconds=time.perf_counter() - started,
        stopped_early=stopped,
    )


@torch.no_grad()
def predict_probs(
    module: ClassifierModule,
    source: RowSource,
    rows: np.ndarray,
    batch_size: int,
    tta: str = "none",
    workers: int = 0,
) -> np.ndarray:
    """Class probabilities ``(len(rows), K)`` float32 of the given rows, in order.

    tta : ``"flip"`` averages each image with its mirror image. Runs on the module's device in
    plain PyTorch (all rows on this process, even after DDP training).
    """
    module.eval()
    device = module.device
    out: list[np.ndarray] = []
    loader = make_loader(
        RowsDataset(source, rows, np.zeros(len(rows), np.int64)),
        batch_size,
        shuffle=False,
        workers=workers,
    )
    for x, _, _ in loader:
        x = module._inputs(x.to(device), train=False)
        if tta == "flip":
            probs = flip_tta(module.model, x)
        else:
            probs = torch.softmax(module.model(x).float(), dim=1)
        out.append(probs.cpu().numpy().astype(np.float32))
    if not out:
        return np.zeros((0, module.model.n_classes), np.float32)
    return np.concatenate(out)
