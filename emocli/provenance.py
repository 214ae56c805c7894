"""Describe an artifact's provenance (what ``emocli inspect`` prints), as plain data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import h5py

from emocli.artifacts import REQUIRED_ATTRS, open_artifact
from emocli.errors import ArtifactError

#: Artifacts named when ``inspect`` is given a folder.
SHOWN_ARTIFACTS = 3


def artifacts_in(folder: Path) -> list[Path]:
    """The ``.h5`` files in ``folder`` or, if none, one level down (a workspace's layout)."""
    found = sorted(folder.glob("*.h5"))
    return found or sorted(folder.glob("*/*.h5"))


def folder_error(folder: Path) -> ArtifactError:
    """The error for ``inspect FOLDER``: say it is a folder, and name the artifacts in it."""
    found = artifacts_in(folder)
    if not found:
        return ArtifactError(
            f"{folder}: is a folder, not an artifact; pass an emocli .h5 artifact file "
            "(this folder holds none)"
        )
    shown = ", ".join(str(p) for p in found[:SHOWN_ARTIFACTS])
    more = f" ({len(found)} in all)" if len(found) > SHOWN_ARTIFACTS else ""
    return ArtifactError(
        f"{folder}: is a folder, not an artifact; pass one .h5 artifact file, e.g. {shown}{more}"
    )


def describe_artifact(path: Path | str) -> dict[str, Any]:
    """Stage, schema, version, fingerprint, params, inputs, datasets (shape, dtype),
    classes, and per-split class counts of one artifact. A folder is refused with the
    artifacts it holds."""
    if Path(path).is_dir():
        raise folder_error(Path(path))
    with open_artifact(path) as art:
        datasets: list[dict[str, Any]] = []

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                dtype = "str" if h5py.check_string_dtype(obj.dtype) else str(obj.dtype)
                datasets.append({"name": name, "shape": list(obj.shape), "dtype": dtype})

        art.h5.visititems(visit)
        counts: dict[str, dict[str, int]] = {}
        if art.has("label"):
            labels = art.column("label")
            splits = art.column("split") if art.has("split") else None
            names = art.classes
            for i, label in enumerate(labels.tolist()):
                split = str(splits[i]) if splits is not None and splits[i] else "(none)"
                cls = names[label] if 0 <= label < len(names) else "(unlabelled)"
                counts.setdefault(split, Counter())[cls] += 1
        known = {*REQUIRED_ATTRS, "summary"}
        return {
            "path": str(path),
            "kind": art.kind,
            "stage": art.attrs.get("stage"),
            "schema_version": art.attrs.get("schema_version"),
            "emocli_version": art.attrs.get("emocli_version"),
            "created_utc": art.attrs.get("created_utc"),
            "fingerprint": art.fingerprint,
            "n_samples": art.n_samples,
            "classes": art.classes,
            "params": art.params,
            "inputs": art.attrs.get("inputs", []),
            "summary": art.attrs.get("summary", {}),
            "extra": {k: v for k, v in art.attrs.items() if k not in known},
            "datasets": datasets,
            "counts": {split: dict(c) for split, c in counts.items()},
        }
