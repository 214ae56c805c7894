"""The parameters of the per-image face pipeline, and the words it uses for its outcomes.

:class:`FaceParams` holds everything that decides how one image becomes one face crop; it is
stored in every ``faces`` artifact (attribute ``preprocessing``) so that new media (``emocli
predict``) can be prepared exactly like the training data with ``FaceParams.from_dict``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from emocli.params import require

#: How a kept face was made (the artifact's ``status`` column).
STATUS_FACE_EYES = "face+eyes"  # face detected, then aligned on the pupils (methodology 2)
STATUS_FACE = "face"  # face detected and cropped (methodology 1; with --align: eyes not found)
STATUS_KEPT_WHOLE = "kept-whole"  # no face found; the whole image kept as the face (--on-miss keep)
STATUS_KEPT_WHOLE_EYES = "kept-whole+eyes"  # as kept-whole, then aligned on the pupils
STATUS_WHOLE = "whole"  # --detector none: the whole image is the face
STATUS_WHOLE_EYES = "whole+eyes"  # --detector none, aligned on the pupils
STATUSES: tuple[str, ...] = (
    STATUS_FACE_EYES,
    STATUS_FACE,
    STATUS_KEPT_WHOLE_EYES,
    STATUS_KEPT_WHOLE,
    STATUS_WHOLE_EYES,
    STATUS_WHOLE,
)
#: Statuses where a face detector found the face.
DETECTED_STATUSES = frozenset({STATUS_FACE_EYES, STATUS_FACE})

#: Why an input was rejected (the artifact's ``rejects/reason`` column).
REASON_EMPTY = "empty file"
REASON_UNREADABLE = "unreadable image"
REASON_TOO_SMALL = "too small"
REASON_NO_FACE = "no face"

#: The face detectors.
DETECTORS: tuple[str, ...] = ("haar", "none")
#: What to do with an image where no face is found.
ON_MISS: tuple[str, ...] = ("keep", "reject")

#: OpenCV cascades (file names under ``cv2.data.haarcascades``, or paths to XML files).
FACE_CASCADE = "haarcascade_frontalface_default.xml"
FALLBACK_CASCADE = "haarcascade_frontalface_alt2.xml"
EYE_CASCADE = "haarcascade_eye.xml"


@dataclass(frozen=True)
class FaceParams:
    """How one image becomes one ``size`` x ``size`` grey face.

    size : output side, pixels.
    align : methodology 2 (eye alignment) after methodology 1; falls back to 1 without eyes.
    detector : ``haar`` (Viola-Jones face cascade) or ``none`` (the whole image is the face).
    on_miss : ``keep`` (use the whole image as the face) or ``reject`` when no face is found.
    min_image_side : images whose shorter side is below this (pixels) are rejected.
    clahe_clip, clahe_tile : CLAHE clip limit and tiles per side (applied before detection).
    face_cascade, scale_factor, min_neighbors : the Haar face cascade and its search parameters.
    detect_raw : when the equalised image shows no face, search the unequalised one too.
    fallback_cascade : a second face cascade tried when the first finds nothing (``""``: none).
    min_face : smallest face searched, as a fraction of the image's shorter side.
    margin : crop margin added on each side of a detected face, as a fraction of its side.
    small_side : images whose longer side is below this (pixels) are treated as pre-cropped
        faces: padded by ``pad`` of their longer side (replicated border, so the cascade sees
        context around the face), scaled so that side becomes ``small_side``, and searched for
        faces of at least ``min_face_cropped`` of their shorter side.
    detect_max_side : larger images are searched at this longer side (faster), boxes mapped back.
    eye_cascade, eye_min_neighbors : the Haar eye cascade and its ``minNeighbors``.
    eye_x, eye_y : canonical pupils, as fractions of ``size``: the left one (in the image) at
        (eye_x, eye_y), the right one at (1 - eye_x, eye_y).
    max_eye_angle : degrees; steeper eye pairs are rejected as false positives.
    min_eye_distance, max_eye_distance : plausible pupil distance, fractions of the face side.
    """

    ON_MISS_CHOICES: ClassVar[tuple[str, ...]] = ON_MISS

    size: int = 64
    align: bool = True
    detector: str = "haar"
    on_miss: str = "reject"
    min_image_side: int = 16
    clahe_clip: float = 2.0
    clahe_tile: int = 8
    face_cascade: str = FACE_CASCADE
    scale_factor: float = 1.1
    min_neighbors: int = 3
    detect_raw: bool = True
    fallback_cascade: str = FALLBACK_CASCADE
    min_face: float = 0.1
    min_face_cropped: float = 0.3
    margin: float = 0.1
    small_side: int = 256
    pad: float = 0.25
    detect_max_side: int = 640
    eye_cascade: str = EYE_CASCADE
    eye_min_neighbors: int = 2
    eye_x: float = 0.3
    eye_y: float = 0.36
    max_eye_angle: float = 20.0
    min_eye_distance: float = 0.25
    max_eye_distance: float = 0.65

    def __post_init__(self) -> None:
        require(8 <= self.size <= 1024, f"--size must be between 8 and 1024, got {self.size}")
        require(self.detector in DETECTORS, f"--detector must be one of {', '.join(DETECTORS)}")
        require(
            self.on_miss in self.ON_MISS_CHOICES,
            f"--on-miss must be one of {', '.join(self.ON_MISS_CHOICES)}, got {self.on_miss!r}",
        )
        require(self.min_image_side >= 1, "--min-image-side must be >= 1")
        require(self.clahe_clip >= 0, "--clahe-clip must be >= 0 (0 disables CLAHE)")
        require(1 <= self.clahe_tile <= 64, "--clahe-tile must be between 1 and 64")
        require(1.01 <= self.scale_factor <= 2.0, "--scale-factor must be between 1.01 and 2")
        require(self.min_neighbors >= 0, "--min-neighbors must be >= 0")
        require(0 < self.min_face <= 1, "--min-face must be in (0, 1]")
        require(0 < self.min_face_cropped <= 1, "min_face_cropped must be in (0, 1]")
        require(0 <= self.margin <= 1, "--margin must be between 0 and 1")
        require(self.small_side >= 0, "small_side must be >= 0")
        require(0 <= self.pad <= 1, "pad must be between 0 and 1")
        require(self.detect_max_side >= 64, "detect_max_side must be >= 64")
        require(self.eye_min_neighbors >= 0, "eye_min_neighbors must be >= 0")
        require(0 < self.eye_x < 0.5, f"--eye-x must be in (0, 0.5), got {self.eye_x}")
        require(0 < self.eye_y < 1, f"--eye-y must be in (0, 1), got {self.eye_y}")
        require(0 < self.max_eye_angle <= 90, "max_eye_angle must be in (0, 90] degrees")
        require(
            0 < self.min_eye_distance < self.max_eye_distance <= 1,
            "eye distances must satisfy 0 < min_eye_distance < max_eye_distance <= 1",
        )

    @property
    def canonical_eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Output pixel coordinates (x, y) of the left and right pupil after alignment."""
        y = self.eye_y * self.size
        return (self.eye_x * self.size, y), ((1.0 - self.eye_x) * self.size, y)

    def to_dict(self) -> dict[str, Any]:
        """The fields of :class:`FaceParams` only (also of a subclass instance), JSON-ready."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(FaceParams)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], **overrides: Any) -> FaceParams:
        """A :class:`FaceParams` from a mapping (e.g. an artifact's ``preprocessing`` attribute
        or a stage's params); keys that are not face parameters are ignored."""
        names = {f.name for f in dataclasses.fields(FaceParams)}
        kwargs = {k: v for k, v in values.items() if k in names}
        kwargs.update(overrides)
        return FaceParams(**kwargs)
