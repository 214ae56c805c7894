"""Methodology 1 and the eye search of methodology 2: grey, CLAHE, Haar faces, Haar eyes.

Pure functions on arrays (plus :func:`decode_image`, which reads one raw image file).
Cascades are loaded once per process and cached.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emocli.errors import ParamsError
from emocli.faces.geometry import Box, Point, box_centre, crop_resize
from emocli.faces.params import REASON_EMPTY, REASON_UNREADABLE, FaceParams

#: Smallest window a Haar cascade can search (pixels): the face cascades' base size.
MIN_CASCADE_WINDOW = 24
#: Faces of at least this fraction of the largest one compete on centrality for "main face".
MAIN_FACE_AREA_RATIO = 0.5
#: The face box is resized to this side before the eye search (consistent eye scales).
EYE_SEARCH_SIDE = 160
#: The eyes are searched in this vertical band of the face box (fractions of its height).
EYE_BAND = (0.1, 0.65)
#: Eye boxes searched between these fractions of the face side.
EYE_MIN_SIZE, EYE_MAX_SIZE = 0.1, 0.4
#: Pupils must lie in this vertical band of the face box ("eyes in the upper half").
PUPIL_BAND = (0.15, 0.55)
#: Eye boxes of a pair may differ in side by at most this factor.
EYE_SIZE_RATIO = 2.5


@dataclass(frozen=True)
class Prepared:
    """An image made ready for detection.

    image : (H', W') uint8, grey, CLAHE-equalised, possibly padded and scaled.
    content : (x, y, w, h) of the original image inside ``image`` (floats, pixels).
    cropped : the image was treated as a pre-cropped face (small, padded and upscaled).
    raw : the same geometry before equalisation (``image`` itself when not needed).
    """

    image: np.ndarray
    content: Box
    cropped: bool
    raw: np.ndarray


def decode_image(path: Path | str) -> tuple[np.ndarray | None, str]:
    """Read an image file as grey uint8, whatever its depth or channels.

    16-bit images are reduced to 8 bits, alpha is dropped, CMYK JPEGs are converted.
    Returns ``(grey (H, W) uint8, "")`` or ``(None, reason)``; never raises for bad files.
    """
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        return None, f"{REASON_UNREADABLE}: {exc.strerror or exc}"
    if data.size == 0:
        return None, REASON_EMPTY
    try:
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        return None, REASON_UNREADABLE
    return to_grey(image), ""


def to_grey(image: np.ndarray) -> np.ndarray:
    """Any image array as (H, W) uint8 grey.

    image : (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA; uint8, uint16 (scaled by
    1/257), bool, or float (in [0, 1] if its maximum is <= 1, else [0, 255]).
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    elif image.dtype == np.uint16:
        image = (image.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif image.dtype.kind == "f":
        top = 1.0 if np.nanmax(image, initial=0.0) <= 1.0 else 255.0
        image = np.clip(np.nan_to_num(image) * (255.0 / top), 0, 255).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(np.ascontiguousarray(image[:, :, :4]), code)
    if image.ndim != 2:
        raise ValueError(f"not an image: array of shape {image.shape}")
    return np.ascontiguousarray(image)


@functools.lru_cache(maxsize=8)
def _clahe(clip: float, tile: int) -> cv2.CLAHE:
    return cv2.createCLAHE(clipLimit=clip, tileGridSize=(tile, tile))


def equalise(grey: np.ndarray, params: FaceParams) -> np.ndarray:
    """CLAHE (contrast-limited adaptive histogram equalisation by tiles); clip 0 = off."""
    if params.clahe_clip <= 0:
        return grey
    return _clahe(params.clahe_clip, params.clahe_tile).apply(grey)


def prepare(grey: np.ndarray, params: FaceParams) -> Prepared:
    """Equalise, and pad + upscale a small (pre-cropped) image so a cascade can find its face.

    grey : (H, W) uint8. A raw Haar cascade needs context around a face: an image whose
    longer side is below ``params.small_side`` gets a replicated border of ``params.pad`` of
    that side and is scaled so that its longer side becomes ``small_side``. The unequalised
    image gets the same geometry (``Prepared.raw``) for the fallback detection passes.
    """
    image = equalise(grey, params)
    h, w = image.shape
    if max(h, w) >= params.small_side:
        return Prepared(image, (0.0, 0.0, float(w), float(h)), cropped=False, raw=grey)
    border = int(round(params.pad * max(h, w)))
    scale = params.small_side / max(h, w)

    def pad_and_scale(img: np.ndarray) -> np.ndarray:
        if border:
            img = cv2.copyMakeBorder(img, border, border, border, border, cv2.BORDER_REPLICATE)
        return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)

    image = pad_and_scale(image)
    raw = pad_and_scale(grey) if params.detect_raw and params.clahe_clip > 0 else image
    # the exact scale after rounding to whole pixels
    sx, sy = image.shape[1] / (w + 2 * border), image.shape[0] / (h + 2 * border)
    return Prepared(image, (border * sx, border * sy, w * sx, h * sy), cropped=True, raw=raw)


def cascade_folder() -> Path:
    """Where OpenCV's bundled Haar cascades are."""
    return Path(cv2.data.haarcascades)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=8)
def load_cascade(name: str) -> cv2.CascadeClassifier:
    """A Haar cascade: a file name under ``cv2.data.haarcascades`` or a path to an XML file."""
    path = Path(name)
    if not path.is_file():
        path = cascade_folder() / name
    try:
        cascade = cv2.CascadeClassifier(str(path))
    except (cv2.error, SystemError):  # a file that is not a cascade XML (a PNG, say)
        cascade = None
    if cascade is None or cascade.empty():
        what = "is not a Haar cascade XML file" if path.is_file() else "does not exist"
        raise ParamsError(
            f"cannot load the Haar cascade {name!r} ({path} {what}): give a file name from "
            f"{cascade_folder()} or the path of a cascade XML file"
        )
    return cascade


