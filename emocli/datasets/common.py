"""What every dataset reader shares: the item record, split names, folder walking."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from emocli.errors import InputError
from emocli.labels import normalise_class_name

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".mkv", ".flv", ".mov", ".webm", ".mpg", ".mpeg"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus"})

#: Canonical split names stored in artifacts ("" = no split given).
SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "publictest": "val",
    "test": "test",
    "testing": "test",
    "privatetest": "test",
}


@dataclass(frozen=True)
class MediaItem:
    """One raw sample to decode.

    path : the file (image, video or audio); ``row`` selects a row of a CSV-backed dataset.
    label : a normalised class name (``"angry"``), or ``""`` when unlabelled.
    split : ``"train"``, ``"val"``, ``"test"`` or ``""``.
    subject : the person (CK+ subject, RAVDESS actor), ``""`` if unknown.
    clip_id : the video clip the sample belongs to (AFEW/SFEW clip id), ``""`` if none.
    group : a grouping key for leakage-free splits (e.g. SFEW movie), ``""`` if none.
    """

    path: Path
    sample_id: str
    label: str = ""
    split: str = ""
    subject: str = ""
    clip_id: str = ""
    group: str = ""
    row: int = -1


def normalise_split(name: str) -> str | None:
    """``Train`` -> ``train``, ``Validation`` -> ``val``; ``None`` if ``name`` is not a split."""
    return _SPLIT_ALIASES.get(name.strip().lower())


def require_folder(path: Path | str, what: str = "input folder") -> Path:
    """``path`` as a Path, or :class:`InputError` if it is missing or empty."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if path.is_dir() and not any(path.iterdir()):
        raise InputError(f"{what} is empty: {path}")
    return path


def iter_files(root: Path, extensions: Iterable[str]) -> Iterator[Path]:
    """Files under ``root`` with one of ``extensions`` (case-insensitive), sorted, hidden ones skipped."""
    wanted = {e.lower() for e in extensions}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in wanted:
                yield Path(folder, name)


def class_folder_items(root: Path, extensions: Iterable[str]) -> list[MediaItem]:
    """Items of a ``<root>/[<split>/]<class>/<file>`` layout; split and class from the folders.

    The sample id is the path relative to ``root`` without extension (unique by construction).
    """
    items = []
    for path in iter_files(root, extensions):
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            continue
        split = normalise_split(parts[0]) if len(parts) >= 3 else None
        label = normalise_class_name(parts[-2])
        sample_id = path.relative_to(root).with_suffix("").as_posix()
        items.append(MediaItem(path=path, sample_id=sample_id, label=label, split=split or ""))
    return items
