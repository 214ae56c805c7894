"""fuse: late fusion of predictions artifacts (frames -> clips, then modalities -> one).

1. every input is reduced to clip level (:func:`emocli.fusion.reduce_to_clips`: mean of the
   frame probabilities by default, SPEC eq. 1), with the clip's label;
2. the inputs are joined on ``(split, clip id)``; clips lacking a modality are counted and
   dropped (``--missing drop``) or fused from the modalities they have (``fallback``);
3. a fuser combines the probability vectors: ``mean``, ``weighted`` (weights by k-fold CV on
   the training split), ``svm`` (RBF SVM, C and gamma by grid search with k-fold CV on the
   training split, calibrated probabilities) or ``mlp`` (the thesis's small network, early
   stopping on a held-out part of the training split) -- or a fuser stored earlier
   (``--fuser MODEL.h5``).

Trained fusers learn from the labelled training-split clips only; the output holds every
clip of every split, and the column ``fitted`` marks the clips the fuser was fitted on (their
predictions are in-sample). Evaluate on ``val``. A fuser learns how far to trust each input
from those clips, so its inputs should be out-of-fold predictions there (stacking: ``finetune
--folds K --stacking mean``); the summary says which inputs are (``inputs_out_of_fold``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emocli.artifacts import (
    ArtifactWriter,
    InputRef,
    fingerprint_artifact,
    fingerprint_raw,
    open_artifact,
)
from emocli.errors import ArtifactError, InputError
from emocli.fields import from_attributes
from emocli.fusion import (
    TRAINED_METHODS,
    VISUAL_MODALITIES,
    Fuser,
    MeanFuser,
    align_classes,
    fit_svm,
    fit_weighted,
    join_modalities,
    order_for_fuser,
    read_fuser,
    reduce_to_clips,
    write_fuser,
)
from emocli.importing import read_labels
from emocli.predictions import Predictions, load_predictions, write_predictions
from emocli.progress import ProgressHook, no_progress
from emocli.stage import OutputSpec, StageInfo, StageResult, run_stage
from emocli.stage_params.fuse import FUSED, FuseParams

STAGE = StageInfo("fuse", 1)


def modality_names(preds: Sequence[Predictions], given: Sequence[str]) -> list[str]:
    """Each input's modality name: ``given``, else its ``modality`` attribute (``input<i>`` if
    empty); names that repeat get the file stem appended (``video:afew_frames``)."""
    if given and len(given) != len(preds):
        raise InputError(f"{len(given)} modality names given for {len(preds)} inputs")
    names = list(given) or [p.modality or f"input{i + 1}" for i, p in enumerate(preds)]
    counts = Counter(names)
    return [
        f"{n}:{Path(p.source).stem}" if counts[n] > 1 and not given else n
        for n, p in zip(names, preds, strict=True)
    ]


def chosen_method(method: str | None, fuser: Path | None) -> str:
    """The fusion method: ``method`` as given, else the stored ``fuser``'s (read in either
    case: an unreadable one is refused here), else ``mean``."""
    if fuser is not None:
        method = method or read_fuser(fuser).fuser.method
    return (method or "mean").lower()


def find_default_inputs(folder: Path) -> list[Path]:
    """The visual (face/video) and audio predictions artifacts of a workspace folder.

    Fused outputs are ignored. Raises :class:`InputError` saying what was looked for and what
    was found unless there is exactly one visual and one audio artifact.
    """
    found: list[tuple[Path, str]] = []
    for path in sorted(Path(folder).glob("*.h5")) if Path(folder).is_dir() else []:
        try:
            with open_artifact(path, "predictions") as art:
                found.append((path, str(art.attrs.get("modality", ""))))
        except ArtifactError:
            continue
    visual = [p for p, m in found if m in VISUAL_MODALITIES]
    audio = [p for p, m in found if m == "audio"]
    if len(visual) == 1 and len(audio) == 1:
        return [visual[0], audio[0]]
    listing = ", ".join(f"{p.name} ({m or 'no modality'})" for p, m in found) or "nothing"
    raise InputError(
        f"fuse needs its inputs: looked in {folder} for one predictions artifact with modality "
        f"face or video and one with modality audio (fused outputs ignored) and found "
        f"{listing}; pass them explicitly: emocli fuse VIDEO.h5 AUDIO.h5 --method ..."
    )


def _fit(
    params: FuseParams, probs: np.ndarray, labels: np.ndarray, n_classes: int
) -> tuple[Fuser, dict[str, Any]]:
    """Fit the fuser of ``params.method`` on training clips (N, M, K); returns it and a summary."""
    if params.method == "weighted":
        fuser_w = fit_weighted(
            probs, labels, step=params.weight_step, folds=params.cv_folds, seed=params.seed
        )
        best = int(np.argmax(np.all(fuser_w.grid["weights"] == fuser_w.weights, axis=1)))
        return fuser_w, {
            "weights": fuser_w.weights.round(4).tolist(),
            "cv_accuracy": float(fuser_w.grid["mean_accuracy"][best]),
        }
    features = probs.reshape(len(labels), -1)
    if params.method == "svm":
        fuser_s = fit_svm(
            features,
            labels,
            n_classes,
            c_grid=params.svm_c,
            gamma_grid=params.svm_gamma,
            folds=params.cv_folds,
            seed=params.seed,
        )
        return fuser_s, {
            "C": fuser_s.C,
            "gamma": fuser_s.gamma,
            "cv_accuracy": fuser_s.cv_accuracy,
            "support_vectors": int(fuser_s.support_vectors.shape[0]),
        }
    from emocli.fusion.mlp import MlpConfig, fit_mlp

    config = from_attributes(MlpConfig, params, "mlp_", seed=params.seed)
    fuser_m = fit_mlp(features, labels, n_classes, config)
    return fuser_m, {
        "best_epoch": fuser_m.best_epoch,
        "epochs_run": len(fuser_m.history.get("epoch", [])),
        "holdout_accuracy_at_best": float(
            fuser_m.history["holdout_accuracy"][fuser_m.best_epoch - 1]
        ),
    }


def _out_of_fold(preds: Predictions, train_split: str) -> bool:
    """Whether every labelled ``train_split`` clip of ``preds`` was predicted out of fold
    (``fold`` >= 0, as ``finetune --folds K --stacking`` writes them): honest inputs for a
    trained fuser. Predictions of a model on its own training clips are in-sample."""
    rows = (preds.split == train_split) & (preds.label >= 0)
    return bool(rows.any() and (preds.fold[rows] >= 0).all())


def _accuracy_by_split(
    probs: np.ndarray, labels: np.ndarray, split: np.ndarray, fitted: np.ndarray
) -> dict[str, float]:
    """Accuracy of labelled clips per split; a split the fuser was fitted on is marked in-sample."""
    out: dict[str, float] = {}
    predicted = probs.argmax(axis=1)
    for name in sorted(set(split.tolist())):
        rows = (split == name) & (labels >= 0)
        if rows.any():
            key = f"{name or '(none)'} (in-sample)" if fitted[rows].any() else name or "(none)"
            out[key] = round(float((predicted[rows] == labels[rows]).mean()), 6)
    return out


def run(
    params: FuseParams,
    inputs: Sequence[Path],
    output: Path,
    *,
    model_output: Path | None = None,
    fuser: Path | None = None,
    labels: Path | None = None,
    force: bool = False,
    progress: ProgressHook = no_progress,
) -> StageResult:
    """Fuse the predictions artifacts ``inputs`` into ``output`` (and train ``model_output``).

    fuser : a stored fuser (``model`` artifact) to apply instead of training one; its method
    must be ``params.method``. labels : a clip labels CSV (clip_id[, split], label) giving each
    clip its label (otherwise the label its rows carry).
    """
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise InputError("fuse needs at least one predictions artifact")
    trains = params.method in TRAINED_METHODS and fuser is None
    if trains and model_output is None:
        raise InputError(f"--method {params.method} trains a fuser: give the model output path")
    refs: list[InputRef] = [fingerprint_artifact(p, "predictions", role="inputs") for p in inputs]
    if fuser is not None:
        refs.append(fingerprint_artifact(fuser, "model", role="fuser"))
    if labels is not None:
        refs.append(fingerprint_raw(labels, role="labels"))
    outputs = {"predictions": OutputSpec(Path(output), "predictions")}
    if trains:
        assert model_output is not None
        outputs["model"] = OutputSpec(Path(model_output), "model")

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        total = 4
        progress("fusing", 0, total)
        loaded = [load_predictions(p) for p in inputs]
        names = modality_names(loaded, params.modalities)
        stored = read_fuser(fuser) if fuser is not None else None
        if stored is not None:
            if stored.fuser.method != params.method:
                raise InputError(
                    f"{fuser}: is a {stored.fuser.method!r} fuser but --method is {params.method!r}"
                )
            order = order_for_fuser(names, stored.modalities)
            loaded = [loaded[i] for i in order]
            names = list(stored.modalities)
            classes = stored.classes
        else:
            classes = loaded[0].classes
        table = read_labels(labels) if labels is not None else None
        reductions = [
            reduce_to_clips(align_classes(p, classes), params.reduce, table) for p in loaded
        ]
        progress("fusing", 1, total)
        out_of_fold = {
            name: _out_of_fold(r.predictions, params.train_split)
            for name, r in zip(names, reductions, strict=True)
        }
        joined = join_modalities([r.predictions for r in reductions], names, params.missing)
        if len(joined) == 0:
            raise InputError(
                f"no clip is shared by every input ({', '.join(names)}); check the clip ids, or "
                "use --missing fallback"
            )
        fitted = np.zeros(len(joined), dtype=bool)
        details: dict[str, Any] = {}
        the_fuser: Fuser
        if stored is not None:
            the_fuser = stored.fuser
            fitted = stored.fitted_mask(joined.split, joined.clip_id)
        elif params.method == "mean":
            the_fuser = MeanFuser()
        else:
            fitted = (joined.split == params.train_split) & (joined.label >= 0) & joined.complete
            if not fitted.any():
                raise InputError(
                    f"--method {params.method} learns from the labelled clips of split "
                    f"{params.train_split!r} that have every modality, and there are none "
                    f"(splits present: {sorted(set(joined.split.tolist()))})"
                )
            the_fuser, details = _fit(
                params, joined.probs[fitted], joined.label[fitted], len(classes)
            )
        progress("fusing", 2, total)
        probs = the_fuser.predict(joined.probs, joined.present).astype(np.float32)
        fused = Predictions(
            classes=list(classes),
            probs=probs,
            label=joined.label,
            sample_id=joined.sample_id,
            clip_id=joined.clip_id,
            subject=joined.subject,
            split=joined.split,
            fold=joined.fold,
            # frames -> clips of one input keeps its modality; several inputs are "fused"
            modality=names[0] if len(names) == 1 else FUSED,
            level="clip",
        )
        writer = writers["predictions"]
        write_predictions(writer, fused)
        writer.add_column("fitted", fitted.astype(np.int8))
        writer.add_column("present", joined.present.astype(np.int8))
        model_path = str(model_output) if trains else (str(fuser) if fuser is not None else "")
        if model_path:
            writer.set_attr("model", model_path)
        writer.set_attr(
            "fusion",
            {
                "method": params.method,
                "modalities": names,
                "inputs": [str(p) for p in inputs],
                "missing": params.missing,
                "reduce": params.reduce,
                "train_split": params.train_split if trains else "",
                "present_columns": names,
            },
        )
        n_fitted = int(fitted.sum())
        if trains:
            write_fuser(
                writers["model"],
                the_fuser,
                modalities=names,
                classes=classes,
                train_split=params.train_split,
                fitted_split=joined.split[fitted],
                fitted_clip=joined.clip_id[fitted],
            )
        progress("fusing", total, total)
        split_counts = Counter(joined.split.tolist())
        return {
            "method": params.method,
            "modalities": names,
            "clips": len(joined),
            "clips_per_split": dict(sorted(split_counts.items())),
            "clips_lacking": joined.missing,
            "missing_policy": params.missing,
            "dropped": joined.dropped,
            "frames_per_clip": {
                n: float(r.n_rows.mean()) for n, r in zip(names, reductions, strict=True)
            },
            "frame_label_conflicts": sum(r.label_conflicts for r in reductions),
            "modality_label_conflicts": joined.label_conflicts,
            "unlabelled_clips": int((joined.label < 0).sum()),
            "fitted_on": f"{n_fitted} labelled {params.train_split} clips" if trains else "",
            "in_sample_clips": n_fitted,
            "inputs_out_of_fold": out_of_fold if trains else {},
            "fuser": details,
            "accuracy": _accuracy_by_split(probs, joined.label, joined.split, fitted),
        }

    return run_stage(STAGE, params, refs, outputs, build, force)


def describe(result: StageResult) -> list[str]:
    """What the terminal shows of a run: clips fused, clips lacking a modality, the fitted
    fuser (with a warning when it learnt from in-sample predictions), accuracy by split."""
    s = result.summary
    lines = [
        f"{s['method']} fusion of {', '.join(s['modalities'])}: {s['clips']} clips "
        f"{s['clips_per_split']}; missing policy {s['missing_policy']}, {s['dropped']} dropped"
    ]
    lacking = {m: c for m, c in s["clips_lacking"].items() if any(c.values())}
    if lacking:
        lines.append(f"clips lacking a modality (before the policy): {lacking}")
    if s["fitted_on"]:
        lines.append(f"fuser fitted on {s['fitted_on']}: {json.dumps(s['fuser'])}")
    in_sample = [name for name, oof in s.get("inputs_out_of_fold", {}).items() if not oof]
    if in_sample:
        lines.append(
            f"warning: the fuser learnt from in-sample predictions of {', '.join(in_sample)} "
            "(not out of fold on its training clips), so it trusts an over-fitted input more "
            "than it deserves; fit it on out-of-fold predictions: finetune --folds K "
            "--stacking mean (docs/usage.md, section fuse)"
        )
    lines.append(f"accuracy by split: {s['accuracy']}  (evaluate on val: emocli evaluate ...)")
    return lines
