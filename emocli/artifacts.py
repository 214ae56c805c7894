"""The HDF5 artifact contract: write atomically, read and validate, fingerprint.

Every stage writes its results as one self-describing HDF5 file (an *artifact*). Layout:

* root attributes (all JSON-encoded where not plain strings/ints): ``kind``, ``schema_version``,
  ``emocli_version``, ``stage``, ``params``, ``inputs``, ``fingerprint``, ``created_utc``,
  ``classes``, ``n_samples``, ``summary``, plus kind-specific extras set by the stage;
* root-level **datasets are per-sample columns**: they all share the first dimension
  ``n_samples`` (``sample_id``, ``label``, ``split``, ``subject``, ``clip_id``, ``images`` ...);
* **groups** hold everything else (``rejects/``, ``weights/``, ``stats/``, ``history/`` ...).

Writes go to a hidden temporary file in the output's directory that is validated and then
moved into place with :func:`os.replace`, so an interrupted stage never leaves a file at the
output path that looks valid. Reading validates kind and schema version and names the file,
what was expected and what was found. Large arrays are chunked, compressed and checksummed
(fletcher32), so flipped bytes are reported instead of silently read.

Nothing here ever unpickles: attributes are JSON, arrays are plain HDF5 datasets.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from emocli import __version__
from emocli.errors import ArtifactError
from emocli.walk import walk_tree

#: Version of the on-disk layout. Readers refuse files with a newer version.
SCHEMA_VERSION = 1

#: The kinds of artifact the pipeline writes.
KINDS: tuple[str, ...] = ("faces", "audio", "spectrograms", "model", "predictions", "evaluation")

#: Root attributes every artifact carries.
REQUIRED_ATTRS: tuple[str, ...] = (
    "kind",
    "schema_version",
    "emocli_version",
    "stage",
    "params",
    "inputs",
    "fingerprint",
    "created_utc",
    "classes",
    "n_samples",
)

_JSON_ATTRS = ("params", "inputs", "classes", "summary")

#: Target size of one HDF5 chunk of a per-sample column, in bytes.
CHUNK_BYTES = 1 << 20
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True, "fletcher32": True}
_STRING = h5py.string_dtype("utf-8")


# --------------------------------------------------------------------------- fingerprints


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
        return {
            "path": self.path,
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "role": self.role,
        }


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


# --------------------------------------------------------------------------- writing


def _json_attr(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _as_storable(data: Any) -> np.ndarray:
    """Turn a column into an array h5py can store: strings become UTF-8 variable-length."""
    arr = np.asarray(data)
    if arr.dtype.kind in ("U", "O", "S"):
        return np.array(
            [str(x) if not isinstance(x, bytes) else x.decode() for x in arr.ravel()], dtype=object
        ).reshape(arr.shape)
    return arr


def _chunk_rows(tail_shape: Sequence[int], itemsize: int) -> int:
    row_bytes = max(1, int(np.prod(tail_shape, dtype=np.int64)) * itemsize)
    return max(1, min(4096, CHUNK_BYTES // row_bytes))


class ArtifactWriter:
    """Builds one artifact in a temporary file; :meth:`commit` moves it into place.

    Use through :func:`emocli.stage.run_stage`, which creates, commits or discards writers.
    Per-sample columns either arrive whole (:meth:`add_column`) or streamed in batches
    (:meth:`append`), so peak memory does not grow with the dataset.
    """

    def __init__(
        self,
        path: Path,
        kind: str,
        *,
        stage: str,
        params: Mapping[str, Any],
        inputs: Sequence[InputRef],
        fingerprint: str,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown artifact kind {kind!r}")
        self.path = Path(path)
        self.kind = kind
        self.tmp_path = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sidecars: dict[Path, Path] = {}
        self._classes: list[str] = []
        self._extra: dict[str, Any] = {}
        self._summary: dict[str, Any] = {}
        self._meta = {
            "stage": stage,
            "params": dict(params),
            "inputs": [i.as_dict() for i in inputs],
            "fingerprint": fingerprint,
        }
        # Fail before the stage computes if the output cannot be written, but hold no open
        # file meanwhile: a process started during a long stage (one was, in GPU training)
        # would inherit the descriptor and HDF5's lock with it, and the finished artifact
        # could not be reopened to validate it ("unable to lock file").
        try:
            h5py.File(self.tmp_path, "w").close()
        except OSError as exc:
            raise ArtifactError(f"cannot write {self.path}: {exc}") from exc
        self._h5: h5py.File | None = None

    @property
    def h5(self) -> h5py.File:
        """The temporary HDF5 file, opened at the first write."""
        if self._h5 is None:
            try:
                self._h5 = h5py.File(self.tmp_path, "r+")
            except OSError as exc:
                raise ArtifactError(f"cannot write {self.path}: {exc}") from exc
        return self._h5

    # -- metadata
    def set_classes(self, classes: Sequence[str]) -> None:
        """The class names; label ``i`` of every column means ``classes[i]``."""
        self._classes = [str(c) for c in classes]

    def set_attr(self, name: str, value: Any) -> None:
        """A kind-specific root attribute (stored as JSON unless a plain str/int/float)."""
        self._extra[name] = value

    def set_summary(self, summary: Mapping[str, Any]) -> None:
        """A small JSON summary that is echoed when the stage is found up to date."""
        self._summary = dict(summary)

    # -- per-sample columns
    def add_column(self, name: str, data: Any) -> None:
        """Store a whole per-sample column (first dimension = number of samples)."""
        arr = _as_storable(data)
        self._create(name, arr.shape[1:], arr.dtype)
        self.append({name: arr})

    def create_column(self, name: str, tail_shape: Sequence[int], dtype: Any) -> None:
        """Declare a streamed per-sample column of rows shaped ``tail_shape``."""
        self._create(name, tuple(tail_shape), np.dtype(dtype) if dtype is not str else None)

    def _create(self, name: str, tail_shape: Sequence[int], dtype: np.dtype | None) -> None:
        if name in self.h5:
            raise ValueError(f"column {name!r} exists already")
        is_text = dtype is None or dtype.kind in ("O", "U", "S")
        h5_dtype = _STRING if is_text else dtype
        itemsize = 16 if is_text else np.dtype(dtype).itemsize
        rows = _chunk_rows(tail_shape, itemsize)
        filters = {} if is_text else _COMPRESSION  # HDF5 cannot filter variable-length strings
        with self._writing():
            self.h5.create_dataset(
                name,
                shape=(0, *tail_shape),
                maxshape=(None, *tail_shape),
                dtype=h5_dtype,
                chunks=(rows, *tail_shape),
                **filters,
            )

    def append(self, batch: Mapping[str, Any]) -> None:
        """Append rows to declared columns; every column of a batch must have the same length."""
        for name, data in batch.items():
            arr = _as_storable(data)
            ds = self.h5[name]
            start = ds.shape[0]
            with self._writing():
                ds.resize(start + arr.shape[0], axis=0)
                if arr.shape[0]:
                    ds[start:] = arr

    # -- non-sample data
    def write_group(
        self, group: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None
    ) -> h5py.Group:
        """Store arrays that are not per-sample columns in a group (``rejects``, ``weights`` ...)."""
        grp = self.h5.require_group(group)
        for name, data in arrays.items():
            arr = _as_storable(data)
            kwargs: dict[str, Any] = {}
            if arr.size > 1024 and arr.dtype != object:
                kwargs = dict(_COMPRESSION, chunks=True)
            with self._writing():
                grp.create_dataset(
                    name, data=arr, dtype=_STRING if arr.dtype == object else arr.dtype, **kwargs
                )
        for key, value in (attrs or {}).items():
            grp.attrs[key] = value if isinstance(value, (str, int, float)) else _json_attr(value)
        return grp

    def sidecar(self, filename: str) -> Path:
        """A temporary path for a file that accompanies the artifact (a PNG preview ...).

        The file is moved next to the artifact, as ``filename``, when the artifact is committed.
        """
        final = self.path.parent / filename
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        self._sidecars[final] = tmp
        return tmp

    # -- finishing
    def _n_samples(self) -> int:
        lengths = {
            name: ds.shape[0] for name, ds in self.h5.items() if isinstance(ds, h5py.Dataset)
        }
        if len(set(lengths.values())) > 1:
            raise ArtifactError(f"{self.path}: per-sample columns differ in length: {lengths}")
        return next(iter(lengths.values()), 0)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn an HDF5 write failure (disk full, I/O error) into an ArtifactError naming the path."""
        try:
            yield
        except (OSError, RuntimeError) as exc:
            raise ArtifactError(f"cannot write {self.path}: {_write_failure(exc)}") from exc

    def close(self) -> None:
        """Write the root attributes, close the temporary file and validate it."""
        with self._writing():
            self._finish()
        with open_artifact(self.tmp_path, self.kind) as art:
            art.check_columns()

    def _finish(self) -> None:
        attrs = self.h5.attrs
        attrs["kind"] = self.kind
        attrs["schema_version"] = SCHEMA_VERSION
        attrs["emocli_version"] = __version__
        attrs["stage"] = self._meta["stage"]
        attrs["params"] = _json_attr(self._meta["params"])
        attrs["inputs"] = _json_attr(self._meta["inputs"])
        attrs["fingerprint"] = self._meta["fingerprint"]
        attrs["created_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        attrs["classes"] = _json_attr(self._classes)
        attrs["n_samples"] = self._n_samples()
        attrs["summary"] = _json_attr(self._summary)
        for key, value in self._extra.items():
            attrs[key] = value if isinstance(value, (str, int, float)) else _json_attr(value)
        self.h5.flush()
        os.fsync(self.h5.id.get_vfd_handle())
        self.h5.close()

    def commit(self) -> None:
        """Move sidecars, then the artifact, into place (the artifact last: it vouches for all)."""
        for final, tmp in self._sidecars.items():
            if tmp.exists():
                os.replace(tmp, final)
        os.replace(self.tmp_path, self.path)
        _fsync_dir(self.path.parent)

    def discard(self) -> None:
        """Close and delete the temporary files (after an error or an interrupt)."""
        # HDF5 crashes (SIGSEGV) when it flushes a file whose earlier writes failed on a full
        # disk, and closing flushes: such a file is abandoned open (its data is deleted below)
        # and the CLI leaves with os._exit, before HDF5's own exit handler closes it.
        if self._h5 is not None:
            if _disk_full(self.tmp_path.parent):
                _ABANDONED.append(self._h5)
            else:
                with contextlib.suppress(Exception):
                    self._h5.close()
        for tmp in [self.tmp_path, *self._sidecars.values()]:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _write_failure(exc: BaseException) -> str:
    """A short reason for a failed write: the errno text when HDF5 buries it in its message."""
    text = str(exc)
    if "No space left on device" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        return "no space left on device; free some space or write the output elsewhere"
    return text.splitlines()[0] if text else type(exc).__name__


#: Free space under which a folder counts as full when a failed artifact is discarded, bytes.
DISK_FULL_BYTES = 1 << 20


#: HDF5 files a failed write left unclosable (see :meth:`ArtifactWriter.discard`).
_ABANDONED: list[h5py.File] = []


def abandoned_files() -> int:
    """How many unclosable HDF5 files this process holds; if any, exit with ``os._exit``."""
    return len(_ABANDONED)


def _disk_full(directory: Path) -> bool:
    try:
        stats = os.statvfs(directory)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < DISK_FULL_BYTES


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(path: Path, dead_only: bool = False) -> int:
    """Delete temporary files that a killed run left next to ``path``; returns how many.

    Those of ``path`` itself go whatever their process id (the caller holds its lock) unless
    ``dead_only``; other hidden ``.<name>.tmp-<pid>`` files (sidecars: plots, previews) only
    if ``pid`` is dead.
    """
    count = 0
    own = f".{Path(path).name}.tmp-"
    if not Path(path).parent.is_dir():
        return 0
    for tmp in Path(path).parent.glob(".*.tmp-*"):
        pid = tmp.name.rsplit(".tmp-", 1)[-1]
        mine = tmp.name.startswith(own) and not dead_only
        if not mine and (not pid.isdigit() or _process_alive(int(pid))):
            continue
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- reading


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
            if key in _JSON_ATTRS or (isinstance(value, str) and value[:1] in "[{"):
                try:
                    value = json.loads(value)
                except (json.JSONDecodeError, TypeError) as exc:
                    if key in _JSON_ATTRS:
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
