"""Procedural faces: an actor's head (skin, shading, hair) and an expression drawn on it.

Everything is drawn in a *canonical* face layer: an upright, centred head on a transparent
square canvas of the frame's size. :mod:`emocli.demo.scene` then poses that layer (rotation,
shift, scale) over a background. The shading (dark eye sockets and mouth, light forehead,
cheeks and nose bridge) is what makes OpenCV's Haar cascades find these faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emocli.demo.appearance import BGR, Appearance, FaceGeometry, face_geometry
from emocli.demo.expressions import Expression

#: Sub-pixel precision of the cv2 drawing calls (coordinates are multiplied by 2**SHIFT).
SHIFT = 4
_SCALE = 1 << SHIFT
SCLERA_BGR = (225, 232, 238)
TEETH_BGR = (205, 222, 230)
MOUTH_INSIDE_BGR = (30, 30, 60)


@dataclass
class FaceLayer:
    """A face on a transparent canvas.

    colour : (S, S, 3) uint8 BGR
    alpha : (S, S) float32 in [0, 1]
    hair : (S, S) float32 in [0, 1], the hair over the forehead (wrinkles stay under it)
    geometry : where the parts are, pixels
    """

    colour: np.ndarray
    alpha: np.ndarray
    hair: np.ndarray
    geometry: FaceGeometry


def _pt(x: float, y: float) -> tuple[int, int]:
    """A point in cv2's fixed-point sub-pixel coordinates (see :data:`SHIFT`)."""
    return (int(round(x * _SCALE)), int(round(y * _SCALE)))


