"""pretrain-gan: a semi-supervised DCGAN whose discriminator is the emotion classifier.

Inputs: one labelled ``faces`` artifact (SFEW, CK+, FER2013 ...) and one or more unlabelled
``faces`` artifacts (CASIA-WebFace, UTKFace; their labels are ignored), resized to
``size`` x ``size`` grey in [-1, 1].

1. read the faces: the labelled artifact's N rows and the unlabelled pool;
2. plan the runs: the labelled artifact's ``train`` rows (or, with ``folds`` = K, every
   labelled row, in K subject-independent folds); ``dev_fraction`` holds out part of
   ``train`` as a dev set for model selection (else the ``val`` split is used, if any);
   ``labels_per_class`` = n keeps n labelled images per class, the other training images join
   the unlabelled pool;
3. per run, build D (``dcgan_d``, K classes) and G (``dcgan_g``), random or from ``init``, and
   train them with Salimans et al. 2016's losses: adversarial steps on unlabelled batches, a
   supervised discriminator step on a labelled batch every ``supervised_every`` steps
   (``periodic``) or in every step (``mixed``), or the supervised-only baseline (same D,
   labelled batches only); optionally a consistency term on the unlabelled faces (Sohn et
   al. 2020), also without the generator (``consistency-only``); D then predicts the run's
   rows;
4. write a ``model`` artifact (D under ``weights/`` as ``dcgan_d``, loadable by finetune
   --init and the model registry; G under ``generator/`` (as initialised, where the schedule
   does not train it); per-epoch ``history/``; the per-epoch sample grids of a trained G
   under ``samples/`` and as PNG files next to it) and a
   ``predictions`` artifact (D's class probabilities for every labelled row; out-of-fold
   with ``folds``).

This module holds the recipe; the parameters are :mod:`emocli.stage_params.gan`'s and the work
is in :mod:`emocli.training`: step 1 in ``gan_data``, step 2 in ``gan_plan``, step 3 in
``gan_init`` and ``gan_train`` (the networks and losses in ``gan`` and ``gan_losses``), step 4
in ``gan_outputs``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.artifacts import ArtifactWriter, fingerprint_artifact
from emocli.fields import from_attributes
from emocli.progress import ProgressHook, no_progress
from emocli.stage import StageInfo, StageResult
from emocli.stage_params.gan import D_ARCHITECTURE, G_ARCHITECTURE, PretrainGanParams
from emocli.training.gan_data import load_inputs, to_unit_range
from emocli.training.gan_init import d_kwargs, g_kwargs, load_init
from emocli.training.gan_outputs import (
    GanPredictions,
    gan_summary,
    write_gan_model,
    write_gan_predictions,
)
from emocli.training.gan_plan import GanRun, UnlabelledPool, labelled_rows, plan_runs
from emocli.training.resume import Resumer, RunResume, rows_digest
from emocli.training.stage_run import run_training_stage

if TYPE_CHECKING:
    from torch import nn

STAGE = StageInfo("pretrain-gan", 1)


def run(
    params: PretrainGanParams,
    labelled: Path,
    unlabelled: Sequence[Path],
    output: Path,
    predictions_output: Path,
    force: bool = False,
    progress: ProgressHook = no_progress,
    resume: bool = True,
    notice: Callable[[str], None] | None = None,
) -> StageResult:
    """Train the semi-supervised GAN on ``labelled`` + ``unlabelled`` faces artifacts into
    the model ``output`` and the predictions ``predictions_output``, keeping resume points
    (:func:`~emocli.training.stage_run.run_training_stage`: ``resume``, ``notice``).

    Raises :class:`~emocli.errors.ArtifactError` for unusable inputs and
    :class:`~emocli.errors.TrainingError` when training diverges or collapses.
    """
    inputs = [fingerprint_artifact(labelled, "faces", role="labelled")]
    inputs += [fingerprint_artifact(p, "faces", role="unlabelled") for p in unlabelled]
    if params.init != "none":
        inputs.append(fingerprint_artifact(params.init, "model", role="init"))
    train = functools.partial(_train_and_write, params, labelled, unlabelled, Path(output))
    return run_training_stage(
        STAGE, params, inputs, output, predictions_output, train, force, progress, resume, notice
    )


def describe(result: StageResult) -> list[str]:
    """What the terminal shows of a run: its training faces and accuracies, in one line."""
    s = result.summary
    parts = [f"{s['labelled_train']} labelled + {s['unlabelled']} unlabelled training faces"]
    for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
        if key in s:
            parts.append(f"{key.replace('_', ' ')} {100 * s[key]:.2f} %")
    if "cv_accuracy_mean" in s:
        parts.append(
            f"{len(s['fold_accuracy'])}-fold accuracy {100 * s['cv_accuracy_mean']:.2f} % "
            f"± {100 * s['cv_accuracy_std']:.2f}"
        )
    last = s.get("last_weights", {})
    if "cv_accuracy_mean" in last:
        parts.append(f"last weights without the average {100 * last['cv_accuracy_mean']:.2f} %")
    return ["; ".join(parts)]


def _train_and_write(
    params: PretrainGanParams,
    labelled: Path,
    unlabelled: Sequence[Path],
    output: Path,
    writers: dict[str, ArtifactWriter] | None,
    progress: ProgressHook,
    resumer: Resumer | None,
) -> dict[str, Any]:
    """Read the faces, train (per fold), predict, and fill the writers (none on a DDP
    worker); the summary."""
    need_unlabelled = params.schedule != "supervised-only" and not params.leftover_unlabelled
    data = load_inputs(
        labelled, unlabelled, params.size, params.group_by, need_unlabelled, progress
    )
    import torch

    from emocli.models import build_model
    from emocli.training.gan_train import FitConfig, fit_gan
    from emocli.training.trainer import Hardware

    if params.threads:
        torch.set_num_threads(params.threads)
    # the training settings are the params of the same names
    config = from_attributes(FitConfig, params, hardware=from_attributes(Hardware, params))
    x_all = torch.from_numpy(to_unit_range(data.images))  # (N, 1, S, S) in [-1, 1]
    y_all = torch.from_numpy(data.label.astype(np.int64))
    runs, role = plan_runs(data, params.folds, params.dev_fraction, params.seed)
    pool = UnlabelledPool(data, params.leftover_unlabelled, params.max_unlabelled, params.seed)
    preds = GanPredictions.empty(len(data.classes), role)

    start = load_init(params.init) if params.init != "none" else None
    init_report: dict[str, Any] = {}

    def make_d() -> nn.Module:
        d = build_model(D_ARCHITECTURE, **d_kwargs(params, len(data.classes)))
        if start is not None:
            init_report.update(start.into_discriminator(d, data.classes))
        return d

    def make_g() -> nn.Module:
        g = build_model(G_ARCHITECTURE, **g_kwargs(params))
        if start is not None:
            init_report["generator_loaded"] = start.into_generator(g)
        return g

    result = None
    counts = (0, 0)  # the last run's labelled and unlabelled training images
    for run, point in zip(runs, _resume_points(params, runs, resumer), strict=True):
        train, rest = labelled_rows(run, data, params.labels_per_class, params.seed)
        images = pool.for_run(rest) if params.schedule != "supervised-only" else None
        if run.fold < 0:
            preds.role[train] = "labelled"
            if images is not None and params.leftover_unlabelled:
                preds.role[rest] = "unlabelled"
        counts = (len(train), 0 if images is None else len(images))
        fold = f", fold {run.fold + 1}/{params.folds}" if run.fold >= 0 else ""
        result = fit_gan(
            make_g,
            make_d,
            x_all[train],
            y_all[train],
            None if images is None else torch.from_numpy(to_unit_range(images)),
            config,
            x_val=x_all[run.val] if len(run.val) else None,
            y_val=y_all[run.val] if len(run.val) else None,
            progress=progress,
            task=f"training GAN{fold}",
            resume=point,
        )
        preds.add(run, result, x_all, params.tta)
    assert result is not None
    if writers is None:
        return {}
    write_gan_model(writers["model"], params, data, result, output)
    write_gan_predictions(writers["predictions"], data, preds, output)
    summary = gan_summary(params, data, preds, result, counts)
    if init_report:
        summary["init"] = init_report
    return summary


def _resume_points(
    params: PretrainGanParams, runs: list[GanRun], resumer: Resumer | None
) -> list[RunResume | None]:
    """Each run's resume point (None for all without a resumer: a fast dev run)."""
    if resumer is None:
        return [None] * len(runs)
    world = f"{params.devices}x{params.num_nodes}"
    keys = [
        resumer.key(i, len(runs), rows_digest(*run.rows()), params.epochs, world=world)
        for i, run in enumerate(runs)
    ]
    labels = [f"fold {run.fold + 1}/{params.folds}" for run in runs]
    return list(resumer.prepare(keys, labels))
