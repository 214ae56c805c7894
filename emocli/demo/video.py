"""Writing clips as MP4 (H.264 video + AAC audio) with PyAV, byte for byte reproducibly."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream

#: Video codecs to try, best first (PyAV's wheels normally ship libx264).
VIDEO_CODECS: tuple[str, ...] = ("libx264", "mpeg4")
#: Codec options per video codec: constant quality, one thread, reproducible output.
#: x264's macroblock-tree rate control (``mbtree``) makes its SIMD build give different bytes
#: from run to run on some CPUs (seen with AVX-512), so it is off.
VIDEO_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {
        "crf": "23",
        "preset": "veryfast",
        "threads": "1",
        "flags": "+bitexact",
        "x264-params": "mbtree=0",
    },
    "mpeg4": {"qscale": "4", "threads": "1", "flags": "+bitexact"},
}
AUDIO_CODEC = "aac"
#: The "fast" AAC coder is three times quicker than the default and as good at this rate.
AUDIO_OPTIONS = {"aac_coder": "fast", "flags": "+bitexact"}
AUDIO_BIT_RATE = 48_000
#: Container options: no creation time, no encoder version strings.
CONTAINER_OPTIONS = {"fflags": "+bitexact", "movflags": "+faststart"}


def video_codec() -> str:
    """The first of :data:`VIDEO_CODECS` this PyAV build can encode."""
    for name in VIDEO_CODECS:
        if name in av.codecs_available:
            return name
    raise RuntimeError(f"PyAV can encode none of {VIDEO_CODECS}")


def write_clip(
    path: Path, frames: Sequence[np.ndarray], audio: np.ndarray, fps: int, sample_rate: int
) -> None:
    """Write one clip: stream 0 video, stream 1 audio.

    frames : (H, W, 3) uint8 BGR images (at least one), played at ``fps`` frames per second
    audio : (n,) float32 mono in [-1, 1] at ``sample_rate`` Hz, as long as the video
    """
    codec = video_codec()
    with av.open(str(path), mode="w", format="mp4", options=CONTAINER_OPTIONS) as container:
        video = cast(
            VideoStream, container.add_stream(codec, rate=fps, options=VIDEO_OPTIONS[codec])
        )
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = Fraction(1, fps)
        sound = cast(
            AudioStream, container.add_stream(AUDIO_CODEC, rate=sample_rate, options=AUDIO_OPTIONS)
        )
        sound.layout = "mono"
        sound.bit_rate = AUDIO_BIT_RATE
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="bgr24")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        _encode_audio(container, sound, audio, sample_rate)


def _encode_audio(
    container: OutputContainer, stream: AudioStream, audio: np.ndarray, sample_rate: int
) -> None:
    """Encode (n,) float32 mono ``audio`` into ``stream`` and flush it."""
    samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
