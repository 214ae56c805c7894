"""A torch classifier -> ONNX bytes of ``softmax(model(x))``, with emocli's metadata.

The graph is the network (eval mode) followed by a softmax over its K classes, so it outputs
exactly what :func:`emocli.training.classify.classify` computes: ``probabilities`` (N, K)
float32. Its input ``input`` is float32 NCHW ``(N, C, H, W)`` with a dynamic batch axis,
**already normalised** as the model was trained: ``(x / scale - mean) / std`` per channel,
with the numbers stored in the metadata (``emocli.normalisation``).

The legacy TorchScript exporter of ``torch.onnx.export`` (``dynamo=False``, opset
:data:`OPSET`) is used: it works offline and needs only the ``onnx`` package. It cannot export
an adaptive average pooling whose output size does not divide its input (``vgg16
head=torchvision`` below 224 px); such a layer is replaced, for the export only, by the same
average written as two fixed matrix products (the input size is fixed).

The file's ``metadata_props`` (JSON strings, :data:`emocli.onnx_runtime.METADATA_KEYS`) carry
the class names, the artifact's ``input`` attribute (the preprocessing contract),
architecture, constructor arguments, fingerprint and versions (:func:`metadata`).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
    require_module,
)

#: ONNX operator set of the exported graphs.
OPSET = 17
#: How the metadata writes the normalisation.
FORMULA = "(x / scale - mean) / std, per channel"


def require_onnx() -> Any:
    """The ``onnx`` module; :class:`ParamsError` saying what to install when absent."""
    return require_module(
        "onnx", "exporting to ONNX needs the onnx package (used by torch.onnx.export)"
    )


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
        """``model(x)`` logits -> softmax over the classes (as
        :func:`emocli.training.classify.classify`)."""

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
