"""Run a model exported by ``emocli export`` with onnxruntime, without torch.

An exported file (see :mod:`emocli.export`) takes ``input``: float32 ``(N, C, H, W)``, already
normalised as the model was trained (``(x / scale - mean) / std`` per channel, the numbers in
its metadata), and returns ``probabilities``: ``(N, K)``, the softmax over the K classes, the
same numbers ``emocli predict`` computes with torch. Its ``metadata_props`` are JSON strings
under the keys of :data:`METADATA_KEYS` (class names, the model artifact's input contract,
architecture, fingerprint, versions).

:class:`OnnxClassifier` reads that metadata and offers :meth:`~OnnxClassifier.predict_proba`
(normalised input) and :meth:`~OnnxClassifier.predict_proba_raw` (raw rows, normalised here
exactly as :func:`emocli.training.classify.classify` does). onnxruntime is an optional dependency
(``pip install "emocli[onnx]"``); it is imported when a classifier is created.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from emocli.errors import ArtifactError, InputError, ParamsError

#: Name of the graph's input and output.
INPUT_NAME, OUTPUT_NAME = "input", "probabilities"
#: Name of the dynamic batch axis of both.
BATCH_AXIS = "batch"
#: Prefix of emocli's metadata keys.
PREFIX = "emocli."
#: What each metadata key holds (every value is a JSON string).
METADATA_KEYS: dict[str, str] = {
    "emocli.classes": "class names, in the order of the output's columns",
    "emocli.input": "the model artifact's 'input' attribute: kind, column, size, channels, "
    "normalisation, upstream (the preprocessing it was trained on)",
    "emocli.normalisation": "the input scaling the graph expects, resolved: scale, mean, std, formula",
    "emocli.input_tensor": "name, dtype, layout and shape of the graph's input",
    "emocli.output": "name, shape and meaning of the graph's output",
    "emocli.architecture": "registry name of the network (emocli.models)",
    "emocli.model_kwargs": "the network's constructor arguments",
    "emocli.fingerprint": "fingerprint of the model artifact that was exported",
    "emocli.stage": "the stage that wrote that artifact (finetune, pretrain-gan)",
    "emocli.source": "file name of that artifact",
    "emocli.emocli_version": "emocli version that wrote that artifact",
    "emocli.exported_by": "emocli version that exported it",
    "emocli.quantization": "int8 graphs only: weights, activations, format, calibration rows",
}
#: Rows per onnxruntime call (as :data:`emocli.training.classify.BATCH_SIZE`).
BATCH_SIZE = 64
#: What to install for the ``onnx`` extra.
INSTALL_HINT = 'pip install "emocli[onnx]"'


def require_module(name: str, need: str) -> Any:
    """The module ``name`` of the ``onnx`` extra, imported; when absent, :class:`ParamsError`
    saying ``need`` (what needs it), that it is not installed and what to install."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ParamsError(f"{need}, which is not installed: {INSTALL_HINT}") from exc


def require_onnxruntime() -> Any:
    """The ``onnxruntime`` module; :class:`ParamsError` saying what to install when absent."""
    return require_module("onnxruntime", "running ONNX models needs the onnxruntime package")


def onnxruntime_installed() -> bool:
    """Whether onnxruntime can be imported (without importing it twice)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def decode_metadata(props: dict[str, str]) -> dict[str, Any]:
    """emocli's ``metadata_props`` (JSON strings) -> ``{key without prefix: value}``."""
    out: dict[str, Any] = {}
    for key, text in props.items():
        if not key.startswith(PREFIX):
            continue
        try:
            out[key[len(PREFIX) :]] = json.loads(text)
        except json.JSONDecodeError:
            out[key[len(PREFIX) :]] = text
    return out


