"""The demo dataset's parameters, its classes and how many clips each class gets."""

from __future__ import annotations

from dataclasses import dataclass

#: The seven AFEW / SFEW classes, as spelled by their folder names.
EMOTION_FOLDERS: tuple[str, ...] = (
    "Angry",
    "Disgust",
    "Fear",
    "Happy",
    "Neutral",
    "Sad",
    "Surprise",
)

#: Clips per class in AFEW 2018's training split (773 in all): the demo keeps these proportions.
AFEW_TRAIN_COUNTS: dict[str, int] = {
    "Angry": 133,
    "Disgust": 74,
    "Fear": 81,
    "Happy": 150,
    "Neutral": 144,
    "Sad": 117,
    "Surprise": 74,
}

#: The split folder names of AFEW and SFEW.
SPLITS: tuple[str, ...] = ("Train", "Val")


@dataclass(frozen=True)
class DemoSpec:
    """How much synthetic data to generate, and from which seed.

    seed : int
        Same seed, byte-identical files; another seed, other data.
    clips_train, clips_val : int
        AFEW-style clips per split (each split gets every class once it has >= 7 clips).
    frames_per_clip_sfew : int
        Stills taken from each clip into ``sfew/`` (SFEW's frames come from AFEW's clips).
    unlabelled : int
        Extra unlabelled faces of other identities (the GAN's CASIA-WebFace stand-in).
    fps : int
        Video frame rate, frames per second.
    image_size : int
        Side of the square video frames and stills, pixels.
    sample_rate : int
        Audio sample rate of the clips' sound track, Hz.
    min_clip_s, max_clip_s : float
        Range of clip durations, seconds.
    """

    seed: int = 0
    clips_train: int = 112
    clips_val: int = 84
    frames_per_clip_sfew: int = 3
    unlabelled: int = 200
    fps: int = 25
    image_size: int = 160
    sample_rate: int = 16000
    min_clip_s: float = 1.0
    max_clip_s: float = 3.0

    def __post_init__(self) -> None:
        if self.clips_train < 0 or self.clips_val < 0 or self.unlabelled < 0:
            raise ValueError("clip and image counts must be >= 0")
        if self.frames_per_clip_sfew < 0:
            raise ValueError("frames_per_clip_sfew must be >= 0")
        if self.fps <= 0 or self.sample_rate <= 0:
            raise ValueError("fps and sample_rate must be > 0")
        if self.sample_rate % self.fps:
            raise ValueError("sample_rate must be a multiple of fps (whole samples per frame)")
        if self.image_size < 96 or self.image_size % 2:
            raise ValueError("image_size must be even and >= 96 pixels (face detection)")
        if not 0 < self.min_clip_s <= self.max_clip_s:
            raise ValueError("need 0 < min_clip_s <= max_clip_s")


def class_counts(total: int) -> dict[str, int]:
    """Split ``total`` clips among the classes in AFEW's proportions (largest remainder).

    Every class gets one clip first when ``total >= 7``; the rest is shared in proportion
    to :data:`AFEW_TRAIN_COUNTS`. The counts sum to ``total``.
    """
    weights = AFEW_TRAIN_COUNTS
    n_all = sum(weights.values())
    base = 1 if total >= len(weights) else 0
    rest = total - base * len(weights)
    counts = {c: base + rest * w // n_all for c, w in weights.items()}
    left = total - sum(counts.values())
    by_remainder = sorted(weights, key=lambda c: (-(rest * weights[c] % n_all), c))
    for cls in by_remainder[:left]:
        counts[cls] += 1
    return counts
