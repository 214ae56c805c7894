"""Reading an artifact: :func:`open_artifact` validates kind, schema version and column lengths,
and names the file, what was expected and what was found when it refuses one.

Attributes are decoded with :func:`json.loads` only; nothing here ever unpickles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from emocli.artifacts.layout import JSON_ATTRS, REQUIRED_ATTRS, SCHEMA_VERSION
from emocli.errors import ArtifactError


class Artifact:
    """A validated, read-only artifact. Use as a context manager, or call :meth:`close`.

    ``attrs`` holds the decoded root attributes (JSON ones parsed); ``h5`` is the open
    :class:`h5py.File` for stage-specific reads.
    """

    def __init__(self, path: Path, h5: h5py.File) -> None:
        self.path = path
        self.h5 = h5
        self.attrs: dict[str, Any] = {}
        for key, value in h5.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if key in JSON_ATTRS or (isinstance(value, str) and value[:1] in "[{"):
                try:
                    value = json.loads(value)
                except (json.JSONDecodeError, TypeError) as exc:
                    if key in JSON_ATTRS:
                        raise ArtifactError(f"{path}: attribute {key!r} is not valid JSON") from exc
            elif isinstance(value, np.generic):
                value = value.item()
            self.attrs[key] = value

    # -- identity
    @property
    def kind(self) -> str:
        return str(self.attrs["kind"])

    @property
    def fingerprint(self) -> str:
        return str(self.attrs["fingerprint"])

    @property
    def classes(self) -> list[str]:
        return list(self.attrs.get("classes", []))

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.attrs.get("params", {}))

    @property
    def n_samples(self) -> int:
        return int(self.attrs.get("n_samples", 0))

    # -- data
    def columns(self) -> list[str]:
        """Names of the per-sample columns."""
        return [n for n, obj in self.h5.items() if isinstance(obj, h5py.Dataset)]

    def has(self, name: str) -> bool:
        return name in self.h5

    def column(self, name: str, rows: Any = slice(None)) -> np.ndarray:
        """Read a per-sample column (or ``group/name``); text comes back as a ``str`` array.

        rows : a slice or sorted index array; default all rows.
        Raises :class:`ArtifactError` if missing or if its checksum fails.
        """
        try:
            present = name in self.h5
        except (OSError, RuntimeError, UnicodeDecodeError) as exc:
            raise ArtifactError(
                f"{self.path}: cannot look up dataset {name!r} ({exc}); the file is corrupt: "
                "rerun the stage that wrote it with --force"
            ) from exc
        if not present:
            raise ArtifactError(
                f"{self.path}: no dataset {name!r} in this {self.kind} artifact "
                f"(it has: {', '.join(self.columns()) or 'none'})"
            )
        try:
            ds = self.h5[name]
            if ds.dtype.kind == "O" or h5py.check_string_dtype(ds.dtype) is not None:
                return np.asarray(ds.asstr()[rows], dtype=str)
            return np.asarray(ds[rows])
        except (OSError, RuntimeError, KeyError, UnicodeDecodeError) as exc:
            raise ArtifactError(
                f"{self.path}: dataset {name!r} cannot be read ({exc}); the file is corrupt "
                "(checksum mismatch or truncation): rerun the stage that wrote it with --force"
            ) from exc

    def iter_rows(self, name: str, batch: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, rows)`` blocks of a column, ``batch`` rows at a time (bounded memory)."""
        total = self.h5[name].shape[0] if name in self.h5 else 0
        for start in range(0, total, batch):
            yield start, self.column(name, slice(start, min(total, start + batch)))

    def check_columns(self) -> None:
        """Every per-sample column has ``n_samples`` rows."""
        for name in self.columns():
            rows = self.h5[name].shape[0] if self.h5[name].shape else 0
            if rows != self.n_samples:
                raise ArtifactError(
                    f"{self.path}: column {name!r} has {rows} rows but the artifact says "
                    f"n_samples={self.n_samples}"
                )

    def close(self) -> None:
        self.h5.close()

    def __enter__(self) -> Artifact:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unreadable(path: Path, expect: str, exc: OSError) -> str:
    """Why ``path`` does not open: held by a writer (HDF5's file lock), or not readable."""
    if "unable to lock file" in str(exc):
        return (
            f"{path}: another process holds this file open for writing (HDF5 file lock); "
            "wait for it to finish, or set HDF5_USE_FILE_LOCKING=FALSE where locks are stale"
        )
    return f"{path}: not a readable HDF5 file (expected {expect}; truncated or corrupt?)"


def open_artifact(path: Path | str, kinds: str | Iterable[str] | None = None) -> Artifact:
    """Open and validate an artifact; ``kinds`` restricts which kinds are accepted.

    Raises :class:`ArtifactError` naming the file, what was expected and what was found:
    missing file, not HDF5 / truncated, not an emocli artifact, missing attributes,
    wrong kind, a schema newer than this emocli understands, or per-sample columns whose
    length is not ``n_samples``.
    """
    path = Path(path)
    wanted = [kinds] if isinstance(kinds, str) else list(kinds or [])
    expect = f"a {' or '.join(wanted)} artifact" if wanted else "an emocli artifact"
    if path.is_dir():
        raise ArtifactError(f"{path}: is a folder, not an artifact; pass {expect} (an .h5 file)")
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file (expected {expect})")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ArtifactError(_unreadable(path, expect, exc)) from exc
    try:
        missing = [a for a in REQUIRED_ATTRS if a not in h5.attrs]
        if "kind" in missing:
            raise ArtifactError(
                f"{path}: not an emocli artifact (no 'kind' attribute; expected {expect})"
            )
        art = Artifact(path, h5)
        if wanted and art.kind not in wanted:
            raise ArtifactError(
                f"{path}: is a {art.kind!r} artifact, but {expect} is expected here"
            )
        if missing:
            raise ArtifactError(
                f"{path}: incomplete {art.kind} artifact, missing attributes {missing}; "
                "rerun the stage that wrote it"
            )
        version = int(art.attrs["schema_version"])
        if version > SCHEMA_VERSION:
            raise ArtifactError(
                f"{path}: schema version {version} is newer than this emocli understands "
                f"({SCHEMA_VERSION}); upgrade emocli (file written by emocli "
                f"{art.attrs.get('emocli_version')})"
            )
        art.check_columns()
        return art
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        h5.close()
        raise ArtifactError(
            f"{path}: corrupt HDF5 structure ({exc}); rerun the stage that wrote it"
        ) from exc
    except BaseException:
        h5.close()
        raise


def read_group(art: Artifact, group: str) -> dict[str, np.ndarray]:
    """All datasets of a non-sample group as arrays (text as ``str`` arrays); empty if absent."""
    if group not in art.h5:
        return {}
    return {name: art.column(f"{group}/{name}") for name in art.h5[group]}


def is_up_to_date(path: Path, kind: str, fingerprint: str) -> bool:
    """True when ``path`` is a valid ``kind`` artifact carrying exactly ``fingerprint``."""
    if not Path(path).is_file():
        return False
    try:
        with open_artifact(path, kind) as art:
            return art.fingerprint == fingerprint
    except ArtifactError:
        return False
