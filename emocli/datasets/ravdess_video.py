"""RAVDESS audio-visual and video-only clips: ``[Actor_XX/]MM-VC-EE-II-SS-RR-AA.mp4``.

Label from the emotion code (``calm`` kept by name), subject = actor; the clip id is the
recording without its modality code (:func:`~emocli.datasets.ravdess.ravdess_clip_id`),
the same id extract-audio gives the recording's sound, so the two modalities join.
"""

from __future__ import annotations

from pathlib import Path

from emocli.datasets.common import VIDEO_EXTENSIONS, MediaItem, iter_files, normalise_split
from emocli.datasets.ravdess import parse_ravdess_name, ravdess_clip_id
from emocli.errors import InputError


def read_ravdess_video(root: Path) -> tuple[list[MediaItem], list[tuple[str, str, str]]]:
    """The RAVDESS video clips under ``root`` (or the file ``root``), and rejects
    ``(sample_id, path, reason)`` for video files whose name is not a RAVDESS name."""
    files = [root] if root.is_file() else list(iter_files(root, VIDEO_EXTENSIONS))
    base = root.parent if root.is_file() else root
    items, rejects = [], []
    for path in files:
        relative = path.relative_to(base)
        sample_id = relative.with_suffix("").as_posix()
        try:
            name = parse_ravdess_name(path.stem)
        except InputError as exc:
            rejects.append((sample_id, str(path), str(exc)))
            continue
        split = next((s for s in map(normalise_split, relative.parts[:-1]) if s), "")
        items.append(
            MediaItem(
                path=path,
                sample_id=sample_id,
                label=name.emotion,
                split=split,
                subject=name.actor,
                clip_id=ravdess_clip_id(path.stem),
                group=name.actor,
            )
        )
    return items, rejects
