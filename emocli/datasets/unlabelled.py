"""Unlabelled image collections (CASIA-WebFace ``<identity>/*.jpg``, UTKFace, any tree of
images): every image is a sample with label -1; its sample id is its path relative to the
root, without extension."""

from __future__ import annotations

from pathlib import Path

from emocli.datasets.common import IMAGE_EXTENSIONS, MediaItem, iter_files


def read_unlabelled(root: Path) -> list[MediaItem]:
    """Every image under ``root`` (or ``root`` itself if it is an image file), sorted."""
    if root.is_file():
        return [MediaItem(path=root, sample_id=root.stem)]
    return [
        MediaItem(path=path, sample_id=path.relative_to(root).with_suffix("").as_posix())
        for path in iter_files(root, IMAGE_EXTENSIONS)
    ]
