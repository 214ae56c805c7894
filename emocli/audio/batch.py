"""build-spectrograms' building blocks: the front end of its options, and a batch of clips ->
padded waveforms -> per-band moments (pass 1) or normalised features and images (pass 2).

Every function is pure (arrays in, arrays out), so the stage's worker processes only read
their clips and call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from emocli.audio.frontend import (
    FrontEnd,
    Kernels,
    MomentAccumulator,
    NormStats,
    apply_stats,
    frame_lengths,
    pad_or_crop,
    spectrograms_of,
    speech_span,
)
from emocli.audio.image import spectrogram_image
from emocli.errors import ParamsError

if TYPE_CHECKING:
    from emocli.stage_params.spectrograms import BuildSpectrogramsParams

__all__ = ["batch_features", "batch_moments", "frontend_of", "padded_batch"]


def frontend_of(params: BuildSpectrogramsParams, sample_rate: int, pad_samples: int) -> FrontEnd:
    """The :class:`~emocli.audio.FrontEnd` of ``params`` at ``sample_rate`` (Hz), every
    waveform padded or cropped to ``pad_samples`` (at least ``n_fft`` without centring).

    Raises :class:`ParamsError` for a window or hop shorter than a sample, an FFT shorter than
    the window, or ``fmax`` above half the sample rate.
    """
    win, hop = frame_lengths(sample_rate, params.win_ms / 1000, params.hop_ms / 1000)
    n_fft = params.n_fft or win
    if win < 1 or hop < 1:
        raise ParamsError(f"--win-ms/--hop-ms are shorter than one sample at {sample_rate} Hz")
    if n_fft < win:
        raise ParamsError(f"--n-fft ({n_fft}) must be at least the window ({win} samples)")
    if params.fmax and params.fmax > sample_rate / 2:
        raise ParamsError(f"--fmax {params.fmax} Hz is above half the sample rate {sample_rate}")
    return FrontEnd(
        sample_rate=sample_rate,
        pad_samples=pad_samples if params.center else max(pad_samples, n_fft),
        preemphasis=params.preemphasis,
        n_fft=n_fft,
        win_length=win,
        hop_length=hop,
        window=params.window,
        n_mels=params.n_mels,
        fmin=params.fmin,
        fmax=params.fmax or None,
        top_db=params.top_db or None,
        center=params.center,
        global_norm=params.global_norm,
        trim_db=params.trim_db or None,
        clip_norm=params.clip_norm,
    )


def padded_batch(clips: Sequence[np.ndarray], frontend: FrontEnd) -> tuple[np.ndarray, np.ndarray]:
    """(k, pad_samples) float32: the k (samples,) ``clips`` trimmed when the front end says so
    (:func:`~emocli.audio.speech_span`) and padded / centre-cropped; and (k,) int64 their
    lengths in samples before padding (after trimming)."""
    out = np.zeros((len(clips), frontend.pad_samples), np.float32)
    kept = np.zeros(len(clips), np.int64)
    for k, clip in enumerate(clips):
        speech = speech_span(clip, frontend)
        kept[k] = speech.shape[-1]
        out[k] = pad_or_crop(speech, frontend.pad_samples)
    return out, kept


def batch_moments(waveforms: np.ndarray, frontend: FrontEnd, kernels: Kernels) -> MomentAccumulator:
    """Pass 1: per-band moments of the per-spectrogram-normalised spectrograms of (k,
    pad_samples) ``waveforms``."""
    acc = MomentAccumulator(frontend.n_mels)
    acc.add(spectrograms_of(waveforms, frontend, kernels))
    return acc


def batch_features(
    waveforms: np.ndarray,
    frontend: FrontEnd,
    kernels: Kernels,
    stats: NormStats,
    image_size: int = 0,
    image_cmap: str = "viridis",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pass 2: (k, n_mels, T) float32 features of (k, pad_samples) ``waveforms``, normalised
    with the global ``stats``; and their (k, S, S, 3) uint8 images (``S = image_size``,
    :func:`~emocli.audio.spectrogram_image`), or None when ``image_size`` is 0."""
    spectrograms = spectrograms_of(waveforms, frontend, kernels)
    features = apply_stats(spectrograms, stats)
    images = None
    if image_size:
        images = np.stack([spectrogram_image(f, image_size, image_cmap) for f in features])
    return features, images
