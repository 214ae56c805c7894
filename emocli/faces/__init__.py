"""Face preprocessing: pure image functions (no artifact I/O).

Methodology 1 (grey, CLAHE, Haar face, main face, crop, resize) and methodology 2 (Haar
eyes, false-positive heuristics, similarity transform onto canonical pupils), as in the
source thesis. The per-image entry point is :func:`preprocess_image`; clips go through
:func:`preprocess_frames` / :func:`track_frames`, which follow the main person's face. :class:`FaceParams` holds
every parameter and is stored in each ``faces`` artifact, so ``emocli predict`` prepares new
media the same way::

    params = FaceParams.from_dict(artifact.attrs["preprocessing"])
    face, status = preprocess_image(bgr_or_grey, params)
"""

from emocli.faces.detect import decode_image, detect_faces, find_eyes, prepare, to_grey
from emocli.faces.geometry import align_on_eyes, similarity_from_eyes
from emocli.faces.params import (
    DETECTED_STATUSES,
    STATUSES,
    FaceParams,
)
from emocli.faces.pipeline import FaceResult, preprocess_image
from emocli.faces.track import TrackedFace, face_track, preprocess_frames, track_frames

__all__ = [
    "DETECTED_STATUSES",
    "STATUSES",
    "FaceParams",
    "FaceResult",
    "TrackedFace",
    "align_on_eyes",
    "decode_image",
    "detect_faces",
    "face_track",
    "find_eyes",
    "prepare",
    "preprocess_frames",
    "preprocess_image",
    "similarity_from_eyes",
    "to_grey",
    "track_frames",
]