def check_cascades(params: FaceParams) -> None:
    """Load every cascade ``params`` will use, so a bad one is refused before any work
    (:class:`ParamsError` naming it) instead of failing on each image."""
    if params.detector == "none" and not params.align:
        return
    names = [params.eye_cascade] if params.align else []
    if params.detector != "none":
        names += [params.face_cascade, params.fallback_cascade]
    for name in filter(None, names):
        load_cascade(name)


def detect_faces(prepared: Prepared, params: FaceParams) -> list[Box]:
    """All faces found, as boxes in ``prepared.image`` coordinates.

    Passes, until one finds a face: the face cascade on the equalised image; on the
    unequalised one (``detect_raw``: CLAHE sharpens the texture of tight, small crops and
    can hide their face from the cascade); then the same with ``fallback_cascade``.
    """
    images = [prepared.image]
    if params.detect_raw and prepared.raw is not prepared.image:
        images.append(prepared.raw)
    cascades = [params.face_cascade] + (
        [params.fallback_cascade] if params.fallback_cascade else []
    )
    for cascade in cascades:
        for image in images:
            found = _detect(image, prepared, cascade, params)
            if found:
                return found
    return []


def _detect(image: np.ndarray, prepared: Prepared, cascade: str, params: FaceParams) -> list[Box]:
    """One Haar pass; large images are searched at ``detect_max_side``."""
    h, w = image.shape
    shrink = min(1.0, params.detect_max_side / max(h, w))
    if shrink < 1.0:
        image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    fraction = params.min_face_cropped if prepared.cropped else params.min_face
    shorter = min(prepared.content[2], prepared.content[3]) * shrink
    min_side = max(MIN_CASCADE_WINDOW, int(fraction * shorter))
    if min_side > min(image.shape):
        return []
    found = load_cascade(cascade).detectMultiScale(
        image,
        scaleFactor=params.scale_factor,
        minNeighbors=params.min_neighbors,
        minSize=(min_side, min_side),
    )
    return [(x / shrink, y / shrink, bw / shrink, bh / shrink) for x, y, bw, bh in found]


def main_face(boxes: list[Box], content: Box) -> int:
    """Index of the main face: among the faces of at least half the largest area, the one
    whose centre is closest to the centre of the image (``content``)."""
    if not boxes:
        raise ValueError("no faces to choose from")
    areas = [b[2] * b[3] for b in boxes]
    cx, cy = box_centre(content)
    candidates = [i for i, a in enumerate(areas) if a >= MAIN_FACE_AREA_RATIO * max(areas)]
    return min(candidates, key=lambda i: math.dist(box_centre(boxes[i]), (cx, cy)))


def find_eyes(image: np.ndarray, face: Box, params: FaceParams) -> tuple[Point, Point] | None:
    """The two pupils inside ``face``, or ``None`` if no plausible pair is found.

    image : (H, W) uint8 (equalised); face : a square box in ``image`` coordinates.
    The face is resized to :data:`EYE_SEARCH_SIDE`; the Haar eye cascade searches its upper
    band; a pair is kept only if each eye is in the upper half, one on each side of the face's
    vertical midline, their distance within [min_eye_distance, max_eye_distance] of the face
    side and their angle within ``max_eye_angle``. Of several such pairs the one most
    symmetric about the midline wins. Returns (left, right) pupil centres in ``image``
    coordinates (left = smaller x).
    """
    side = EYE_SEARCH_SIDE
    x, y, s = round(face[0]), round(face[1]), max(1, round(face[2]))
    face = (float(x), float(y), float(s), float(s))  # whole pixels: exact mapping back
    roi = crop_resize(image, face, side)
    top, bottom = int(EYE_BAND[0] * side), int(EYE_BAND[1] * side)
    band = roi[top:bottom]
    eyes = load_cascade(params.eye_cascade).detectMultiScale(
        band,
        scaleFactor=1.1,
        minNeighbors=params.eye_min_neighbors,
        minSize=(int(EYE_MIN_SIZE * side),) * 2,
        maxSize=(int(EYE_MAX_SIZE * side),) * 2,
    )
    centres = [(x + w / 2.0, top + y + h / 2.0, float(w)) for x, y, w, h in eyes]
    mid = side / 2.0
    lefts = [c for c in centres if c[0] < mid and _in_band(c[1], side)]
    rights = [c for c in centres if c[0] >= mid and _in_band(c[1], side)]
    best: tuple[float, Point, Point] | None = None
    for lx, ly, lw in lefts:
        for rx, ry, rw in rights:
            distance = math.hypot(rx - lx, ry - ly) / side
            angle = abs(math.degrees(math.atan2(ry - ly, rx - lx)))
            if not params.min_eye_distance <= distance <= params.max_eye_distance:
                continue
            if angle > params.max_eye_angle or max(lw, rw) > EYE_SIZE_RATIO * min(lw, rw):
                continue
            asymmetry = abs((lx + rx) / 2.0 - mid) / side + abs(ry - ly) / side
            if best is None or asymmetry < best[0]:
                best = (asymmetry, (lx, ly), (rx, ry))
    if best is None:
        return None
    k = face[2] / side  # back to image coordinates (pixel centres: x = (x' + 0.5) k - 0.5)

    def back(p: Point) -> Point:
        return face[0] + (p[0] + 0.5) * k - 0.5, face[1] + (p[1] + 0.5) * k - 0.5

    return back(best[1]), back(best[2])


def _in_band(y: float, side: int) -> bool:
    return PUPIL_BAND[0] * side <= y <= PUPIL_BAND[1] * side
