"""Decoding any media file's audio track to mono float32 at one sample rate (PyAV's FFmpeg)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocli.media import MediaDecodeError, ffmpeg_message, open_media
from emocli.stage_params.audio import SAMPLE_RATE

__all__ = [
    "SAMPLE_RATE",
    "AudioDecodeError",
    "DecodedAudio",
    "decode_audio",
    "decode_audio_clipped",
    "frame_to_channels",
    "resample",
]

#: Full scale of the integer sample formats FFmpeg decodes to (value that maps to 1.0).
_INT_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9.223372036854775808e18}


class AudioDecodeError(MediaDecodeError):
    """A file's audio cannot be used; ``reason`` is the short text stored in ``rejects/``."""


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded waveform (samples,) float32 in [-1, 1] and how many samples were clipped."""

    waveform: np.ndarray
    clipped: int = 0


def decode_audio(path: Path | str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 at ``sample_rate``, in [-1, 1].

    Any container and codec of the FFmpeg inside PyAV (wav, flac, mp3, ogg, m4a, avi, mp4,
    mkv, flv ...). Channels are averaged (an unweighted mean, unlike FFmpeg's downmix
    matrix); resampling is FFmpeg's swresample on the mono signal; samples beyond full
    scale (float files can hold any value) are clipped to [-1, 1], as a sound card would.

    Returns (samples,) float32. Raises :class:`AudioDecodeError` with a short reason for an
    empty or unreadable file, no audio stream, no samples, or samples that are NaN or
    infinite. :func:`decode_audio_clipped` also says how many samples were clipped.
    """
    return decode_audio_clipped(path, sample_rate).waveform


def decode_audio_clipped(path: Path | str, sample_rate: int = SAMPLE_RATE) -> DecodedAudio:
    """:func:`decode_audio`, with the number of samples clipped to [-1, 1]."""
    waveform = _decode_mono(Path(path), sample_rate)
    return DecodedAudio(*clip_to_full_scale(waveform))


def clip_to_full_scale(waveform: np.ndarray) -> tuple[np.ndarray, int]:
    """``waveform`` clipped to [-1, 1] and how many samples lay beyond (float32 stays float32)."""
    beyond = int(np.count_nonzero(np.abs(waveform) > 1.0))
    if beyond:
        waveform = np.clip(waveform, -1.0, 1.0).astype(waveform.dtype, copy=False)
    return waveform, beyond


def _decode_mono(path: Path, sample_rate: int) -> np.ndarray:
    """The first audio stream of ``path``, mono at ``sample_rate``, finite but not clipped."""
    import av

    with open_media(path, AudioDecodeError, "media") as container:
        if not container.streams.audio:
            raise AudioDecodeError(path, "no audio stream")
        stream = container.streams.audio[0]
        stream.codec_context.thread_count = 1  # parallelism is across files; threads cost here
        mono = _MonoResampler(sample_rate)
        try:
            for frame in container.decode(stream):
                mono.push(frame)
        except (av.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(
                path, f"decoding failed after {mono.seconds_in:.2f} s ({ffmpeg_message(exc)})"
            ) from exc
        waveform = mono.finish()
    if waveform.size == 0:
        raise AudioDecodeError(path, "audio stream has no samples")
    bad = int(np.count_nonzero(~np.isfinite(waveform)))
    if bad:
        raise AudioDecodeError(path, f"non-finite samples ({bad} NaN or Inf)")
    return waveform


def frame_to_channels(frame: Any) -> np.ndarray:
    """A decoded PyAV ``AudioFrame`` as (channels, samples) float32, integer formats scaled
    to [-1, 1] (float formats as stored: they may exceed it)."""
    fmt = frame.format
    name = fmt.name.rstrip("p")
    n_channels = len(frame.layout.channels)
    data = frame.to_ndarray()
    if not fmt.is_planar:
        data = data.reshape(-1, n_channels).T
    if name in ("flt", "dbl"):
        return data.astype(np.float32, copy=False)
    if name in _INT_SCALE:
        offset = 128.0 if name == "u8" else 0.0
        return ((data.astype(np.float64) - offset) / _INT_SCALE[name]).astype(np.float32)
    raise ValueError(f"unsupported sample format {fmt.name}")


class _MonoResampler:
    """Collects decoded frames as mono float32 and resamples them (swresample) on the fly."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.parts: list[np.ndarray] = []
        self.resampler: Any = None
        self.rate_in = 0
        self.seconds_in = 0.0

    def push(self, frame: Any) -> None:
        channels = frame_to_channels(frame)
        mono = channels[0] if channels.shape[0] == 1 else channels.mean(axis=0, dtype=np.float32)
        rate = int(frame.sample_rate)
        self.seconds_in += mono.size / max(rate, 1)
        if rate != self.rate_in:  # first frame, or the stream changed rate: start afresh
            self._flush()
            self.rate_in = rate
            self.resampler = None if rate == self.sample_rate else _swr(self.sample_rate)
        if self.resampler is None:
            self.parts.append(mono)
        else:
            self.parts.extend(_run_swr(self.resampler, mono, rate))

    def _flush(self) -> None:
        if self.resampler is not None:
            self.parts.extend(_run_swr(self.resampler, None, self.rate_in))
            self.resampler = None

    def finish(self) -> np.ndarray:
        self._flush()
        if not self.parts:
            return np.zeros(0, np.float32)
        return np.concatenate(self.parts).astype(np.float32, copy=False)


def _swr(rate_out: int) -> Any:
    import av

    return av.AudioResampler(format="flt", layout="mono", rate=rate_out)


def _run_swr(resampler: Any, mono: np.ndarray | None, rate_in: int) -> list[np.ndarray]:
    import av

    frame = None
    if mono is not None:
        if mono.size == 0:
            return []
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(mono[None, :]), format="flt", layout="mono"
        )
        frame.sample_rate = rate_in
    return [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]


def resample(waveform: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono waveform (samples,) with FFmpeg's swresample, as :func:`decode_audio` does."""
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if rate_in == rate_out:
        return waveform
    resampler = _swr(rate_out)
    parts = _run_swr(resampler, waveform, rate_in) + _run_swr(resampler, None, rate_in)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
