"""``emocli export``: a model artifact -> an ONNX file that gives the same probabilities.

The graph (:mod:`emocli.onnx_graph`) is the network rebuilt from the registry
(:func:`emocli.training.model_store.load_model`, eval mode) followed by a softmax over its K
classes: ``probabilities`` (N, K) float32 of an already normalised float32 NCHW ``input``.
This holds for every classifier of the registry and for the discriminator that
``pretrain-gan`` writes (its K logits are the real classes of the semi-supervised D, and
``predict`` uses their softmax, as here).

The graph is checked against torch with onnxruntime (when installed), then written to a
temporary name and moved into place with :func:`os.replace`. With a calibration artifact the
checked graph is quantized to int8 (:mod:`emocli.quantize`) before it is written.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocli.errors import ArtifactError, ParamsError
from emocli.onnx_graph import export_module, metadata, require_onnx, with_metadata
from emocli.onnx_runtime import OnnxClassifier, onnxruntime_installed
from emocli.quantize import CALIBRATION_ROWS

#: Largest |onnxruntime - torch| difference of a probability accepted when checking an export.
PARITY_TOLERANCE = 1e-4
#: Rows of random input the check runs.
CHECK_ROWS = 4
#: Suffix of the default output (next to the model artifact).
SUFFIX = ".onnx"


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote.

    max_abs_diff : largest |onnxruntime - torch| probability on random inputs (``None`` when
    onnxruntime is not installed and the file was not checked).
    int8 : for a quantized graph, ``rows`` (calibration rows), ``agreement`` (top-1 agreement
    with the float32 graph on them) and ``max_abs_diff`` (of a probability); else None.
    """

    path: Path
    architecture: str
    classes: list[str]
    input_shape: tuple[int, int, int]
    scale: float
    mean: list[float]
    std: list[float]
    max_abs_diff: float | None
    int8: dict[str, Any] | None = None


def default_output(model_path: Path) -> Path:
    """``models/face.h5`` -> ``models/face.onnx``."""
    return model_path.with_suffix(SUFFIX)


def resolve_output(model_path: Path, output: Path | None) -> Path:
    """The file to write: ``output`` (a folder gets ``<model stem>.onnx``) or the default.

    Refuses (:class:`ParamsError`) to overwrite the model artifact itself or any other HDF5
    file.
    """
    out = Path(output) if output is not None else default_output(model_path)
    if out.is_dir():
        out = out / (model_path.stem + SUFFIX)
    same = out.resolve() == model_path.resolve()
    if not same and out.exists() and model_path.exists():
        with suppress(OSError):
            same = os.path.samefile(out, model_path)
    if same:
        raise ParamsError(
            f"{out}: is the model artifact being exported; refusing to overwrite it "
            "(give another output with -o)"
        )
    if out.is_file() and _is_hdf5(out):
        raise ParamsError(f"{out}: is an HDF5 file (an artifact?); refusing to overwrite it")
    return out


def _is_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def check_parity(onnx_source: Path | bytes, model: Any, info: Any, rows: int = CHECK_ROWS) -> float:
    """Largest |onnxruntime - torch| class probability on ``rows`` random raw inputs, both
    through their own normalisation (:func:`emocli.training.classify.classify` for torch)."""
    from emocli.training.classify import classify

    scale, _, _ = info.normalisation()
    h, w = info.input_size
    rng = np.random.default_rng(0)
    shape = (rows, info.channels, h, w)
    raw = (rng.uniform(0.0, scale, shape) if scale > 1 else rng.standard_normal(shape)).astype(
        np.float32
    )
    expected = classify(model, info, raw)
    got = OnnxClassifier(onnx_source, threads=1).predict_proba_raw(raw)
    return float(np.abs(got - expected).max())


def export_onnx(
    model_path: Path | str,
    output: Path | str | None = None,
    calibration: Path | str | None = None,
    calibration_rows: int = CALIBRATION_ROWS,
) -> ExportResult:
    """Export the model artifact ``model_path`` to ONNX (default: next to it, ``.onnx``).

    calibration : a faces/spectrograms artifact made like the model's training input: the
    graph is quantized to int8 (:mod:`emocli.quantize`), its activation ranges calibrated on
    ``calibration_rows`` of its rows (use training rows).

    Raises :class:`ParamsError` for an output that would overwrite the artifact (or another
    HDF5 file) or without the onnx package; :class:`ArtifactError` for a file that is not a
    classifier's model artifact, an exporter failure, or an export whose probabilities differ
    from torch's by more than :data:`PARITY_TOLERANCE`.
    """
    from emocli.models import MODELS, EmotionNet
    from emocli.quantize import quantized_graph
    from emocli.training.model_store import load_model, read_model_info

    model_path = Path(model_path)
    found = read_model_info(model_path)  # is it a classifier's artifact? before anything else
    if found.architecture not in MODELS:
        raise ArtifactError(
            f"{model_path}: its model ({found.architecture!r}, written by "
            f"{found.stage or 'an unknown stage'}) is not one of emocli's neural classifiers "
            f"({', '.join(sorted(MODELS))}); only finetune and pretrain-gan models can be exported"
        )
    out = resolve_output(model_path, Path(output) if output is not None else None)
    require_onnx()
    model, info = load_model(model_path)
    assert isinstance(model, EmotionNet)
    if len(info.classes) != model.n_classes:
        raise ArtifactError(
            f"{model_path}: {len(info.classes)} class names for a network of "
            f"{model.n_classes} outputs"
        )
    shape = (model.in_channels, *model.input_size)
    if (info.channels, *info.input_size) != shape:
        raise ArtifactError(
            f"{model_path}: its input attribute says {info.channels}x{info.input_size} but the "
            f"network is built for {shape[0]}x{shape[1:]}"
        )
    float_graph = export_module(model, shape)
    data = with_metadata(float_graph, metadata(info, model_path))
    diff: float | None = None
    if onnxruntime_installed():  # the float32 graph against torch, before anything is written
        diff = check_parity(data, model, info)
        if not diff <= PARITY_TOLERANCE:
            raise ArtifactError(
                f"{model_path}: the exported graph's probabilities differ from torch's by "
                f"{diff:.3g} (> {PARITY_TOLERANCE}); nothing written"
            )
    int8 = None
    if calibration is not None:
        data, int8 = quantized_graph(
            float_graph, data, info, model_path, Path(calibration), calibration_rows
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            raise ArtifactError(f"cannot write {out}: {exc.strerror or exc}") from exc
        os.replace(tmp, out)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
    scale, mean, std = info.normalisation()
    return ExportResult(
        out, info.architecture, list(info.classes), shape, scale, mean, std, diff, int8
    )


def onnx_classifier(model_path: Path | str, threads: int = 0) -> Any:
    """The model artifact ``model_path`` exported to ONNX (in a temporary folder, removed
    before returning) as an :class:`~emocli.onnx_runtime.OnnxClassifier` held in memory.

    Raises what :func:`export_onnx` raises, and :class:`ParamsError` without onnxruntime.
    """
    import tempfile

    from emocli.onnx_runtime import OnnxClassifier, require_onnxruntime

    require_onnxruntime()
    with tempfile.TemporaryDirectory(prefix="emocli-onnx-") as tmp:
        onnx_path = Path(tmp) / f"{Path(model_path).stem}.onnx"
        export_onnx(model_path, onnx_path)
        return OnnxClassifier(onnx_path.read_bytes(), threads=threads)
