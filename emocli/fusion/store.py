"""Trained fusers in ``model`` artifacts: :func:`write_fuser` (plain HDF5 datasets, no
pickle) and :func:`read_fuser` (through the registry of :mod:`emocli.fusion.base`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emocli.artifacts import ArtifactWriter, open_artifact, read_group
from emocli.errors import ArtifactError
from emocli.fusion.base import TRAINED_METHODS, Fuser, fuser_class


def write_fuser(
    writer: ArtifactWriter,
    fuser: Fuser,
    *,
    modalities: Sequence[str],
    classes: Sequence[str],
    train_split: str,
    fitted_split: np.ndarray,
    fitted_clip: np.ndarray,
) -> None:
    """Store a trained fuser in a ``model`` artifact writer (plain datasets, no pickle).

    fitted_split, fitted_clip : (T,) str, the clips it was fitted on (group ``fitted/``), so
    that applying it later can mark those clips' predictions as in-sample.
    """
    writer.set_classes(classes)
    writer.set_attr("fuser", fuser.method)
    writer.set_attr("architecture", f"fusion-{fuser.method}")
    writer.set_attr("modalities", list(modalities))
    writer.set_attr(
        "input",
        {
            "kind": "predictions",
            "level": "clip",
            "modalities": list(modalities),
            "classes": list(classes),
            "features": "class probabilities of each modality, concatenated in modality order",
            "train_split": train_split,
            "n_train": len(fitted_clip),
        },
    )
    fuser.save(writer)
    writer.write_group(
        "fitted",
        {
            "split": np.asarray(fitted_split, dtype=object),
            "clip_id": np.asarray(fitted_clip, dtype=object),
        },
    )


@dataclass
class StoredFuser:
    """A fuser read back from a ``model`` artifact, with what it expects as input."""

    fuser: Fuser
    modalities: list[str]
    classes: list[str]
    path: Path
    fitted: set[tuple[str, str]] = field(default_factory=set)

    def fitted_mask(self, split: np.ndarray, clip_id: np.ndarray) -> np.ndarray:
        """(N,) bool: which ``(split, clip id)`` rows the stored fuser was fitted on."""
        pairs = zip(np.asarray(split, str).tolist(), np.asarray(clip_id, str).tolist(), strict=True)
        return np.array([pair in self.fitted for pair in pairs], dtype=bool)


def read_fuser(path: Path | str) -> StoredFuser:
    """Rebuild the fuser stored by :func:`write_fuser` (numpy arrays / torch weights only)."""
    with open_artifact(path, "model") as art:
        method = str(art.attrs.get("fuser", ""))
        if method not in TRAINED_METHODS and method != "mean":
            raise ArtifactError(
                f"{path}: not a fuser model (attribute 'fuser' is {method or 'absent'}; "
                f"expected one of {list(TRAINED_METHODS)})"
            )
        modalities = [str(m) for m in art.attrs.get("modalities", [])]
        arrays = read_group(art, "fuser")
        attrs = {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in art.h5["fuser"].attrs.items()
        }
        fuser = fuser_class(method).load(art, arrays, attrs)
        fit = read_group(art, "fitted")
        fitted = (
            set(zip(fit["split"].tolist(), fit["clip_id"].tolist(), strict=True)) if fit else set()
        )
        return StoredFuser(fuser, modalities, art.classes, Path(path), fitted)
