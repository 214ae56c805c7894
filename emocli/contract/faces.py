"""The input contract of a face model: how its training faces were made, how faces of new
media are made to match them (:func:`faces_of_frames`), and whether a faces artifact matches
(:func:`check_faces_artifact`).

A model records the ``FaceParams`` of its training faces (``input.upstream.preprocessing``),
the frame sampling of their clips (``input.upstream.params``: ``fps``, ``max_frames``) and,
for pretrain-gan ``--size``, the side they were resized to (``input.resized_from``).
A model trained on pre-cropped faces (``--detector none``: FER2013, CK+48) needs a face
found in a video frame and cropped as tightly as those crops: new media get Haar detection
without margin, and frames without a face are skipped (:data:`PRECROPPED_NOTE`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from emocli.contract.common import differences, params_of, recorded_upstream, refuse
from emocli.errors import ArtifactError, ParamsError

#: Face preprocessing parameters that change how a face looks (crop, alignment, contrast):
#: an artifact that differs is refused. Any other (detection thresholds, cascades ...) only
#: changes which faces were found, and is stated in a note.
FACE_LOOK_KEYS = (
    "size",
    "align",
    "detector",
    "margin",
    "pad",
    "eye_x",
    "eye_y",
    "clahe_clip",
    "clahe_tile",
)

#: Said of a model trained on pre-cropped faces (``preprocess-faces --detector none``).
PRECROPPED_NOTE = (
    "the model was trained on pre-cropped faces (--detector none): in each frame the face is "
    "detected (Haar) and cropped to the detector's box without margin, about as tight as "
    "FER2013's crops; frames without a face are skipped"
)


@dataclass(frozen=True)
class FaceContract:
    """How a face model's inputs are made.

    trained : the ``FaceParams`` of its training faces. media : those used on new media
    (``trained``, or Haar detection without margin for a model of pre-cropped faces).
    fps, max_frames : the frame sampling of its training clips.
    resize_to : side (px) the faces are resized to before the model (pretrain-gan ``--size``
    smaller than the faces, area interpolation); 0: used as made.
    note : how new media's faces differ from the training faces' making ('' if not).
    """

    trained: Any
    media: Any
    fps: float
    max_frames: int
    resize_to: int = 0
    note: str = ""

    @property
    def precropped(self) -> bool:
        return bool(self.note)


def face_contract(info: Any, where: str, option: str = "") -> FaceContract:
    """The contract a face model records (``info``: its ModelInfo).

    Raises :class:`ArtifactError` when it is not a face model, or lacks the ``FaceParams``
    (``input.upstream.preprocessing``), or disagrees with them (size, channels).
    """
    from emocli.faces import FaceParams
    from emocli.video import DEFAULT_FPS

    upstream = recorded_upstream(info, where, "faces", option)
    stored = upstream.get("preprocessing")
    if not isinstance(stored, dict):
        raise ArtifactError(
            f"{where}: its 'input' attribute lacks the face preprocessing parameters "
            "(input.upstream.preprocessing); the faces it was trained on cannot be reproduced. "
            "Models of pretrain-gan written before emocli recorded them: rerun the same "
            "pretrain-gan command with --force to rebuild it"
        )
    try:
        trained = FaceParams.from_dict(stored)
    except (ParamsError, TypeError) as exc:
        raise ArtifactError(
            f"{where}: its face preprocessing parameters cannot be reproduced ({exc})"
        ) from exc
    if info.input.get("column", "images") != "images" or info.channels != 1:
        raise ArtifactError(
            f"{where}: trained on {info.channels}-channel {info.input.get('column')!r} rows; "
            "face preprocessing makes 1-channel grey 'images'"
        )
    media, note = trained, ""
    if trained.detector == "none":  # trained on crops: a frame needs a face found and cropped
        media = dataclasses.replace(trained, detector="haar", margin=0.0, on_miss="reject")
        note = PRECROPPED_NOTE
    resize_to = 0
    if info.input_size != (trained.size, trained.size):
        square = info.input_size[0] == info.input_size[1]
        if info.input.get("resized_from") != trained.size or not square:
            raise ArtifactError(
                f"{where}: its input is {info.input_size} but its face preprocessing makes "
                f"{trained.size}x{trained.size} faces"
            )
        resize_to = info.input_size[0]
    sampling = params_of(upstream)
    fps = float(sampling.get("fps", DEFAULT_FPS))
    return FaceContract(trained, media, fps, int(sampling.get("max_frames", 0)), resize_to, note)


def faces_of_frames(
    frames: Iterable[np.ndarray],
    contract: FaceContract,
    still: bool = False,
    detect_every: int = 1,
) -> tuple[list[Any], np.ndarray, list[int]]:
    """The model's input faces of one clip's frames (or one image, ``still``).

    frames : (H, W) grey or (H, W, 3) BGR images, consumed one at a time.
    Returns the :class:`~emocli.faces.TrackedFace` of every frame, the (F, S, S) uint8 faces
    of the F frames with a face at the model's input side S, and those frames' indices.
    An image may itself be a crop: for a model of pre-cropped faces it is kept whole when no
    face is found.
    """
    from emocli.faces import track_frames

    params = contract.media
    if still and contract.precropped:
        params = dataclasses.replace(params, on_miss="keep")
    tracked = track_frames(frames, params, detect_every, still)
    kept = [i for i, t in enumerate(tracked) if t.result.face is not None]
    side = contract.resize_to or params.size
    if not kept:
        return tracked, np.zeros((0, side, side), np.uint8), kept
    faces = np.stack([np.asarray(tracked[i].result.face) for i in kept])
    if contract.resize_to:
        from emocli.faces.geometry import resize_images

        faces = resize_images(faces, contract.resize_to)
    return tracked, faces, kept


def check_faces_artifact(info: Any, table: Any, where: str) -> list[str]:
    """Refuse a faces artifact made differently from the model's training faces; the notes of
    the differences that are bridged. ``table``: the artifact's SampleTable."""
    upstream = info.input.get("upstream") if isinstance(info.input.get("upstream"), dict) else {}
    problems: list[str] = []
    notes: list[str] = []
    (h, w), c = info.input_size, info.channels
    tc, th, tw = table.shape
    if (th, tw) != (h, w):
        problems.append(
            f"model expects {h} px faces; this artifact holds {th} px faces"
            if h == w and th == tw
            else f"model expects {h}x{w} faces; this artifact holds {th}x{tw} faces"
        )
    if tc != c:
        problems.append(f"model expects {c}-channel faces; this artifact holds {tc}-channel faces")
    mine, theirs = face_preprocessing(upstream), face_preprocessing(table.upstream)
    if isinstance(mine, dict) and isinstance(theirs, dict):
        look = differences(mine, theirs, FACE_LOOK_KEYS)
        if look:
            problems.append("face preprocessing differs: " + "; ".join(look))
        other = [k for k in sorted(set(mine) | set(theirs)) if k not in FACE_LOOK_KEYS]
        detection = differences(mine, theirs, other)
        if detection:
            notes.append(
                "face detection settings differ ("
                + "; ".join(detection)
                + "): they change which faces were found, not how a face is cropped; "
                "predicted anyway"
            )
    elif isinstance(mine, dict) != isinstance(theirs, dict):
        side = "the model's training faces" if isinstance(theirs, dict) else "this artifact"
        notes.append(
            f"the face preprocessing of {side} is not recorded: only size and channels were checked"
        )
    refuse(where, problems)
    return notes


def face_preprocessing(upstream: dict[str, Any]) -> dict[str, Any] | None:
    """The face preprocessing of a faces artifact (its ``preprocessing`` attribute), else the
    look-changing ones among the params of the preprocess-faces run that made it, else None."""
    stored = upstream.get("preprocessing")
    if isinstance(stored, dict):
        return stored
    params = upstream.get("params")
    if upstream.get("stage") == "preprocess-faces" and isinstance(params, dict):
        return {key: params[key] for key in FACE_LOOK_KEYS if key in params}
    return None
