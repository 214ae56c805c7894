"""What ``emocli predict`` runs on, and with which models.

Its inputs are media files (videos, images, audio files) or one faces / spectrograms
artifact, never both. Its models are the ``--face-model`` / ``--audio-model`` given (a path,
or a bundled model's name: :func:`emocli.zoo.resolve_model`), else the bundled models that
fit the inputs: ``face`` for images and videos, ``voice`` for audio files and videos (their
probabilities averaged), the model of its kind for an artifact.

The decisions only: each refusal is an :class:`~emocli.errors.InputError` or a
:class:`~emocli.errors.ParamsError` that says what to give. The predicting is
:mod:`emocli.predict` (media files) and ``stages/predict_artifact.py`` (an artifact).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emocli.errors import InputError, ParamsError
from emocli.zoo import installed, resolve_model

#: File suffixes of an artifact input.
ARTIFACT_SUFFIXES = (".h5", ".hdf5")
#: The artifact kinds predict takes.
ARTIFACT_KINDS = ("faces", "spectrograms")


@dataclass(frozen=True)
class PredictInputs:
    """One predict command's inputs and models.

    kind : the kind of the artifact input (``faces``, ``spectrograms``); ``""`` for media.
    face_model, audio_model : the model files; for an artifact, only the one of its kind.
    """

    paths: list[Path]
    kind: str
    face_model: Path | None
    audio_model: Path | None

    @property
    def model(self) -> Path:
        """The model of an artifact input."""
        model = self.face_model if self.kind == "faces" else self.audio_model
        assert model is not None, "media inputs have no single model"
        return model


def predict_inputs(
    paths: list[Path],
    face_model: Path | None,
    audio_model: Path | None,
    fuser: Path | None,
    frames_chosen: bool,
) -> PredictInputs:
    """The inputs of ``emocli predict PATHS`` and their models.

    face_model, audio_model, fuser : the model options as given (None when not).
    frames_chosen : whether ``--fps`` or ``--detect-every`` was given (refused for an artifact).
    """
    face = resolve_model(face_model, "--face-model") if face_model is not None else None
    audio = resolve_model(audio_model, "--audio-model") if audio_model is not None else None
    kind = artifact_kind(paths)
    if not kind:
        if face is None and audio is None:
            face, audio = bundled_for_media(paths)
        return PredictInputs(paths, "", face, audio)
    if frames_chosen:
        raise ParamsError(
            "--fps and --detect-every choose video frames; an artifact's rows are predicted as made"
        )
    model = artifact_model(paths[0], kind, face, audio, fuser)
    if kind == "faces":
        return PredictInputs(paths, kind, model, None)
    return PredictInputs(paths, kind, None, model)


def artifact_kind(paths: list[Path]) -> str:
    """The artifact kind (faces / spectrograms) when every input is such an .h5 artifact, ``""``
    when none is; refuses a mix, several artifacts, and another .h5 kind."""
    from emocli.artifacts import open_artifact

    h5 = [p for p in paths if p.suffix.lower() in ARTIFACT_SUFFIXES]
    if not h5:
        return ""
    if len(h5) != len(paths):
        media = [str(p) for p in paths if p not in h5]
        raise InputError(
            f"cannot mix artifacts ({', '.join(map(str, h5))}) and media files "
            f"({', '.join(media)}): predict an artifact, or videos/images/audio, per command"
        )
    if len(h5) > 1:
        raise InputError(
            f"give one artifact per command (got {len(h5)}): each writes its own predictions "
            "artifact"
        )
    with open_artifact(h5[0], ARTIFACT_KINDS) as art:
        return str(art.kind)


def bundled_for_media(paths: list[Path]) -> tuple[Path | None, Path | None]:
    """Without a model option: the bundled ``face`` model for images and videos and ``voice``
    for audio files and videos; refused when this installation has neither that fits."""
    from emocli.predict import KIND_AUDIO, KIND_IMAGE, input_kind

    kinds = {input_kind(Path(p)) for p in paths}
    face = installed("face") if kinds - {KIND_AUDIO} else None
    voice = installed("voice") if kinds - {KIND_IMAGE} else None
    if face is None and voice is None:
        wanted = " or ".join(
            name for name, kind in (("face", KIND_IMAGE), ("voice", KIND_AUDIO)) if kind in kinds
        )
        raise InputError(
            "give a --face-model and/or an --audio-model: this installation has no bundled "
            f"{wanted or 'face or voice'} model for these inputs (make zoo builds them from "
            "FER2013 and RAVDESS)"
        )
    return face, voice


def artifact_model(
    artifact: Path,
    kind: str,
    face_model: Path | None,
    audio_model: Path | None,
    fuser: Path | None,
) -> Path:
    """The model that predicts an artifact of ``kind``: the model option of its kind, else
    the bundled model of its kind. Refuses a ``--fuser``, the other kind's option, a model
    that is not a file, and a bundled model this installation lacks."""
    faces = kind == "faces"
    option, model = ("--face-model", face_model) if faces else ("--audio-model", audio_model)
    other_option, other = ("--audio-model", audio_model) if faces else ("--face-model", face_model)
    if fuser is not None:
        raise ParamsError(
            "--fuser fuses media predictions; for artifacts run emocli fuse on the predictions"
        )
    if other is not None:
        raise ParamsError(
            f"{artifact} is a {kind} artifact: give its model as {option}, not {other_option}"
        )
    model = model or installed("face" if faces else "voice")
    if model is None:
        raise InputError(
            f"{artifact} is a {kind} artifact: give the model to predict it with ({option} M.h5); "
            "this installation has no bundled model for it (make zoo builds them)"
        )
    if not model.is_file():
        raise InputError(f"{option} {model}: no such file")
    return model
