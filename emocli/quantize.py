"""int8 ONNX graphs: ``emocli export MODEL.h5 --calibration TRAIN.h5`` quantizes the exported
float32 graph with onnxruntime's static quantization.

Weights become int8 per output channel, activations uint8 with ranges calibrated (MinMax) on
rows of a faces or spectrograms artifact made like the model's training input (use training
rows, never the test rows). The graph keeps the float32 input and the softmax output, with
QuantizeLinear / DequantizeLinear pairs around each quantized operator (QDQ format), so it
runs wherever onnxruntime does, about twice as fast as float32 on a CPU without losing the
class ranking in practice; :func:`agreement` measures that on the calibration rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emocli.errors import ArtifactError

if TYPE_CHECKING:  # numpy is imported by the functions: `emocli --help` imports this module
    import numpy as np

#: Rows of the calibration artifact used by default (evenly spaced over it).
CALIBRATION_ROWS = 512
#: Rows per calibration batch.
CALIBRATION_BATCH = 32


def calibration_rows(info: Any, artifact: Path, rows: int, where: str) -> tuple[np.ndarray, int]:
    """(n, C, H, W) float32 normalised model inputs: ``rows`` rows evenly spaced over the
    ``train`` rows of the faces/spectrograms ``artifact`` (over all its rows when it names no
    split; all of them if fewer), and the number of rows they were drawn from.

    Raises :class:`ArtifactError` when the artifact was made differently from the model's
    training input (:func:`emocli.contract.check_artifact`) or is empty.
    """
    import numpy as np

    from emocli.contract import check_artifact, stats_bridge
    from emocli.training.datamodule import open_source, read_table

    column = str(
        info.input.get("column", "images" if info.input.get("kind") == "faces" else "features")
    )
    table = read_table(artifact, column)
    check_artifact(info, table, where)
    if len(table) == 0:
        raise ArtifactError(f"{artifact}: no rows to calibrate the int8 graph on")
    pool = np.flatnonzero(table.split == "train")  # training rows where the artifact names them
    if not len(pool):
        pool = np.arange(len(table))
    spaced = np.linspace(0, len(pool) - 1, min(rows, len(pool))).round().astype(int)
    picked = pool[np.unique(spaced)]
    raw = np.asarray(open_source(table, 0).read(picked), np.float32)
    if table.kind == "spectrograms":  # standardised with the model's statistics, as predict does
        bridge, _ = stats_bridge(info, table, where)
        if bridge is not None:
            raw = raw * bridge[0] + bridge[1]
    scale, mean, std = info.normalisation()
    m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return ((raw / np.float32(scale) - m) / s).astype(np.float32), len(pool)


def quantize_int8(onnx_bytes: bytes, inputs: np.ndarray) -> bytes:
    """The float32 graph ``onnx_bytes`` quantized to int8 (QDQ, per-channel weights), its
    activation ranges calibrated on ``inputs`` (n, C, H, W) normalised float32."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from emocli.onnx_runtime import INPUT_NAME

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(
                {INPUT_NAME: inputs[i : i + CALIBRATION_BATCH]}
                for i in range(0, len(inputs), CALIBRATION_BATCH)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory(prefix="emocli-int8-") as tmp:
        folder = Path(tmp)
        (folder / "float.onnx").write_bytes(onnx_bytes)
        quant_pre_process(str(folder / "float.onnx"), str(folder / "prepared.onnx"))
        quantize_static(
            str(folder / "prepared.onnx"),
            str(folder / "int8.onnx"),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        return (folder / "int8.onnx").read_bytes()


def agreement(int8: Any, reference: np.ndarray, inputs: np.ndarray) -> tuple[float, float]:
    """(top-1 agreement, largest |difference| of a probability) of the int8 classifier
    ``int8`` (an OnnxClassifier) against ``reference`` (n, K) probabilities on ``inputs``."""
    import numpy as np

    got = int8.predict_proba(inputs)
    same = float((got.argmax(1) == reference.argmax(1)).mean()) if len(got) else 1.0
    return same, float(np.abs(got - reference).max()) if len(got) else 0.0


def quantized_graph(
    float_graph: bytes, checked: bytes, info: Any, model_path: Path, calibration: Path, rows: int
) -> tuple[bytes, dict[str, Any]]:
    """The int8 graph of ``float_graph`` with emocli's metadata (and ``quantization``), and
    how it compares with the float32 graph ``checked`` on ``rows`` calibration rows of the
    ``calibration`` artifact: ``rows`` used, top-1 ``agreement``, ``max_abs_diff``."""
    import json

    from emocli.onnx_graph import metadata, with_metadata
    from emocli.onnx_runtime import PREFIX, OnnxClassifier, require_onnxruntime

    require_onnxruntime()
    where = f"{calibration} (int8 calibration of {model_path})"
    inputs, total = calibration_rows(info, calibration, rows, where)
    props = metadata(info, model_path)
    recipe = {
        "weights": "int8, per output channel",
        "activations": "uint8, MinMax ranges",
        "format": "QDQ",
        "calibration": {"artifact": calibration.name, "rows": len(inputs), "of": total},
    }
    props[PREFIX + "quantization"] = json.dumps(recipe, sort_keys=True)
    try:
        quantized = quantize_int8(float_graph, inputs)
    except Exception as exc:  # onnxruntime's quantizer raises many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"{model_path}: int8 quantization failed ({first})") from exc
    data = with_metadata(quantized, props)
    reference = OnnxClassifier(checked, threads=1).predict_proba(inputs)
    same, diff = agreement(OnnxClassifier(data, threads=1), reference, inputs)
    return data, {"rows": len(inputs), "agreement": same, "max_abs_diff": diff}
