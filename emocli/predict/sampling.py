"""Which frames of a video ``emocli predict`` classifies, and how often it detects faces."""

from __future__ import annotations

from dataclasses import dataclass

from emocli.errors import InputError

__all__ = ["DETECT_RATE", "Sampling", "detection_step", "parse_fps"]

#: Face detections per second of video when frames are kept more often (``--detect-every 0``).
DETECT_RATE = 5.0


@dataclass(frozen=True)
class Sampling:
    """Which frames of a video are classified, and how often faces are detected.

    fps : frames per second kept (``0``: every frame; ``None``: the face model's training clips'
    rate and frame cap). detect_every : detect faces on every k-th kept frame, the frames
    between take the faces found around them (:func:`emocli.faces.track_frames`); ``0``:
    about :data:`DETECT_RATE` detections per second of video.
    """

    fps: float | None = None
    detect_every: int = 0

    def __post_init__(self) -> None:
        if self.fps is not None and self.fps < 0:
            raise InputError("--fps must be 'all' or a positive number of frames per second")
        if self.detect_every < 0:
            raise InputError("--detect-every must be >= 0 (0: automatic)")


def parse_fps(text: str | None) -> float | None:
    """``--fps``: ``all`` -> 0 (every frame), a number -> itself, None -> None (the model's)."""
    if text is None:
        return None
    if text.strip().lower() == "all":
        return 0.0
    try:
        fps = float(text)
    except ValueError:
        fps = -1.0
    if not fps > 0:
        raise InputError(f"--fps {text!r}: give 'all' or a positive number of frames per second")
    return fps


def detection_step(sampling: Sampling, kept_rate: float) -> int:
    """Frames between two face detections at a kept-frame rate of ``kept_rate`` per second:
    ``--detect-every``; else every frame at the model's own sampling (its training faces were
    detected on every sampled frame), and about :data:`DETECT_RATE` per second at a ``--fps``."""
    if sampling.detect_every:
        return sampling.detect_every
    if sampling.fps is None:
        return 1
    return max(1, round(kept_rate / DETECT_RATE))
