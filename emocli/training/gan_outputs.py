"""What pretrain-gan writes after training: the ``model`` and ``predictions`` artifacts and the
summary of the runs.

* :class:`GanPredictions` gathers what the runs' discriminators predict: probabilities (N, K)
  float32 over the K classes for the N rows of the labelled artifact (out of fold after
  k-fold), those of D's last trained weights beside the weight average, the ``fold`` and
  ``role`` columns.
* :func:`write_gan_model` writes D (``weights/``, loadable by finetune ``--init`` and the model
  registry), G (``generator/``), the per-epoch history ((E,) float64 columns) and sample grids
  (``samples/``, (E, H, W) uint8, and one PNG per epoch next to the artifact).
* :func:`write_gan_predictions` and :func:`gan_summary` (accuracies as fractions in [0, 1],
  4 decimals).

Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.stage_params.gan import (
    ADVERSARIAL_SCHEDULES,
    D_ARCHITECTURE,
    G_ARCHITECTURE,
    PretrainGanParams,
)
from emocli.training.gan_data import GanInputs
from emocli.training.gan_init import d_kwargs, g_kwargs
from emocli.training.gan_plan import GanRun

if TYPE_CHECKING:
    import torch

    from emocli.artifacts import ArtifactWriter
    from emocli.training.gan_train import FitResult


@dataclass
class GanPredictions:
    """The runs' predictions in the labelled artifact's row order (N rows, K classes).

    probs : (N, K) float32, the stored discriminator's (the weight average with
    ``d_ema_decay``); last_probs : (N, K) float32, D's last trained weights' (zeros without an
    average); fold : (N,) int64, the fold that predicted the row (-1 outside k-fold);
    role : (N,) object, ``labelled``, ``unlabelled``, ``dev`` or ``""``.
    """

    probs: np.ndarray
    last_probs: np.ndarray
    fold: np.ndarray
    role: np.ndarray

    @classmethod
    def empty(cls, n_classes: int, role: np.ndarray) -> GanPredictions:
        """Nothing predicted yet, for the rows of the (N,) ``role`` column."""
        probs = np.zeros((len(role), n_classes), np.float32)
        return cls(probs, np.zeros_like(probs), np.full(len(role), -1, np.int64), role)

    def add(self, run: GanRun, result: FitResult, x: torch.Tensor, tta: str) -> None:
        """Predict ``run.predict``'s rows of ``x`` ((N, 1, S, S) in [-1, 1]) with the run's D."""
        from emocli.training.gan_discriminator import predict_probs

        rows = run.predict
        self.probs[rows] = predict_probs(result.discriminator, x[rows], tta=tta)
        if result.last_weights is not None:
            self.last_probs[rows] = predict_probs(result.last_weights, x[rows], tta=tta)
        if run.fold >= 0:
            self.fold[rows] = run.fold


def write_gan_predictions(
    writer: ArtifactWriter, data: GanInputs, preds: GanPredictions, model: Path
) -> None:
    """The ``predictions`` artifact: face, frame level, with the ``fold`` and ``role`` columns
    and the path of the ``model`` that made it."""
    from emocli.predictions import Predictions, write_predictions

    built = Predictions.build(
        data.classes,
        preds.probs,
        data.sample_id,
        label=data.label,
        clip_id=data.clip_id,
        subject=data.subject,
        split=data.split,
        fold=preds.fold,
        modality="face",
        level="frame",
    )
    write_predictions(writer, built)
    writer.add_column("role", preds.role.astype(str))
    writer.set_attr("model", str(model))


def gan_summary(
    params: PretrainGanParams,
    data: GanInputs,
    preds: GanPredictions,
    result: FitResult,
    counts: tuple[int, int],
) -> dict[str, Any]:
    """The summary: classes, the last run's ``counts`` of labelled and unlabelled training
    images, epochs, the accuracies (:func:`accuracies`; of the last weights too beside a
    weight average) and the selected epoch."""
    summary: dict[str, Any] = {
        "classes": len(data.classes),
        "labelled_train": counts[0],
        "unlabelled": counts[1],
        "epochs": len(result.history.get("epoch", [])),
        "schedule": params.schedule,
        "group_by": data.group_by,
    }
    summary.update(accuracies(preds.probs, data.label, data.split, preds.role, preds.fold))
    if result.last_weights is not None:
        last = accuracies(preds.last_probs, data.label, data.split, preds.role, preds.fold)
        summary["last_weights"] = last
    if result.best_epoch >= 0:
        summary["best_epoch"] = result.best_epoch
    return summary


def accuracies(
    probs: np.ndarray, label: np.ndarray, split: np.ndarray, role: np.ndarray, fold: np.ndarray
) -> dict[str, Any]:
    """Accuracies of (N, K) ``probs`` for the summary: per fold with their mean and std
    (``fold`` >= 0 on held-out rows), else per split and per training role."""
    correct = probs.argmax(1) == label
    labelled = label >= 0
    out: dict[str, Any] = {}
    if (fold >= 0).any():
        folds = np.unique(fold[fold >= 0])
        fold_acc = [float(correct[(fold == f) & labelled].mean()) for f in folds]
        out["fold_accuracy"] = [round(a, 4) for a in fold_acc]
        out["cv_accuracy_mean"] = round(float(np.mean(fold_acc)), 4)
        out["cv_accuracy_std"] = round(float(np.std(fold_acc)), 4)
        return out
    groups = {f"{name}_accuracy": split == name for name in ("train", "val", "test")}
    groups["labelled_accuracy"] = role == "labelled"
    groups["dev_accuracy"] = role == "dev"
    for key, mask in groups.items():
        if (mask & labelled).any():
            out[key] = round(float(correct[mask & labelled].mean()), 4)
    return out


def write_gan_model(
    writer: ArtifactWriter,
    params: PretrainGanParams,
    data: GanInputs,
    result: FitResult,
    output: Path,
) -> None:
    """The ``model`` artifact at ``output``: the last run's D and G, its history and grids."""
    from emocli.contract import model_input
    from emocli.training.model_store import MINUS_ONE_TO_ONE, ModelInfo, write_model
    from emocli.weights import write_state_dict

    history = {key: np.asarray(values, np.float64) for key, values in result.history.items()}
    info = ModelInfo(
        architecture=D_ARCHITECTURE,
        model_kwargs=d_kwargs(params, len(data.classes)),
        classes=data.classes,
        # the faces were resized from the artifact's size to --size (area interpolation)
        input=model_input(
            "faces",
            "images",
            (1, params.size, params.size),
            MINUS_ONE_TO_ONE,
            data.upstream,
            resized_from=data.upstream.get("size"),
        ),
        history=history,
    )
    write_model(writer, result.discriminator, info)
    write_state_dict(writer, result.generator.state_dict(), "generator")
    trained = params.schedule in ADVERSARIAL_SCHEDULES
    writer.write_group(
        "generator",
        {},
        {"architecture": G_ARCHITECTURE, "model_kwargs": g_kwargs(params), "trained": trained},
    )
    writer.set_attr("best_epoch", int(result.best_epoch))
    if params.folds:
        writer.set_attr("folds", params.folds)
        writer.set_attr("weights_fold", params.folds - 1)
    grids = result.grids
    if len(grids):
        writer.write_group(
            "samples",
            {"grids": grids, "epoch": np.arange(len(grids), dtype=np.int64)},
            {"noise": "fixed N(0, 1) batch, seeded", "layout": "8x8 grid, 2 px gaps"},
        )
        _write_grid_pngs(writer, grids, output)


def _write_grid_pngs(writer: ArtifactWriter, grids: np.ndarray, output: Path) -> None:
    """One PNG per epoch in ``<model stem>-samples/epoch_NNN.png`` next to the artifact."""
    import cv2

    folder = f"{output.stem}-samples"
    (output.parent / folder).mkdir(parents=True, exist_ok=True)
    for epoch, grid in enumerate(grids):
        ok, encoded = cv2.imencode(".png", grid)
        if ok:
            encoded.tofile(writer.sidecar(f"{folder}/epoch_{epoch + 1:03d}.png"))
