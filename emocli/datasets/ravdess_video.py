"""RAVDESS audio-visual and video-only clips: ``[Actor_XX/]MM-VC-EE-II-SS-RR-AA.mp4``.

Label from the emotion code (``calm`` kept by name), subject = actor; the clip id is the
recording without its modality code (:func:`~emocli.datasets.ravdess.ravdess_clip_id`),
the same id extract-audio gives the recording's sound, so the two modalities join.
"""

from __future__ import annotations

from pathlib import Path

from emocli.datasets.common import VIDEO_EXTENSIONS, MediaItem, iter_files
from emocli.datasets.ravdess import parse_ravdess_name, ravdess_item
from emocli.errors import InputError


def read_ravdess_video(root: Path) -> tuple[list[MediaItem], list[tuple[str, str, str]]]:
    """The RAVDESS video clips under ``root`` (or the file ``root``), and rejects
    ``(sample_id, path, reason)`` for video files whose name is not a RAVDESS name."""
    files = [root] if root.is_file() else list(iter_files(root, VIDEO_EXTENSIONS))
    base = root.parent if root.is_file() else root
    items, rejects = [], []
    for path in files:
        sample_id = path.relative_to(base).with_suffix("").as_posix()
        try:
            name = parse_ravdess_name(path.stem)
        except InputError as exc:
            rejects.append((sample_id, str(path), str(exc)))
            continue
        items.append(ravdess_item(path, base, name, group=name.actor))
    return items, rejects
