"""CK+ (extended Cohn-Kanade), in its two common layouts.

* ``cohn-kanade`` (the original release): ``cohn-kanade-images/Sxxx/yyy/Sxxx_yyy_<frame>.png``
  and ``Emotion/Sxxx/yyy/Sxxx_yyy_<frame>_emotion.txt`` (one float: CK+'s label 0..7 of the
  sequence's last frame). Only labelled sequences are used; the protocol takes their last
  ``peak_fraction`` (20 %) of frames, and optionally their first frame as ``neutral``.
* ``ck48``: ``<class>/S<subject>_<sequence>_<frame>.png`` (cropped 48x48 peak frames).

Subjects (``S005``) are recorded for subject-independent folds; the clip id is the sequence
(``S005_001``), which is also the item's group.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

from emocli.datasets.common import IMAGE_EXTENSIONS, MediaItem, iter_files
from emocli.datasets.folder import labelled_items
from emocli.errors import InputError
from emocli.labels import CKPLUS_ORDER
from emocli.stage_params.faces import PEAK_FRACTION

#: Folder names of the original release.
IMAGES_DIR = "cohn-kanade-images"
EMOTION_DIR = "Emotion"
#: ``S005_001_00000011`` (frame names; CK+48 uses the same pattern).
CK_NAME = re.compile(r"^(?P<subject>S\d+)_(?P<sequence>\d+)_(?P<frame>\d+)$")


def parse_ck_name(stem: str) -> tuple[str, str, int] | None:
    """``S005_001_00000011`` -> ``("S005", "001", 11)``; None if it does not match."""
    match = CK_NAME.match(stem)
    return (match["subject"], match["sequence"], int(match["frame"])) if match else None


def find_ckplus_dirs(root: Path) -> tuple[Path, Path] | None:
    """The ``cohn-kanade-images`` and ``Emotion`` folders at most two levels under ``root``."""
    if not root.is_dir():
        return None
    candidates = [root, *_subfolders(root)]
    images = next((c / IMAGES_DIR for c in candidates if _is_folder(c / IMAGES_DIR)), None)
    if images is None:
        return None
    base = images.parent
    for parent in [base, *_subfolders(base)]:
        if _is_folder(parent / EMOTION_DIR):
            return images, parent / EMOTION_DIR
    return None


def _subfolders(folder: Path) -> list[Path]:
    """The readable sub-folders of ``folder``, sorted (unreadable ones are the walk's rejects)."""
    try:
        return sorted(p for p in folder.iterdir() if _is_folder(p))
    except OSError:
        return []


def _is_folder(path: Path) -> bool:
    """``path.is_dir()``, False where a parent folder cannot be searched (no permission)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def read_ck48(root: Path) -> list[MediaItem]:
    """CK+48-style ``<class>/S<subject>_<sequence>_<frame>.png`` images."""
    items = []
    for item in labelled_items(root, IMAGE_EXTENSIONS):
        parsed = parse_ck_name(item.path.stem)
        if parsed:
            clip = f"{parsed[0]}_{parsed[1]}"
            item = replace(item, subject=parsed[0], clip_id=clip, group=parsed[0])
        items.append(item)
    return items


def read_cohn_kanade(
    root: Path, peak_fraction: float = PEAK_FRACTION, neutral: bool = False
) -> tuple[list[MediaItem], list[tuple[str, str, str]]]:
    """The peak frames (and optionally the neutral first frame) of every labelled sequence,
    and rejects ``(sample_id, path, reason)`` for unusable label files."""
    found = find_ckplus_dirs(root)
    if found is None:
        raise InputError(f"{root}: no {IMAGES_DIR}/ and {EMOTION_DIR}/ folders (CK+ layout)")
    images_dir, emotion_dir = found
    items: list[MediaItem] = []
    rejects: list[tuple[str, str, str]] = []
    for label_file in sorted(emotion_dir.glob("*/*/*_emotion.txt")):
        subject, sequence = label_file.parent.parent.name, label_file.parent.name
        clip = f"{subject}_{sequence}"
        try:
            code = int(float(label_file.read_text().split()[0]))
            label = CKPLUS_ORDER[code]
        except (ValueError, IndexError, OSError, UnicodeDecodeError):
            rejects.append((clip, str(label_file), "unreadable CK+ label file"))
            continue
        frames = list(iter_files(images_dir / subject / sequence, IMAGE_EXTENSIONS))
        if not frames:
            rejects.append((clip, str(label_file), "labelled sequence without frames"))
            continue
        peak = max(1, math.ceil(peak_fraction * len(frames)))
        chosen = [(f, label) for f in frames[-peak:]]
        if neutral and len(frames) > peak:
            chosen.insert(0, (frames[0], "neutral"))
        for path, name in chosen:
            items.append(
                MediaItem(
                    path=path,
                    sample_id=path.relative_to(images_dir).with_suffix("").as_posix(),
                    label=name,
                    subject=subject,
                    clip_id=clip,
                    group=subject,
                )
            )
    return items, rejects
