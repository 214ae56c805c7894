"""predict-artifact: a trained model on a ``faces`` or ``spectrograms`` artifact -> ``predictions``.

Train once, predict many: ``emocli predict W/faces/new.h5 --face-model M.h5`` predicts every
row of another dataset with a model that finetune (or pretrain-gan) wrote, and writes a
``predictions`` artifact that ``evaluate`` and ``fuse`` read.

1. the model's input contract (:mod:`emocli.contract`) is checked against the artifact:
   a difference that changes what a row looks like (face size, channels, alignment,
   detector, crop geometry; mel bands, frames, front end) is refused naming it; a
   difference that can be bridged is stated in a note (face-detection thresholds, which
   only change which faces were found; spectrograms standardised with other statistics,
   re-standardised exactly with the model's);
2. probabilities are computed as finetune computes its own predictions
   (:func:`emocli.training.trainer.predict_probs` over the model with its stored input
   normalisation, :meth:`~emocli.training.model_store.ModelInfo.transform`), or with
   onnxruntime: the int8 graph the model carries (``runtime`` ``auto``, the default, and
   ``onnx``; :mod:`emocli.int8_graph`), or with ``onnx`` the model exported by
   :func:`emocli.export.export_onnx` to a temporary file, run by
   :class:`emocli.onnx_runtime.OnnxClassifier`;
3. the predictions carry the model's classes; the input's labels are mapped to them by name,
   a row whose class the model does not know is kept unlabelled (-1) and counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from emocli.artifacts import ArtifactWriter, InputRef, fingerprint_artifact
from emocli.contract import check_artifact, recorded_upstream, stats_bridge
from emocli.errors import ArtifactError, InputError, ParamsError
from emocli.progress import ProgressHook, no_progress
from emocli.stage import OutputSpec, StageInfo, StageResult, run_stage
from emocli.stage_params.predict_artifact import PredictArtifactParams

STAGE = StageInfo("predict-artifact", 1)

#: Input artifact kinds a model can predict.
INPUT_KINDS = ("faces", "spectrograms")
#: Unknown label classes listed in the summary.
SUMMARY_CLASSES = 10


def run(
    params: PredictArtifactParams,
    input: Path,
    model: Path,
    output: Path,
    force: bool = False,
    progress: ProgressHook = no_progress,
) -> StageResult:
    """Predict every row of the faces/spectrograms artifact ``input`` with the model artifact
    ``model``; write the predictions artifact ``output``.

    Raises :class:`ArtifactError` when the artifact was made differently from what the model
    expects (the message names the difference), :class:`ParamsError` for unusable options.
    """
    # the predicted artifact first: the workspace's default output names it as the source
    # roles: the `predict` command's parameters (the model option is named by the input's kind)
    predicted = fingerprint_artifact(input, INPUT_KINDS, role="clips")
    role = "face_model" if predicted.kind == "faces" else "audio_model"
    inputs = [predicted, replace(_model_ref(Path(model)), role=role)]

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        return _execute(params, Path(input), Path(model), writers["predictions"], progress)

    outputs = {"predictions": OutputSpec(Path(output), "predictions")}
    return run_stage(STAGE, params, inputs, outputs, build, force)


def describe(result: StageResult) -> list[str]:
    """What the terminal shows of a run: rows, model, accuracy on the labelled rows, the rows
    kept unlabelled (their class is not one of the model's), notes."""
    s = result.summary
    lines = [
        f"{s['rows']} rows predicted with {s['model']} ({s['modality']}, {len(s['classes'])} "
        f"classes, {s['runtime']}); labelled: {s['labelled']}"
        + (f", accuracy {s['accuracy']:.4f}" if s.get("accuracy") is not None else "")
    ]
    if s.get("unknown_labels"):
        listing = ", ".join(f"{k} ({v})" for k, v in s["unknown_label_classes"].items())
        lines.append(
            f"[yellow]{s['unknown_labels']} rows kept unlabelled[/]: their class is not one of "
            f"the model's ({listing})"
        )
    return lines + [f"note: {note}" for note in s.get("notes", [])]


class _Restandardised:
    """A row source whose (B, 1, n_mels, T) features become ``x * scale + shift``."""

    def __init__(self, source: Any, bridge: tuple[np.ndarray, np.ndarray]) -> None:
        self.source, (self.scale, self.shift) = source, bridge

    def read(self, rows: np.ndarray) -> np.ndarray:
        x = np.asarray(self.source.read(rows), np.float32)
        return (x * self.scale + self.shift).astype(np.float32)


def _is_onnx(path: Path) -> bool:
    return path.suffix.lower() == ".onnx"


def _model_ref(model: Path) -> InputRef:
    """The model input: an artifact's stored fingerprint (with the hash of the int8 graph it
    carries, which --runtime auto runs), or an exported ONNX file's hash."""
    import hashlib

    if not _is_onnx(model):
        from emocli.int8_graph import read_graph

        ref = fingerprint_artifact(model, "model")
        graph = read_graph(model)
        if graph is None:
            return ref
        digest = hashlib.sha256(ref.fingerprint.encode() + graph).hexdigest()
        return replace(ref, fingerprint=digest)

    try:
        digest = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise InputError(f"{model}: cannot read the ONNX model ({exc.strerror or exc})") from exc
    return InputRef(str(model), digest, "onnx-model")


# --------------------------------------------------------------------------- running


def _execute(
    params: PredictArtifactParams,
    input: Path,
    model_path: Path,
    writer: ArtifactWriter,
    progress: ProgressHook,
) -> dict[str, Any]:
    import time

    from emocli.labels import normalise_class_name
    from emocli.predictions import Predictions, write_predictions
    from emocli.training.datamodule import open_source, read_table
    from emocli.training.model_store import read_model_info

    started = time.perf_counter()
    exported = _is_onnx(model_path)
    classifier = None
    if exported:  # an emocli export file: its metadata holds the classes and input contract
        from emocli.onnx_runtime import OnnxClassifier

        classifier = OnnxClassifier(model_path, threads=_threads(params))
        info = classifier.model_info()
    else:
        info = read_model_info(model_path)
    kind = str(info.input.get("kind", ""))
    where = f"{input} with model {model_path}"
    if kind not in INPUT_KINDS:
        raise ArtifactError(f"{model_path}: not a faces or spectrograms model (input {kind!r})")
    recorded_upstream(info, str(model_path), kind)
    from emocli.artifacts import open_artifact

    with open_artifact(input, INPUT_KINDS) as art:
        data_kind = art.kind
    if data_kind != kind:
        raise ArtifactError(
            f"{where}: the model was trained on {kind}, this artifact holds {data_kind}"
        )
    if params.tta != "none" and kind != "faces":
        raise ParamsError("--tta flip mirrors faces; a spectrogram model takes --tta none")
    column = str(info.input.get("column", "images" if kind == "faces" else "features"))
    try:
        table = read_table(input, column)
    except ParamsError as exc:
        raise ArtifactError(f"{where}: the model takes the {column!r} column: {exc}") from exc
    notes = check_artifact(info, table, where)
    bridge = None
    if kind == "spectrograms":
        bridge, bridge_notes = stats_bridge(info, table, where)
        notes += bridge_notes

    progress("predicting", 0, 1)
    source: Any = open_source(table, params.max_memory_mb * 2**20)
    if bridge is not None:
        source = _Restandardised(source, bridge)
    rows = np.arange(len(table))
    used = "onnx"
    if classifier is None:
        from emocli.int8_graph import onnx_classifier_for

        classifier, used = onnx_classifier_for(model_path, params.runtime, _threads(params))
    if classifier is not None:
        probs = _onnx_probs(params, classifier, source, rows)
    else:
        probs = _torch_probs(params, model_path, source, rows)
    progress("predicting", 1, 1)

    classes = list(info.classes)
    from emocli.labels import map_labels_by_name

    labels, lost = map_labels_by_name(
        table.label,
        [normalise_class_name(c) for c in table.classes],
        [normalise_class_name(c) for c in classes],
    )
    unknown = Counter(
        table.classes[k] for k in table.label[(table.label >= 0) & (labels < 0)].tolist()
    )
    modality = "face" if kind == "faces" else "audio"
    preds = Predictions.build(
        classes,
        probs,
        table.sample_id,
        label=labels,
        clip_id=table.clip_id,
        subject=table.subject,
        split=table.split,
        modality=modality,
        level="frame" if kind == "faces" else "clip",
    )
    write_predictions(writer, preds)
    writer.set_attr("model", str(model_path))
    writer.set_attr("predicted_artifact", str(input))
    known = labels >= 0
    accuracy = (
        round(float((probs[known].argmax(1) == labels[known]).mean()), 4) if known.any() else None
    )
    summary: dict[str, Any] = {
        "rows": len(table),
        "model": str(model_path),
        "input": str(input),
        "classes": classes,
        "modality": modality,
        "runtime": used,
        "labelled": int(known.sum()),
        "unknown_labels": lost,
        "unknown_label_classes": dict(unknown.most_common(SUMMARY_CLASSES)),
        "accuracy": accuracy,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if notes:
        summary["notes"] = notes
    return summary


def _threads(params: PredictArtifactParams) -> int:
    if params.threads:
        return params.threads
    from emocli.parallel import auto_threads

    return auto_threads()


def _torch_probs(
    params: PredictArtifactParams, model_path: Path, source: Any, rows: np.ndarray
) -> np.ndarray:
    """Probabilities as finetune computes its own predictions (same module, same function)."""
    import torch

    from emocli.models import EmotionNet
    from emocli.training.model_store import load_model
    from emocli.training.module import ClassifierModule, OptimConfig
    from emocli.training.trainer import predict_probs

    torch.set_num_threads(_threads(params))
    model, info = load_model(model_path)
    if not isinstance(model, EmotionNet):
        raise ArtifactError(f"{model_path}: its {info.architecture!r} network is not a classifier")
    module = ClassifierModule(
        model, info.transform(), OptimConfig(), channels_last=params.channels_last
    )
    with torch.no_grad():
        return predict_probs(module, source, rows, params.batch_size, params.tta, params.workers)


def _onnx_probs(
    params: PredictArtifactParams, classifier: Any, source: Any, rows: np.ndarray
) -> np.ndarray:
    """Probabilities of an ONNX graph (an OnnxClassifier) run by onnxruntime."""
    out = []
    for start in range(0, len(rows), params.batch_size):
        batch = source.read(rows[start : start + params.batch_size])
        probs = classifier.predict_proba_raw(batch)
        if params.tta == "flip":
            mirrored = np.ascontiguousarray(batch[..., ::-1])
            probs = (probs + classifier.predict_proba_raw(mirrored)) / 2
        out.append(probs.astype(np.float32))
    if not out:
        return np.zeros((0, len(classifier.classes)), np.float32)
    return np.concatenate(out)
