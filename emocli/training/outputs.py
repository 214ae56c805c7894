"""What finetune writes after training: the ``predictions`` and ``model`` artifacts and the
summary of the runs.

* :func:`training_summary` describes the trained model and its input (counts, parameters,
  transfer, train seconds).
* :func:`write_predictions_artifact` predicts with the :class:`~emocli.training.fit.Trained`
  runs in a plain PyTorch loop (every row exactly once, also after DDP training):
  probabilities (N, K) float32 over the input's K classes for the N rows of the input (or of
  ``predict_on``); after k-fold the out-of-fold rows only (split ``test``, a ``fold`` column);
  with stacking every row, out of fold where a fold held it out. Accuracies (fractions in
  [0, 1], 4 decimals) go into the summary.
* :func:`write_model_artifact` writes the last run's weights, its input contract and the
  per-epoch history ((E,) float64 columns; after k-fold the folds' end to end with a ``fold``
  column), and the training-curve PNG beside it.

Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.errors import ParamsError
from emocli.labels import map_labels_by_name
from emocli.training.fit import Trained

if TYPE_CHECKING:
    from emocli.artifacts import ArtifactWriter
    from emocli.predictions import Predictions
    from emocli.training.datamodule import RowSource, SampleTable


@dataclass(frozen=True)
class PredictConfig:
    """How the trained runs predict (finetune's options of the same names).

    batch_size : rows per forward pass; tta : ``none`` or ``flip``; workers : data loader
    processes; predict_on : another artifact to predict instead of the input (empty: the
    input); max_memory_bytes : largest ``predict_on`` column read into memory; folds : K of a
    k-fold training (0 = none); stacking : ``none``, ``mean`` or ``refit``.
    """

    batch_size: int
    tta: str
    workers: int
    predict_on: str
    max_memory_bytes: int
    folds: int
    stacking: str


def training_summary(
    table: SampleTable, runs: list[Trained], group_name: str, threads: int
) -> dict[str, Any]:
    """The summary of a training: the last run's model and class counts, the input, the
    grouping column, train seconds of every run, torch threads, and the plans' notes."""
    from emocli.models import parameter_count

    last = runs[-1]
    model = last.module.model
    summary: dict[str, Any] = {
        "model": last.architecture,
        "parameters": parameter_count(model),
        "trainable_parameters": parameter_count(model, trainable_only=True),
        "frozen_tensors": len(last.frozen),
        "input": {"kind": table.kind, "column": table.column, "shape": list(table.shape)},
        "classes": len(table.classes),
        "train_class_counts": {  # the imbalance the thesis asks to report (last run's rows)
            name: int(count)
            for name, count in zip(
                table.classes,
                np.bincount(table.label[last.plan.train], minlength=len(table.classes)),
                strict=True,
            )
        },
        "group_by": group_name,
        "transfer": last.transfer,
        "train_seconds": round(sum(r.fit.seconds for r in runs), 1),
        "threads": threads,
    }
    notes = list(dict.fromkeys(note for r in runs for note in r.plan.notes))
    if notes:
        summary["notes"] = notes
    return summary


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of the labelled rows (label >= 0) whose most probable class is the label."""
    known = labels >= 0
    if not known.any():
        return None
    return round(float((probs[known].argmax(1) == labels[known]).mean()), 4)


def write_predictions_artifact(
    config: PredictConfig,
    table: SampleTable,
    source: RowSource,
    runs: list[Trained],
    writer: ArtifactWriter,
    output: Path,
    summary: dict[str, Any],
) -> None:
    """Predict with ``runs`` and write the ``predictions`` artifact into ``writer`` (its
    ``model`` attribute: the model artifact ``output``); accuracies go into ``summary``."""
    from emocli.predictions import Predictions, write_predictions
    from emocli.training.trainer import predict_probs

    batch = config.batch_size
    modality = "face" if table.kind == "faces" else "audio"
    level = "frame" if table.kind == "faces" else "clip"  # a spectrogram is a whole clip
    if config.stacking != "none":
        preds = _stacked_predictions(config, table, source, runs, summary)
        preds.modality, preds.level = modality, level
    elif config.folds:
        rows_parts, prob_parts, fold_parts, fold_acc = [], [], [], []
        for run_ in runs:
            probs = predict_probs(
                run_.module, source, run_.plan.test, batch, config.tta, config.workers
            )
            rows_parts.append(run_.plan.test)
            prob_parts.append(probs)
            fold_parts.append(np.full(len(run_.plan.test), run_.plan.fold, np.int64))
            fold_acc.append(_accuracy(probs, table.label[run_.plan.test]) or 0.0)
        rows = np.concatenate(rows_parts)
        order = np.argsort(rows, kind="stable")
        rows, probs = rows[order], np.concatenate(prob_parts)[order]
        folds = np.concatenate(fold_parts)[order]
        preds = Predictions.build(
            table.classes,
            probs,
            table.sample_id[rows],
            label=table.label[rows],
            clip_id=table.clip_id[rows],
            subject=table.subject[rows],
            split=np.full(len(rows), "test", dtype=object),
            fold=folds,
            modality=modality,
            level=level,
        )
        summary["folds"] = [
            {
                "fold": r.plan.fold,
                "train": len(r.plan.train),
                "val": len(r.plan.val),
                "test": len(r.plan.test),
                "test_accuracy": acc,
                "best_epoch": r.fit.best_epoch,
                "epochs_run": r.fit.epochs_run,
                "seconds": round(r.fit.seconds, 1),
            }
            for r, acc in zip(runs, fold_acc, strict=True)
        ]
        summary["fold_accuracy"] = fold_acc
        summary["cv_accuracy_mean"] = round(float(np.mean(fold_acc)), 4)
        summary["cv_accuracy_std"] = round(float(np.std(fold_acc)), 4)
        summary["oof_accuracy"] = _accuracy(probs, table.label[rows])
    else:
        run_ = runs[0]
        target, target_source = _prediction_target(config, table, source)
        labels, lost = map_labels_by_name(target.label, target.classes, table.classes)
        if lost:
            summary["predict_on_unmapped_labels"] = lost
        probs = predict_probs(
            run_.module, target_source, np.arange(len(target)), batch, config.tta, config.workers
        )
        preds = _target_predictions(table, target, probs, labels)
        preds.modality, preds.level = modality, level
        summary.update(
            train=len(run_.plan.train),
            val=len(run_.plan.val),
            epochs_run=run_.fit.epochs_run,
            best_epoch=run_.fit.best_epoch,
        )
        accuracy = _split_accuracy(probs, labels, target.split)
        summary["validation"] = run_.plan.val_source
        if run_.plan.val_source == "holdout" and not config.predict_on:
            acc = _accuracy(probs[run_.plan.val], labels[run_.plan.val])
            if acc is not None:
                accuracy["held_out_val"] = acc
        summary["accuracy"] = accuracy
    write_predictions(writer, preds)
    writer.set_attr("model", str(output))


def _prediction_target(
    config: PredictConfig, table: SampleTable, source: RowSource
) -> tuple[SampleTable, RowSource]:
    """The table whose rows get predictions (``predict_on``, else the input) and its source."""
    from emocli.training.datamodule import open_source, read_table

    if not config.predict_on:
        return table, source
    target = read_table(config.predict_on, table.column)
    if target.shape != table.shape:
        raise ParamsError(
            f"--predict-on {config.predict_on}: its {target.column!r} rows are "
            f"{target.shape}, the model takes {table.shape}"
        )
    return target, open_source(target, config.max_memory_bytes)


def _stacked_predictions(
    config: PredictConfig,
    table: SampleTable,
    source: RowSource,
    runs: list[Trained],
    summary: dict[str, Any],
) -> Predictions:
    """Stacking: a row's out-of-fold probabilities where a fold held it (or its clip) out, else
    the fold models' mean (``mean``) or the final model's (``refit``: the run of fold -1, trained
    on every training row). Records fold and split accuracies in ``summary``."""
    from emocli.training.stacking import held_out_fold
    from emocli.training.trainer import predict_probs

    target, target_source = _prediction_target(config, table, source)
    labels, lost = map_labels_by_name(target.label, target.classes, table.classes)
    if lost:
        summary["predict_on_unmapped_labels"] = lost
    folds = [r for r in runs if r.plan.fold >= 0]
    owner = held_out_fold(table, target, [r.plan for r in folds], same=not config.predict_on)
    batch = config.batch_size

    def predict(run_: Trained, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros((0, len(table.classes)), np.float32)
        return predict_probs(run_.module, target_source, rows, batch, config.tta, config.workers)

    probs = np.zeros((len(owner), len(table.classes)), np.float32)
    fold_acc = []
    rest = np.flatnonzero(owner < 0)
    for run_ in folds:
        rows = np.flatnonzero(owner == run_.plan.fold)
        probs[rows] = predict(run_, rows)
        fold_acc.append(_accuracy(probs[rows], labels[rows]))
        if config.stacking == "mean":
            probs[rest] += predict(run_, rest) / len(folds)
    if config.stacking == "refit":
        refit = next(r for r in runs if r.plan.fold < 0)
        probs[rest] = predict(refit, rest)
    held = owner >= 0
    training = np.isin(target.split, ["train", ""]) & (labels >= 0)
    measured = [a for a in fold_acc if a is not None]  # a fold may hold no labelled target row
    summary["fold_accuracy"] = measured
    summary["cv_accuracy_mean"] = round(float(np.mean(measured)), 4) if measured else 0.0
    summary["cv_accuracy_std"] = round(float(np.std(measured)), 4) if measured else 0.0
    summary["stacking"] = {
        "others_from": config.stacking,
        "out_of_fold_rows": int(held.sum()),
        "out_of_fold_accuracy": _accuracy(probs[held], labels[held]),
        "other_rows": len(rest),
        "other_accuracy": _split_accuracy(probs[rest], labels[rest], target.split[rest]),
        "training_rows_not_out_of_fold": int((training & ~held).sum()),
    }
    return _target_predictions(table, target, probs, labels, fold=owner)


def _target_predictions(
    table: SampleTable,
    target: SampleTable,
    probs: np.ndarray,
    labels: np.ndarray,
    fold: np.ndarray | None = None,
) -> Predictions:
    """Predictions (N, K) of ``table``'s classes for the rows of ``target``, with its ids."""
    from emocli.predictions import Predictions

    return Predictions.build(
        table.classes,
        probs,
        target.sample_id,
        label=labels,
        clip_id=target.clip_id,
        subject=target.subject,
        split=target.split,
        fold=fold,
    )


def _split_accuracy(probs: np.ndarray, labels: np.ndarray, split: np.ndarray) -> dict[str, float]:
    """Accuracy of the labelled rows of each split (``unsplit`` for an empty name)."""
    accuracy = {}
    for name in sorted(set(split.tolist())):
        rows = split == name
        if (acc := _accuracy(probs[rows], labels[rows])) is not None:
            accuracy[name or "unsplit"] = acc
    return accuracy


def _merged_history(runs: list[Trained]) -> dict[str, np.ndarray]:
    """Per-epoch history; after k-fold the folds' histories end to end with a ``fold`` column."""
    if len(runs) == 1 and runs[0].plan.fold < 0:
        return dict(runs[0].fit.history)
    names = sorted({k for r in runs for k in r.fit.history})
    merged: dict[str, list[np.ndarray]] = {name: [] for name in [*names, "fold"]}
    for r in runs:
        n = len(r.fit.history.get("epoch", []))
        for name in names:
            merged[name].append(np.asarray(r.fit.history.get(name, np.full(n, np.nan)), np.float64))
        merged["fold"].append(np.full(n, r.plan.fold, np.float64))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in merged.items()}


