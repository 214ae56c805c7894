"""Model artifacts: write a trained classifier, and load one back as ``(nn.Module, ModelInfo)``.

Layout (kind ``model``, see docs/artifacts.md): ``weights/<tensor>`` datasets (via
:mod:`emocli.weights`), attrs ``architecture`` (registry name), ``model_kwargs`` (JSON: every
constructor argument, so the model is rebuilt from the registry, never unpickled), ``classes``,
``input`` (JSON: ``kind`` faces|spectrograms, ``column``, ``size`` [H, W], ``channels``,
``normalisation`` {``scale``, ``mean``, ``std``} and the training artifact's ``upstream``
stage/params/fingerprint), and a ``history/`` group of per-epoch arrays (with a ``fold``
column after k-fold training).

Pixels are divided by ``normalisation.scale`` (255 for uint8 images, 1 for spectrogram
values) and then standardised per channel: ``(x / scale - mean) / std``. Artifacts written by
``pretrain-gan`` say ``"minus_one_to_one"`` instead, read here as mean 0.5, std 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from emocli.artifacts import ArtifactWriter, open_artifact, read_group
from emocli.errors import ArtifactError
from emocli.weights import read_state_dict, write_state_dict

#: The GAN's input scaling ``x / 127.5 - 1``, as mean/std on [0, 1] pixels.
MINUS_ONE_TO_ONE = "minus_one_to_one"


@dataclass
class ModelInfo:
    """Everything a model artifact says about its model besides the weights.

    input : ``{"kind", "column", "size": [H, W], "channels", "normalisation": {"scale",
    "mean", "std"}, "upstream": {...}}``; history : per-epoch arrays (``epoch``, ``train_loss``,
    ``val_accuracy`` ...).
    """

    architecture: str
    model_kwargs: dict[str, Any]
    classes: list[str]
    input: dict[str, Any]
    history: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None
    fingerprint: str = ""
    stage: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def input_size(self) -> tuple[int, int]:
        size = self.input.get("size", self.model_kwargs.get("input_size", 0))
        if isinstance(size, (list, tuple)):
            return (int(size[0]), int(size[1]))
        return (int(size), int(size))

    @property
    def channels(self) -> int:
        return int(self.input.get("channels", self.model_kwargs.get("in_channels", 1)))

    def normalisation(self) -> tuple[float, list[float], list[float]]:
        """``(scale, mean, std)``: model input = ``(raw / scale - mean) / std`` per channel."""
        norm = self.input.get("normalisation")
        if norm == MINUS_ONE_TO_ONE:
            return 255.0, [0.5] * self.channels, [0.5] * self.channels
        if isinstance(norm, Mapping):
            mean = [float(v) for v in np.atleast_1d(norm.get("mean", 0.0))]
            std = [float(v) for v in np.atleast_1d(norm.get("std", 1.0))]
            if len(mean) == 1 and self.channels > 1:
                mean, std = mean * self.channels, std * self.channels
            return float(norm.get("scale", 255.0)), mean, std
        return 255.0, [0.0] * self.channels, [1.0] * self.channels

    def transform(self) -> Any:
        """An :class:`~emocli.training.module.InputTransform` (no augmentation) for raw batches."""
        from emocli.training.module import InputTransform

        _, mean, std = self.normalisation()
        return InputTransform(mean, std)


def write_model(
    writer: ArtifactWriter,
    model: nn.Module,
    info: ModelInfo,
    extra_attrs: Mapping[str, Any] | None = None,
) -> None:
    """Store ``model``'s weights and ``info`` (architecture, kwargs, classes, input, history)."""
    writer.set_classes(info.classes)
    write_state_dict(writer, model.state_dict(), "weights")
    writer.set_attr("architecture", info.architecture)
    writer.set_attr("model_kwargs", info.model_kwargs)
    writer.set_attr("input", info.input)
    if info.history:
        writer.write_group(
            "history", {k: np.asarray(v, dtype=np.float64) for k, v in info.history.items()}
        )
    for key, value in (extra_attrs or {}).items():
        writer.set_attr(key, value)


def read_model_info(path: Path | str) -> ModelInfo:
    """The :class:`ModelInfo` of a model artifact (weights not read)."""
    with open_artifact(path, "model") as art:
        return _info(art, Path(path))


def _info(art: Any, path: Path) -> ModelInfo:
    attrs = art.attrs
    if "architecture" not in attrs:
        raise ArtifactError(
            f"{path}: this model artifact has no 'architecture' attribute (a fuser?); "
            "it cannot be loaded as a neural network"
        )
    kwargs = attrs.get("model_kwargs") or {}
    if isinstance(kwargs, str):
        raise ArtifactError(f"{path}: attribute 'model_kwargs' is not valid JSON")
    inp = attrs.get("input") or {}
    return ModelInfo(
        architecture=str(attrs["architecture"]),
        model_kwargs=dict(kwargs),
        classes=art.classes,
        input=dict(inp) if isinstance(inp, Mapping) else {},
        history=read_group(art, "history"),
        path=path,
        fingerprint=art.fingerprint,
        stage=str(attrs.get("stage", "")),
        attrs={k: v for k, v in attrs.items() if k not in ("params", "inputs", "summary")},
    )


def load_model(path: Path | str) -> tuple[nn.Module, ModelInfo]:
    """Rebuild a model artifact's network from the registry and load its weights (eval mode).

    Raises :class:`ArtifactError` when the file is not a loadable model artifact or its
    weights do not fit the architecture it names.
    """
    from emocli.errors import ParamsError
    from emocli.models import build_model

    path = Path(path)
    with open_artifact(path, "model") as art:
        info = _info(art, path)
        state = read_state_dict(art, "weights")
    try:
        model = build_model(info.architecture, **info.model_kwargs)
    except ParamsError as exc:
        raise ArtifactError(f"{path}: cannot rebuild its model: {exc}") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ArtifactError(
            f"{path}: its weights do not fit a {info.architecture} built with "
            f"{info.model_kwargs} ({str(exc).splitlines()[0]})"
        ) from exc
    model.eval()
    return model, info
