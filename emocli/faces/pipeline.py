"""One image -> one face (:func:`preprocess_image`), and the steps a clip's face track
(:mod:`emocli.faces.track`) shares with it.

Methodology 1: grey, CLAHE, Haar face detection, main face (largest, then most central),
crop with a margin, resize. Methodology 2 (``params.align``): Haar eyes inside that face,
false-positive heuristics, similarity transform that puts the pupils on fixed canonical
points (which also crops tightly: the output spans ``1 / (1 - 2 eye_x)`` inter-pupil
distances). Without a plausible eye pair the methodology-1 crop is kept and the status says so.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from emocli.faces.detect import Prepared, detect_faces, find_eyes, main_face, prepare, to_grey
from emocli.faces.geometry import (
    Box,
    Point,
    align_on_eyes,
    crop_resize,
    fit_inside,
    inner_square,
    square_around,
)
from emocli.faces.params import (
    REASON_NO_FACE,
    REASON_TOO_SMALL,
    REASON_UNREADABLE,
    STATUS_FACE,
    STATUS_KEPT_WHOLE,
    STATUS_WHOLE,
    FaceParams,
)


class FaceResult(NamedTuple):
    """face : (size, size) uint8, or None when rejected; status : how the face was made (a
    ``STATUS_*``), or why it was rejected."""

    face: np.ndarray | None
    status: str


_NO_FACE = FaceResult(None, REASON_NO_FACE)


def preprocess_image(image: np.ndarray, params: FaceParams) -> FaceResult:
    """The whole per-image pipeline: any image array -> ``(face | None, status)``.

    image : (H, W) grey or (H, W, 3|4) BGR(A), any of the dtypes :func:`to_grey` takes.
    """
    prepared = prepare_frame(image, params)
    if isinstance(prepared, FaceResult):
        return prepared
    if params.detector == "none":
        return finish_face(prepared, None, STATUS_WHOLE, params)
    boxes = detect_faces(prepared, params)
    if boxes:
        return finish_face(prepared, boxes[main_face(boxes, prepared.content)], STATUS_FACE, params)
    return miss_result(prepared, params)


class Located(NamedTuple):
    """One face found in a prepared image: its detector ``box`` (x, y, w, h) and, with
    ``params.align``, its pupils ``eyes`` (left, right) or None; ``Prepared.image`` pixels."""

    box: Box
    eyes: tuple[Point, Point] | None


def locate_face(prepared: Prepared, box: Box, params: FaceParams) -> Located:
    """The face in ``box`` with its pupils searched (methodology 2) when ``params.align``."""
    eyes = find_eyes(prepared.image, square_around(box), params) if params.align else None
    return Located(box, eyes)


def crop_located(
    prepared: Prepared, located: Located, status: str, params: FaceParams
) -> FaceResult:
    """Align on the pupils when found (``status+eyes``), else crop the box as a square with
    ``params.margin`` (in a pre-cropped image, shifted or shrunk to stay inside the image:
    no smeared borders)."""
    if located.eyes is not None:
        left_to, right_to = params.canonical_eyes
        aligned = align_on_eyes(prepared.image, *located.eyes, left_to, right_to, params.size)
        return FaceResult(aligned, f"{status}+eyes")
    region = square_around(located.box, 1.0 + 2.0 * params.margin)
    if prepared.cropped:
        region = fit_inside(region, prepared.content)
    return FaceResult(crop_resize(prepared.image, region, params.size), status)


def finish_face(prepared: Prepared, box: Box | None, status: str, params: FaceParams) -> FaceResult:
    """Crop (methodology 1) or align (methodology 2) the face in ``box`` (None: the whole image).

    A detected face: :func:`locate_face` then :func:`crop_located`. The whole image is taken
    as its largest centred square (no borders, no distortion), aligned on the pupils when
    ``params.align`` finds them there.
    """
    if box is not None:
        return crop_located(prepared, locate_face(prepared, box, params), status, params)
    whole = inner_square(prepared.content)
    eyes = find_eyes(prepared.image, whole, params) if params.align else None
    if eyes is not None:
        return crop_located(prepared, Located(whole, eyes), status, params)
    return FaceResult(crop_resize(prepared.image, whole, params.size), status)


def prepare_frame(image: np.ndarray, params: FaceParams) -> Prepared | FaceResult:
    """:func:`prepare` for any image array, or the rejection (unreadable, too small)."""
    try:
        grey = to_grey(image)
    except ValueError:
        return FaceResult(None, REASON_UNREADABLE)
    h, w = grey.shape
    if min(h, w) < params.min_image_side:
        return FaceResult(None, f"{REASON_TOO_SMALL}: {w}x{h} px")
    return prepare(grey, params)


def miss_result(prepared: Prepared, params: FaceParams) -> FaceResult:
    if params.on_miss == "keep":
        return finish_face(prepared, None, STATUS_KEPT_WHOLE, params)
    return FaceResult(None, REASON_NO_FACE)
