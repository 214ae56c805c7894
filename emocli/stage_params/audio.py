"""``extract-audio``' parameters, declared once for the command, the stage and the readers and
decoder they configure (:mod:`emocli.datasets.audio_sources`, :mod:`emocli.audio.decode`)."""

from __future__ import annotations

from dataclasses import dataclass

from emocli.params import param, require, runtime_field
from emocli.stage_params.classes import ClassListParams

#: The ``--format`` choices of extract-audio.
AUDIO_FORMATS = ("auto", "afew", "ravdess", "folder")
#: Default sample rate of extracted audio, Hz (the thesis's 16 kHz).
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ExtractAudioParams(ClassListParams):
    """format : ``auto``, ``afew``, ``ravdess`` or ``folder``; the classes are named as
    :class:`~emocli.stage_params.classes.ClassListParams` says.
    sample_rate : Hz of the stored waveforms (16 kHz, as the thesis).
    workers : decoding processes (0 = all cores); does not change the result.
    """

    format: str = param(
        "auto",
        f"{' | '.join(AUDIO_FORMATS)} (auto detects the layout).",
        "--format",
        "-f",
    )
    sample_rate: int = param(
        SAMPLE_RATE, "Sample rate of the stored audio, Hz.", "--sample-rate", "-r"
    )
    workers: int = runtime_field(0, "Worker processes (0 = all cores).", "--workers", "-j", min=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.format in AUDIO_FORMATS, f"--format must be one of {', '.join(AUDIO_FORMATS)}")
        require(
            1000 <= self.sample_rate <= 384000,
            f"--sample-rate must be between 1000 and 384000 Hz, got {self.sample_rate}",
        )
        require(self.workers >= 0, "--workers must be >= 0")
