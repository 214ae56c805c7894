"""The face datasets preprocess-faces reads, and ``--format auto``: which reader fits a path.

Formats: ``sfew``, ``afew``, ``ckplus`` (original or CK+48 layout), ``fer2013`` (CSV or
image folders), ``ravdess-video``, ``folder`` (any folder-per-class tree) and ``unlabelled``
(any tree of images; ``unlabeled``, the old spelling, is still accepted). Auto-detection
looks, in this order, for: a FER2013 CSV; CK+'s ``cohn-kanade-images``/``Emotion`` folders;
videos (RAVDESS names -> ``ravdess-video``, else ``afew``); images named like CK+ frames
(``ckplus``), like FER2013 (``fer2013``) or like SFEW stills inside emotion folders
(``sfew``); emotion-named class folders (``folder``); anything else is ``unlabelled``. A
folder-per-class set whose class names are not emotions is read as ``unlabelled`` by auto:
give ``--format folder``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from emocli.datasets import afew, ckplus, fer2013, folder, ravdess_video, sfew, unlabelled
from emocli.datasets.classes import ClassListParams, resolve_classes
from emocli.datasets.common import (
    IMAGE_EXTENSIONS,
    UNSUPPORTED_IMAGES,
    VIDEO_EXTENSIONS,
    MediaItem,
    iter_files,
    require_folder,
    walk_rejects,
)
from emocli.datasets.ravdess import RAVDESS_EMOTIONS, is_ravdess_name
from emocli.errors import InputError
from emocli.labels import EMOTIONS, KNOWN_EMOTIONS, normalise_class_name
from emocli.stage_params.faces import FACE_FORMATS, PEAK_FRACTION, face_format

#: Files looked at to recognise a layout.
DETECT_SAMPLE = 400
#: Images whose size decides whether a dataset is made of pre-cropped faces.
SIZE_SAMPLE = 16
#: Share of the sampled file names that must follow a dataset's naming scheme.
NAME_MATCH_SHARE = 0.9

_LAYOUTS = {
    "sfew": "<root>/[Train|Val/]<Emotion>/<movie>_<clip>_<frame>.png (+ Test/*.png)",
    "afew": "<root>/[Train|Val/]<Emotion>/<clip>.avi (or .mp4 ...)",
    "ckplus": "<root>/cohn-kanade-images/Sxxx/yyy/*.png + <root>/Emotion/Sxxx/yyy/*_emotion.txt, "
    "or <root>/<class>/Sxxx_yyy_<frame>.png (CK+48)",
    "fer2013": "fer2013.csv (emotion,pixels,Usage) or <root>/train|test/<class>/Training_*.jpg",
    "ravdess-video": "<root>/[Actor_XX/]MM-VC-EE-II-SS-RR-AA.mp4",
    "folder": "<root>/[<split>/]<class>/*.{png,jpg,jpeg,bmp,tif}",
    "unlabelled": "<root>/**/*.{png,jpg,jpeg,bmp,tif}",
}


@dataclass
class FaceSource:
    """What preprocess-faces will decode.

    format : the reader (one of :data:`FACE_FORMATS` but ``auto``); layout : its variant
    (``csv``, ``image-folder``, ``cohn-kanade``, ``ck48`` ...).
    media : ``image`` (files), ``video`` (clips) or ``pixels`` (FER2013 CSV rows of ``csv``).
    classes : the artifact's class names, in order.
    precropped : the images are already face crops (decides ``--on-miss auto``).
    rejects : ``(sample_id, path, reason)`` for inputs refused from their name or label.
    warnings : labels guessed (see :mod:`emocli.datasets.classes`), for the user to check.
    """

    format: str
    layout: str
    media: str
    items: list[MediaItem]
    classes: list[str]
    precropped: bool
    csv: Path | None = None
    rejects: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def detect_face_format(root: Path) -> str:
    """The face format of ``root`` (see the module doc); :class:`InputError` if it holds
    neither images, videos nor a FER2013 CSV."""
    root = require_folder(root)
    if fer2013.find_fer2013_csv(root) is not None:
        return "fer2013"
    if root.is_file():
        suffix = root.suffix.lower()
        if suffix in VIDEO_EXTENSIONS:
            return "ravdess-video" if is_ravdess_name(root.stem) else "afew"
        if suffix in IMAGE_EXTENSIONS:
            return "unlabelled"
        raise InputError(f"{root}: not an image, a video or a FER2013 CSV")
    if ckplus.find_ckplus_dirs(root) is not None:
        return "ckplus"
    sample = list(
        itertools.islice(iter_files(root, IMAGE_EXTENSIONS | VIDEO_EXTENSIONS), DETECT_SAMPLE)
    )
    if not sample:
        raise InputError(
            f"no images, videos or FER2013 CSV under {root} (looked for "
            f"{', '.join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))})"
        )
    videos = [p for p in sample if p.suffix.lower() in VIDEO_EXTENSIONS]
    if len(videos) * 2 > len(sample):
        return "ravdess-video" if all(is_ravdess_name(p.stem) for p in videos) else "afew"
    images = [p for p in sample if p.suffix.lower() in IMAGE_EXTENSIONS]
    stems = [p.stem for p in images]
    in_folders = [p for p in images if p.parent != root]  # loose files at the root do not vote
    in_emotion_folder = sum(_in_emotion_folder(p, root) for p in in_folders)
    labelled = bool(in_folders) and in_emotion_folder * 2 >= len(in_folders)
    if _share(ckplus.parse_ck_name, stems) >= NAME_MATCH_SHARE:
        return "ckplus"
    if _share(fer2013.usage_split, stems) >= NAME_MATCH_SHARE:
        return "fer2013"
    if labelled and _share(sfew.parse_sfew_name, stems) >= NAME_MATCH_SHARE:
        return "sfew"
    return "folder" if labelled else "unlabelled"


def read_face_source(
    root: Path | str,
    fmt: str = "auto",
    *,
    ck_peak_fraction: float = PEAK_FRACTION,
    ck_neutral: bool = False,
    small_side: int = 256,
    class_list: ClassListParams = ClassListParams(),
) -> FaceSource:
    """List the samples of ``root`` in format ``fmt`` (``auto`` detects it), sorted by path.

    small_side : image datasets whose sampled images all have a longer side below this are
    marked ``precropped``. class_list : how the classes are named (see
    :mod:`emocli.datasets.classes`). Raises :class:`InputError` for a missing or empty path,
    an unknown format, a path with no sample in the expected layout, or a guessed label
    under ``class_list.strict``.
    """
    root = require_folder(Path(root))
    fmt = face_format(fmt)
    if fmt not in FACE_FORMATS:
        raise InputError(f"unknown face format {fmt!r}; choose one of {', '.join(FACE_FORMATS)}")
    guessed = fmt == "auto"
    if guessed:
        fmt = detect_face_format(root)
    source = _read(root, fmt, ck_peak_fraction, ck_neutral)
    source.rejects.extend(
        walk_rejects(root, UNSUPPORTED_IMAGES if source.media == "image" else None)
    )
    if not source.items and not source.rejects:
        raise InputError(f"no {fmt} samples found under {root}; expected {_LAYOUTS[fmt]}")
    named = resolve_classes(source.format, source.items, root, class_list, guessed)
    source.classes, source.items, source.warnings = named.classes, named.items, named.warnings
    source.rejects.extend(named.rejects)
    if source.media == "image" and source.format not in ("ckplus", "fer2013"):
        source.precropped = _small_images(source.items, small_side)
    return source


def _read(root: Path, fmt: str, ck_peak_fraction: float, ck_neutral: bool) -> FaceSource:
    if fmt == "fer2013":
        csv_path = fer2013.find_fer2013_csv(root)
        if csv_path is not None:
            items, rejects = fer2013.read_fer2013_csv(csv_path)
            return FaceSource(fmt, "csv", "pixels", items, list(EMOTIONS), True, csv_path, rejects)
        folder_items = fer2013.read_fer2013_folder(_folder(root, fmt))
        return FaceSource(fmt, "image-folder", "image", folder_items, list(EMOTIONS), True)
    if fmt == "ckplus":
        if ckplus.find_ckplus_dirs(root) is not None:
            items, rejects = ckplus.read_cohn_kanade(root, ck_peak_fraction, ck_neutral)
            return FaceSource(fmt, "cohn-kanade", "image", items, [], False, rejects=rejects)
        return FaceSource(fmt, "ck48", "image", ckplus.read_ck48(_folder(root, fmt)), [], True)
    if fmt == "sfew":
        return FaceSource(
            fmt, "sfew", "image", sfew.read_sfew(_folder(root, fmt)), list(EMOTIONS), False
        )
    if fmt == "afew":
        return FaceSource(fmt, "afew", "video", afew.read_afew(root), list(EMOTIONS), False)
    if fmt == "ravdess-video":
        items, rejects = ravdess_video.read_ravdess_video(root)
        classes = list(RAVDESS_EMOTIONS.values())
        return FaceSource(fmt, "ravdess", "video", items, classes, False, rejects=rejects)
    if fmt == "folder":
        return FaceSource(fmt, "folder", "image", folder.read_folder(_folder(root, fmt)), [], False)
    return FaceSource(fmt, "unlabelled", "image", unlabelled.read_unlabelled(root), [], False)


def _folder(root: Path, fmt: str) -> Path:
    if not root.is_dir():
        raise InputError(f"{root}: the {fmt} format reads a folder ({_LAYOUTS[fmt]})")
    return root


def _share(parse: Callable[[str], object], stems: list[str]) -> float:
    """Share of ``stems`` that ``parse`` accepts (returns something truthy for)."""
    return sum(bool(parse(s)) for s in stems) / len(stems) if stems else 0.0


def _in_emotion_folder(path: Path, root: Path) -> bool:
    folders = path.relative_to(root).parts[:-1]
    return any(normalise_class_name(f) in KNOWN_EMOTIONS for f in folders)


def _small_images(items: list[MediaItem], small_side: int) -> bool:
    """True if the images sampled evenly from ``items`` are all small (pre-cropped faces)."""
    if not items:
        return False
    picks = np.linspace(0, len(items) - 1, min(SIZE_SAMPLE, len(items))).round().astype(int)
    sides = []
    for k in sorted(set(picks.tolist())):
        image = cv2.imread(str(items[k].path), cv2.IMREAD_GRAYSCALE)
        if image is not None:
            sides.append(max(image.shape))
    return bool(sides) and max(sides) < small_side
