"""Facial expressions as a handful of numbers, per class, and how they unfold in a clip.

An :class:`Expression` is a point in a small "action unit" space: 0 everywhere is a
neutral face, and each class has an apex (its full-intensity face). A clip moves from the
actor's resting face to ``intensity`` x the apex along a smooth onset curve.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class Expression:
    """Facial action parameters, all unitless, 0 = neutral.

    mouth_curve : -1 frown .. +1 smile (corners down / up)
    mouth_open : 0 closed .. 1 wide open (jaw drop)
    mouth_width : relative change of the mouth's width, -0.3 .. +0.3
    teeth : 0 .. 1, how much of the upper teeth show (happy, angry)
    brow_raise : -1 lowered .. +1 raised
    brow_tilt : -1 inner ends down (anger) .. +1 inner ends up (sadness, fear)
    eye_open : relative change of the eye opening, -0.6 (squint) .. +0.6 (wide)
    nose_wrinkle : 0 .. 1 (disgust)
    lip_raise : 0 .. 1, upper lip lifted on one side (disgust, contempt)
    """

    mouth_curve: float = 0.0
    mouth_open: float = 0.0
    mouth_width: float = 0.0
    teeth: float = 0.0
    brow_raise: float = 0.0
    brow_tilt: float = 0.0
    eye_open: float = 0.0
    nose_wrinkle: float = 0.0
    lip_raise: float = 0.0

    def as_array(self) -> np.ndarray:
        """The parameters as a (9,) float64 vector, in field order."""
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)

    @classmethod
    def from_array(cls, values: np.ndarray) -> Expression:
        """Inverse of :meth:`as_array`."""
        return cls(*(float(v) for v in values))


#: Each class's apex expression (intensity 1), after Ekman's prototypes; the values are
#: :class:`Expression`'s fields in order (mouth curve, open, width, teeth, brow raise, tilt,
#: eye open, nose wrinkle, lip raise).
APEX: dict[str, Expression] = {
    "Angry": Expression(-0.35, 0.15, -0.1, 0.6, -0.8, -1.0, 0.15),
    "Disgust": Expression(-0.5, 0.05, -0.05, 0.0, -0.5, -0.3, -0.4, 1.0, 1.0),
    "Fear": Expression(-0.3, 0.45, 0.25, 0.3, 0.6, 0.7, 0.5),
    "Happy": Expression(1.0, 0.3, 0.25, 1.0, 0.1, 0.0, -0.35),
    "Neutral": Expression(),
    "Sad": Expression(-0.8, 0.0, -0.1, 0.0, 0.0, 0.9, -0.3),
    "Surprise": Expression(0.0, 1.0, -0.25, 0.0, 1.0, 0.1, 0.6),
}
#: Spread of an actor's resting face around neutral (per field, same order).
RESTING_SPREAD = Expression(0.25, 0.04, 0.08, 0.0, 0.25, 0.25, 0.15)

#: Probability that a clip is a low-intensity (subtle, easily confused) one.
SUBTLE_PROBABILITY = 0.3
#: Apex intensity ranges of subtle and of ordinary clips.
SUBTLE_INTENSITY = (0.2, 0.45)
ORDINARY_INTENSITY = (0.55, 1.0)


def sample_resting(rng: np.random.Generator) -> Expression:
    """An actor's idiosyncratic resting face: neutral plus a Gaussian offset per parameter."""
    offset = rng.normal(0.0, 1.0, size=len(fields(Expression))) * RESTING_SPREAD.as_array()
    return Expression.from_array(offset)


def sample_intensity(rng: np.random.Generator) -> float:
    """A clip's apex intensity in [0.2, 1]: subtle with :data:`SUBTLE_PROBABILITY`."""
    low, high = SUBTLE_INTENSITY if rng.random() < SUBTLE_PROBABILITY else ORDINARY_INTENSITY
    return float(rng.uniform(low, high))


def onset_curve(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Expression weight per frame, (n_frames,) float64 in [0, 1]: a smooth rise to the apex.

    The rise (a logistic) is centred somewhere in the first half of the clip and takes
    0.1 to 0.4 of it; a clip may start already part-way expressive.
    """
    t = np.linspace(0.0, 1.0, n_frames)
    centre = rng.uniform(0.1, 0.5)
    width = rng.uniform(0.03, 0.1)
    start = rng.uniform(0.0, 0.3)
    rise = 1.0 / (1.0 + np.exp(-(t - centre) / width))
    return start + (1.0 - start) * rise


def blend(resting: Expression, apex: Expression, weight: float) -> Expression:
    """``resting + weight * apex``: the face at one moment of a clip."""
    return Expression.from_array(resting.as_array() + weight * apex.as_array())
