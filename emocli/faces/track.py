"""The frames of a clip -> the main person's face in each (:func:`track_frames`).

Every face found in a frame is cropped; the track then starts from the face seen in most
frames (ties: the largest and most central, see :func:`face_track`) and follows it by
overlap, so a face that appears briefly (a passer-by, a false detection) does not replace
the main person. A frame off the track is a miss.

Detection (Haar faces, then eyes) is the costly step. With ``detect_every`` k > 1 it runs on
every k-th frame (and the last); the frames between two detections take the faces found in
both, their boxes and pupils interpolated linearly (a face found in only one of them is not
carried; pupils found in one of them keep their place in the box), and are cropped from
their own pixels. Frames wait for the next detection in a
buffer of at most k - 1 frames: memory grows by faces, not frames. ``preprocess-faces`` detects
every sampled frame (k = 1); ``emocli predict --fps all`` detects a few times per second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from emocli.faces.detect import Prepared, detect_faces, main_face
from emocli.faces.geometry import Box, box_centre, iou
from emocli.faces.params import STATUS_FACE, STATUS_WHOLE, FaceParams
from emocli.faces.pipeline import (
    FaceResult,
    Located,
    crop_located,
    finish_face,
    locate_face,
    miss_result,
    prepare_frame,
)

#: A face in the next frame continues the track if its IoU with the last one is at least this.
TRACK_IOU = 0.3
#: Boxes whose overlaps with every other box are computed at once (memory: this x all boxes).
SUPPORT_BLOCK = 512


@dataclass(frozen=True)
class TrackedFace:
    """One frame's result: ``result`` the face (or why not); ``box`` (x, y, w, h) of the
    tracked face in the frame's own pixels, None off the track."""

    result: FaceResult
    box: Box | None


@dataclass
class _Frame:
    """What is kept of one frame: its candidate faces and their crops, the result to use if
    the track misses it, and the map from prepared-image to frame pixels (x0, y0, sx, sy)."""

    miss: FaceResult
    located: list[Located] = field(default_factory=list)
    crops: list[FaceResult] = field(default_factory=list)
    to_frame: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


def preprocess_frames(frames: Iterable[np.ndarray], params: FaceParams) -> list[FaceResult]:
    """The frames of one clip -> one result per frame, following the main person's face
    (every frame detected; see :func:`track_frames`)."""
    return [tracked.result for tracked in track_frames(frames, params)]


def track_frames(
    frames: Iterable[np.ndarray],
    params: FaceParams,
    detect_every: int = 1,
    still: bool = False,
) -> list[TrackedFace]:
    """The main face of every frame of one clip.

    frames : (H, W) grey or (H, W, 3) BGR images of one clip in time order, consumed one at a
    time. detect_every : detect faces on every k-th frame, interpolate between (see the
    module). still : one image: its main face (largest, then most central), as
    :func:`emocli.faces.preprocess_image` takes it.
    """
    if detect_every < 1:
        raise ValueError("detect_every must be >= 1")
    kept: list[_Frame] = []
    waiting: list[tuple[_Frame, Prepared]] = []  # frames since the last detection
    last: _Frame | None = None  # the last detected frame
    content: Box | None = None
    for image in frames:
        prepared = prepare_frame(image, params)
        if isinstance(prepared, FaceResult):
            kept.append(_Frame(prepared))
            continue
        record = _Frame(_miss_of(prepared, params), to_frame=_to_frame(prepared, image))
        kept.append(record)
        if params.detector == "none":
            continue
        content = content or prepared.content
        if last is not None and len(waiting) + 1 < detect_every:
            waiting.append((record, prepared))
            continue
        _detect(record, prepared, params)
        _fill(waiting, last, record, params)
        waiting, last = [], record
    if waiting:  # the clip ended between two detections: the last frame is detected
        record, prepared = waiting.pop()
        _detect(record, prepared, params)
        _fill(waiting, last, record, params)
    boxes = [[located.box for located in frame.located] for frame in kept]
    area = content or (0.0, 0.0, 1.0, 1.0)
    track = [main_face(b, area) if b else None for b in boxes] if still else face_track(boxes, area)
    return [
        TrackedFace(frame.miss, None)
        if k is None
        else TrackedFace(frame.crops[k], _mapped(frame.located[k].box, frame.to_frame))
        for frame, k in zip(kept, track, strict=True)
    ]


def _miss_of(prepared: Prepared, params: FaceParams) -> FaceResult:
    if params.detector == "none":
        return finish_face(prepared, None, STATUS_WHOLE, params)
    return miss_result(prepared, params)


