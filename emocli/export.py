"""``emocli export``: a model artifact -> an ONNX file that gives the same probabilities.

The graph is the network rebuilt from the registry (:func:`emocli.training.model_store.load_model`,
eval mode) followed by a softmax over its K classes, so it outputs exactly what
:func:`emocli.training.classify.classify` computes: ``probabilities`` (N, K) float32. Its input ``input``
is float32 NCHW ``(N, C, H, W)`` with a dynamic batch axis, **already normalised** as the model
was trained: ``(x / scale - mean) / std`` per channel, with the numbers stored in the metadata
(``emocli.normalisation``). This holds for every classifier of the registry and for the
discriminator that ``pretrain-gan`` writes (its K logits are the real classes of the
semi-supervised D, and ``predict`` uses their softmax, as here).

The file's ``metadata_props`` (JSON strings, :data:`emocli.onnx_runtime.METADATA_KEYS`) carry the
class names, the artifact's ``input`` attribute (the preprocessing contract), architecture,
constructor arguments, fingerprint and versions.

The legacy TorchScript exporter of ``torch.onnx.export`` (``dynamo=False``, opset
:data:`OPSET`) is used: it works offline and needs only the ``onnx`` package. It cannot export
an adaptive average pooling whose output size does not divide its input (``vgg16
head=torchvision`` below 224 px); such a layer is replaced, for the export only, by the same
average written as two fixed matrix products (the input size is fixed).

The graph is checked against torch with onnxruntime (when installed), then written to a
temporary name and moved into place with :func:`os.replace`. With a calibration artifact the
checked graph is quantized to int8 (:mod:`emocli.quantize`) before it is written.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocli import __version__
from emocli.errors import ArtifactError, ParamsError
from emocli.onnx_runtime import (
    BATCH_AXIS,
    INPUT_NAME,
    INSTALL_HINT,
    OUTPUT_NAME,
    PREFIX,
    OnnxClassifier,
    onnxruntime_installed,
)
from emocli.quantize import CALIBRATION_ROWS

#: ONNX operator set of the exported graphs.
OPSET = 17
#: Largest |onnxruntime - torch| difference of a probability accepted when checking an export.
PARITY_TOLERANCE = 1e-4
#: Rows of random input the check runs.
CHECK_ROWS = 4
#: Suffix of the default output (next to the model artifact).
SUFFIX = ".onnx"
#: How the metadata writes the normalisation.
FORMULA = "(x / scale - mean) / std, per channel"


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


def require_onnx() -> Any:
    """The ``onnx`` module; :class:`ParamsError` saying what to install when absent."""
    try:
        import onnx
    except ImportError as exc:
        raise ParamsError(
            f"exporting to ONNX needs the onnx package (used by torch.onnx.export), which is "
            f"not installed: {INSTALL_HINT}"
        ) from exc
    return onnx


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


# --------------------------------------------------------------------------- the graph


def _pool_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) averaging matrix of adaptive average pooling along one axis (torch's bins:
    ``floor(i * n_in / n_out)`` to ``ceil((i + 1) * n_in / n_out)``)."""
    matrix = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _modules() -> tuple[Any, Any]:
    import torch
    from torch import nn

    class FixedAdaptiveAvgPool(nn.Module):
        """Adaptive average pooling of a fixed (H, W) input as ``rows @ x @ cols.T``."""

        rows: torch.Tensor
        cols_t: torch.Tensor

        def __init__(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> None:
            super().__init__()
            rows = _pool_matrix(in_size[0], out_size[0])
            cols = _pool_matrix(in_size[1], out_size[1])
            self.register_buffer("rows", torch.from_numpy(rows))
            self.register_buffer("cols_t", torch.from_numpy(np.ascontiguousarray(cols.T)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.matmul(torch.matmul(self.rows, x), self.cols_t)

    class Probabilities(nn.Module):
        """``model(x)`` logits -> softmax over the classes (as :func:`emocli.training.classify.classify`)."""

        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.model(x).float(), dim=1)

    return FixedAdaptiveAvgPool, Probabilities


@contextmanager
def _exportable(model: Any, example: Any) -> Iterator[None]:
    """Within the block, adaptive average poolings that the legacy exporter refuses (output
    size not a factor of the input) are fixed matrix products; restored afterwards."""
    import torch
    from torch import nn

    fixed_pool, _ = _modules()
    sizes: dict[str, tuple[int, int]] = {}
    hooks = []
    pools = {
        name: m for name, m in model.named_modules() if isinstance(m, nn.AdaptiveAvgPool2d) and name
    }
    for name, module in pools.items():

        def record(_m: Any, args: Any, _out: Any, name: str = name) -> None:
            sizes[name] = (int(args[0].shape[-2]), int(args[0].shape[-1]))

        hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    swapped: list[tuple[str, nn.Module]] = []
    try:
        for name, module in pools.items():
            in_size = sizes.get(name)
            if in_size is None:
                continue
            wanted = module.output_size
            if not isinstance(wanted, (tuple, list)):
                wanted = (wanted, wanted)
            out_size = (
                int(wanted[0] if wanted[0] is not None else in_size[0]),
                int(wanted[1] if wanted[1] is not None else in_size[1]),
            )
            if in_size[0] % out_size[0] == 0 and in_size[1] % out_size[1] == 0:
                continue
            model.set_submodule(name, fixed_pool(in_size, out_size))
            swapped.append((name, module))
        yield
    finally:
        for name, original in swapped:
            model.set_submodule(name, original)


def export_module(model: Any, input_shape: tuple[int, int, int]) -> bytes:
    """The ONNX bytes (no emocli metadata) of ``softmax(model(x))`` for ``x`` of shape
    ``(batch, *input_shape)``; ``model`` is left as it was (eval mode during the export).

    Raises :class:`ParamsError` without the onnx package, :class:`ArtifactError` when the
    exporter fails.
    """
    import tempfile

    import torch

    require_onnx()
    _, probabilities = _modules()
    was_training = model.training
    model.eval()
    example = torch.zeros(2, *input_shape)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="emocli-export-") as folder,
            _exportable(model, example),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
            torch.onnx.export(
                probabilities(model).eval(),
                (example,),
                Path(folder) / "model.onnx",
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}},
                do_constant_folding=True,
            )
            return (Path(folder) / "model.onnx").read_bytes()
    except ModuleNotFoundError as exc:
        raise ParamsError(
            f"torch.onnx.export needs the {exc.name or 'onnx'} package: {INSTALL_HINT}"
        ) from exc
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(
            f"cannot export {type(model).__name__} to ONNX (opset {OPSET}): {first}"
        ) from exc
    finally:
        model.train(was_training)


