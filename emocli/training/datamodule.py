"""Training data from ``faces`` and ``spectrograms`` artifacts: tables, sources, DataModule.

* :func:`read_table` reads an artifact's per-sample id columns and describes its input column
  (``images`` (N, S, S) uint8 faces, ``features`` (N, n_mels, T) float32 spectrograms, or the
  rendered spectrogram ``images`` (N, S, S, 3) uint8) as ``(C, H, W)`` model input.
* :func:`open_source` gives the input rows, in memory when the column fits in the memory
  budget, else read lazily with h5py (one file handle per worker process).
* :class:`HDF5DataModule` serves batches ``(x raw, label, position)``; the LightningModule
  converts, augments and normalises them on the training device.

Which rows train and which validate (hold-outs, folds, class weights) is
:mod:`emocli.training.splits`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import h5py
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from emocli.artifacts import open_artifact
from emocli.contract.common import upstream_of
from emocli.errors import ArtifactError, ParamsError
from emocli.stage_params.choices import GROUP_COLUMNS

#: Artifact kinds finetune trains on.
INPUT_KINDS = ("faces", "spectrograms")
#: Rows read at a time when computing normalisation statistics of a lazily read column.
STATS_BLOCK = 4096
#: Most rows used to estimate normalisation statistics.
STATS_MAX_ROWS = 20000


@dataclass
class SampleTable:
    """The id columns of an input artifact and a description of its input column.

    label : (N,) int64 indices into ``classes`` (-1 unlabelled); split, sample_id, subject,
    clip_id : (N,) str; ``extra_groups`` holds other grouping columns (``group``) when present.
    column : the dataset read as model input; layout ``NHW`` (grey) or ``NHWC`` (colour);
    shape : (C, H, W) of one model input.
    """

    path: Path
    kind: str
    column: str
    layout: str
    shape: tuple[int, int, int]
    dtype: np.dtype
    classes: list[str]
    sample_id: np.ndarray
    label: np.ndarray
    split: np.ndarray
    subject: np.ndarray
    clip_id: np.ndarray
    fingerprint: str
    upstream: dict[str, Any] = field(default_factory=dict)
    extra_groups: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.label.shape[0])

    @property
    def nbytes(self) -> int:
        return len(self) * int(np.prod(self.shape)) * self.dtype.itemsize

    def group_values(self, name: str) -> np.ndarray | None:
        values = {"subject": self.subject, "clip_id": self.clip_id, **self.extra_groups}.get(name)
        return values


def choose_column(
    kind: str, available: Sequence[str], wanted: str = "auto", audio_model: bool = False
) -> str:
    """The input column: faces -> ``images``; spectrograms -> ``features`` for audio models,
    else the rendered ``images`` when present (``wanted`` overrides)."""
    if wanted != "auto":
        if wanted not in available:
            raise ParamsError(
                f"the input has no {wanted!r} column (it has: {', '.join(available)})"
            )
        return wanted
    if kind == "faces":
        return "images"
    if not audio_model and "images" in available:
        return "images"
    return "features"


def read_table(path: Path | str, column: str = "auto", audio_model: bool = False) -> SampleTable:
    """Open a faces/spectrograms artifact and read its id columns (not the inputs)."""
    with open_artifact(path, INPUT_KINDS) as art:
        name = choose_column(art.kind, art.columns(), column, audio_model)
        if name not in art.h5:
            raise ArtifactError(f"{path}: no {name!r} dataset in this {art.kind} artifact")
        ds = art.h5[name]
        if ds.ndim == 3:
            layout, shape = "NHW", (1, int(ds.shape[1]), int(ds.shape[2]))
        elif ds.ndim == 4:
            layout, shape = "NHWC", (int(ds.shape[3]), int(ds.shape[1]), int(ds.shape[2]))
        else:
            raise ArtifactError(f"{path}: {name!r} has shape {ds.shape}; expected (N, H, W[, C])")
        n = art.n_samples

        def text(col: str) -> np.ndarray:
            return art.column(col) if art.has(col) else np.full(n, "", dtype=str)

        extra = {
            c: art.column(c)
            for c in GROUP_COLUMNS
            if c not in ("subject", "clip_id") and art.has(c)
        }
        upstream = upstream_of(art)
        return SampleTable(
            path=Path(path),
            kind=art.kind,
            column=name,
            layout=layout,
            shape=shape,
            dtype=np.dtype(ds.dtype),
            classes=art.classes,
            sample_id=text("sample_id"),
            label=art.column("label").astype(np.int64)
            if art.has("label")
            else np.full(n, -1, np.int64),
            split=text("split"),
            subject=text("subject"),
            clip_id=text("clip_id"),
            fingerprint=art.fingerprint,
            upstream=upstream,
            extra_groups=extra,
        )


# --------------------------------------------------------------------------- sources


def to_chw(batch: np.ndarray, layout: str) -> np.ndarray:
    """Rows as ``(B, C, H, W)``: grey ``(B, H, W)`` gains a channel axis, ``(B, H, W, C)`` is
    transposed."""
    if layout == "NHW":
        return batch[:, None]
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


class RowSource(Protocol):
    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows (any order) as ``(len(rows), C, H, W)`` in the column's dtype."""
        ...


