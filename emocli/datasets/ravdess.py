"""RAVDESS file names: ``MM-VC-EE-II-SS-RR-AA.ext`` (modality, vocal channel, emotion,
intensity, statement, repetition, actor). Odd actors are male."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emocli.datasets.common import MediaItem, normalise_split
from emocli.errors import InputError

#: RAVDESS emotion codes 01..08, with SPEC's class names where they exist.
RAVDESS_EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class RavdessName:
    modality: str  # 01 full-AV, 02 video-only, 03 audio-only
    vocal_channel: str  # 01 speech, 02 song
    emotion: str  # class name, e.g. "angry"
    intensity: str  # 01 normal, 02 strong
    statement: str
    repetition: str
    actor: str  # "01".."24"


def parse_ravdess_name(stem: str) -> RavdessName:
    """Parse a RAVDESS file stem (no extension). Raises :class:`InputError` if it does not match."""
    match = _NAME.match(stem)
    if not match:
        raise InputError(f"not a RAVDESS file name (MM-VC-EE-II-SS-RR-AA): {stem!r}")
    modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
    if emotion not in RAVDESS_EMOTIONS:
        raise InputError(f"unknown RAVDESS emotion code {emotion!r} in {stem!r}")
    return RavdessName(
        modality, channel, RAVDESS_EMOTIONS[emotion], intensity, statement, repetition, actor
    )


def is_ravdess_name(stem: str) -> bool:
    """Whether a file stem (no extension) is a RAVDESS name (:func:`parse_ravdess_name`)."""
    try:
        parse_ravdess_name(stem)
    except InputError:
        return False
    return True


def ravdess_clip_id(stem: str) -> str:
    """The recording a RAVDESS file belongs to: its name without the modality code, so the
    audio-only (03-...) and audio-visual (01-...) files of one recording share a clip id."""
    return stem.split("-", 1)[1] if "-" in stem else stem


def ravdess_item(path: Path, base: Path, name: RavdessName, group: str = "") -> MediaItem:
    """The sample of the RAVDESS file ``path`` (named ``name``) found under ``base``.

    sample_id : the path below ``base`` without its extension; split : the first folder on
    that path that names a split (``""`` if none); label : the emotion; subject : the actor;
    clip_id : :func:`ravdess_clip_id`; group : as given.
    """
    relative = path.relative_to(base)
    return MediaItem(
        path=path,
        sample_id=relative.with_suffix("").as_posix(),
        label=name.emotion,
        split=next((s for s in map(normalise_split, relative.parts[:-1]) if s), ""),
        subject=name.actor,
        clip_id=ravdess_clip_id(path.stem),
        group=group,
    )
