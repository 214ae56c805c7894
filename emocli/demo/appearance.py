"""Who is in the picture: an actor's face (shape, colours) and where its parts sit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A colour, blue-green-red, each 0..255.
BGR = tuple[int, int, int]

#: Head half-width and half-height as fractions of the canvas side (before identity scaling).
HEAD_HALF_WIDTH = 0.29
HEAD_HALF_HEIGHT = 0.37
#: Head centre, as fractions of the canvas side.
HEAD_CENTRE = (0.5, 0.47)

#: Skin tones, BGR 0..255, from light to dark.
SKIN_TONES: tuple[BGR, ...] = (
    (190, 205, 240), (170, 190, 230), (150, 175, 220), (120, 150, 200), (95, 125, 175),
    (75, 100, 150), (60, 80, 120),
)  # fmt: skip
#: Hair colours, BGR: black, dark brown, brown, auburn, blond, grey.
HAIR_COLOURS: tuple[BGR, ...] = (
    (25, 25, 30), (30, 40, 60), (45, 65, 100), (40, 60, 130), (90, 150, 190), (150, 150, 150),
)  # fmt: skip
#: Iris colours, BGR: dark brown, brown, hazel, green, blue, grey.
IRIS_COLOURS: tuple[BGR, ...] = (
    (20, 35, 60), (30, 55, 95), (40, 90, 110), (60, 110, 70), (150, 110, 60), (120, 120, 110),
)  # fmt: skip
#: Shirt colours, BGR.
SHIRT_COLOURS: tuple[BGR, ...] = (
    (40, 40, 40), (160, 80, 30), (40, 40, 140), (200, 200, 200), (60, 120, 60), (100, 60, 120),
)  # fmt: skip
#: Hair is at most this fraction of the skin's brightness (a forehead lighter than the hair).
HAIR_CONTRAST = 0.7


@dataclass(frozen=True)
class Appearance:
    """An actor's face, independent of expression and pose.

    Scales are unitless factors; colours are BGR 0..255; ``hair_style`` is 0 short,
    1 long (hair down the sides of the face), 2 receding (high hairline).
    """

    width: float
    height: float
    skin: BGR
    hair: BGR
    hair_style: int
    hairline: float
    iris: BGR
    shirt: BGR
    eye_spacing: float
    eye_size: float
    brow_thickness: float
    nose_length: float
    mouth_size: float
    lip_redness: float
    gaze: tuple[float, float]


@dataclass(frozen=True)
class FaceGeometry:
    """Pixel positions of the face's parts in the canonical layer (x right, y down)."""

    cx: float
    cy: float
    a: float  # head half-width
    b: float  # head half-height
    eye_y: float
    eye_dx: float  # eye centre's distance from the midline
    eye_w: float  # eye half-width
    eye_h: float  # eye half-height, neutral
    nose_y: float
    mouth_y: float
    mouth_w: float  # mouth half-width, neutral


def _jitter(colour: BGR, rng: np.random.Generator, spread: float) -> BGR:
    """``colour`` with each channel moved by up to +-``spread`` (clipped to 0..255)."""
    moved = np.clip(np.array(colour) + rng.uniform(-spread, spread, 3), 0, 255)
    return (int(moved[0]), int(moved[1]), int(moved[2]))


def _pick(options: tuple[BGR, ...], rng: np.random.Generator) -> BGR:
    """One of ``options``, uniformly."""
    return options[int(rng.integers(len(options)))]


def _luma(bgr: BGR) -> float:
    """Perceived brightness of a BGR colour, 0..255 (ITU-R BT.601 weights)."""
    return 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2]


def _darker_than(colour: BGR, reference: BGR, ratio: float) -> BGR:
    """``colour`` scaled down, if needed, to at most ``ratio`` x the brightness of ``reference``."""
    factor = min(1.0, ratio * _luma(reference) / max(_luma(colour), 1.0))
    return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """A random identity: head shape, skin, hair, eyes, nose, mouth."""
    skin = _jitter(_pick(SKIN_TONES, rng), rng, 12)
    return Appearance(
        width=float(rng.uniform(0.9, 1.08)),
        height=float(rng.uniform(0.93, 1.07)),
        skin=skin,
        hair=_darker_than(_jitter(_pick(HAIR_COLOURS, rng), rng, 10), skin, HAIR_CONTRAST),
        hair_style=int(rng.integers(3)),
        hairline=float(rng.uniform(0.5, 0.65)),
        iris=_jitter(_pick(IRIS_COLOURS, rng), rng, 10),
        shirt=_jitter(_pick(SHIRT_COLOURS, rng), rng, 25),
        eye_spacing=float(rng.uniform(0.36, 0.42)),
        eye_size=float(rng.uniform(0.19, 0.23)),
        brow_thickness=float(rng.uniform(0.22, 0.34)),
        nose_length=float(rng.uniform(0.9, 1.1)),
        mouth_size=float(rng.uniform(0.33, 0.41)),
        lip_redness=float(rng.uniform(0.0, 1.0)),
        gaze=(float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.08, 0.08))),
    )


def face_geometry(app: Appearance, size: int) -> FaceGeometry:
    """Where ``app``'s face parts sit on a ``size`` x ``size`` canonical canvas, pixels."""
    a = HEAD_HALF_WIDTH * size * app.width
    b = HEAD_HALF_HEIGHT * size * app.height
    cx, cy = HEAD_CENTRE[0] * size, HEAD_CENTRE[1] * size
    eye_y = cy - 0.12 * b
    return FaceGeometry(
        cx=cx,
        cy=cy,
        a=a,
        b=b,
        eye_y=eye_y,
        eye_dx=app.eye_spacing * a,
        eye_w=app.eye_size * a,
        eye_h=0.45 * app.eye_size * a,
        nose_y=eye_y + 0.42 * b * app.nose_length,
        mouth_y=cy + 0.52 * b,
        mouth_w=app.mouth_size * a,
    )
