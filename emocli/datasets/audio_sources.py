"""Listing the inputs of extract-audio: AFEW-style clip folders, RAVDESS, folder-per-class audio.

Formats (``--format``):

* ``afew``: ``[<Train|Val>/]<Emotion>/<clip>.{avi,mp4,mkv,flv,...}``; the clip id is the
  file stem (AFEW's zero-padded number, leading zeros kept).
* ``ravdess``: ``[Actor_XX/]MM-VC-EE-II-SS-RR-AA.{wav,flac,mp4,...}``; label from the
  emotion code, subject = actor (``"01"``..``"24"``), clip id = the name without its
  modality code (``VC-EE-II-SS-RR-AA``), so the audio-only (03) and audio-visual (01) files
  of one recording share it. Video-only files (modality 02) have no sound: they are
  listed as rejects without being opened.
* ``folder``: ``[<split>/]<class>/*.{wav,flac,mp3,ogg,m4a,...}``; a single file is one
  unlabelled item.

``auto`` picks ``ravdess`` when every media file has a RAVDESS name, else ``afew`` for
class folders of videos and ``folder`` for class folders of audio files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from emocli.datasets.classes import ClassListParams, resolve_classes
from emocli.datasets.common import (
    AUDIO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    MediaItem,
    class_folder_items,
    iter_files,
    require_folder,
    walk_rejects,
)
from emocli.datasets.ravdess import is_ravdess_name, parse_ravdess_name, ravdess_item
from emocli.errors import InputError
from emocli.stage_params.audio import AUDIO_FORMATS

MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
#: RAVDESS modality code of video-only files (no audio track).
RAVDESS_VIDEO_ONLY = "02"

_LAYOUTS = {
    "afew": "<root>/[Train|Val/]<Emotion>/<clip>.avi (or .mp4, .mkv, .flv ...)",
    "ravdess": "<root>/Actor_XX/MM-VC-EE-II-SS-RR-AA.wav (or .flac, .mp4)",
    "folder": "<root>/[<split>/]<class>/<file>.wav (or .flac, .mp3, .ogg, .m4a)",
}


@dataclass
class AudioListing:
    """What extract-audio will decode: ``items``, plus files refused before decoding.

    rejects : ``(sample_id, path, reason)`` for inputs known to be unusable from their name.
    classes : the artifact's class names, in order (see :mod:`emocli.datasets.classes`).
    warnings : labels guessed, for the user to check.
    """

    format: str
    items: list[MediaItem]
    rejects: list[tuple[str, str, str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def detect_audio_format(root: Path) -> str:
    """``ravdess``, ``afew`` or ``folder`` for an input path; :class:`InputError` if none fits."""
    root = require_folder(root)
    files = [root] if root.is_file() else list(iter_files(root, MEDIA_EXTENSIONS))
    if not files:
        raise InputError(
            f"no audio or video files under {root} (looked for "
            f"{', '.join(sorted(MEDIA_EXTENSIONS))})"
        )
    if all(is_ravdess_name(p.stem) for p in files):
        return "ravdess"
    if root.is_file():
        return "folder"
    videos = sum(p.suffix.lower() in VIDEO_EXTENSIONS for p in files)
    audios = len(files) - videos
    if videos and audios:
        raise InputError(
            f"{root} holds both video ({videos}) and audio ({audios}) files; "
            "choose --format afew (videos) or --format folder (audio files)"
        )
    return "afew" if videos else "folder"


def list_audio_inputs(
    root: Path | str, fmt: str = "auto", class_list: ClassListParams = ClassListParams()
) -> AudioListing:
    """List the clips of ``root`` in format ``fmt`` (``auto`` detects it), sorted by path.

    class_list : how the classes are named (see :mod:`emocli.datasets.classes`). Raises
    :class:`InputError` for a missing or empty folder, an unknown format, a folder with no
    usable file in the expected layout, or a guessed label under ``class_list.strict``.
    """
    root = require_folder(Path(root))
    if fmt not in AUDIO_FORMATS:
        raise InputError(f"unknown audio format {fmt!r}; choose one of {', '.join(AUDIO_FORMATS)}")
    if fmt == "auto":
        fmt = detect_audio_format(root)
    if fmt == "ravdess":
        listing = _ravdess(root)
    elif root.is_file():
        listing = AudioListing(fmt, [MediaItem(path=root, sample_id=root.stem)])
    elif fmt == "afew":
        items = class_folder_items(root, VIDEO_EXTENSIONS)
        listing = AudioListing(fmt, [replace(i, clip_id=i.path.stem) for i in items])
    else:
        listing = AudioListing(fmt, class_folder_items(root, AUDIO_EXTENSIONS))
    listing.rejects.extend(walk_rejects(root))
    base = root.parent if root.is_file() else root
    named = resolve_classes(listing.format, listing.items, base, class_list)
    listing.classes, listing.items, listing.warnings = named.classes, named.items, named.warnings
    listing.rejects.extend(named.rejects)
    if not listing.items and not listing.rejects:
        raise InputError(f"no {fmt} clips found under {root}; expected {_LAYOUTS[fmt]}")
    return listing


def _ravdess(root: Path) -> AudioListing:
    files = [root] if root.is_file() else list(iter_files(root, MEDIA_EXTENSIONS))
    base = root.parent if root.is_file() else root
    listing = AudioListing("ravdess", [])
    for path in files:
        sample_id = path.relative_to(base).with_suffix("").as_posix()
        try:
            name = parse_ravdess_name(path.stem)
        except InputError as exc:
            listing.rejects.append((sample_id, str(path), str(exc)))
            continue
        if name.modality == RAVDESS_VIDEO_ONLY:
            reason = "RAVDESS video-only file (modality 02): no audio track"
            listing.rejects.append((sample_id, str(path), reason))
            continue
        listing.items.append(ravdess_item(path, base, name))
    return listing
