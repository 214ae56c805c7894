"""Distributed training on CPU: ``finetune`` and ``pretrain-gan`` with ``--accelerator cpu
--strategy ddp --devices 2`` (two processes, gloo) run to the end, rank 0 alone writes the
artifacts (nothing else is left beside them: no second copy, no ``.tmp-``, ``.lock`` or resume
file), and the accuracy is that of one process on the same data.

The data: tiny learnable faces (a bright band per class, 7 classes; 64 train and 32 val rows),
not the robustness suite's demo faces, whose 7 val rows (one row = 14 points) allow no honest
comparison. 7 classes, not 3: an untrained network can map 3 bands onto the right classes by
chance (1 in 6; an untrained GAN discriminator did).

Both runs take whole-set batches, one optimiser step per epoch: one process with batches of
80, each of the two DDP processes with 40 (the batch size is per process; each process's 32
training rows make one batch). DDP averages the two halves' gradients into the one-process
gradient; what still differs is batch norm over half batches and the random draws
(augmentation, dropout, G's noise). Tolerance: the val accuracies differ by at most 4 of the
32 rows (0.125), and the one-process run reaches 0.9, so that an untrained DDP model (chance
1/7; 0.125 measured) fails. Measured on a 2-core machine: 1.0 for all four runs. The batch
sizes also catch the bug this test came with: the ragged end was dropped by the whole set's
size, so each DDP process (32 rows, batches of 40) trained on nothing and exited 0.

Two quick checks without a second process: which process writes (rank 0 by ``RANK``, else no
positive ``LOCAL_RANK``, ``SLURM_PROCID`` or ``NODE_RANK``), and that a worker started by srun
or torchrun skips, as rank 0 does, when the outputs are up to date.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from emocli.predictions import load_predictions
from tests.robust.helpers import record, run_cli
from tests.test_training import make_faces

pytestmark = pytest.mark.robust

CPU = ["--accelerator", "cpu"]
DDP = [*CPU, "--strategy", "ddp", "--devices", "2"]
ONE = [*CPU, "--devices", "1"]
#: Largest difference of val accuracy between the DDP and the one-process run (4 of 32 rows).
TOLERANCE = 4 / 32
EPOCHS = "8"


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp-faces") / "band.h5"
    classes = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    splits = ["train"] * 64 + ["val"] * 32
    return make_faces(out, 12, 8, size=32, splits=lambda n: splits, classes=classes)


def _args(stage: str, faces: Path, out: Path, ddp: bool) -> list[str]:
    """The command line; ``ddp``: two processes with half the batch each (the same steps)."""
    model, preds = out / "model.h5", out / "pred.h5"
    common = [stage, str(faces), "--epochs", EPOCHS, "-o", str(model)]
    if stage == "finetune":
        batch = ["--batch-size", "40" if ddp else "80"]
        model_args = ["--model", "static_cnn", "--lr", "0.003", "--patience", "0"]
        return [*common, *model_args, *batch, "--predictions", str(preds)]
    if ddp:
        batch = ["--labelled-batch-size", "40", "--batch-size", "48"]
    else:
        batch = ["--labelled-batch-size", "80", "--batch-size", "96"]
    gan = ["-u", str(faces), "--size", "32", "--d-widths", "16,32", "--g-widths", "32,16"]
    return [*common, *gan, "--nz", "16", *batch, "--predictions-output", str(preds)]


def _val_accuracy(preds: Path) -> float:
    p = load_predictions(preds)
    rows = (p.split == "val") & (p.label >= 0)
    return float((p.probs[rows].argmax(1) == p.label[rows]).mean())


@pytest.mark.parametrize("stage", ["finetune", "pretrain-gan"])
def test_ddp_on_two_cpu_processes_writes_once_and_matches_one_process(
    stage: str, faces: Path, tmp_path: Path
) -> None:
    one, ddp = tmp_path / "one", tmp_path / "ddp"
    proc = run_cli([*_args(stage, faces, one, ddp=False), *ONE], cwd=tmp_path, workdir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli([*_args(stage, faces, ddp, ddp=True), *DDP], cwd=tmp_path, workdir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.count(f"{stage}: wrote") == 1, proc.stdout  # rank 0 alone reports

    # one model and one predictions artifact (finetune: its curves, the GAN: its sample grids)
    sidecar = "model.curves.png" if stage == "finetune" else "model-samples"
    assert sorted(p.name for p in ddp.iterdir()) == sorted(["model.h5", "pred.h5", sidecar])
    assert not list(ddp.rglob(".*")), list(ddp.rglob(".*"))  # .<name>.tmp-<pid>, .resume
    assert not list(ddp.rglob("*.lock")) and not list(ddp.rglob("*.tmp-*"))
    with h5py.File(ddp / "model.h5", "r") as h5:
        params = json.loads(h5.attrs["params"])
    assert (params["strategy"], params["devices"]) == ("ddp", "2")

    single, distributed = _val_accuracy(one / "pred.h5"), _val_accuracy(ddp / "pred.h5")
    assert single >= 0.9, f"the one-process run did not learn the bands ({single:.3f})"
    assert abs(distributed - single) <= TOLERANCE, (stage, single, distributed)
    record(ddp_runs=1, crashes=0)


RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "NODE_RANK")


def test_the_writing_process_is_the_one_of_rank_0(monkeypatch: pytest.MonkeyPatch) -> None:
    from emocli.parallel import distributed_rank

    for key in RANK_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    assert distributed_rank() == 0  # alone
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("LOCAL_RANK", "1")  # Lightning's second process of a node
    assert distributed_rank() == 1
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("NODE_RANK", "1")  # the first process of a second machine writes nothing
    assert distributed_rank() > 0
    monkeypatch.setenv("RANK", "0")  # torchrun's global rank decides
    assert distributed_rank() == 0


def test_a_worker_skips_with_rank_0_when_the_outputs_are_up_to_date(
    faces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started by srun or torchrun, a worker must not train when rank 0 skips: it would wait
    for rank 0 in the process group's set-up until the time-out (30 minutes)."""
    from stages import finetune

    for key in RANK_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    params = finetune.FinetuneParams(
        model="static_cnn", epochs=1, accelerator="cpu", devices="1", threads=1
    )
    model, preds = tmp_path / "model.h5", tmp_path / "pred.h5"
    assert not finetune.run(params, faces, model, preds).up_to_date
    monkeypatch.setenv("RANK", "1")
    again = finetune.run(params, faces, model, preds)
    assert again.up_to_date and again.summary == {"distributed_rank": 1}
