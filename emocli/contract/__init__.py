"""Input contracts: how a trained model's inputs are made, recorded once by training and
used by everything that feeds the model.

- training records it: :func:`model_input` (the model's ``input`` attribute) with
  :func:`upstream_of` its training artifact (finetune, pretrain-gan);
- ``emocli predict`` on media rebuilds inputs from it: :func:`face_contract` +
  :func:`faces_of_frames` (the face track of :mod:`emocli.faces.track`), :func:`audio_contract`
  + :func:`audio_rows`;
- ``emocli predict`` on an artifact checks the artifact against it: :func:`check_artifact`
  (a difference that changes what a row looks like is refused naming it; one that can be
  bridged is stated), :func:`stats_bridge`.
"""

from __future__ import annotations

from typing import Any

from emocli.contract.audio import (
    AudioContract,
    audio_contract,
    audio_rows,
    check_spectrograms_artifact,
    stats_bridge,
)
from emocli.contract.common import model_input, recorded_upstream, upstream_of
from emocli.contract.faces import (
    FACE_LOOK_KEYS,
    PRECROPPED_NOTE,
    FaceContract,
    check_faces_artifact,
    face_contract,
    faces_of_frames,
)


def check_artifact(info: Any, table: Any, where: str) -> list[str]:
    """Refuse an artifact (``table``: its SampleTable) made differently from the model's
    training input (``info``: its ModelInfo); the notes of the differences that are bridged.
    Raises :class:`~emocli.errors.ArtifactError` naming every difference that is not."""
    if table.kind == "faces":
        return check_faces_artifact(info, table, where)
    return check_spectrograms_artifact(info, table, where)


__all__ = [
    "FACE_LOOK_KEYS",
    "PRECROPPED_NOTE",
    "AudioContract",
    "FaceContract",
    "audio_contract",
    "audio_rows",
    "check_artifact",
    "face_contract",
    "faces_of_frames",
    "model_input",
    "recorded_upstream",
    "stats_bridge",
    "upstream_of",
]