class OnnxClassifier:
    """An ``emocli export`` file run by onnxruntime on the CPU.

    path : the ``.onnx`` file (or its bytes). threads : onnxruntime's intra-op threads
    (0: its default, one per core).

    Raises :class:`ParamsError` when onnxruntime is not installed, :class:`InputError` for a
    missing file, :class:`ArtifactError` for a file onnxruntime cannot load or one that lacks
    emocli's metadata (not written by ``emocli export``).
    """

    def __init__(self, path: Path | str | bytes, threads: int = 0) -> None:
        if threads < 0:
            raise ParamsError(f"threads must be >= 0, not {threads}")
        name = "<bytes>" if isinstance(path, bytes) else str(path)
        if not isinstance(path, bytes) and not Path(path).is_file():
            raise InputError(f"{path}: no such file (expected an ONNX model from emocli export)")
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        source = path if isinstance(path, bytes) else str(path)
        try:
            self.session = ort.InferenceSession(
                source, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own pybind types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ArtifactError(f"{name}: not a loadable ONNX model ({first})") from exc
        self.path = None if isinstance(path, bytes) else Path(path)
        self.metadata = decode_metadata(dict(self.session.get_modelmeta().custom_metadata_map))
        classes = self.metadata.get("classes")
        norm = self.metadata.get("normalisation")
        if not isinstance(classes, list) or not isinstance(norm, dict):
            raise ArtifactError(
                f"{name}: no emocli metadata (emocli.classes, emocli.normalisation); "
                "export the model artifact with `emocli export MODEL.h5`"
            )
        self.classes: list[str] = [str(c) for c in classes]
        self.scale = float(norm.get("scale", 1.0))
        self.mean = np.asarray(norm.get("mean", [0.0]), np.float32)
        self.std = np.asarray(norm.get("std", [1.0]), np.float32)
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
            raise ArtifactError(f"{name}: expected one graph input named {INPUT_NAME!r}")
        shape = inputs[0].shape
        self.input_shape: tuple[int, int, int] = (int(shape[1]), int(shape[2]), int(shape[3]))

    def model_info(self) -> Any:
        """The exported model's :class:`~emocli.training.model_store.ModelInfo` (architecture,
        classes, input contract, fingerprint) as recorded in the metadata; no weights."""
        from emocli.training.model_store import ModelInfo

        kwargs = self.metadata.get("model_kwargs")
        return ModelInfo(
            architecture=str(self.metadata.get("architecture", "")),
            model_kwargs=dict(kwargs) if isinstance(kwargs, dict) else {},
            classes=list(self.classes),
            input=self.input_contract,
            fingerprint=str(self.metadata.get("fingerprint", "")),
            stage=str(self.metadata.get("stage", "")),
        )

    @property
    def input_contract(self) -> dict[str, Any]:
        """The model artifact's ``input`` attribute (kind, column, size, normalisation ...)."""
        contract = self.metadata.get("input")
        return dict(contract) if isinstance(contract, dict) else {}

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            c, h, w = self.input_shape
            raise InputError(
                f"the model takes (N, {c}, {h}, {w}) arrays (NCHW), got shape {tuple(x.shape)}"
            )
        return x

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, K) float64 class probabilities of normalised input ``x`` (N, C, H, W)."""
        x = self._check(x).astype(np.float32, copy=False)
        out = [
            self.session.run(
                [OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x[i : i + BATCH_SIZE])}
            )[0]
            for i in range(0, len(x), BATCH_SIZE)
        ]
        if not out:
            return np.zeros((0, len(self.classes)))
        return np.concatenate(out).astype(np.float64)

    def normalise(self, rows: np.ndarray) -> np.ndarray:
        """Raw rows (pixels 0-255, or spectrogram values) -> the graph's float32 input:
        ``(x / scale - mean) / std`` per channel, as :func:`emocli.training.classify.classify`."""
        x = self._check(rows).astype(np.float32)
        mean = self.mean.reshape(1, -1, 1, 1)
        std = self.std.reshape(1, -1, 1, 1)
        return ((x / np.float32(self.scale) - mean) / std).astype(np.float32)

    def predict_proba_raw(self, rows: np.ndarray) -> np.ndarray:
        """(N, K) float64 class probabilities of raw rows (N, C, H, W), normalised as in training."""
        return self.predict_proba(self.normalise(rows))
