"""AFEW: ``Train|Val/<Emotion>/<clip id>.avi`` (or any container FFmpeg reads).

The clip id is the file stem with its leading zeros (``000519240``), as in SFEW's names and
in the audio artifacts, so frame, clip and audio predictions join by ``clip_id``. A single
video file is one unlabelled clip.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from emocli.datasets.common import VIDEO_EXTENSIONS, MediaItem
from emocli.datasets.folder import labelled_items


def read_afew(root: Path) -> list[MediaItem]:
    """The clips under ``root`` (labels and splits from the folders), sorted by path."""
    if root.is_file():
        return [MediaItem(path=root, sample_id=root.stem, clip_id=root.stem)]
    return [replace(i, clip_id=i.path.stem) for i in labelled_items(root, VIDEO_EXTENSIONS)]
