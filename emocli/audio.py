"""Pure signal functions for the audio path: decode, pad, pre-emphasis, log-mel, normalise, render.

The thesis's front end (seeds/001, section IV-A), every step a function here:

1. decode the audio track of any file FFmpeg reads (PyAV), average the channels to mono and
   resample to a fixed rate (:func:`decode_audio`);
2. zero-pad at the end, or centre-crop, to a common length (:func:`pad_or_crop`);
3. pre-emphasis ``y[t] = x[t] - a x[t-1]`` with ``x[-1] = 0`` (:func:`preemphasis`);
4. 25 ms Hamming frames every 10 ms, power spectrum, 40 mel bands, log in dB with librosa
   (:func:`log_mel`);
5. each spectrogram standardised by its own mean and std (:func:`normalise_each`), then by
   the training set's statistics (:class:`NormStats`, :func:`apply_stats`);
6. optionally rendered as a colour image for image networks (:func:`spectrogram_image`).

:func:`logmel_features` chains 2-5 for one waveform with the :class:`FrontEnd` and
:class:`NormStats` stored in a ``spectrograms`` artifact, so a trained model can preprocess a
new recording exactly as its training data. Nothing here reads or writes artifacts.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from emocli.errors import InputError

#: Default sample rate of extracted audio, Hz.
SAMPLE_RATE = 16000
#: Pre-emphasis coefficient ``a`` of ``y[t] = x[t] - a x[t-1]``.
PREEMPHASIS = 0.97
#: Frame (window) length and hop of the short-time analysis, seconds.
WIN_SECONDS = 0.025
HOP_SECONDS = 0.010
#: Number of mel filter banks.
N_MELS = 40
#: librosa ``power_to_db`` settings: reference power, floor, dynamic range kept below the peak.
DB_REF = 1.0
DB_AMIN = 1e-10
TOP_DB = 80.0
#: Global normalisation modes: per mel band, one scalar, or none.
GLOBAL_NORMS = ("band", "scalar", "none")
#: A standard deviation below this is treated as this (silent or constant spectrograms).
STD_FLOOR = 1e-6
#: Full scale of the integer sample formats FFmpeg decodes to (value that maps to 1.0).
_INT_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9.223372036854775808e18}


class AudioDecodeError(InputError):
    """A file's audio cannot be used; ``reason`` is the short text stored in ``rejects/``."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


# --------------------------------------------------------------------------- decoding


