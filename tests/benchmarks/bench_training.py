"""Training and inference throughput: emocli's Lightning loop vs a plain PyTorch loop.

Same model (``resnet_small``, the FER2013 recipe's network, 48x48 grey), same batches (128
random uint8 faces from an in-memory source, SPEC augmentation), same optimiser (SGD
momentum): the Lightning figure includes everything ``finetune`` runs per step (callbacks,
logging, the NaN guard). Inference: ``predict_probs`` on 2,048 faces, with and without flip
TTA. Images per second on this machine's CPU (other jobs may share it: the two training
loops run back to back, alternating, and each keeps its best of three).
"""

from __future__ import annotations

import os
import time

import numpy as np

from tests.benchmarks.run import BenchContext

BATCH = 128
STEPS = 12
WARMUP = 2
SIZE = 48
N_TRAIN = BATCH * (STEPS + WARMUP)
N_PREDICT = 2048
REPEATS = 3


def _setup(seed: int = 0):  # type: ignore[no-untyped-def]
    import torch

    from emocli.models import build_classifier
    from emocli.training.augment import preset
    from emocli.training.datamodule import HDF5DataModule, MemorySource
    from emocli.training.module import ClassifierModule, InputTransform, OptimConfig

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (N_TRAIN, SIZE, SIZE)).astype(np.uint8)
    labels = rng.integers(0, 7, N_TRAIN).astype(np.int64)
    source = MemorySource(images, "NHW")
    model = build_classifier("resnet_small", in_channels=1, input_size=SIZE, n_classes=7)
    module = ClassifierModule(
        model,
        InputTransform([0.5], [0.25], preset("spec")),
        OptimConfig(optimizer="sgd", lr=0.01, epochs=1, steps_per_epoch=STEPS + WARMUP),
        channels_last=True,
    )
    rows = np.arange(N_TRAIN)
    data = HDF5DataModule(source, rows, labels, rows[:0], labels[:0], batch_size=BATCH)
    return module, data, source


def _lightning_rate() -> float:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import Callback

    from emocli.training.trainer import NaNGuard, quiet_lightning

    module, data, _ = _setup()
    marks: list[float] = []

    class Clock(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):  # type: ignore[no-untyped-def]
            if batch_idx == WARMUP:
                marks.append(time.perf_counter())

        def on_train_end(self, trainer, pl_module):  # type: ignore[no-untyped-def]
            marks.append(time.perf_counter())

    with quiet_lightning():
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=1,
            callbacks=[NaNGuard(), Clock()],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
        )
        trainer.fit(module, datamodule=data)
    return STEPS * BATCH / (marks[1] - marks[0])


def _plain_rate() -> float:
    import torch
    import torch.nn.functional as F

    module, data, _ = _setup()
    model, transform = module.model, module.transform
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    loader = data.train_dataloader()
    start = 0.0
    for i, (x, y, _) in enumerate(loader):
        if i == WARMUP:
            start = time.perf_counter()
        xb = transform(x, train=True).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return STEPS * BATCH / (time.perf_counter() - start)


def _predict_rates() -> tuple[float, float]:
    from emocli.training.trainer import predict_probs

    module, _, source = _setup()
    rows = np.arange(N_PREDICT) % N_TRAIN
    rates = []
    for tta in ("none", "flip"):
        predict_probs(module, source, rows[:256], 256, tta)  # warm-up
        start = time.perf_counter()
        predict_probs(module, source, rows, 256, tta)
        rates.append(N_PREDICT / (time.perf_counter() - start))
    return rates[0], rates[1]


def run(ctx: BenchContext) -> str:
    import torch

    from emocli.models import build_classifier, parameter_count

    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        lightning, plain = [], []
        for _ in range(REPEATS):
            lightning.append(_lightning_rate())
            plain.append(_plain_rate())
        infer, infer_tta = _predict_rates()
        best_l, best_p = max(lightning), max(plain)
        rows.append(
            f"| {threads} | **{best_l:,.0f}** ({', '.join(f'{r:,.0f}' for r in lightning)}) "
            f"| **{best_p:,.0f}** ({', '.join(f'{r:,.0f}' for r in plain)}) "
            f"| {100 * (best_p - best_l) / best_p:+.1f} % | {infer:,.0f} | {infer_tta:,.0f} |"
        )
    load = os.getloadavg()[0]
    params = parameter_count(
        build_classifier("resnet_small", in_channels=1, input_size=SIZE, n_classes=7)
    )
    table = "\n".join(rows)
    return f"""## Training and inference throughput (finetune)

`resnet_small` ({params:,} parameters, 48x48 grey faces, 7 classes), batch {BATCH}, SGD with
momentum, SPEC augmentation on the batch, channels-last, CPU. Images per second, best of
{REPEATS} alternating runs of {STEPS} steps after {WARMUP} warm-up steps (all runs in
brackets). "Lightning" is emocli's `finetune` loop (LightningModule, callbacks, epoch
logging, NaN guard); "plain" is a hand-written PyTorch loop over the same model, batches and
optimiser. Inference is `predict_probs`, batch 256, without and with flip TTA. The machine was
shared (1-minute load average {load:.1f} at the end on 2 cores), so absolute figures vary
from run to run. Regenerate with `.venv/bin/python -m tests.benchmarks.run --only training
--out docs/benchmarks.md`.

| torch threads | Lightning, images/s | plain PyTorch, images/s | Lightning overhead | inference, images/s | inference + flip TTA |
|---|---|---|---|---|---|
{table}
"""
