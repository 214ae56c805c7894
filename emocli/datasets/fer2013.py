"""FER2013: the native ``fer2013.csv`` (``emotion,pixels,Usage``: 48x48 grey faces as
space-separated integers, FER2013's label order) and the image-folder distribution
``train|test/<class>/<Usage>_<n>.jpg``, where the split comes from the file-name prefix
(``Training`` -> train, ``PublicTest`` -> val, ``PrivateTest`` -> test).
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from emocli.datasets.common import IMAGE_EXTENSIONS, MediaItem, normalise_split
from emocli.datasets.folder import labelled_items
from emocli.errors import InputError
from emocli.labels import FER2013_ORDER

#: Columns the native CSV must have (``Usage`` is optional).
CSV_COLUMNS = ("emotion", "pixels")
#: ``Training_123.jpg`` -> the ``Training`` usage.
_PREFIX_SEPARATOR = "_"
#: FER2013's ``Usage`` values (lower case) and their splits.
FER2013_USAGES = {"training": "train", "publictest": "val", "privatetest": "test"}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a 224x224 row is ~200 kB of text


def is_fer2013_csv(path: Path) -> bool:
    """True if ``path`` is a CSV file whose header has FER2013's columns."""
    if not path.is_file() or path.suffix.lower() != ".csv":
        return False
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError):
        return False
    return all(c in [h.strip().lower() for h in header] for c in CSV_COLUMNS)


def find_fer2013_csv(root: Path) -> Path | None:
    """``root`` if it is a FER2013 CSV, else the first FER2013 CSV directly inside ``root``."""
    if root.is_file():
        return root if is_fer2013_csv(root) else None
    return next((p for p in sorted(root.glob("*.csv")) if is_fer2013_csv(p)), None)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
        missing = [c for c in CSV_COLUMNS if c not in reader.fieldnames]
        if missing:
            raise InputError(f"{path}: not a FER2013 CSV (missing columns {missing})")
        yield from enumerate(reader)


def read_fer2013_csv(path: Path) -> tuple[list[MediaItem], list[tuple[str, str, str]]]:
    """One item per CSV row (``row`` = its 0-based index; the pixels are read later with
    :func:`iter_fer2013_pixels`), and rejects for rows whose label is not 0..6."""
    items, rejects = [], []
    for row, record in _rows(path):
        sample_id = f"{path.stem}/{row:05d}"
        try:
            label = FER2013_ORDER[int(record.get("emotion") or "")]
        except (ValueError, IndexError):
            rejects.append((sample_id, str(path), f"bad label {record.get('emotion')!r}"))
            continue
        split = normalise_split(record.get("usage") or "") or ""
        items.append(MediaItem(path=path, sample_id=sample_id, label=label, split=split, row=row))
    return items, rejects


def iter_fer2013_pixels(path: Path, rows: Iterable[int]) -> Iterator[str]:
    """The ``pixels`` text of each of ``rows`` (increasing row indices), streamed."""
    wanted = iter(rows)
    target = next(wanted, None)
    for row, record in _rows(path):
        if target is None:
            return
        if row == target:
            yield record.get("pixels") or ""
            target = next(wanted, None)


def pixels_to_image(text: str) -> np.ndarray | None:
    """A FER2013 ``pixels`` string -> (S, S) uint8 (S = 48 in FER2013); None if it is not a
    square of integers in 0..255."""
    try:
        values = np.array(text.split(), dtype=np.int64)
    except ValueError:
        return None
    side = math.isqrt(values.size)
    if values.size == 0 or side * side != values.size or values.min() < 0 or values.max() > 255:
        return None
    return values.astype(np.uint8).reshape(side, side)


def usage_split(stem: str) -> str | None:
    """``Training_123`` -> ``train``, ``PublicTest_5`` -> ``val``, ``PrivateTest_9`` -> ``test``;
    None for a name without a FER2013 usage prefix."""
    prefix = stem.split(_PREFIX_SEPARATOR, 1)[0].lower()
    return FER2013_USAGES.get(prefix) if _PREFIX_SEPARATOR in stem else None


def read_fer2013_folder(root: Path) -> list[MediaItem]:
    """The image-folder distribution; the split comes from the file-name prefix when it has
    one (``PublicTest_*`` in ``test/`` is FER2013's validation split), else from the folder."""
    items = []
    for item in labelled_items(root, IMAGE_EXTENSIONS):
        split = usage_split(item.path.stem)
        items.append(replace(item, split=split) if split else item)
    return items
