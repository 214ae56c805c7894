"""Transfer learning: initial weights from ImageNet or an earlier model, head replacement, freezing.

* :func:`load_imagenet` reads a user's local torchvision checkpoint (``.pth``, read with
  ``torch.load(..., weights_only=True)``: tensors only, nothing executable) into a model whose
  parameters carry torchvision's names (``vgg16``, ``squeezenet1_1``). For grey input the RGB
  filters of the first convolution are summed, so a grey image gives the response the network
  had to the same image in colour.
* :func:`transfer_state` copies an earlier model's tensors (a ``model`` artifact from finetune
  or pretrain-gan) into a new model: every tensor whose name and shape match, except the
  classifier when the class lists differ (the chain ImageNet -> FER2013 -> SFEW / CK+).
* :func:`apply_freeze` freezes the base (feature extraction) or all of it but the last N
  convolutional blocks; frozen batch norms keep their statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emocli.errors import InputError, ParamsError
from emocli.models.base import FROZEN_FLAG, EmotionNet
from emocli.stage_params.choices import parse_freeze

#: Checkpoint keys that wrap the state dict in common training scripts.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
#: Channels of an RGB checkpoint's first convolution.
RGB = 3


@dataclass
class TransferReport:
    """What an initialisation copied: tensor names loaded, and those left as initialised."""

    source: str
    loaded: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # target tensors not taken from the source
    converted: list[str] = field(default_factory=list)  # RGB filters summed to grey
    head_replaced: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "loaded": len(self.loaded),
            "kept": sorted(self.kept),
            "converted_to_grey": self.converted,
            "head_replaced": self.head_replaced,
        }


def _unwrap(checkpoint: Any, path: Path) -> dict[str, torch.Tensor]:
    state = checkpoint
    for key in _WRAPPER_KEYS:
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise InputError(f"{path}: not a state dict of tensors (a torchvision checkpoint is)")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def read_checkpoint(path: Path | str) -> dict[str, torch.Tensor]:
    """The tensors of a ``.pth`` checkpoint, loaded with ``weights_only=True`` on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ImageNet checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or unsafe files
        raise InputError(
            f"{path}: cannot be read as a weights-only PyTorch checkpoint ({exc})"
        ) from exc
    return _unwrap(checkpoint, path)


def _grey(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """``source`` (out, 3, k, k) summed over colour to match a grey ``target`` (out, 1, k, k)."""
    if (
        source.dim() == 4
        and target.dim() == 4
        and source.shape[1] == RGB
        and target.shape[1] == 1
        and source.shape[0] == target.shape[0]
        and source.shape[2:] == target.shape[2:]
    ):
        return source.sum(dim=1, keepdim=True)
    return None


def load_imagenet(model: EmotionNet, path: Path | str) -> TransferReport:
    """Copy a torchvision ImageNet checkpoint into ``model`` by parameter name.

    Tensors whose shapes differ (the 1000-class classifier, a head built for another input
    size) keep their initialisation and are listed in the report. Raises :class:`InputError`
    when none of the model's convolutional base matches, i.e. the checkpoint is of another
    architecture.
    """
    source = read_checkpoint(path)
    target = model.state_dict()
    report = TransferReport(source=f"imagenet:{path}")
    new_state: dict[str, torch.Tensor] = {}
    for name, tensor in target.items():
        incoming = source.get(name)
        if incoming is not None and incoming.shape == tensor.shape:
            new_state[name] = incoming.to(tensor.dtype)
            report.loaded.append(name)
            continue
        grey = _grey(incoming, tensor) if incoming is not None else None
        if grey is not None:
            new_state[name] = grey.to(tensor.dtype)
            report.loaded.append(name)
            report.converted.append(name)
            continue
        report.kept.append(name)
    base_names = _names_in(model, model.base_blocks())
    if not base_names & set(report.loaded):
        example = next(iter(source), "none")
        raise InputError(
            f"{path}: none of {type(model).__name__}'s convolutional parameters are in this "
            f"checkpoint (its first key is {example!r}); pass the torchvision ImageNet "
            "checkpoint of the same architecture, at width 1"
        )
    missing_base = sorted(base_names - set(report.loaded))
    if missing_base:
        raise InputError(
            f"{path}: the checkpoint lacks or mis-shapes {len(missing_base)} tensors of the "
            f"convolutional base (first: {missing_base[0]}); is it the right architecture?"
        )
    report.head_replaced = model.classifier_prefix + ".weight" in report.kept
    model.load_state_dict(new_state, strict=False)
    return report


def transfer_state(
    model: EmotionNet,
    source_state: Mapping[str, torch.Tensor],
    source_classes: Sequence[str],
    target_classes: Sequence[str],
    source: str = "",
) -> TransferReport:
    """Copy every tensor of ``source_state`` whose name and shape match into ``model``.

    The classifier (``model.classifier_prefix``) is taken over only when the class lists are
    identical; otherwise it keeps its fresh initialisation (``head_replaced``).
    """
    report = TransferReport(source=source)
    same_classes = list(source_classes) == list(target_classes)
    prefix = model.classifier_prefix + "."
    new_state: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        incoming = source_state.get(name)
        is_head = name.startswith(prefix)
        if (
            incoming is not None
            and incoming.shape == tensor.shape
            and (same_classes or not is_head)
        ):
            new_state[name] = incoming.to(tensor.dtype)
            report.loaded.append(name)
        else:
            report.kept.append(name)
    report.head_replaced = not same_classes
    model.load_state_dict(new_state, strict=False)
    return report


def _names_in(model: nn.Module, modules: Sequence[nn.Module]) -> set[str]:
    wanted = {id(p) for m in modules for p in m.parameters()}
    return {name for name, p in model.named_parameters() if id(p) in wanted}


def apply_freeze(model: EmotionNet, policy: str) -> list[str]:
    """Freeze per ``policy`` and return the frozen parameter names.

    ``base``: every convolutional block of the base (feature extraction: only the head
    trains); ``all-but-last-N``: the base but its last N blocks (the thesis: VGG16's last 2
    blocks train); ``none``: nothing. Frozen modules keep batch-norm statistics (eval mode).
    """
    keep = parse_freeze(policy)
    if keep is None:
        return []
    blocks = model.base_blocks()
    if keep > len(blocks):
        raise ParamsError(
            f"--freeze {policy}: {type(model).__name__} has only {len(blocks)} blocks in its base"
        )
    frozen_blocks = blocks[: len(blocks) - keep]
    for block in frozen_blocks:
        for module in block.modules():
            setattr(module, FROZEN_FLAG, True)
            for param in module.parameters(recurse=False):
                param.requires_grad_(False)
    model.train(model.training)  # put the frozen batch norms in eval mode now
    return sorted(_names_in(model, frozen_blocks))
