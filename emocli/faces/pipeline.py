"""One image -> one face (:func:`preprocess_image`); the frames of a clip -> the main face
track (:func:`preprocess_frames`).

Methodology 1: grey, CLAHE, Haar face detection, main face (largest, then most central),
crop with a margin, resize. Methodology 2 (``params.align``): Haar eyes inside that face,
false-positive heuristics, similarity transform that puts the pupils on fixed canonical
points (which also crops tightly: the output spans ``1 / (1 - 2 eye_x)`` inter-pupil
distances). Without a plausible eye pair the methodology-1 crop is kept and the status says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from emocli.faces.detect import Prepared, detect_faces, find_eyes, main_face, prepare, to_grey
from emocli.faces.geometry import (
    Box,
    align_on_eyes,
    box_centre,
    crop_resize,
    fit_inside,
    inner_square,
    iou,
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

#: A face in the next frame continues the track if its IoU with the last one is at least this.
TRACK_IOU = 0.3


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
    prepared = _prepare(image, params)
    if isinstance(prepared, FaceResult):
        return prepared
    if params.detector == "none":
        return finish_face(prepared, None, STATUS_WHOLE, params)
    boxes = detect_faces(prepared, params)
    if boxes:
        return finish_face(prepared, boxes[main_face(boxes, prepared.content)], STATUS_FACE, params)
    return _miss(prepared, params)


def preprocess_frames(frames: Iterable[np.ndarray], params: FaceParams) -> list[FaceResult]:
    """The frames of one clip -> one result per frame, following the main person's face.

    frames : images as :func:`preprocess_image` takes them, in time order; consumed one at a
    time (a frame is dropped once its candidate faces are cropped, so memory grows by
    faces, not frames). Every face found in a frame is cropped; the track then starts from
    the face seen in most frames (ties: the largest and most central, see :func:`face_track`)
    and follows it by overlap, so a face that appears briefly (a passer-by, a false
    detection) does not replace the main person. A frame off the track is a miss.
    """
    boxes: list[list[Box]] = []
    faces: list[list[FaceResult]] = []
    misses: list[FaceResult] = []
    content: Box | None = None
    for frame in frames:
        prepared = _prepare(frame, params)
        found: list[Box] = []
        crops: list[FaceResult] = []
        if isinstance(prepared, FaceResult):
            miss = prepared
        elif params.detector == "none":
            miss = finish_face(prepared, None, STATUS_WHOLE, params)
        else:
            content = content or prepared.content
            found = detect_faces(prepared, params)
            crops = [finish_face(prepared, box, STATUS_FACE, params) for box in found]
            miss = _miss(prepared, params) if params.on_miss == "keep" else _NO_FACE
        boxes.append(found)
        faces.append(crops)
        misses.append(miss)
    track = face_track(boxes, content or (0.0, 0.0, 1.0, 1.0))
    return [misses[i] if k is None else faces[i][k] for i, k in enumerate(track)]


def face_track(boxes: Sequence[Sequence[Box]], content: Box) -> list[int | None]:
    """The main face in each frame: the index of its box in ``boxes[frame]``, or None where
    the track is lost.

    boxes : the faces detected in each frame (same image geometry in every frame).
    The anchor is the face with the most frames holding an overlapping face (IoU >=
    :data:`TRACK_IOU`); ties go to the most prominent (largest, then most central). From the
    anchor's frame the track extends forwards and backwards, each frame taking the face that
    overlaps the previous one most.
    """
    candidates = [(i, k) for i, frame in enumerate(boxes) for k in range(len(frame))]
    if not candidates:
        return [None] * len(boxes)

    def support(box: Box) -> int:
        return sum(any(iou(box, other) >= TRACK_IOU for other in frame) for frame in boxes)

    def rank(c: tuple[int, int]) -> tuple[int, float]:
        box = boxes[c[0]][c[1]]
        return support(box), _prominence(box, content)

    start, anchor = max(candidates, key=rank)
    track: list[int | None] = [None] * len(boxes)
    track[start] = anchor
    for step in (1, -1):
        last = boxes[start][anchor]
        k = start + step
        while 0 <= k < len(boxes):
            overlaps = [iou(b, last) for b in boxes[k]]
            best = int(np.argmax(overlaps)) if overlaps else -1
            if best >= 0 and overlaps[best] >= TRACK_IOU:
                track[k] = best
                last = boxes[k][best]
            k += step
    return track


def finish_face(prepared: Prepared, box: Box | None, status: str, params: FaceParams) -> FaceResult:
    """Crop (methodology 1) or align (methodology 2) the face in ``box`` (None: the whole image).

    A detected face is cropped as a square with ``params.margin`` (in a pre-cropped image,
    shifted or shrunk to stay inside the image: no smeared borders); the whole image as its
    largest centred square (no borders, no distortion). With ``params.align`` the eyes are
    searched in that region and, when found, the output is aligned on them (``status+eyes``).
    """
    face = square_around(box) if box is not None else inner_square(prepared.content)
    if params.align:
        eyes = find_eyes(prepared.image, face, params)
        if eyes is not None:
            left_to, right_to = params.canonical_eyes
            aligned = align_on_eyes(prepared.image, *eyes, left_to, right_to, params.size)
            return FaceResult(aligned, f"{status}+eyes")
    region = face
    if box is not None:
        region = square_around(box, 1.0 + 2.0 * params.margin)
        if prepared.cropped:
            region = fit_inside(region, prepared.content)
    return FaceResult(crop_resize(prepared.image, region, params.size), status)


def _prepare(image: np.ndarray, params: FaceParams) -> Prepared | FaceResult:
    try:
        grey = to_grey(image)
    except ValueError:
        return FaceResult(None, REASON_UNREADABLE)
    h, w = grey.shape
    if min(h, w) < params.min_image_side:
        return FaceResult(None, f"{REASON_TOO_SMALL}: {w}x{h} px")
    return prepare(grey, params)


def _miss(prepared: Prepared, params: FaceParams) -> FaceResult:
    if params.on_miss == "keep":
        return finish_face(prepared, None, STATUS_KEPT_WHOLE, params)
    return FaceResult(None, REASON_NO_FACE)


def _prominence(box: Box, content: Box) -> float:
    """Larger and more central is more prominent: side minus distance to the centre,
    both relative to the image diagonal."""
    diagonal = math.hypot(content[2], content[3]) or 1.0
    side = math.sqrt(box[2] * box[3])
    return (side - math.dist(box_centre(box), box_centre(content))) / diagonal