class MemorySource:
    """The whole column in memory, ``(N, C, H, W)``."""

    def __init__(self, array: np.ndarray, layout: str) -> None:
        self.array = np.ascontiguousarray(to_chw(array, layout))

    def read(self, rows: np.ndarray) -> np.ndarray:
        return self.array[rows]


class H5Source:
    """Reads rows from the artifact on demand; each process opens its own handle."""

    def __init__(self, path: Path, column: str, layout: str) -> None:
        self.path, self.column, self.layout = Path(path), column, layout
        self._h5: h5py.File | None = None
        self._pid = -1

    def _dataset(self) -> h5py.Dataset:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5[self.column]

    def read(self, rows: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
        try:
            data = self._dataset()[unique]  # h5py wants strictly increasing indices
        except OSError as exc:
            raise ArtifactError(f"{self.path}: {self.column!r} cannot be read ({exc})") from exc
        return to_chw(data[inverse.reshape(-1)], self.layout)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_h5"], state["_pid"] = None, -1
        return state


def open_source(table: SampleTable, max_memory_bytes: int) -> RowSource:
    """The table's input column, in memory if it takes at most ``max_memory_bytes``."""
    if table.nbytes <= max_memory_bytes:
        with open_artifact(table.path, INPUT_KINDS) as art:
            return MemorySource(art.column(table.column), table.layout)
    return H5Source(table.path, table.column, table.layout)


def channel_stats(
    source: RowSource, rows: np.ndarray, scale: float, seed: int = 0
) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of ``source[rows] / scale`` (up to ``STATS_MAX_ROWS`` rows)."""
    rows = np.asarray(rows)
    if len(rows) > STATS_MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, STATS_MAX_ROWS, replace=False))
    total = total_sq = None
    count = 0
    for start in range(0, len(rows), STATS_BLOCK):
        block = source.read(rows[start : start + STATS_BLOCK]).astype(np.float64) / scale
        s = block.sum(axis=(0, 2, 3))
        sq = np.square(block).sum(axis=(0, 2, 3))
        total = s if total is None else total + s
        total_sq = sq if total_sq is None else total_sq + sq
        count += block.shape[0] * block.shape[2] * block.shape[3]
    if total is None or total_sq is None or count == 0:
        raise ParamsError("no training rows to compute the input normalisation from")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    return [float(m) for m in mean], [float(max(s, 1e-6)) for s in std]


# --------------------------------------------------------------------------- torch side


class RowsDataset(Dataset):
    """Samples ``(x raw (C, H, W), label, position)`` of chosen rows of a source.

    A DataLoader fetches whole batches through :meth:`__getitems__` (one vectorised read).
    """

    def __init__(self, source: RowSource, rows: np.ndarray, labels: np.ndarray) -> None:
        self.source = source
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, pos = self.__getitems__([i])
        return x[0], y[0], pos[0]

    def __getitems__(
        self, positions: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = np.asarray(positions, dtype=np.int64)
        x = torch.from_numpy(np.ascontiguousarray(self.source.read(self.rows[pos])))
        return x, torch.from_numpy(self.labels[pos]), torch.from_numpy(pos)


def collate_batch(batch: Any) -> Any:
    """The dataset returns whole batches already (see :meth:`RowsDataset.__getitems__`)."""
    if isinstance(batch, tuple):
        return batch
    xs, ys, ps = zip(*batch, strict=True)
    return torch.stack(xs), torch.stack(ys), torch.stack(ps)


def make_loader(
    dataset: RowsDataset, batch_size: int, *, shuffle: bool, workers: int, drop_last: bool = False
) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        persistent_workers=workers > 0,
        collate_fn=collate_batch,
        drop_last=drop_last,
    )


class HDF5DataModule(pl.LightningDataModule):
    """Train and validation batches from one artifact's rows (labels already in model classes)."""

    def __init__(
        self,
        source: RowSource,
        train_rows: np.ndarray,
        train_labels: np.ndarray,
        val_rows: np.ndarray,
        val_labels: np.ndarray,
        batch_size: int,
        workers: int = 0,
    ) -> None:
        super().__init__()
        self.train_set = RowsDataset(source, train_rows, train_labels)
        self.val_set = RowsDataset(source, val_rows, val_labels)
        self.batch_size = batch_size
        self.workers = workers

    def train_dataloader(self) -> DataLoader:
        # a last batch of one sample breaks batch norm; drop the ragged end when it can be
        # spared. Under DDP each process draws its own ceil(rows / world) of the rows.
        world = self.trainer.world_size if self.trainer is not None else 1
        drop = -(-len(self.train_set) // world) > self.batch_size
        return make_loader(
            self.train_set, self.batch_size, shuffle=True, workers=self.workers, drop_last=drop
        )

    def val_dataloader(self) -> DataLoader | list:
        if len(self.val_set) == 0:
            return []
        return make_loader(self.val_set, self.batch_size, shuffle=False, workers=self.workers)
