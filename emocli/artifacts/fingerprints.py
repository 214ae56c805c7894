"""Fingerprints of a stage's inputs, like DVC's: raw folders from their listing, artifacts by
the fingerprint they store, a stage's own from the canonical JSON of what it depends on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from emocli.artifacts.reader import open_artifact
from emocli.errors import ArtifactError
from emocli.walk import walk_tree


def fingerprint_of(payload: Any) -> str:
    """sha256 hex digest of the canonical JSON of ``payload`` (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class InputRef:
    """One input of a stage: a raw file/folder or an upstream artifact, with its fingerprint."""

    path: str
    fingerprint: str
    kind: str  # "folder", "file", or an artifact kind
    #: the command parameter it was given as (``audio``, ``stats_from``, ``init`` ...), so
    #: ``inspect --as-config`` can rebuild the command; ``""`` for an input the stage found
    #: itself. Recorded, never fingerprinted.
    role: str = ""

    def as_dict(self) -> dict[str, str]:
        """``{"path", "fingerprint", "kind", "role"}``: the JSON of the artifact's inputs."""
        return asdict(self)


def fingerprint_raw(path: Path | str, role: str = "") -> InputRef:
    """Fingerprint a raw input from its listing: relative path, size and mtime (ns) of each file.

    Contents are not read, so a 10,000-image folder is fingerprinted in milliseconds.
    Hidden files (``.name``) are ignored; symlinks are followed, and a path that cannot be
    read (a dangling link, no permission) enters the listing with its reason, so the
    fingerprint changes once it is fixed. Raises :class:`ArtifactError` if ``path`` is missing.
    """
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"input not found: {path}")
    tree = walk_tree(path)
    base = path.parent if path.is_file() else path
    listing: list[Any] = [
        [f.path.relative_to(base).as_posix(), f.size, f.mtime_ns] for f in tree.files
    ]
    listing += [[p.path.relative_to(base).as_posix(), p.reason] for p in tree.problems]
    kind = "file" if path.is_file() else "folder"
    return InputRef(str(path), fingerprint_of(listing), kind, role)


def fingerprint_artifact(
    path: Path | str, kinds: str | Iterable[str] | None = None, role: str = ""
) -> InputRef:
    """The :class:`InputRef` of an upstream artifact: its stored fingerprint (nothing is hashed)."""
    with open_artifact(path, kinds) as art:
        return InputRef(str(path), art.fingerprint, art.kind, role)
