"""Sampling the frames of a video clip with PyAV (FFmpeg): every frame is decoded, one is
kept every ``1 / fps`` seconds of presentation time, up to ``max_frames``.

Used by ``preprocess-faces`` for AFEW / RAVDESS clips and by ``emocli predict`` on new clips.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocli.media import MediaDecodeError, open_media
from emocli.stage_params.faces import DEFAULT_FPS

#: Presentation times within this many seconds of a sampling instant count as on time.
TIME_TOLERANCE = 1e-3
#: PyAV pixel formats for the two kinds of frame arrays we hand out.
PIXEL_FORMATS = {"grey": "gray", "bgr": "bgr24"}


class VideoDecodeError(MediaDecodeError):
    """A clip cannot be used; ``reason`` is the short text stored in ``rejects/``."""


@dataclass(frozen=True)
class Frame:
    """One sampled frame.

    index : position of the frame in the clip (0-based, decoding order).
    time : presentation time, seconds from the start of the stream.
    image : (H, W) uint8 grey or (H, W, 3) uint8 BGR.
    """

    index: int
    time: float
    image: np.ndarray


def iter_frames(
    path: Path | str,
    fps: float = DEFAULT_FPS,
    max_frames: int = 0,
    colour: str = "grey",
    threads: int = 1,
) -> Iterator[Frame]:
    """Yield the sampled frames of the first video stream of ``path``, in time order.

    fps : frames kept per second of video (``<= 0``: every frame).
    max_frames : stop after this many (``0``: no limit).
    colour : ``grey`` ((H, W) arrays) or ``bgr`` ((H, W, 3) arrays).
    threads : FFmpeg decoding threads (1 where files are decoded in parallel processes).
    Raises :class:`VideoDecodeError` if the file cannot be opened or has no video stream; a
    decoding error after some frames ends the clip there (the frames so far are kept).
    """
    import av

    if colour not in PIXEL_FORMATS:
        raise ValueError(f"colour must be one of {sorted(PIXEL_FORMATS)}")
    path = Path(path)
    with open_media(path, VideoDecodeError, "video") as container:
        if not container.streams.video:
            raise VideoDecodeError(path, "no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = max(1, threads)
        if threads > 1:
            stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25.0)
        step = 1.0 / fps if fps > 0 else 0.0
        next_time: float | None = None
        kept = 0
        frames: Iterator[Any] = container.decode(stream)
        index = -1
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except (av.FFmpegError, ValueError, OSError):
                break  # a damaged tail: keep what was decoded
            index += 1
            time = float(frame.time) if frame.time is not None else index / rate
            if next_time is None:
                next_time = time
            if time + TIME_TOLERANCE < next_time:
                continue
            yield Frame(index, time, frame.to_ndarray(format=PIXEL_FORMATS[colour]))
            kept += 1
            if max_frames and kept >= max_frames:
                break
            while step and next_time <= time + TIME_TOLERANCE:
                next_time += step


def video_rate(path: Path | str) -> tuple[float, int]:
    """(frames per second, number of frames or 0 when unknown) of the first video stream.

    Raises :class:`VideoDecodeError` if the file cannot be opened or has no video stream.
    """
    path = Path(path)
    with open_media(path, VideoDecodeError, "video") as container:
        if not container.streams.video:
            raise VideoDecodeError(path, "no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25.0)
        frames = int(stream.frames or 0)
        if not frames and stream.duration and stream.time_base:
            frames = round(float(stream.duration * stream.time_base) * rate)
        return rate, frames


def sample_frames(
    path: Path | str, fps: float = DEFAULT_FPS, max_frames: int = 0, colour: str = "grey"
) -> list[Frame]:
    """All sampled frames of a clip (see :func:`iter_frames`).

    Raises :class:`VideoDecodeError` when no frame at all can be decoded.
    """
    frames = list(iter_frames(path, fps, max_frames, colour))
    if not frames:
        raise VideoDecodeError(path, "no decodable frames")
    return frames