def _poly(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Points as an (N, 1, 2) int32 array in fixed-point coordinates, for cv2.fillPoly."""
    return np.round(np.stack([xs, ys], axis=1) * _SCALE).astype(np.int32).reshape(-1, 1, 2)


def _ellipse_mask(size: int, centre: tuple[float, float], axes: tuple[float, float]) -> np.ndarray:
    """An anti-aliased filled ellipse, (size, size) float32 in [0, 1]."""
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, _pt(*centre), _pt(*axes), 0, 0, 360, 255, -1, cv2.LINE_AA, SHIFT)
    return mask.astype(np.float32) / 255.0


def _blob(xx: np.ndarray, yy: np.ndarray, x: float, y: float, sx: float, sy: float) -> np.ndarray:
    """An unnormalised 2-D Gaussian bump of peak 1 at (x, y), std (sx, sy) pixels."""
    return np.exp(-0.5 * (((xx - x) / sx) ** 2 + ((yy - y) / sy) ** 2))


def _skin_shading(g: FaceGeometry, size: int) -> np.ndarray:
    """Brightness factor of the skin, (size, size) float32 around 1.

    Darker towards the head's outline, in the eye sockets, beside and under the nose and
    under the lower lip; lighter on the forehead, nose bridge and cheeks.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r2 = ((xx - g.cx) / g.a) ** 2 + ((yy - g.cy) / g.b) ** 2
    shade = 1.08 - 0.35 * np.clip(r2, 0.0, 1.0) ** 1.5
    for side in (-1.0, 1.0):
        ex = g.cx + side * g.eye_dx
        shade -= 0.38 * _blob(xx, yy, ex, g.eye_y - 0.15 * g.eye_w, 1.1 * g.eye_w, 0.75 * g.eye_w)
        shade -= 0.12 * _blob(
            xx, yy, g.cx + side * 0.17 * g.a, g.nose_y - 0.12 * g.b, 0.05 * g.a, 0.16 * g.b
        )
        shade += 0.10 * _blob(
            xx, yy, g.cx + side * 0.5 * g.a, g.nose_y + 0.05 * g.b, 0.18 * g.a, 0.12 * g.b
        )
    shade += 0.10 * _blob(xx, yy, g.cx, g.eye_y - 0.45 * g.b, 0.45 * g.a, 0.15 * g.b)
    shade += 0.14 * _blob(xx, yy, g.cx, (g.eye_y + g.nose_y) / 2, 0.08 * g.a, 0.2 * g.b)
    shade -= 0.22 * _blob(xx, yy, g.cx, g.nose_y + 0.06 * g.b, 0.16 * g.a, 0.035 * g.b)
    shade -= 0.12 * _blob(xx, yy, g.cx, g.mouth_y + 0.2 * g.b, 0.2 * g.a, 0.05 * g.b)
    return shade.astype(np.float32)


def _hair_masks(app: Appearance, g: FaceGeometry, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The hair behind the head and the hair over the forehead, each (size, size) float32."""
    behind = np.zeros((size, size), np.float32)
    if app.hair_style == 1:
        behind = _ellipse_mask(size, (g.cx, g.cy + 0.2 * g.b), (1.22 * g.a, 1.15 * g.b))
    cap = _ellipse_mask(size, (g.cx, g.cy - 0.04 * g.b), (1.07 * g.a, 1.04 * g.b))
    hairline = app.hairline + (0.15 if app.hair_style == 2 else 0.0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # the hairline is a parabola, lower at the temples than in the middle
    line_y = g.cy - hairline * g.b + 0.35 * g.b * ((xx - g.cx) / g.a) ** 2
    above = np.clip(line_y - yy + 0.5, 0.0, 1.0)
    return behind, cap * above


def render_head(app: Appearance, size: int) -> FaceLayer:
    """The expression-free part of ``app``'s face: hair, neck, ears and shaded skin.

    Returns a :class:`FaceLayer` on a ``size`` x ``size`` canvas (colour uint8 BGR, alpha
    float32); eyes, brows and mouth are drawn on a copy per frame by :func:`draw_expression`.
    """
    g = face_geometry(app, size)
    skin = np.array(app.skin, np.float32)
    colour = np.zeros((size, size, 3), np.float32)
    alpha = np.zeros((size, size), np.float32)

    def paint(mask: np.ndarray, bgr: np.ndarray) -> None:
        colour[:] = colour * (1 - mask[..., None]) + bgr * mask[..., None]
        alpha[:] = np.maximum(alpha, mask)

    behind, cap = _hair_masks(app, g, size)
    hair = np.array(app.hair, np.float32)
    paint(behind, hair * 0.8)
    shirt = _ellipse_mask(size, (g.cx, g.cy + 1.75 * g.b), (2.1 * g.a, 0.75 * g.b))
    paint(shirt, np.array(app.shirt, np.float32))
    neck = np.zeros((size, size), np.uint8)
    neck_pts = _poly(
        np.array([g.cx - 0.5 * g.a, g.cx + 0.5 * g.a, g.cx + 0.55 * g.a, g.cx - 0.55 * g.a]),
        np.array([g.cy + 0.5 * g.b, g.cy + 0.5 * g.b, g.cy + 1.25 * g.b, g.cy + 1.25 * g.b]),
    )
    cv2.fillPoly(neck, [neck_pts], 255, cv2.LINE_AA, SHIFT)
    paint(neck.astype(np.float32) / 255.0, skin * 0.62)
    for side in (-1.0, 1.0):
        ear = _ellipse_mask(
            size, (g.cx + side * 0.97 * g.a, g.eye_y + 0.15 * g.b), (0.13 * g.a, 0.22 * g.b)
        )
        paint(ear, skin * 0.8)
    head = _ellipse_mask(size, (g.cx, g.cy), (g.a, g.b))
    shaded = skin[None, None, :] * _skin_shading(g, size)[..., None]
    colour[:] = colour * (1 - head[..., None]) + shaded * head[..., None]
    alpha[:] = np.maximum(alpha, head)
    paint(cap, hair)
    out = np.clip(colour, 0, 255).astype(np.uint8)
    _draw_nose(out, app, g)
    return FaceLayer(colour=out, alpha=alpha, hair=cap, geometry=g)


def _shade(app: Appearance, factor: float) -> BGR:
    """The skin colour darkened (factor < 1) or lightened, BGR 0..255."""
    b, g, r = (min(255, int(c * factor)) for c in app.skin)
    return (b, g, r)


def _draw_nose(img: np.ndarray, app: Appearance, g: FaceGeometry) -> None:
    """Nostrils and the nose tip's highlight, in place on a (S, S, 3) uint8 BGR image."""
    for side in (-1.0, 1.0):
        cv2.ellipse(
            img,
            _pt(g.cx + side * 0.09 * g.a, g.nose_y),
            _pt(0.055 * g.a, 0.03 * g.a),
            side * 20,
            0,
            360,
            _shade(app, 0.35),
            -1,
            cv2.LINE_AA,
            SHIFT,
        )
    cv2.ellipse(
        img,
        _pt(g.cx, g.nose_y - 0.05 * g.b),
        _pt(0.06 * g.a, 0.04 * g.a),
        0,
        0,
        360,
        _shade(app, 1.12),
        -1,
        cv2.LINE_AA,
        SHIFT,
    )


def draw_expression(layer: FaceLayer, app: Appearance, expr: Expression) -> np.ndarray:
    """A copy of ``layer.colour`` with eyes, brows, mouth and wrinkles showing ``expr``.

    Returns (S, S, 3) uint8 BGR; ``layer`` is not modified.
    """
    img = layer.colour.copy()
    g = layer.geometry
    if _draw_wrinkles(img, app, g, expr):
        _restore_hair(img, layer)
    for side in (-1.0, 1.0):
        _draw_eye(img, app, g, expr, side)
        _draw_brow(img, app, g, expr, side)
    _draw_mouth(img, app, g, expr)
    return img


def _restore_hair(img: np.ndarray, layer: FaceLayer) -> None:
    """Put the forehead's hair back over wrinkles drawn across it, in place."""
    g = layer.geometry
    top, bottom = max(0, int(g.cy - g.b) - 2), int(g.eye_y)
    rows = slice(top, bottom)
    hair = layer.hair[rows, :, None]
    img[rows] = (layer.colour[rows] * hair + img[rows] * (1.0 - hair)).astype(np.uint8)


def _draw_eye(
    img: np.ndarray, app: Appearance, g: FaceGeometry, expr: Expression, side: float
) -> None:
    """One eye (sclera, iris, pupil, lids), in place; ``side`` -1 left, +1 right."""
    ex, ey = g.cx + side * g.eye_dx, g.eye_y
    half_h = g.eye_h * float(np.clip(1.0 + expr.eye_open, 0.2, 1.8))
    x0, y0 = int(ex - g.eye_w) - 2, int(ey - g.eye_w) - 2
    x1, y1 = int(ex + g.eye_w) + 3, int(ey + g.eye_w) + 3
    roi = img[y0:y1, x0:x1]
    local = (ex - x0, ey - y0)
    drawn = roi.copy()
    cv2.ellipse(
        drawn, _pt(*local), _pt(g.eye_w, half_h), 0, 0, 360, SCLERA_BGR, -1, cv2.LINE_AA, SHIFT
    )
    iris_r = 0.5 * g.eye_w
    iris_c = (local[0] + app.gaze[0] * g.eye_w, local[1] + app.gaze[1] * g.eye_w)
    cv2.circle(drawn, _pt(*iris_c), int(iris_r * _SCALE), app.iris, -1, cv2.LINE_AA, SHIFT)
    cv2.circle(
        drawn, _pt(*iris_c), int(0.5 * iris_r * _SCALE), (10, 10, 10), -1, cv2.LINE_AA, SHIFT
    )
    cv2.circle(
        drawn,
        _pt(iris_c[0] + 0.3 * iris_r, iris_c[1] - 0.3 * iris_r),
        max(1, int(0.18 * iris_r * _SCALE)),
        (240, 240, 240),
        -1,
        cv2.LINE_AA,
        SHIFT,
    )
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.ellipse(mask, _pt(*local), _pt(g.eye_w, half_h), 0, 0, 360, 255, -1, cv2.LINE_AA, SHIFT)
    m = mask.astype(np.float32)[..., None] / 255.0
    roi[:] = (drawn * m + roi * (1 - m)).astype(np.uint8)
    lid = max(1, int(round(0.16 * g.eye_w)))
    cv2.ellipse(
        img, _pt(ex, ey), _pt(g.eye_w, half_h), 0, 180, 360, (20, 20, 25), lid, cv2.LINE_AA, SHIFT
    )
    cv2.ellipse(
        img, _pt(ex, ey), _pt(g.eye_w, half_h), 0, 0, 180, _shade(app, 0.65), 1, cv2.LINE_AA, SHIFT
    )
    cv2.ellipse(
        img,
        _pt(ex, ey - 0.35 * half_h),
        _pt(1.05 * g.eye_w, 1.25 * half_h),
        0,
        200,
        340,
        _shade(app, 0.7),
        1,
        cv2.LINE_AA,
        SHIFT,
    )


def _draw_brow(
    img: np.ndarray, app: Appearance, g: FaceGeometry, expr: Expression, side: float
) -> None:
    """One eyebrow, in place: raised/lowered by ``brow_raise``, tilted by ``brow_tilt``."""
    ex = g.cx + side * g.eye_dx
    base_y = g.eye_y - 1.05 * g.eye_w - expr.brow_raise * 0.4 * g.eye_w
    inner_y = base_y - expr.brow_tilt * 0.4 * g.eye_w + 0.15 * g.eye_w
    outer_y = base_y + expr.brow_tilt * 0.15 * g.eye_w + 0.2 * g.eye_w
    t = np.linspace(0.0, 1.0, 7)
    xs = ex + side * (-1.05 + 2.25 * t) * g.eye_w
    arch = 0.3 * g.eye_w * np.sin(np.pi * t) * (1.0 - 0.5 * max(expr.brow_tilt, 0.0))
    ys = inner_y + (outer_y - inner_y) * t - arch
    brow = tuple(int(min(h, s * 0.5)) for h, s in zip(app.hair, app.skin, strict=True))
    thick = max(2, int(round(app.brow_thickness * g.eye_w)))
    cv2.polylines(img, [_poly(xs, ys)], False, brow, thick, cv2.LINE_AA, SHIFT)


def _draw_wrinkles(img: np.ndarray, app: Appearance, g: FaceGeometry, expr: Expression) -> bool:
    """Forehead lines (raised brows), nose wrinkles (disgust) and smile folds, in place.

    Returns whether forehead lines were drawn (they may cross the hair).
    """
    fold = max(expr.mouth_curve, 0.0) + 0.6 * expr.nose_wrinkle
    if fold > 0.15:
        colour = _shade(app, 1.0 - 0.3 * min(fold, 1.0))
        for side in (-1.0, 1.0):
            xs = g.cx + side * np.array([0.22, 0.32, 0.38, 0.4]) * g.a
            ys = np.array(
                [
                    g.nose_y - 0.05 * g.b,
                    g.nose_y + 0.12 * g.b,
                    g.nose_y + 0.25 * g.b,
                    g.mouth_y + 0.02 * g.b,
                ]
            )
            cv2.polylines(img, [_poly(xs, ys)], False, colour, 1, cv2.LINE_AA, SHIFT)
    if expr.nose_wrinkle > 0.2:
        colour = _shade(app, 1.0 - 0.3 * min(expr.nose_wrinkle, 1.0))
        for k in range(3):
            y = g.eye_y + (0.06 + 0.06 * k) * g.b
            cv2.line(
                img,
                _pt(g.cx - 0.1 * g.a, y),
                _pt(g.cx + 0.1 * g.a, y),
                colour,
                1,
                cv2.LINE_AA,
                SHIFT,
            )
    if expr.brow_raise > 0.4:
        colour = _shade(app, 1.0 - 0.25 * min(expr.brow_raise, 1.0))
        for k in range(3):
            y = g.eye_y - (0.45 + 0.09 * k) * g.b
            cv2.ellipse(
                img,
                _pt(g.cx, y + 0.2 * g.b),
                _pt(0.45 * g.a, 0.2 * g.b),
                0,
                240,
                300,
                colour,
                1,
                cv2.LINE_AA,
                SHIFT,
            )
        return True
    return False


def _lip_colour(app: Appearance) -> BGR:
    """Lips: the skin darkened and reddened by ``app.lip_redness``, BGR."""
    b, g, r = app.skin
    red = 0.15 + 0.25 * app.lip_redness
    return (int(b * (0.62 - red)), int(g * (0.6 - red)), int(min(255, r * 0.85)))


def _draw_mouth(img: np.ndarray, app: Appearance, g: FaceGeometry, expr: Expression) -> None:
    """Lips, mouth opening and teeth, in place, shaped by the mouth parameters of ``expr``."""
    half_w = g.mouth_w * (1.0 + float(np.clip(expr.mouth_width, -0.4, 0.4)))
    u = np.linspace(-1.0, 1.0, 21)
    xs = g.cx + u * half_w
    corner_lift = -float(np.clip(expr.mouth_curve, -1.2, 1.2)) * 0.38 * half_w
    raise_side = expr.lip_raise * 0.22 * half_w * np.clip(u, 0.0, 1.0)
    line = g.mouth_y + corner_lift * u**2 - raise_side
    jaw = float(np.clip(expr.mouth_open, 0.0, 1.3)) * 0.75 * half_w
    bottom_gap = line + jaw * (1.0 - u**2)
    upper = line - 0.2 * half_w * (1.0 - 0.7 * u**2) - raise_side * 0.5
    lower = bottom_gap + 0.28 * half_w * (1.0 - u**2) ** 0.7
    lips = _poly(np.concatenate([xs, xs[::-1]]), np.concatenate([upper, lower[::-1]]))
    cv2.fillPoly(img, [lips], _lip_colour(app), cv2.LINE_AA, SHIFT)
    if jaw > 0.6:
        inside = _poly(np.concatenate([xs, xs[::-1]]), np.concatenate([line, bottom_gap[::-1]]))
        cv2.fillPoly(img, [inside], MOUTH_INSIDE_BGR, cv2.LINE_AA, SHIFT)
        teeth_h = min(jaw, float(np.clip(expr.teeth, 0.0, 1.0)) * 0.3 * half_w)
        if teeth_h > 0.5:
            inner = np.abs(u) <= 0.8
            teeth = _poly(
                np.concatenate([xs[inner], xs[inner][::-1]]),
                np.concatenate([line[inner], (line + teeth_h * (1 - u**2))[inner][::-1]]),
            )
            cv2.fillPoly(img, [teeth], TEETH_BGR, cv2.LINE_AA, SHIFT)
    else:
        cv2.polylines(img, [_poly(xs, line)], False, _shade(app, 0.35), 1, cv2.LINE_AA, SHIFT)
