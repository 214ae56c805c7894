"""What every dataset reader shares: the item record, split names, folder walking."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from emocli.errors import InputError
from emocli.labels import KNOWN_EMOTIONS, normalise_class_name
from emocli.walk import walk_tree

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".mkv", ".flv", ".mov", ".webm", ".mpg", ".mpeg"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus"})
#: Image files the face readers cannot decode: counted as rejects, with what to do.
UNSUPPORTED_IMAGES = {
    suffix: f"unsupported image format {suffix} (convert it to PNG or JPEG)"
    for suffix in (".gif", ".svg", ".heic", ".heif", ".avif", ".ico", ".jxl", ".psd")
}
#: ``(sample_id, path, reason)`` of inputs refused before decoding.
Rejects = list[tuple[str, str, str]]

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
    """``path`` as a Path, or :class:`InputError` if it is missing, unreadable or empty."""
    path = Path(path)
    if not path.exists():
        hint = " (a dangling symlink)" if path.is_symlink() else ""
        raise InputError(f"{what} not found: {path}{hint}")
    if path.is_dir():
        try:
            empty = not any(path.iterdir())
        except OSError as exc:
            raise InputError(f"cannot read the {what} {path}: {exc.strerror}") from exc
        if empty:
            raise InputError(f"{what} is empty: {path}")
    return path


def iter_files(root: Path, extensions: Iterable[str]) -> Iterator[Path]:
    """Files under ``root`` with one of ``extensions`` (case-insensitive), sorted, hidden ones
    skipped, symlinks followed (see :mod:`emocli.walk`; what cannot be read is
    left out here and reported by :func:`walk_rejects`)."""
    wanted = {e.lower() for e in extensions}
    for found in walk_tree(root).files:
        if found.path.suffix.lower() in wanted:
            yield found.path


def walk_rejects(root: Path, unsupported: Mapping[str, str] | None = None) -> Rejects:
    """Rejects ``(sample_id, path, reason)`` for what a reader of ``root`` could not read:
    dangling or looping symlinks, unreadable files and folders, a file reached twice, and
    files whose suffix is a key of ``unsupported`` (its value is the reason)."""
    tree = walk_tree(root)
    base = root.parent if root.is_file() else root
    found = [(p.path, p.reason) for p in tree.problems]
    for file in tree.files:
        reason = (unsupported or {}).get(file.path.suffix.lower())
        if reason:
            found.append((file.path, reason))
    return [(_sample_id(path, base), str(path), reason) for path, reason in found]


def _sample_id(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).with_suffix("").as_posix()
    except ValueError:
        return path.stem


def class_folder_items(root: Path, extensions: Iterable[str]) -> list[MediaItem]:
    """Items of a ``<root>/[<split>/]<class>/[...]/<file>`` layout; split and class from the
    folders: the class is the nearest folder above the file named like an emotion
    (``happy/session1/cam2/x.png`` is ``happy``), else the first folder under the split.

    The sample id is the path relative to ``root`` without extension (unique by construction).
    """
    items = []
    for path in iter_files(root, extensions):
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            continue
        split = normalise_split(parts[0]) if len(parts) >= 3 else None
        folders = [normalise_class_name(f) for f in parts[1 if split else 0 : -1]]
        label = next((f for f in reversed(folders) if f in KNOWN_EMOTIONS), folders[0])
        sample_id = path.relative_to(root).with_suffix("").as_posix()
        items.append(MediaItem(path=path, sample_id=sample_id, label=label, split=split or ""))
    return items
