"""Scenes: a background, a posed face layer over it, lighting, camera blur and noise."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emocli.demo.appearance import BGR
from emocli.demo.faces import FaceLayer

#: Largest in-plane head rotation of a clip, degrees.
MAX_ROLL_DEG = 10.0
#: Largest head shift of a clip, as a fraction of the frame side.
MAX_SHIFT = 0.05
#: Range of head scale factors.
SCALE_RANGE = (0.88, 1.08)
#: Amplitude of the head's sway within a clip: degrees, and fraction of the frame side.
SWAY_DEG = 2.5
SWAY_SHIFT = 0.012
#: Range of the sensor noise's standard deviation, grey levels (0..255).
NOISE_STD = (1.0, 3.5)
#: Range of the lighting gradient's strength (brightness change across the frame).
LIGHT_GRADIENT = (0.0, 0.45)
#: Range of the overall exposure factor.
EXPOSURE = (0.7, 1.15)


@dataclass(frozen=True)
class BackgroundStyle:
    """A movie's look: two gradient colours and a palette for clutter (BGR 0..255)."""

    top: BGR
    bottom: BGR
    palette: tuple[BGR, ...]
    clutter: int


@dataclass(frozen=True)
class Pose:
    """A head pose: roll in degrees, shift in pixels (x, y), scale factor."""

    roll: float
    shift: tuple[float, float]
    scale: float


@dataclass(frozen=True)
class Camera:
    """A clip's lighting and sensor: gradient direction (unit vector) and strength,
    exposure factor, blur sigma (pixels) and noise std (grey levels)."""

    light_dir: tuple[float, float]
    light_strength: float
    exposure: float
    blur_sigma: float
    noise_std: float


def _colour(rng: np.random.Generator, low: int = 20, high: int = 235) -> BGR:
    c = rng.integers(low, high, 3)
    return (int(c[0]), int(c[1]), int(c[2]))


def sample_style(rng: np.random.Generator) -> BackgroundStyle:
    """A random movie look."""
    palette = tuple(_colour(rng) for _ in range(5))
    return BackgroundStyle(
        top=_colour(rng, 40, 220),
        bottom=_colour(rng, 20, 180),
        palette=palette,
        clutter=int(rng.integers(3, 12)),
    )


def sample_pose(size: int, rng: np.random.Generator) -> Pose:
    """A clip's base head pose on a ``size``-pixel frame."""
    shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, 2) * size
    return Pose(
        roll=float(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG)),
        shift=(float(shift[0]), float(shift[1])),
        scale=float(rng.uniform(*SCALE_RANGE)),
    )


def sample_camera(rng: np.random.Generator) -> Camera:
    """A clip's lighting and sensor."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return Camera(
        light_dir=(float(np.cos(angle)), float(np.sin(angle))),
        light_strength=float(rng.uniform(*LIGHT_GRADIENT)),
        exposure=float(rng.uniform(*EXPOSURE)),
        blur_sigma=float(rng.uniform(0.4, 1.1)),
        noise_std=float(rng.uniform(*NOISE_STD)),
    )


def sway(pose: Pose, size: int, n_frames: int, rng: np.random.Generator) -> list[Pose]:
    """The head's slow motion over a clip: one :class:`Pose` per frame around ``pose``."""
    t = np.arange(n_frames, dtype=np.float64)
    freq = rng.uniform(0.01, 0.04, 3)  # cycles per frame
    phase = rng.uniform(0.0, 2.0 * np.pi, 3)
    roll = pose.roll + SWAY_DEG * np.sin(2 * np.pi * freq[0] * t + phase[0])
    dx = pose.shift[0] + SWAY_SHIFT * size * np.sin(2 * np.pi * freq[1] * t + phase[1])
    dy = pose.shift[1] + SWAY_SHIFT * size * np.sin(2 * np.pi * freq[2] * t + phase[2])
    return [
        Pose(roll=float(r), shift=(float(x), float(y)), scale=pose.scale)
        for r, x, y in zip(roll, dx, dy, strict=True)
    ]


