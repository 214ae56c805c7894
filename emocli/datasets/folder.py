"""Folder-per-class image datasets: ``<root>/[<split>/]<class>/*.{png,jpg,jpeg,bmp,tif}``.

Also the shared walking rules of the other class-folder readers (SFEW, AFEW, FER2013's
image folders, CK+48): the split comes from a split-named folder (``Train``, ``Val``,
``Test``, ``PublicTest`` ...) or, when the input *is* a split folder (``sfew2/Train``), from
its own name; files directly inside a split folder (SFEW's ``Test/*.png``) are unlabelled;
files directly inside ``root`` are unlabelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from emocli.datasets.common import (
    IMAGE_EXTENSIONS,
    MediaItem,
    class_folder_items,
    iter_files,
    normalise_split,
)


def labelled_items(root: Path, extensions: Iterable[str]) -> list[MediaItem]:
    """Items of a ``<root>/[<split>/]<class>/<file>`` tree, sorted by path (see module doc)."""
    extensions = {e.lower() for e in extensions}
    root_split = normalise_split(root.name) or ""
    items = []
    for path in iter_files(root, extensions):
        if path.parent == root:
            items.append(MediaItem(path=path, sample_id=path.stem, split=root_split))
    for item in class_folder_items(root, extensions):
        parts = item.path.relative_to(root).parts
        folder_split = normalise_split(parts[0]) if len(parts) == 2 else None
        if folder_split:  # <split>/<file>: an unlabelled file of that split
            items.append(replace(item, label="", split=folder_split))
        elif not item.split and root_split:
            items.append(replace(item, split=root_split))
        else:
            items.append(item)
    return sorted(items, key=lambda i: i.path)


def read_folder(root: Path) -> list[MediaItem]:
    """Images of a folder-per-class tree; class names normalised (``anger`` -> ``angry``)."""
    return labelled_items(root, IMAGE_EXTENSIONS)
