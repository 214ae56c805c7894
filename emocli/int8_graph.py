"""A model artifact's own int8 ONNX graph, calibrated once and carried inside the artifact.

``emocli models pack MODEL.h5 --int8-calibration TRAIN.h5`` (:func:`quantized_graph`,
:func:`store_graph`) quantizes the model
exactly as ``emocli export --calibration`` does (:mod:`emocli.quantize`) and stores the graph's
bytes in the dataset ``int8/onnx`` (uint8, 1-D, checksummed) of the model artifact; its attribute
``check`` (JSON) says how the graph compares with the float32 weights on the calibration rows.
The float32 weights stay: ``--runtime torch`` and ``finetune --init`` use them.

Which classifier a model runs with (:func:`onnx_classifier_for`), by ``--runtime``:

* ``auto`` (the default): the embedded int8 graph when the artifact carries one and onnxruntime
  is installed, else torch (every model finetune writes has no graph: torch, as before);
* ``onnx``: the embedded int8 graph, else the float32 graph exported on the fly;
* ``torch``: the float32 weights.

An ONNX graph is protobuf, not pickle: reading it executes nothing from the file.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from emocli.errors import ArtifactError, EmocliError

#: The choices of ``--runtime``.
RUNTIMES = ("auto", "torch", "onnx")
#: Where the graph lives in a model artifact.
GROUP, DATASET = "int8", "onnx"
#: What a summary calls the embedded graph's runtime.
INT8_RUNTIME = "onnx-int8"


def quantized_graph(model_path: Path, calibration: Path) -> tuple[bytes, dict[str, Any]]:
    """The model artifact ``model_path`` quantized to int8, calibrated on the training rows of
    the faces/spectrograms artifact ``calibration``: the graph's bytes and its check (``rows``,
    ``agreement``: top-1 agreement with the float32 graph on them, ``max_abs_diff`` of a
    probability).

    Raises what :func:`emocli.export.export_onnx` raises (no onnx package, a calibration
    artifact made differently from the model's training input, a failed quantization).
    """
    from emocli.export import export_onnx

    with tempfile.TemporaryDirectory(prefix="emocli-int8-") as tmp:
        graph = Path(tmp) / "int8.onnx"
        result = export_onnx(model_path, graph, calibration=calibration)
        return graph.read_bytes(), {**(result.int8 or {}), "calibration": calibration.name}


def store_graph(model_path: Path, graph: bytes, check: dict[str, Any]) -> None:
    """Store ``graph`` (and its ``check``) in the model artifact ``model_path``, replacing one
    stored before."""
    import h5py
    import numpy as np

    with h5py.File(model_path, "a") as h5:
        if GROUP in h5:
            del h5[GROUP]
        ds = h5.create_group(GROUP).create_dataset(
            DATASET,
            data=np.frombuffer(graph, np.uint8),
            chunks=True,
            compression="gzip",
            fletcher32=True,
        )
        ds.attrs["check"] = json.dumps(check)


def read_graph(model_path: Path) -> bytes | None:
    """The int8 graph a model artifact carries, or None (also for an ``.onnx`` file)."""
    import h5py

    if not h5py.is_hdf5(model_path):
        return None
    with h5py.File(model_path, "r") as h5:
        node = h5.get(GROUP)
        if not isinstance(node, h5py.Group) or DATASET not in node:
            return None
        try:
            return bytes(node[DATASET][()].tobytes())
        except OSError as exc:
            raise ArtifactError(f"{model_path}: its int8 graph is corrupt ({exc})") from exc


def onnx_classifier_for(model_path: Path, runtime: str, threads: int = 0) -> tuple[Any, str]:
    """``(OnnxClassifier or None, runtime used)`` for the model artifact ``model_path`` under
    ``--runtime runtime`` (see the module doc); None means: run the torch model."""
    from emocli.onnx_runtime import OnnxClassifier

    if runtime == "torch":
        return None, "torch"
    graph = read_graph(model_path)
    if graph is not None:
        try:
            return OnnxClassifier(graph, threads=threads), INT8_RUNTIME
        except EmocliError as exc:  # no onnxruntime, or one that cannot run this graph
            if runtime == "onnx":
                raise ArtifactError(f"{model_path}: its int8 graph: {exc}") from exc
            return None, "torch"  # auto: the float32 weights can
    if runtime == "onnx":
        from emocli.export import onnx_classifier

        return onnx_classifier(model_path, threads=threads), "onnx"
    return None, "torch"
