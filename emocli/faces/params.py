"""The parameters of the per-image face pipeline, and the words it uses for its outcomes.

:class:`FaceParams` (declared in :mod:`emocli.stage_params.faces`, with its options) holds
everything that decides how one image becomes one face crop; it is stored in every ``faces``
artifact (attribute ``preprocessing``) so that new media (``emocli predict``) can be prepared
exactly like the training data with ``FaceParams.from_dict``.
"""

from __future__ import annotations

from emocli.stage_params.faces import FaceParams as FaceParams

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
