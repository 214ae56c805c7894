"""Training and inference throughput: emocli's Lightning loop vs a plain PyTorch loop.

Same model (``resnet_small``, the FER2013 recipe's network, 48x48 grey), same batches (128
random uint8 faces from an in-memory source, SPEC augmentation), same optimiser (SGD
momentum): the Lightning figure includes everything ``finetune`` runs per step (callbacks,
logging, the NaN guard). Inference: ``predict_probs`` on 2,048 faces, with and without flip
TTA. Images per second of wall time on this machine's CPU, and images per CPU second of
the process (``time.process_time``, all its threads; no loader workers), which other jobs on
the machine disturb much less: the two training loops run back to back, alternating, and
each keeps its best of three.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from tests.benchmarks.run import BenchContext

BATCH = 128
STEPS = 12
WARMUP = 2
SIZE = 48
N_TRAIN = BATCH * (STEPS + WARMUP)
N_PREDICT = 2048
REPEATS = 3


@dataclass(frozen=True)
class Rate:
    """Images per second of wall time and per CPU second of this process."""

    wall: float
    cpu: float

    @staticmethod
    def of(images: int, wall: float, cpu: float) -> Rate:
        return Rate(images / wall, images / cpu)


class Clock:
    """Wall and process CPU time between :meth:`start` and :meth:`rate`."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rate(self, images: int) -> Rate:
        return Rate.of(images, time.perf_counter() - self.wall, time.process_time() - self.cpu)


def _setup(seed: int = 0):
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


def _lightning_rate() -> Rate:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import Callback

    from emocli.training.callbacks import NaNGuard
    from emocli.training.trainer import quiet_lightning

    module, data, _ = _setup()
    clock, rates = Clock(), []

    class Timer(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == WARMUP:
                clock.start()

        def on_train_end(self, trainer, pl_module):
            rates.append(clock.rate(STEPS * BATCH))

    with quiet_lightning():
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=1,
            callbacks=[NaNGuard(), Timer()],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
        )
        trainer.fit(module, datamodule=data)
    return rates[0]


def _plain_rate() -> Rate:
    import torch
    import torch.nn.functional as F

    module, data, _ = _setup()
    model, transform = module.model, module.transform
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    loader = data.train_dataloader()
    clock = Clock()
    for i, (x, y, _) in enumerate(loader):
        if i == WARMUP:
            clock.start()
        xb = transform(x, train=True).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return clock.rate(STEPS * BATCH)


def _predict_rates() -> tuple[Rate, Rate]:
    from emocli.training.trainer import predict_probs

    module, _, source = _setup()
    rows = np.arange(N_PREDICT) % N_TRAIN
    rates = []
    for tta in ("none", "flip"):
        predict_probs(module, source, rows[:256], 256, tta)  # warm-up
        clock = Clock()
        clock.start()
        predict_probs(module, source, rows, 256, tta)
        rates.append(clock.rate(N_PREDICT))
    return rates[0], rates[1]


def _runs(rates: list[float]) -> str:
    return f"**{max(rates):,.0f}** ({', '.join(f'{r:,.0f}' for r in rates)})"


def run(ctx: BenchContext) -> str:
    import torch

    from emocli.models import build_classifier, parameter_count

    load_start = os.getloadavg()[0]
    training, inference = [], []
    best: list[Rate] = []  # Lightning's best per thread count
    for threads in (1, 2):
        torch.set_num_threads(threads)
        lightning: list[Rate] = []
        plain: list[Rate] = []
        for _ in range(REPEATS):
            lightning.append(_lightning_rate())
            plain.append(_plain_rate())
        infer, infer_tta = _predict_rates()
        wall_l, wall_p = max(r.wall for r in lightning), max(r.wall for r in plain)
        cpu_l, cpu_p = max(r.cpu for r in lightning), max(r.cpu for r in plain)
        best.append(Rate(wall_l, cpu_l))
        training.append(
            f"| {threads} | {_runs([r.wall for r in lightning])} | {_runs([r.wall for r in plain])} "
            f"| {wall_p / wall_l:.2f} | {_runs([r.cpu for r in lightning])} "
            f"| {_runs([r.cpu for r in plain])} | **{cpu_p / cpu_l:.2f}** |"
        )
        inference.append(
            f"| {threads} | {infer.wall:,.0f} | {infer_tta.wall:,.0f} | {infer.cpu:,.0f} "
            f"| {infer_tta.cpu:,.0f} | {infer.wall / infer_tta.wall:.2f} |"
        )
    load_end = os.getloadavg()[0]
    params = parameter_count(
        build_classifier("resnet_small", in_channels=1, input_size=SIZE, n_classes=7)
    )
    return f"""## Training and inference throughput (finetune)

`resnet_small` ({params:,} parameters, 48x48 grey faces, 7 classes), batch {BATCH}, SGD with
momentum, SPEC augmentation on the batch, channels-last, CPU. "Lightning" is emocli's
`finetune` loop (LightningModule, callbacks, epoch logging, NaN guard); "plain" is a
hand-written PyTorch loop over the same model, batches and optimiser. Each loop runs
{REPEATS} times, alternating with the other, for {STEPS} timed steps after {WARMUP} warm-up
steps; the tables give the best run in bold and every run in brackets. Two clocks: images
per second of wall time, and images per CPU second of the process (all its threads; the
batches are made in the same process), which a competing job disturbs far less.

Load: 1-minute load average {load_start:.1f} at the start and {load_end:.1f} at the end, on
{os.cpu_count()} cores. A load above the benchmark's own threads means other jobs shared the
cores: the absolute images/s are then lower bounds (times are upper bounds) and the
wall-clock ratios are noisy. The ratio to read is **Lightning's time per image over the plain
loop's, in CPU time** (1.00 = no overhead), measured side by side in the same run. Regenerate with
`.venv/bin/python -m tests.benchmarks.run --only training --out docs/benchmarks.md`.

| torch threads | Lightning, images/s | plain PyTorch, images/s | Lightning / plain time (wall) | Lightning, images per CPU s | plain, images per CPU s | Lightning / plain time (CPU) |
|---|---|---|---:|---|---|---:|
{chr(10).join(training)}

2 threads / 1 thread: **{best[1].wall / best[0].wall:.2f}x** the Lightning images/s (wall) and
**{best[1].cpu / best[0].cpu:.2f}x** its images per CPU second.

Inference (`predict_probs`, batch 256, {N_PREDICT:,} faces, eval mode, no gradients), without
and with flip TTA (each face and its mirror image), right after the training runs above:

| torch threads | images/s | + flip TTA, images/s | images per CPU s | + flip TTA, per CPU s | TTA cost (time ratio) |
|---|---:|---:|---:|---:|---:|
{chr(10).join(inference)}
"""
