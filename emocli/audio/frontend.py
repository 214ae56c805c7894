"""The log-mel front end: trim, pad, pre-emphasis, log-mel (librosa's), standardise, global statistics."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from emocli.audio.decode import resample
from emocli.stage_params.spectrograms import N_MELS, PREEMPHASIS, TOP_DB

__all__ = [
    "DB_AMIN",
    "DB_REF",
    "STD_FLOOR",
    "SUB_BATCH",
    "FrontEnd",
    "Kernels",
    "MomentAccumulator",
    "NormStats",
    "apply_stats",
    "frame_lengths",
    "frontend_from_artifact",
    "kernels_for",
    "log_mel",
    "logmel_features",
    "n_frames",
    "normalise_each",
    "pad_or_crop",
    "preemphasis",
    "spectrograms_of",
    "speech_span",
    "trim_silence",
]

#: librosa ``power_to_db`` settings: reference power and floor (the dynamic range kept,
#: ``TOP_DB``, and the other defaults of the thesis's front end are build-spectrograms'
#: parameters, declared in :mod:`emocli.stage_params.spectrograms`).
DB_REF = 1.0
DB_AMIN = 1e-10
#: Waveforms transformed together inside :func:`spectrograms_of`.
SUB_BATCH = 4
#: A standard deviation below this is treated as this (silent or constant spectrograms).
STD_FLOOR = 1e-6


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
    trim_db : leading and trailing silence is cut before padding (:func:`trim_silence`):
        frames more than ``trim_db`` dB below the clip's loudest frame; ``None`` keeps it.
    clip_norm : each spectrogram standardised by its own mean and std (``scalar``: removes
        the recording's loudness) or by those of each of its mel bands (``band``: also the
        speaker's and the room's spectral colour, as cepstral mean and variance normalisation).
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
    trim_db: float | None = None
    clip_norm: str = "scalar"

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


def trim_silence(waveform: np.ndarray, top_db: float, frame: int, hop: int) -> np.ndarray:
    """(samples,) -> the span from the first to the last loud frame (like ``librosa.effects.trim``).

    A frame (``frame`` samples every ``hop``) is loud when its RMS is within ``top_db`` dB of
    the loudest frame's. An all-silent or shorter-than-one-frame clip comes back unchanged.
    """
    if waveform.shape[-1] <= frame:
        return waveform
    frames = np.lib.stride_tricks.sliding_window_view(waveform, frame)[::hop]
    power = np.mean(np.square(frames, dtype=np.float64), axis=-1)
    peak = power.max()
    if peak <= 0:
        return waveform
    loud = np.flatnonzero(10.0 * np.log10(np.maximum(power, DB_AMIN) / peak) > -top_db)
    return waveform[loud[0] * hop : min(waveform.shape[-1], loud[-1] * hop + frame)]


def speech_span(waveform: np.ndarray, frontend: FrontEnd) -> np.ndarray:
    """(samples,) -> the clip without its leading and trailing silence when the front end
    trims (``trim_db``), else the clip itself."""
    if frontend.trim_db is None:
        return waveform
    return trim_silence(waveform, frontend.trim_db, frontend.win_length, frontend.hop_length)


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


def normalise_each(spectrograms: np.ndarray, clip_norm: str = "scalar") -> np.ndarray:
    """Standardise each (n_mels, T) spectrogram of (..., n_mels, T) by its own mean and std
    (``scalar``), or each of its mel bands by the band's mean and std over time (``band``)."""
    axes: tuple[int, ...] = (-2, -1) if clip_norm == "scalar" else (-1,)
    mean = spectrograms.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = spectrograms.std(axis=axes, keepdims=True, dtype=np.float64)
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

    waveforms : (N, pad_samples) float32, already padded or cropped; returns (N, n_mels, T)
    float32. Rows go through in groups of :data:`SUB_BATCH`, whose float64 intermediates
    stay in cache (~35 % faster than one big batch).
    """
    waveforms = np.asarray(waveforms)
    kernels = kernels or kernels_for(frontend)
    frames = n_frames(waveforms.shape[-1], frontend.n_fft, frontend.hop_length, frontend.center)
    out = np.empty((waveforms.shape[0], frontend.n_mels, frames), np.float32)
    for start in range(0, waveforms.shape[0], SUB_BATCH):
        rows = np.asarray(waveforms[start : start + SUB_BATCH], dtype=np.float64)
        emphasised = preemphasis(rows, frontend.preemphasis)
        spectrograms = log_mel(emphasised, frontend, kernels)
        out[start : start + SUB_BATCH] = normalise_each(spectrograms, frontend.clip_norm)
    return out


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
    batch = pad_or_crop(speech_span(mono, frontend), frontend.pad_samples)[None, :]
    return apply_stats(spectrograms_of(batch, frontend), stats)[0]


def frontend_from_artifact(artifact: Any) -> tuple[FrontEnd, NormStats]:
    """The :class:`FrontEnd` and :class:`NormStats` of an open ``spectrograms`` artifact."""
    frontend = FrontEnd.from_dict(artifact.attrs["frontend"])
    stats = NormStats(artifact.column("stats/mean"), artifact.column("stats/std"))
    return frontend, stats
