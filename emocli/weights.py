"""Model weights in HDF5 (never pickle): state dicts <-> artifact groups.

A model artifact stores each tensor of ``model.state_dict()`` as a dataset of the group
``weights/`` (``/`` in parameter names is impossible, dots are kept), with the architecture
name and its constructor kwargs as root attributes, so loading builds the model from the
registry and copies the arrays in: nothing executable is read from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from emocli.artifacts import Artifact, ArtifactWriter
from emocli.errors import ArtifactError


def write_state_dict(
    writer: ArtifactWriter, state_dict: Mapping[str, Any], group: str = "weights"
) -> None:
    """Store every tensor (torch or numpy) of ``state_dict`` under ``group/``, names unchanged."""
    arrays = {}
    for name, tensor in state_dict.items():
        value = tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)
        arrays[name] = value
    writer.write_group(group, arrays)


def read_state_dict(art: Artifact, group: str = "weights") -> dict[str, Any]:
    """The tensors stored by :func:`write_state_dict`, as a ``{name: torch.Tensor}`` dict."""
    import torch

    if group not in art.h5:
        raise ArtifactError(f"{art.path}: no {group!r} group: this artifact holds no model weights")
    out: dict[str, Any] = {}
    for name, ds in art.h5[group].items():
        try:
            out[name] = torch.from_numpy(np.asarray(ds[()]))
        except OSError as exc:
            raise ArtifactError(f"{art.path}: weights {group}/{name} are corrupt ({exc})") from exc
    return out