def metadata(info: Any, source: Path | None = None) -> dict[str, str]:
    """emocli's ``metadata_props`` for a model of :class:`ModelInfo` ``info`` (JSON strings)."""
    scale, mean, std = info.normalisation()
    h, w = info.input_size
    c = info.channels
    values: dict[str, Any] = {
        "classes": list(info.classes),
        "input": info.input,
        "normalisation": {"scale": scale, "mean": mean, "std": std, "formula": FORMULA},
        "input_tensor": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "layout": "NCHW",
            "shape": [BATCH_AXIS, c, h, w],
            "normalised": True,
        },
        "output": {
            "name": OUTPUT_NAME,
            "dtype": "float32",
            "shape": [BATCH_AXIS, len(info.classes)],
            "meaning": "softmax over the classes of emocli.classes (as emocli predict)",
        },
        "architecture": info.architecture,
        "model_kwargs": info.model_kwargs,
        "fingerprint": info.fingerprint,
        "stage": info.stage,
        "source": source.name if source is not None else "",
        "emocli_version": str(info.attrs.get("emocli_version", "")),
        "exported_by": f"emocli {__version__}",
    }
    return {PREFIX + k: json.dumps(v, sort_keys=True) for k, v in values.items()}


def with_metadata(onnx_bytes: bytes, props: dict[str, str]) -> bytes:
    """``onnx_bytes`` with ``props`` added to its ``metadata_props``, checked by onnx's checker."""
    onnx = require_onnx()
    proto = onnx.load_from_string(onnx_bytes)
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = (
        "emocli export: float32 NCHW input normalised as emocli.normalisation says -> "
        "class probabilities (softmax) in the order of emocli.classes"
    )
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise ArtifactError(f"the exported graph is not valid ONNX: {exc}") from exc
    return bytes(proto.SerializeToString())


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
        data, int8 = _quantized(
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


def _quantized(
    float_graph: bytes, checked: bytes, info: Any, model_path: Path, calibration: Path, rows: int
) -> tuple[bytes, dict[str, Any]]:
    """The int8 graph with emocli's metadata (and ``quantization``), and how it compares with
    the float32 graph ``checked`` on the calibration rows."""
    from emocli.onnx_runtime import require_onnxruntime
    from emocli.quantize import agreement, calibration_rows, quantize_int8

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
