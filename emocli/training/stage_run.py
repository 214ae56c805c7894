"""Running a training stage (``finetune``, ``pretrain-gan``): its resume points, its DDP
workers, and the commit of its model and predictions artifacts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from emocli.artifacts import ArtifactWriter, InputRef
from emocli.held_signals import import_held
from emocli.parallel import distributed_rank
from emocli.progress import ProgressHook, no_progress
from emocli.stage import (
    OutputSpec,
    StageInfo,
    StageResult,
    outputs_up_to_date,
    run_stage,
    stage_fingerprint,
)
from emocli.training.resume import Notice, Resumer, discard_after_commit

#: ``train(writers, progress, resumer)``: trains every run and fills the ``model`` and
#: ``predictions`` writers (None on a DDP worker: write nothing); returns the summary.
Train = Callable[[dict[str, ArtifactWriter] | None, ProgressHook, Resumer | None], dict[str, Any]]


def run_training_stage(
    stage: StageInfo,
    params: Any,
    inputs: list[InputRef],
    output: Path,
    predictions_output: Path,
    train: Train,
    force: bool,
    progress: ProgressHook,
    resume: bool,
    notice: Notice | None,
) -> StageResult:
    """Run the stage ``stage`` that trains on ``inputs`` and writes the model ``output`` and
    the predictions ``predictions_output`` (:func:`~emocli.stage.run_stage`).

    A resume point beside ``output`` is kept after every epoch (none for a fast dev run:
    ``params.fast_dev_run``); the same command resumes from it after a kill (``resume``
    False: start over), ``notice`` gets the line that says so (:mod:`emocli.training.resume`);
    it is deleted once the outputs are committed. A DDP worker (rank > 0) trains with rank 0
    but writes nothing and reports no progress. Torch is imported only once training starts,
    with Ctrl-C held back until it is loaded (:func:`~emocli.held_signals.import_held`).
    """
    outputs = {
        "model": OutputSpec(Path(output), "model"),
        "predictions": OutputSpec(Path(predictions_output), "predictions"),
    }
    rank = distributed_rank()
    resumer = None
    if not params.fast_dev_run:
        fingerprint = stage_fingerprint(stage, params, inputs)
        say = notice if notice is not None and rank == 0 else (lambda text: None)
        resumer = Resumer(stage.name, Path(output), fingerprint, resume, rank == 0, say)
    if rank > 0:  # a DDP worker started by Lightning or a launcher: train, write nothing
        if not force and outputs_up_to_date(stage, params, inputs, outputs):
            return StageResult(stage.name, {}, True, "", {"distributed_rank": rank})  # as rank 0
        import_held("torch")
        train(None, no_progress, resumer)  # rank 0 reports
        return StageResult(stage.name, {}, False, "", {"distributed_rank": rank})

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        import_held("torch")  # only now: an up-to-date rerun never pays torch's start-up
        return train(writers, progress, resumer)

    result = run_stage(stage, params, inputs, outputs, build, force)
    discard_after_commit(Path(output))
    return result
