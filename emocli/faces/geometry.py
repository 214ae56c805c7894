"""Boxes, square crops and the eye-based similarity transform (pure array functions).

Coordinates are pixels, ``x`` to the right and ``y`` down, with pixel centres at integer
positions (OpenCV's convention). A box is ``(x, y, w, h)`` with (x, y) its top-left corner.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Box = tuple[float, float, float, float]
Point = tuple[float, float]


def box_centre(box: Box) -> Point:
    x, y, w, h = box
    return x + w / 2.0, y + h / 2.0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def square_around(box: Box, scale: float = 1.0) -> Box:
    """The square centred on ``box`` whose side is ``scale`` times the box's longer side."""
    cx, cy = box_centre(box)
    side = max(box[2], box[3]) * scale
    return cx - side / 2.0, cy - side / 2.0, side, side


def inner_square(box: Box) -> Box:
    """The largest square centred in ``box`` (side = its shorter side)."""
    cx, cy = box_centre(box)
    side = min(box[2], box[3])
    return cx - side / 2.0, cy - side / 2.0, side, side


def fit_inside(square: Box, bounds: Box) -> Box:
    """``square`` shrunk to fit ``bounds`` if larger, then shifted to lie inside it."""
    side = min(square[2], bounds[2], bounds[3])
    cx, cy = box_centre(square)
    x = min(max(cx - side / 2.0, bounds[0]), bounds[0] + bounds[2] - side)
    y = min(max(cy - side / 2.0, bounds[1]), bounds[1] + bounds[3] - side)
    return x, y, side, side


def crop_resize(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Crop ``box`` out of ``image`` and resize it to ``size`` x ``size``.

    image : (H, W) uint8. Parts of the box outside the image are filled by replicating the
    border, so a face at the edge keeps its shape. Returns (size, size) uint8.
    """
    h, w = image.shape[:2]
    x0, y0 = int(math.floor(box[0])), int(math.floor(box[1]))
    x1 = max(x0 + 1, int(math.ceil(box[0] + box[2])))
    y1 = max(y0 + 1, int(math.ceil(box[1] + box[3])))
    # the part inside the image (at least one edge pixel, even for a box wholly outside)
    xa, ya = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1)
    xb, yb = max(min(x1, w), xa + 1), max(min(y1, h), ya + 1)
    crop = image[ya:yb, xa:xb]
    pads = (max(0, ya - y0), max(0, y1 - yb), max(0, xa - x0), max(0, x1 - xb))
    if any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
    side = max(crop.shape[0], crop.shape[1])
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def similarity_from_eyes(left: Point, right: Point, left_to: Point, right_to: Point) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation) mapping two pupils exactly.

    Maps ``left`` to ``left_to`` and ``right`` to ``right_to``; returns a float64 (2, 3) matrix
    for :func:`cv2.warpAffine`. Raises ValueError if the two source points coincide.
    """
    p, q = complex(*left), complex(*right)
    p2, q2 = complex(*left_to), complex(*right_to)
    if abs(q - p) < 1e-9:
        raise ValueError("the two eyes are at the same position")
    a = (q2 - p2) / (q - p)  # rotation and scale as one complex factor
    b = p2 - a * p
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)


def align_on_eyes(
    image: np.ndarray, left: Point, right: Point, left_to: Point, right_to: Point, size: int
) -> np.ndarray:
    """Rotate, scale and translate ``image`` so the pupils land on the canonical points.

    image : (H, W) uint8; left/right : pupil positions in ``image`` (left = smaller x);
    left_to/right_to : their positions in the (size, size) output. When the output is much
    smaller than the face, the region around the eyes is first reduced with area averaging
    (``cv2.warpAffine`` alone would alias). Returns (size, size) uint8.
    """
    scale = math.dist(left_to, right_to) / max(math.dist(left, right), 1e-9)
    if scale < 0.5:
        # Reduce the neighbourhood of the output window first, then warp at scale ~1.
        centre = ((left[0] + right[0]) / 2.0, (left[1] + right[1]) / 2.0)
        side = 2.0 * size / scale  # covers the output window at any rotation
        box = (centre[0] - side / 2.0, centre[1] - side / 2.0, side, side)
        x0, y0 = math.floor(box[0]), math.floor(box[1])
        n = int(math.ceil(side)) + 1
        reduced_side = max(2, int(round(n * scale)))
        region = crop_resize(image, (x0, y0, n, n), reduced_side)
        k = reduced_side / n  # actual reduction factor

        # cv2.resize maps pixel centres as x' = (x + 0.5) * k - 0.5
        def to_region(pt: Point) -> Point:
            return (pt[0] - x0 + 0.5) * k - 0.5, (pt[1] - y0 + 0.5) * k - 0.5

        image, left, right = region, to_region(left), to_region(right)
    matrix = similarity_from_eyes(left, right, left_to, right_to)
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, s, s) uint8 -> (N, size, size) uint8 (area interpolation when shrinking)."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    shrink = images.shape[1] > size
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = np.empty((images.shape[0], size, size), dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = cv2.resize(img, (size, size), interpolation=interp)
    return out
