"""Writing an artifact: :class:`ArtifactWriter` builds it in a hidden temporary file next to
its output, validates it and moves it into place with :func:`os.replace`, so an interrupted
stage never leaves a file at the output path that looks valid."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from emocli import __version__
from emocli.artifacts.fingerprints import InputRef
from emocli.artifacts.layout import (
    CHUNK_BYTES,
    COMPRESSION,
    KINDS,
    SCHEMA_VERSION,
    STRING,
    json_attr,
)
from emocli.artifacts.reader import open_artifact
from emocli.artifacts.temporaries import abandon, disk_full, fsync_dir, write_failure
from emocli.errors import ArtifactError


def _as_storable(data: Any) -> np.ndarray:
    """Turn a column into an array h5py can store: strings become UTF-8 variable-length."""
    arr = np.asarray(data)
    if arr.dtype.kind in ("U", "O", "S"):
        return np.array(
            [str(x) if not isinstance(x, bytes) else x.decode() for x in arr.ravel()], dtype=object
        ).reshape(arr.shape)
    return arr


def _chunk_rows(tail_shape: Sequence[int], itemsize: int) -> int:
    """Rows per chunk of a column of rows shaped ``tail_shape`` (about :data:`CHUNK_BYTES`)."""
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
        h5_dtype = STRING if is_text else dtype
        itemsize = 16 if is_text else np.dtype(dtype).itemsize
        rows = _chunk_rows(tail_shape, itemsize)
        filters = {} if is_text else COMPRESSION  # HDF5 cannot filter variable-length strings
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
        """Store arrays that are not per-sample columns in a group (``rejects``, ``weights``
        ...)."""
        grp = self.h5.require_group(group)
        for name, data in arrays.items():
            arr = _as_storable(data)
            kwargs: dict[str, Any] = {}
            if arr.size > 1024 and arr.dtype != object:
                kwargs = dict(COMPRESSION, chunks=True)
            with self._writing():
                grp.create_dataset(
                    name, data=arr, dtype=STRING if arr.dtype == object else arr.dtype, **kwargs
                )
        for key, value in (attrs or {}).items():
            grp.attrs[key] = value if isinstance(value, (str, int, float)) else json_attr(value)
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
        """Turn an HDF5 write failure (disk full, I/O error) into an ArtifactError naming the
        path."""
        try:
            yield
        except (OSError, RuntimeError) as exc:
            raise ArtifactError(f"cannot write {self.path}: {write_failure(exc)}") from exc

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
        attrs["params"] = json_attr(self._meta["params"])
        attrs["inputs"] = json_attr(self._meta["inputs"])
        attrs["fingerprint"] = self._meta["fingerprint"]
        attrs["created_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        attrs["classes"] = json_attr(self._classes)
        attrs["n_samples"] = self._n_samples()
        attrs["summary"] = json_attr(self._summary)
        for key, value in self._extra.items():
            attrs[key] = value if isinstance(value, (str, int, float)) else json_attr(value)
        self.h5.flush()
        os.fsync(self.h5.id.get_vfd_handle())
        self.h5.close()

    def commit(self) -> None:
        """Move sidecars, then the artifact, into place (the artifact last: it vouches for all)."""
        for final, tmp in self._sidecars.items():
            if tmp.exists():
                os.replace(tmp, final)
        os.replace(self.tmp_path, self.path)
        fsync_dir(self.path.parent)

    def discard(self) -> None:
        """Close and delete the temporary files (after an error or an interrupt)."""
        # HDF5 crashes (SIGSEGV) when it flushes a file whose earlier writes failed on a full
        # disk, and closing flushes: such a file is abandoned open (its data is deleted below)
        # and the CLI leaves with os._exit, before HDF5's own exit handler closes it.
        if self._h5 is not None:
            if disk_full(self.tmp_path.parent):
                abandon(self._h5)
            else:
                with contextlib.suppress(Exception):
                    self._h5.close()
        for tmp in [self.tmp_path, *self._sidecars.values()]:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