def _detect(record: _Frame, prepared: Prepared, params: FaceParams) -> None:
    record.located = [locate_face(prepared, box, params) for box in detect_faces(prepared, params)]
    record.crops = [crop_located(prepared, f, STATUS_FACE, params) for f in record.located]


def _fill(
    waiting: Sequence[tuple[_Frame, Prepared]],
    before: _Frame | None,
    after: _Frame,
    params: FaceParams,
) -> None:
    """The frames between two detected ones: the faces found in both, interpolated."""
    if before is None or not waiting:
        return
    pairs = []
    for face in before.located:
        overlaps = [iou(face.box, other.box) for other in after.located]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best >= 0 and overlaps[best] >= TRACK_IOU:
            pairs.append((face, after.located[best]))
    steps = len(waiting) + 1
    for i, (record, prepared) in enumerate(waiting, start=1):
        t = i / steps
        record.located = [_between(a, b, t) for a, b in pairs]
        record.crops = [crop_located(prepared, f, STATUS_FACE, params) for f in record.located]


def _between(a: Located, b: Located, t: float) -> Located:
    """The face a fraction ``t`` of the way from ``a`` to ``b``. Its pupils keep their place
    in the face box: interpolated within it when both faces have them, else taken from the
    one that has them (an eye search fails on about half the frames of a clip)."""
    box = _lerp(a.box, b.box, t)
    ends = [_in_box(face) for face in (a, b) if face.eyes is not None]
    if not ends:
        return Located(box, None)
    rel = ends[0] if len(ends) == 1 else _lerp(ends[0], ends[1], t)
    x, y, w, h = box
    return Located(box, ((x + rel[0] * w, y + rel[1] * h), (x + rel[2] * w, y + rel[3] * h)))


def _lerp(p: Sequence[float], q: Sequence[float], t: float) -> Box:
    x0, y0, x1, y1 = (u + t * (v - u) for u, v in zip(p, q, strict=True))
    return x0, y0, x1, y1


def _in_box(face: Located) -> Box:
    """Both pupils as fractions of the face box: (left x, left y, right x, right y)."""
    assert face.eyes is not None
    x, y, w, h = face.box
    (lx, ly), (rx, ry) = face.eyes
    return (lx - x) / w, (ly - y) / h, (rx - x) / w, (ry - y) / h


def _to_frame(prepared: Prepared, image: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, sx, sy): frame pixel = ((x - x0) * sx, (y - y0) * sy) of a prepared pixel."""
    h, w = np.asarray(image).shape[:2]
    cx, cy, cw, ch = prepared.content
    return cx, cy, w / cw, h / ch


def _mapped(box: Box, to_frame: tuple[float, float, float, float]) -> Box:
    x0, y0, sx, sy = to_frame
    x, y, w, h = box
    return (x - x0) * sx, (y - y0) * sy, w * sx, h * sy


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

    supports = _supports(boxes)

    def rank(n: int) -> tuple[int, float]:
        i, k = candidates[n]
        return int(supports[n]), _prominence(boxes[i][k], content)

    start, anchor = candidates[max(range(len(candidates)), key=rank)]
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


def _supports(boxes: Sequence[Sequence[Box]]) -> np.ndarray:
    """(M,) for each box of every frame, in order: the number of frames holding a box that
    overlaps it (IoU >= :data:`TRACK_IOU`), its own frame included. Computed for
    :data:`SUPPORT_BLOCK` boxes at a time, so memory stays bounded on a long video."""
    flat = np.array([box for frame in boxes for box in frame], np.float64).reshape(-1, 4)
    x0, y0 = flat[:, 0], flat[:, 1]
    x1, y1 = x0 + flat[:, 2], y0 + flat[:, 3]
    area = flat[:, 2] * flat[:, 3]
    counts = [len(frame) for frame in boxes if frame]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    out = np.empty(len(flat), np.int64)
    for a in range(0, len(flat), SUPPORT_BLOCK):
        b = slice(a, a + SUPPORT_BLOCK)
        w = np.clip(np.minimum(x1[b, None], x1[None]) - np.maximum(x0[b, None], x0[None]), 0, None)
        h = np.clip(np.minimum(y1[b, None], y1[None]) - np.maximum(y0[b, None], y0[None]), 0, None)
        inter = w * h
        union = area[b, None] + area[None] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0) >= TRACK_IOU
        out[b] = np.logical_or.reduceat(overlap, starts, axis=1).sum(axis=1)
    return out


def _prominence(box: Box, content: Box) -> float:
    """Larger and more central is more prominent: side minus distance to the centre,
    both relative to the image diagonal."""
    diagonal = math.hypot(content[2], content[3]) or 1.0
    side = math.sqrt(box[2] * box[3])
    return (side - math.dist(box_centre(box), box_centre(content))) / diagonal