def render_background(style: BackgroundStyle, size: int, rng: np.random.Generator) -> np.ndarray:
    """A cluttered, slightly defocused background, (size, size, 3) float32 BGR 0..255."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    top = np.array(style.top, np.float32)
    bottom = np.array(style.bottom, np.float32)
    img = np.ascontiguousarray(np.broadcast_to(top + (bottom - top) * ramp, (size, size, 3)))
    for _ in range(style.clutter):
        colour = style.palette[int(rng.integers(len(style.palette)))]
        x, y = (int(v) for v in rng.integers(0, size, 2))
        w, h = (int(v) for v in rng.integers(size // 12, size // 3, 2))
        kind = int(rng.integers(3))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), w // 2, colour, -1)
        else:
            cv2.line(img, (x, y), (x + w, y - h), colour, int(rng.integers(1, 5)))
    sigma = float(rng.uniform(1.0, 3.0))
    return cv2.GaussianBlur(img, (0, 0), sigma)


def light_field(camera: Camera, size: int) -> np.ndarray:
    """Brightness factor per pixel, (size, size, 3) float32: exposure x linear gradient."""
    coords = (np.arange(size, dtype=np.float32) - size / 2) / size
    gx, gy = camera.light_dir
    field = 1.0 + camera.light_strength * (gx * coords[None, :] + gy * coords[:, None])
    return np.repeat((camera.exposure * field)[..., None], 3, axis=2).astype(np.float32)


@dataclass(frozen=True)
class Shot:
    """What stays fixed over a clip.

    lit_background : (S, S, 3) float32 BGR 0..255, the background under the clip's light
    light : (S, S, 3) float32 brightness factor
    noise : (S + NOISE_MARGIN, S + NOISE_MARGIN, 3) float32 sensor noise; each frame takes
        a randomly placed (S, S) window of it
    blur_sigma : camera blur, pixels
    """

    lit_background: np.ndarray
    light: np.ndarray
    noise: np.ndarray
    blur_sigma: float


#: Extra rows and columns of the noise bank, from which per-frame windows are cut.
NOISE_MARGIN = 32


def make_shot(style: BackgroundStyle, size: int, rng: np.random.Generator) -> Shot:
    """A clip's background, lighting and sensor, on a ``size``-pixel square frame."""
    background = render_background(style, size, rng)
    camera = sample_camera(rng)
    light = light_field(camera, size)
    side = size + NOISE_MARGIN
    noise = rng.standard_normal((side, side, 3), dtype=np.float32) * np.float32(camera.noise_std)
    return Shot(
        lit_background=background * light, light=light, noise=noise, blur_sigma=camera.blur_sigma
    )


def compose(
    shot: Shot, face: np.ndarray, layer: FaceLayer, pose: Pose, rng: np.random.Generator
) -> np.ndarray:
    """One camera frame: ``face`` posed by ``pose`` over the shot's background.

    face : (S, S, 3) uint8 BGR canonical face (``layer`` supplies its alpha and head centre).
    Returns (S, S, 3) uint8 BGR.
    """
    size = shot.light.shape[0]
    g = layer.geometry
    matrix = cv2.getRotationMatrix2D((g.cx, g.cy), pose.roll, pose.scale)
    matrix[:, 2] += np.asarray(pose.shift)
    warped = cv2.warpAffine(face, matrix, (size, size), flags=cv2.INTER_LINEAR).astype(np.float32)
    alpha = cv2.warpAffine(layer.alpha, matrix, (size, size), flags=cv2.INTER_LINEAR)
    # lit background + alpha * (lit face - lit background)
    frame = cv2.subtract(cv2.multiply(warped, shot.light), shot.lit_background)
    frame = cv2.add(cv2.multiply(frame, cv2.merge([alpha, alpha, alpha])), shot.lit_background)
    frame = cv2.GaussianBlur(frame, (0, 0), shot.blur_sigma)
    dx, dy = (int(v) for v in rng.integers(0, NOISE_MARGIN + 1, 2))
    frame = cv2.add(frame, shot.noise[dy : dy + size, dx : dx + size])
    return np.clip(frame, 0, 255, out=frame).astype(np.uint8)