def write_model_artifact(
    table: SampleTable,
    runs: list[Trained],
    writer: ArtifactWriter,
    output: Path,
    freeze: str,
    folds: int,
) -> None:
    """Write the last run's model into ``writer`` (attrs ``best_epoch``, ``transfer``, the
    ``freeze`` policy; after k-fold ``folds`` = K and ``weights_fold``), with the history of
    every run and ``<output stem>.curves.png`` beside ``output``."""
    from emocli.contract import model_input
    from emocli.plots import plot_history
    from emocli.training.model_store import ModelInfo, write_model

    last = runs[-1]
    info = ModelInfo(
        architecture=last.architecture,
        model_kwargs=last.kwargs,
        classes=list(table.classes),
        input=model_input(
            table.kind, table.column, table.shape, last.normalisation, table.upstream
        ),
        history=_merged_history(runs),
    )
    extra: dict[str, Any] = {
        "best_epoch": int(last.fit.best_epoch),
        "transfer": last.transfer,
        "freeze": freeze,
    }
    if folds:
        extra["folds"] = folds
        extra["weights_fold"] = int(last.plan.fold)
    write_model(writer, last.module.model, info, extra)
    if last.fit.history:
        title = f"{last.architecture} on {table.path.name}"
        if last.plan.fold >= 0:
            title += f" (fold {last.plan.fold})"
        plot_history(writer.sidecar(f"{output.stem}.curves.png"), last.fit.history, title)
