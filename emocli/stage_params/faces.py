"""``preprocess-faces``' parameters: the per-image face pipeline's (:class:`FaceParams`, also
stored in every ``faces`` artifact so that ``emocli predict`` prepares new media the same
way) and how a dataset is read (:class:`PreprocessFacesParams`), declared once for the
command, the stage, :mod:`emocli.faces` and the dataset readers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from emocli.params import param, require, runtime_field
from emocli.stage_params.classes import ClassListParams

#: ``--format`` choices.
FACE_FORMATS: tuple[str, ...] = (
    "auto",
    "sfew",
    "afew",
    "ckplus",
    "fer2013",
    "ravdess-video",
    "folder",
    "unlabelled",
)
#: Old names of formats, still accepted: old name -> its name in :data:`FACE_FORMATS`.
FORMAT_ALIASES = {"unlabeled": "unlabelled"}
#: Frames sampled per second of video by default (``--fps``).
DEFAULT_FPS = 5.0
#: CK+: default share of a sequence's last frames taken as the expression's peak.
PEAK_FRACTION = 0.2

#: The face detectors.
DETECTORS: tuple[str, ...] = ("haar", "none")
#: What to do with an image where no face is found.
ON_MISS: tuple[str, ...] = ("keep", "reject")

#: OpenCV cascades (file names under ``cv2.data.haarcascades``, or paths to XML files).
FACE_CASCADE = "haarcascade_frontalface_default.xml"
FALLBACK_CASCADE = "haarcascade_frontalface_alt2.xml"
EYE_CASCADE = "haarcascade_eye.xml"


def face_format(name: str) -> str:
    """``name`` as it appears in :data:`FACE_FORMATS` (an old name such as ``unlabeled`` gives
    its new one, ``unlabelled``); unknown names are returned as they are."""
    return FORMAT_ALIASES.get(name, name)


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

    The fields without ``--help`` text have no option of ``preprocess-faces``.
    """

    ON_MISS_CHOICES: ClassVar[tuple[str, ...]] = ON_MISS

    size: int = param(64, "Output side, pixels (grey).", "--size", "-s")
    align: bool = param(
        True,
        "Methodology 2: align on the eyes after cropping the face (falls back to the face "
        "crop, status 'face', when no plausible eye pair is found).",
    )
    detector: str = param(
        "haar", "haar (Viola-Jones face cascade) | none (the whole image is the face)."
    )
    on_miss: str = "reject"
    min_image_side: int = 16
    clahe_clip: float = param(2.0, "CLAHE clip limit (0 = no equalisation).")
    clahe_tile: int = param(8, "CLAHE tiles per side of the image.")
    face_cascade: str = param(
        FACE_CASCADE, "Haar face cascade: a file name from cv2.data or an XML path.", "--cascade"
    )
    scale_factor: float = param(1.1, "Haar search: scale step between sizes.")
    min_neighbors: int = param(3, "Haar search: overlapping hits a face needs.")
    detect_raw: bool = param(
        True, "When the equalised image shows no face, search the unequalised one too."
    )
    fallback_cascade: str = param(
        FALLBACK_CASCADE, "A second face cascade tried when the first finds nothing ('' = none)."
    )
    min_face: float = param(0.1, "Smallest face searched, fraction of the image's shorter side.")
    min_face_cropped: float = 0.3
    margin: float = param(0.1, "Margin around a detected face, fraction of its side.")
    small_side: int = param(
        256,
        "Images whose longer side is below this (px) are taken as pre-cropped faces: padded "
        "(replicated border) and upscaled to this side before detection.",
    )
    pad: float = param(0.25, "Border added around pre-cropped images, fraction of their side.")
    detect_max_side: int = 640
    eye_cascade: str = EYE_CASCADE
    eye_min_neighbors: int = 2
    eye_x: float = param(0.3, "Aligned left pupil x (right: 1 - x), fraction of the size.")
    eye_y: float = param(0.36, "Aligned pupils' y, fraction of the size.")
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


@dataclass(frozen=True)
class PreprocessFacesParams(FaceParams, ClassListParams):
    """The face pipeline's :class:`FaceParams`, plus how the dataset is read (and its classes
    named: :class:`~emocli.stage_params.classes.ClassListParams`).

    on_miss : ``auto`` keeps the whole image when the dataset is made of pre-cropped faces
        (FER2013, CK+48, or images all smaller than ``small_side``), rejects otherwise (wild
        images, video frames); or ``keep`` / ``reject``.
    format : a reader of :data:`FACE_FORMATS` (``auto`` detects it; an old name,
        ``unlabeled``, is stored as its new one).
    fps, max_frames : video frames sampled per second, and at most this many per clip (0: all).
    ck_peak_fraction, ck_neutral : CK+ protocol (Lucey et al., "The Extended Cohn-Kanade
        Dataset (CK+)", CVPR workshops 2010): last fraction of each labelled sequence, and its
        first frame as ``neutral``.
    limit : only the first ``limit`` samples (0: all), in path order.
    preview : write the contact sheet next to the artifact.
    workers : processes (0 = all cores); does not change the result.
    """

    ON_MISS_CHOICES: ClassVar[tuple[str, ...]] = ("auto", *ON_MISS)

    on_miss: str = param(
        "auto",
        "When no face is found: keep (use the whole image as the face, status 'kept-whole') | "
        "reject (list it in rejects/) | auto: keep for datasets of pre-cropped faces (fer2013, "
        "CK+48, image sets smaller than --small-side), reject for wild images and video frames.",
    )
    format: str = param(
        "auto",
        f"{' | '.join(FACE_FORMATS)} (auto detects the layout; a folder-per-class set with "
        "non-emotion class names needs --format folder).",
        "--format",
        "-f",
    )
    fps: float = param(DEFAULT_FPS, "Video frames sampled per second (0 = every frame).")
    max_frames: int = param(0, "At most this many frames per clip (0 = all).")
    ck_peak_fraction: float = param(
        PEAK_FRACTION, "CK+: last fraction of each labelled sequence's frames."
    )
    ck_neutral: bool = param(
        False, "CK+: also take each sequence's first frame as neutral.", "--ck-neutral/"
    )
    limit: int = param(0, "Only the first N samples, in path order (0 = all).")
    preview: bool = param(
        True, "Write <output>.preview.png: random faces of each class, next to the artifact."
    )
    workers: int = runtime_field(0, "Worker processes (0 = all cores).", "--workers", "-j", min=0)

    def __post_init__(self) -> None:
        FaceParams.__post_init__(self)
        ClassListParams.__post_init__(self)
        object.__setattr__(self, "format", face_format(self.format))  # frozen: set once here
        require(self.format in FACE_FORMATS, f"--format must be one of {', '.join(FACE_FORMATS)}")
        require(self.fps >= 0, f"--fps must be >= 0 (0 = every frame), got {self.fps}")
        require(self.max_frames >= 0, "--max-frames must be >= 0 (0 = no limit)")
        require(0 < self.ck_peak_fraction <= 1, "--ck-peak-fraction must be in (0, 1]")
        require(self.limit >= 0, "--limit must be >= 0 (0 = all)")
        require(self.workers >= 0, "--workers must be >= 0")
