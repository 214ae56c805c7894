"""What ``emocli predict`` finds in one file: per-frame and per-clip results, and the names
they use (input kinds, modalities, fusion methods). :mod:`emocli.timeline` writes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "AUDIO",
    "FACE",
    "FUSION_MEAN",
    "FUSION_SINGLE",
    "KIND_AUDIO",
    "KIND_IMAGE",
    "KIND_VIDEO",
    "ClipResult",
    "FrameResult",
    "PredictResult",
]

#: Input kinds: what a file is read as.
KIND_VIDEO, KIND_IMAGE, KIND_AUDIO = "video", "image", "audio"
#: Modality names, as the fusion stage calls them.
FACE, AUDIO = "face", "audio"
#: Fusion methods reported when no stored fuser is applied.
FUSION_SINGLE, FUSION_MEAN = "single", "mean"


@dataclass
class FrameResult:
    """One sampled frame: ``box`` (x, y, w, h) of the tracked face in frame pixels or None;
    ``status`` how the face was made (or why not); ``probs`` (K,) or None without a face."""

    index: int
    time: float
    box: tuple[float, float, float, float] | None
    status: str
    probs: np.ndarray | None


@dataclass
class ClipResult:
    """The prediction for one input file.

    probs : (K,) float64 in :attr:`PredictResult.classes` order (None: no modality at all).
    modality_probs : per modality used, (K,) probabilities before fusion.
    faces : (F, S, S) uint8 crops of the tracked face (frames with a face only).
    notes : what was missing or fallen back on, for the user.
    """

    path: Path
    name: str
    kind: str
    probs: np.ndarray | None
    modality_probs: dict[str, np.ndarray]
    fusion: str
    frames: list[FrameResult] = field(default_factory=list)
    faces: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def modalities(self) -> list[str]:
        return list(self.modality_probs)

    def predicted(self, classes: Sequence[str]) -> str:
        return "" if self.probs is None else classes[int(np.argmax(self.probs))]


@dataclass
class PredictResult:
    """Every clip's result, over ``classes``."""

    classes: list[str]
    clips: list[ClipResult]