def decode_audio(path: Path | str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 at ``sample_rate``.

    Any container and codec of the FFmpeg inside PyAV (wav, flac, mp3, ogg, m4a, avi, mp4,
    mkv, flv ...). Channels are averaged (an unweighted mean, unlike FFmpeg's downmix
    matrix); resampling is FFmpeg's swresample on the mono signal.

    Returns (samples,) float32, nominally in [-1, 1]. Raises :class:`AudioDecodeError` with a
    short reason for an empty or unreadable file, no audio stream, no samples, or samples
    that are NaN or infinite.
    """
    import av

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioDecodeError(path, f"cannot read file ({exc.strerror})") from exc
    if size == 0:
        raise AudioDecodeError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioDecodeError(path, f"not a readable media file ({_ffmpeg_message(exc)})") from exc
    with container:
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
                path, f"decoding failed after {mono.seconds_in:.2f} s ({_ffmpeg_message(exc)})"
            ) from exc
        waveform = mono.finish()
    if waveform.size == 0:
        raise AudioDecodeError(path, "audio stream has no samples")
    bad = int(np.count_nonzero(~np.isfinite(waveform)))
    if bad:
        raise AudioDecodeError(path, f"non-finite samples ({bad} NaN or Inf)")
    return waveform


def _ffmpeg_message(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def frame_to_channels(frame: Any) -> np.ndarray:
    """A decoded PyAV ``AudioFrame`` as (channels, samples) float32 in [-1, 1]."""
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


# --------------------------------------------------------------------------- the front end


@dataclass(frozen=True)
class FrontEnd:
    """Every parameter of the log-mel front end, in samples at ``sample_rate``.

    pad_samples : length every waveform is zero-padded (at the end) or centre-cropped to.
    n_fft : FFT size; frames are ``n_fft`` samples, the window (``win_length``) is centred in it.
    center : False frames as ``1 + (samples - n_fft) // hop_length`` (no padding at the
        edges); True uses librosa's centred convention, ``1 + samples // hop_length``.
    fmax : highest mel frequency, Hz; ``None`` = ``sample_rate / 2``.
    top_db : dynamic range kept below each spectrogram's peak, dB; ``None`` keeps all.
    global_norm : ``band`` (a mean and std per mel band), ``scalar`` or ``none``.
    """

    sample_rate: int
    pad_samples: int
    preemphasis: float = PREEMPHASIS
    n_fft: int = 400
    win_length: int = 400
    hop_length: int = 160
    window: str = "hamming"
    n_mels: int = N_MELS
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float | None = TOP_DB
    center: bool = False
    global_norm: str = "band"

    @property
    def n_frames(self) -> int:
        """Frames T of every spectrogram of this front end."""
        return n_frames(self.pad_samples, self.n_fft, self.hop_length, self.center)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrontEnd:
        """Rebuild from :meth:`to_dict` output (e.g. an artifact's ``frontend`` attribute)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def frame_lengths(sample_rate: int, win_seconds: float, hop_seconds: float) -> tuple[int, int]:
    """Window and hop in samples: ``round(seconds * rate)`` (25 ms, 10 ms at 16 kHz: 400, 160)."""
    return int(round(win_seconds * sample_rate)), int(round(hop_seconds * sample_rate))


def n_frames(samples: int, n_fft: int, hop_length: int, center: bool = False) -> int:
    """Frames of a ``samples``-long signal: ``1 + (samples - n_fft) // hop`` (or centred:
    ``1 + samples // hop``). Signals shorter than ``n_fft`` are zero-padded to one frame."""
    if center:
        return 1 + samples // hop_length
    return 1 + max(0, samples - n_fft) // hop_length


def pad_or_crop(waveform: np.ndarray, n_samples: int) -> np.ndarray:
    """(samples,) -> (n_samples,): zero-pad at the end, or keep the centred ``n_samples``."""
    length = waveform.shape[-1]
    if length >= n_samples:
        start = (length - n_samples) // 2
        return waveform[..., start : start + n_samples]
    out = np.zeros((*waveform.shape[:-1], n_samples), dtype=waveform.dtype)
    out[..., :length] = waveform
    return out


def preemphasis(waveform: np.ndarray, coef: float = PREEMPHASIS) -> np.ndarray:
    """``y[t] = x[t] - coef * x[t-1]`` along the last axis, with ``x[-1] = 0`` (so ``y[0] = x[0]``).

    Equal to ``librosa.effects.preemphasis(x, coef=coef, zi=0)``; ``coef = 0`` returns ``x``.
    """
    if coef == 0:
        return waveform
    out = waveform.copy()
    out[..., 1:] -= coef * waveform[..., :-1]
    return out


@dataclass(frozen=True)
class Kernels:
    """The fixed arrays of a front end, built once (with librosa) and shipped to workers.

    window : (n_fft,) float64, librosa's periodic ``window`` of ``win_length`` centred in n_fft.
    mel_basis : (n_mels, n_fft // 2 + 1) float64 holding the float32 values of
        ``librosa.filters.mel`` (Slaney), as ``librosa.feature.melspectrogram`` uses them.
    """

    window: np.ndarray
    mel_basis: np.ndarray


@functools.lru_cache(maxsize=8)
def kernels_for(frontend: FrontEnd) -> Kernels:
    """The :class:`Kernels` of ``frontend`` (cached; the only place librosa is imported)."""
    import librosa

    window = librosa.filters.get_window(frontend.window, frontend.win_length, fftbins=True)
    basis = librosa.filters.mel(
        sr=frontend.sample_rate,
        n_fft=frontend.n_fft,
        n_mels=frontend.n_mels,
        fmin=frontend.fmin,
        fmax=frontend.fmax,
    )
    return Kernels(
        librosa.util.pad_center(window, size=frontend.n_fft).astype(np.float64),
        basis.astype(np.float64),
    )


def log_mel(
    waveforms: np.ndarray, frontend: FrontEnd, kernels: Kernels | None = None
) -> np.ndarray:
    """Log-mel spectrograms in dB of (..., samples) waveforms -> (..., n_mels, T) float32.

    The same numbers (within float32 rounding, ~1e-5 dB) as ``librosa.power_to_db(
    librosa.feature.melspectrogram(y=x, sr=sr, n_fft=n_fft, hop_length=hop, win_length=win,
    window=window, center=center, n_mels=n_mels, fmin=fmin, fmax=fmax), ref=1.0,
    amin=1e-10, top_db=top_db)`` (``top_db`` applied per spectrogram), computed the way
    librosa does (its window and mel filters, zero padding when centred) but framed and
    transformed in one batch: ``scipy.fft.rfft`` over strided frames and one matrix
    product with the filters. Computed in float64: ~35 % slower than float32, but within 4e-7
    of librosa's float64 result after normalisation (float32: 2e-5 on RAVDESS clips). No
    pre-emphasis or padding to length here; signals shorter than ``n_fft`` are zero-padded to one frame.
    ``kernels`` defaults to :func:`kernels_for` ``(frontend)``.
    """
    import scipy.fft

    kernels = kernels or kernels_for(frontend)
    y = np.asarray(waveforms, dtype=np.float64)
    n_fft, hop = frontend.n_fft, frontend.hop_length
    if frontend.center:
        pad = [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        y = np.pad(y, pad, mode="constant")
    if y.shape[-1] < n_fft:
        y = pad_or_crop(y, n_fft)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop, :]
    spectrum = scipy.fft.rfft(frames * kernels.window)
    power = np.abs(spectrum)  # (..., T, n_fft // 2 + 1)
    power **= 2
    mel = np.swapaxes(power @ kernels.mel_basis.T, -1, -2)  # (..., n_mels, T)
    db = 10.0 * np.log10(np.maximum(DB_AMIN, mel)) - 10.0 * math.log10(DB_REF)
    if frontend.top_db is not None:
        peak = db.max(axis=(-2, -1), keepdims=True)
        db = np.maximum(db, peak - frontend.top_db)
    return np.ascontiguousarray(db, dtype=np.float32)


def normalise_each(spectrograms: np.ndarray) -> np.ndarray:
    """Standardise each (n_mels, T) spectrogram of (..., n_mels, T) by its own mean and std."""
    mean = spectrograms.mean(axis=(-2, -1), keepdims=True, dtype=np.float64)
    std = spectrograms.std(axis=(-2, -1), keepdims=True, dtype=np.float64)
    return ((spectrograms - mean) / np.maximum(std, STD_FLOOR)).astype(np.float32)


@dataclass(frozen=True)
class NormStats:
    """Global normalisation statistics: ``mean`` and ``std``, shape (1,) (one scalar) or (n_mels,)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def identity(cls) -> NormStats:
        return cls(np.zeros(1, np.float32), np.ones(1, np.float32))


class MomentAccumulator:
    """Running per-band count, sum and sum of squares (float64) of (N, n_mels, T) batches."""

    def __init__(self, n_mels: int) -> None:
        self.count = 0
        self.total = np.zeros(n_mels, np.float64)
        self.squares = np.zeros(n_mels, np.float64)

    def add(self, spectrograms: np.ndarray) -> None:
        spectrograms = np.asarray(spectrograms, dtype=np.float64)
        self.count += spectrograms.shape[0] * spectrograms.shape[-1]
        self.total += spectrograms.sum(axis=(0, 2))
        self.squares += np.square(spectrograms).sum(axis=(0, 2))

    def merge(self, other: MomentAccumulator) -> None:
        self.count += other.count
        self.total += other.total
        self.squares += other.squares

    def stats(self, mode: str) -> NormStats:
        """Mean and std per band (``band``), over all bands (``scalar``), or identity (``none``)."""
        if mode == "none":
            return NormStats.identity()
        if self.count == 0:
            raise ValueError("no spectrograms to compute statistics from")
        if mode == "band":
            count, total, squares = float(self.count), self.total, self.squares
        else:
            count = float(self.count * self.total.size)
            total, squares = self.total.sum(keepdims=True), self.squares.sum(keepdims=True)
        mean = total / count
        var = np.maximum(squares / count - mean**2, 0.0)
        std = np.maximum(np.sqrt(var), STD_FLOOR)
        return NormStats(mean.astype(np.float32), std.astype(np.float32))


def apply_stats(spectrograms: np.ndarray, stats: NormStats) -> np.ndarray:
    """(..., n_mels, T) -> ``(x - mean) / std``, statistics broadcast over time (and bands)."""
    mean = np.asarray(stats.mean, dtype=np.float32).reshape(-1, 1)
    std = np.asarray(stats.std, dtype=np.float32).reshape(-1, 1)
    return ((spectrograms - mean) / std).astype(np.float32)


def spectrograms_of(
    waveforms: np.ndarray, frontend: FrontEnd, kernels: Kernels | None = None
) -> np.ndarray:
    """Steps 3-5a for a batch: pre-emphasis, log-mel, per-spectrogram standardisation.

    waveforms : (N, pad_samples) float32, already padded or cropped; returns (N, n_mels, T).
    """
    emphasised = preemphasis(np.asarray(waveforms, dtype=np.float64), frontend.preemphasis)
    return normalise_each(log_mel(emphasised, frontend, kernels))


def logmel_features(
    waveform: np.ndarray, sample_rate: int, frontend: FrontEnd, stats: NormStats
) -> np.ndarray:
    """The normalised log-mel spectrogram of one recording, exactly as build-spectrograms makes it.

    waveform : (samples,) mono float; resampled (swresample) if ``sample_rate`` differs
    from ``frontend.sample_rate``. Returns (n_mels, T) float32 with ``T = frontend.n_frames``.
    Read ``frontend`` and ``stats`` from a spectrograms artifact with :func:`frontend_from_artifact`.
    """
    mono = np.asarray(waveform, dtype=np.float32).reshape(-1)
    mono = resample(mono, sample_rate, frontend.sample_rate)
    batch = pad_or_crop(mono, frontend.pad_samples)[None, :]
    return apply_stats(spectrograms_of(batch, frontend), stats)[0]


def frontend_from_artifact(artifact: Any) -> tuple[FrontEnd, NormStats]:
    """The :class:`FrontEnd` and :class:`NormStats` of an open ``spectrograms`` artifact."""
    frontend = FrontEnd.from_dict(artifact.attrs["frontend"])
    stats = NormStats(artifact.column("stats/mean"), artifact.column("stats/std"))
    return frontend, stats


# --------------------------------------------------------------------------- images


@functools.lru_cache(maxsize=4)
def _colour_table(cmap: str) -> np.ndarray:
    from matplotlib import colormaps

    table = colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(table * 255).astype(np.uint8)


def spectrogram_image(features: np.ndarray, size: int, cmap: str = "viridis") -> np.ndarray:
    """Render a (n_mels, T) spectrogram as a (size, size, 3) uint8 image.

    Scaled to its own min..max (as ``librosa.display.specshow`` shows it), low frequencies
    at the bottom, resized (bilinear) to a square and coloured with the matplotlib
    colour map ``cmap`` (``gray`` repeats one channel three times).
    """
    import cv2

    data = np.asarray(features, dtype=np.float32)[::-1]
    low, high = float(data.min()), float(data.max())
    scaled = (data - low) / (high - low) if high > low else np.zeros_like(data)
    resized = cv2.resize(scaled, (size, size), interpolation=cv2.INTER_LINEAR)
    index = np.clip(np.round(resized * 255), 0, 255).astype(np.uint8)
    return _colour_table(cmap)[index]
