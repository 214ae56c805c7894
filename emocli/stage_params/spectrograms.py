"""``build-spectrograms``' parameters and the log-mel front end's defaults (the thesis's:
seeds/001, section IV-A), declared once for the command, the stage and :mod:`emocli.audio`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from emocli.params import param, require, runtime_field

#: Pre-emphasis coefficient ``a`` of ``y[t] = x[t] - a x[t-1]``.
PREEMPHASIS = 0.97
#: Frame (window) length and hop of the short-time analysis, seconds.
WIN_SECONDS = 0.025
HOP_SECONDS = 0.010
#: Number of mel filter banks.
N_MELS = 40
#: librosa ``power_to_db``'s dynamic range kept below each spectrogram's peak, dB.
TOP_DB = 80.0
#: Global normalisation modes: per mel band, one scalar, or none.
GLOBAL_NORMS = ("band", "scalar", "none")
#: Per-clip normalisation modes: one mean and std per spectrogram, or one per mel band of it.
CLIP_NORMS = ("scalar", "band")
#: Analysis windows offered (scipy / librosa names; the thesis: Hamming).
WINDOWS = ("hamming", "hann", "blackman", "bartlett", "boxcar")


@dataclass(frozen=True)
class BuildSpectrogramsParams:
    """Front-end parameters (defaults: the thesis) and where the global statistics come from.

    pad : ``longest`` (zero-pad to the longest clip) or a duration in seconds (pad or
        centre-crop), as text.
    trim_db : cut leading and trailing silence, frames this many dB below the clip's loudest
        frame, before padding (0 = keep it), so clips of other lengths look alike.
    win_ms, hop_ms : frame length and hop, milliseconds; n_fft 0 = the frame length.
    fmax : 0 = half the sample rate. top_db : 0 = keep the full dynamic range.
    clip_norm : each spectrogram standardised as a whole (``scalar``) or per mel band (``band``).
    global_norm : ``band`` (per mel band), ``scalar`` or ``none``.
    train_split : split whose rows give the statistics when the artifact has splits.
    train_subjects : e.g. ``01-16`` or ``01,02,05-08``: only these subjects' rows.
    as_image : side of the square images also stored (0 = none), coloured with image_cmap.
    """

    pad: str = param(
        "longest",
        "'longest': zero-pad every clip to the longest (the thesis); or SECONDS: pad or "
        "centre-crop to that duration (recommended for mixed datasets).",
    )
    trim_db: float = param(
        0.0,
        "Cut leading and trailing silence (frames this many dB below the loudest) before "
        "padding, so clips of other lengths look alike; 0 = keep it.",
    )
    preemphasis: float = param(PREEMPHASIS, "Pre-emphasis a in y(t) = x(t) - a x(t-1); 0 = off.")
    win_ms: float = param(WIN_SECONDS * 1000, "Frame (window) length, ms.")
    hop_ms: float = param(HOP_SECONDS * 1000, "Hop between frames, ms.")
    n_fft: int = param(0, "FFT size, samples (0 = the frame length).")
    window: str = param("hamming", f"Analysis window: {' | '.join(WINDOWS)}.")
    n_mels: int = param(N_MELS, "Mel filter banks.")
    fmin: float = param(0.0, "Lowest mel frequency, Hz.")
    fmax: float = param(0.0, "Highest mel frequency, Hz (0 = sample rate / 2).")
    top_db: float = param(TOP_DB, "dB kept below each spectrogram's peak (0 = all).")
    center: bool = param(
        False,
        "librosa's centred frames (1 + samples // hop) instead of 1 + (samples - n_fft) // hop.",
    )
    clip_norm: str = param(
        "scalar",
        "Standardise each spectrogram as a whole (scalar: the thesis) or each of its mel bands "
        "(band: also removes the voice's and room's spectral colour).",
    )
    global_norm: str = param(
        "band",
        "Global normalisation after the per-spectrogram one: band (mean/std per mel band) | "
        "scalar | none.",
    )
    train_split: str = param(
        "train",
        "Split whose rows give the global statistics (when splits are recorded; otherwise "
        "every labelled row).",
    )
    train_subjects: str = param(
        "", "Only these subjects' rows give the statistics, e.g. 01-16 or 01,02,05-08."
    )
    as_image: int = param(0, "Also store SIZE x SIZE x 3 uint8 images (e.g. 224 for VGG16).")
    image_cmap: str = param("viridis", "Matplotlib colour map of the images.")
    workers: int = runtime_field(0, "Worker processes (0 = all cores).", "--workers", "-j")

    def __post_init__(self) -> None:
        require(
            self.pad == "longest" or pad_seconds(self.pad) is not None,
            f"--pad must be 'longest' or a positive number of seconds, got {self.pad!r}",
        )
        require(self.trim_db >= 0, "--trim-db must be >= 0 (0 = no trimming)")
        require(0.0 <= self.preemphasis < 1.0, "--preemphasis must be in [0, 1)")
        require(self.win_ms > 0 and self.hop_ms > 0, "--win-ms and --hop-ms must be > 0")
        require(self.n_fft >= 0, "--n-fft must be >= 0 (0 = the window length)")
        require(1 <= self.n_mels <= 512, "--n-mels must be between 1 and 512")
        require(self.fmin >= 0 and self.fmax >= 0, "--fmin and --fmax must be >= 0")
        require(self.fmax == 0 or self.fmax > self.fmin, "--fmax must be above --fmin")
        require(self.top_db >= 0, "--top-db must be >= 0 (0 = no clipping)")
        require(self.clip_norm in CLIP_NORMS, f"--clip-norm must be one of {', '.join(CLIP_NORMS)}")
        require(
            self.global_norm in GLOBAL_NORMS,
            f"--global-norm must be one of {', '.join(GLOBAL_NORMS)}",
        )
        require(self.as_image == 0 or 16 <= self.as_image <= 1024, "--as-image must be 16..1024")
        require(self.workers >= 0, "--workers must be >= 0")
        require(
            self.window in WINDOWS,
            f"--window must be one of {', '.join(WINDOWS)}, got {self.window!r}",
        )
        if self.as_image:
            from matplotlib import colormaps

            require(
                self.image_cmap in colormaps,
                f"--image-cmap {self.image_cmap!r} is not a matplotlib colour map",
            )
        if self.train_subjects:
            from emocli.stage_params.choices import parse_subjects

            parse_subjects(self.train_subjects)


def pad_seconds(pad: str) -> float | None:
    """``--pad`` as a positive number of seconds, or None (``longest`` or not a number)."""
    try:
        value = float(pad)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None
