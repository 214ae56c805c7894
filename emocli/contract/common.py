"""What every model's input contract shares: the ``input`` attribute a trained model records
(:func:`model_input`), the checks that it can be reproduced, and how two recorded settings
differ."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from emocli.errors import ArtifactError

#: Input artifact kinds a model is trained on, and the predict option that takes each.
MODEL_OPTIONS = {"faces": "--face-model", "spectrograms": "--audio-model"}


#: Attributes of a training artifact that say how its rows were made.
UPSTREAM_ATTRS = ("size", "sample_rate", "source_format", "preprocessing", "frontend", "n_frames")


def upstream_of(art: Any) -> dict[str, Any]:
    """How the rows of the open artifact ``art`` were made, as a model records it in
    ``input.upstream``: the stage, its params and fingerprint, :data:`UPSTREAM_ATTRS` and the
    spectrograms' training statistics (``stats``: per-band ``mean``, ``std``)."""
    upstream = {
        "stage": art.attrs.get("stage", ""),
        "params": art.params,
        "fingerprint": art.fingerprint,
    }
    upstream.update({key: art.attrs[key] for key in UPSTREAM_ATTRS if key in art.attrs})
    if art.has("stats/mean"):
        upstream["stats"] = {
            "mean": np.asarray(art.column("stats/mean")).tolist(),
            "std": np.asarray(art.column("stats/std")).tolist(),
        }
    return upstream


def model_input(
    kind: str,
    column: str,
    shape: tuple[int, int, int],
    normalisation: dict[str, Any] | str,
    upstream: dict[str, Any],
    resized_from: int | None = None,
) -> dict[str, Any]:
    """The ``input`` attribute of a trained model: what it takes (``kind`` of artifact, its
    ``column``, ``shape`` (C, H, W) of one input), the ``normalisation`` of raw rows (``scale``,
    ``mean``, ``std``, or the name of a fixed one such as ``minus_one_to_one``) and
    ``upstream`` (:func:`upstream_of` the training artifact). ``resized_from``: the side of
    the artifact's faces when they were resized to H before the model (pretrain-gan
    ``--size``, area interpolation)."""
    c, h, w = shape
    recorded: dict[str, Any] = {
        "kind": kind,
        "column": column,
        "size": [h, w],
        "channels": c,
        "normalisation": normalisation,
        "upstream": upstream,
    }
    if resized_from is not None:
        recorded["resized_from"] = resized_from
    return recorded


def recorded_upstream(info: Any, where: str, expected: str, option: str = "") -> dict[str, Any]:
    """The model's ``input.upstream`` after checking that it takes ``expected`` rows and
    records its normalisation. ``option``: the predict option it was given as, named in the
    refusal. Raises :class:`ArtifactError`."""
    kind = str(info.input.get("kind", ""))
    if kind != expected:
        hint = MODEL_OPTIONS.get(kind)
        used = f"; it cannot be used as {option}" if option else ""
        raise ArtifactError(
            f"{where}: this model was trained on {kind or 'an unknown input kind'}, not on "
            f"{expected}{used}" + (f" (pass it as {hint})" if hint and option else "")
        )
    if "normalisation" not in info.input:
        raise ArtifactError(
            f"{where}: its 'input' attribute has no 'normalisation'; the input scaling it was "
            "trained with cannot be reproduced (retrain it with this version's finetune)"
        )
    upstream = info.input.get("upstream")
    if not isinstance(upstream, dict):
        raise ArtifactError(
            f"{where}: its 'input' attribute does not record the {expected} artifact it was "
            "trained on (no 'upstream'); its preprocessing cannot be reproduced"
        )
    return upstream


def params_of(upstream: dict[str, Any]) -> dict[str, Any]:
    """The upstream stage's params (``{}`` when not recorded)."""
    params = upstream.get("params")
    return params if isinstance(params, dict) else {}


def differences(
    model: dict[str, Any], data: dict[str, Any], keys: Iterable[str] | None = None
) -> list[str]:
    """``key: model value vs artifact value`` for the keys (default: all) whose values differ;
    with the default, a key recorded on one side only is a difference too."""
    names = sorted(set(model) | set(data)) if keys is None else list(keys)
    out = []
    for key in names:
        if key in model and key in data and model[key] != data[key]:
            out.append(f"{key} {model[key]!r} (model) vs {data[key]!r} (artifact)")
        elif (key in model) != (key in data) and keys is None:
            side = "model" if key in model else "artifact"
            out.append(f"{key} recorded by the {side} only")
    return out


def refuse(where: str, problems: list[str]) -> None:
    """Raise the :class:`ArtifactError` that names every difference, if there is one."""
    if problems:
        raise ArtifactError(
            f"{where}: this artifact was made differently from the model's training input: "
            + "; ".join(problems)
            + " (rebuild the artifact with the model's preprocessing)"
        )
