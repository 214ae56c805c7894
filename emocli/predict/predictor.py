"""The models of one ``emocli predict`` run: loaded with their input contracts, their classes
matched by name, and each clip's modalities fused (a stored fuser, else their mean).

With a face and an audio model and no fuser, the run decides between the classes both know
(:func:`shared_classes`); each model's probabilities are renormalised over them
(:func:`restricted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from emocli.contract import AudioContract, FaceContract, audio_contract, face_contract
from emocli.errors import ArtifactError, InputError
from emocli.labels import column_order
from emocli.predict.results import AUDIO, FACE, FUSION_MEAN, FUSION_SINGLE, ClipResult
from emocli.predict.sampling import Sampling

__all__ = [
    "ONNX_SUFFIX",
    "AudioModel",
    "FaceModel",
    "Predictor",
    "fuse_clip",
    "left_out",
    "load_audio_model",
    "load_face_model",
    "load_predictor",
    "restricted",
    "shared_classes",
]

#: Suffix of a model exported by ``emocli export`` (run with onnxruntime, without torch).
ONNX_SUFFIX = ".onnx"


ContractT = TypeVar("ContractT", FaceContract, AudioContract)


@dataclass
class LoadedModel(Generic[ContractT]):
    """A classifier with its input contract; ``model`` is the torch model (None for an ONNX
    file), ``info`` its ModelInfo (classes, kwargs)."""

    model: Any
    info: Any
    contract: ContractT
    onnx: Any = None  # an OnnxClassifier run instead of ``model`` (.onnx, int8 graph, --runtime)

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)


class FaceModel(LoadedModel[FaceContract]):
    """A face classifier with its input contract (how its faces are made)."""


class AudioModel(LoadedModel[AudioContract]):
    """An audio classifier with its input contract (log-mel front end, statistics)."""


def _load(path: Path, option: str) -> tuple[Any, Any, Any]:
    """(torch model or None, ModelInfo, OnnxClassifier or None) of a model artifact, or of an
    ``emocli export`` ONNX file (its metadata holds the classes and the input contract)."""
    if not Path(path).is_file():
        raise InputError(f"{option} {path}: no such file")
    if Path(path).suffix.lower() == ONNX_SUFFIX:
        from emocli.onnx_runtime import OnnxClassifier

        classifier = OnnxClassifier(path)
        return None, classifier.model_info(), classifier
    from emocli.training.model_store import load_model

    model, info = load_model(path)
    return model, info, None


def load_face_model(path: Path) -> FaceModel:
    """Load a face model (an artifact or an exported ``.onnx``) and its input contract
    (:func:`emocli.contract.face_contract`)."""
    model, info, onnx = _load(path, "--face-model")
    return FaceModel(model, info, face_contract(info, str(path), "--face-model"), onnx)


def load_audio_model(path: Path) -> AudioModel:
    """Load an audio model (an artifact or an exported ``.onnx``) and its input contract
    (:func:`emocli.contract.audio_contract`)."""
    model, info, onnx = _load(path, "--audio-model")
    return AudioModel(model, info, audio_contract(info, str(path), "--audio-model"), onnx)


@dataclass
class Predictor:
    """The models of one ``predict`` run; ``classes`` is the order of every output."""

    face: FaceModel | None = None
    audio: AudioModel | None = None
    fuser: Any = None
    classes: list[str] = field(default_factory=list)
    face_order: list[int] = field(default_factory=list)
    audio_order: list[int] = field(default_factory=list)
    fuser_modalities: list[str] = field(default_factory=list)
    sampling: Sampling = field(default_factory=Sampling)


def load_predictor(
    face_model: Path | None,
    audio_model: Path | None = None,
    fuser: Path | None = None,
    runtime: str = "auto",
    sampling: Sampling | None = None,
) -> Predictor:
    """Load and cross-check the models: classes matched by name, fuser modalities checked.

    runtime : ``auto`` (a model's own int8 graph where it carries one, else torch), ``torch``
    or ``onnx`` (:func:`emocli.int8_graph.onnx_classifier_for`). A model given as an ``.onnx``
    file (``emocli export``) always runs with onnxruntime.
    sampling : the frames of a video classified (default: as the face model's training clips).
    """
    from emocli.int8_graph import RUNTIMES, onnx_classifier_for

    if face_model is None and audio_model is None:
        raise InputError("give a --face-model and/or an --audio-model")
    if runtime not in RUNTIMES:
        raise InputError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    face = load_face_model(face_model) if face_model is not None else None
    audio = load_audio_model(audio_model) if audio_model is not None else None
    for loaded, path in ((face, face_model), (audio, audio_model)):
        if loaded is not None and path is not None and loaded.onnx is None:
            loaded.onnx, _ = onnx_classifier_for(path, runtime)
    stored = None
    if fuser is not None:
        from emocli.fusion import modality_role, read_fuser

        if not Path(fuser).is_file():
            raise InputError(f"--fuser {fuser}: no such file")
        stored = read_fuser(fuser)
        roles = [modality_role(m) for m in stored.modalities]
        known = {"visual": face, "audio": audio}
        if not roles or any(r not in known for r in roles) or len(set(roles)) != len(roles):
            raise ArtifactError(
                f"{fuser}: the fuser was trained on the modalities {stored.modalities}; predict "
                "provides face (or video) and audio"
            )
        lacking = [m for m, r in zip(stored.modalities, roles, strict=True) if known[r] is None]
        if lacking:
            raise ArtifactError(
                f"{fuser}: the fuser was trained on {stored.modalities}; give the model of "
                f"{', '.join(lacking)} too ({' and '.join(_option(m) for m in lacking)})"
            )
        if face is not None and audio is not None and "audio" not in roles:
            raise ArtifactError(
                f"{fuser}: the fuser was trained on {stored.modalities} only; it cannot fuse "
                "the audio model's predictions (leave out --audio-model or use another fuser)"
            )
    main = face or audio
    assert main is not None
    classes = list(stored.classes) if stored is not None else main.classes
    subset = False
    if stored is None and face is not None and audio is not None:
        classes = shared_classes(face.classes, audio.classes, face_model, audio_model)
        subset = True
    pred = Predictor(face=face, audio=audio, classes=classes, sampling=sampling or Sampling())
    if face is not None:
        pred.face_order = column_order(
            face.classes, classes, f"face model {face_model}", ArtifactError, subset
        )
    if audio is not None:
        pred.audio_order = column_order(
            audio.classes, classes, f"audio model {audio_model}", ArtifactError, subset
        )
    if stored is not None:
        pred.fuser = stored.fuser
        pred.fuser_modalities = list(stored.modalities)
    return pred


def shared_classes(
    face: Sequence[str], audio: Sequence[str], face_model: Any, audio_model: Any
) -> list[str]:
    """The classes mean fusion decides between: those both models know, in the face model's
    order (the bundled voice model's ``calm`` is not one of the face model's 7). Each model's
    probabilities are renormalised over them (:func:`restricted`). Raises
    :class:`ArtifactError` when fewer than two are shared."""
    shared = [c for c in face if c in audio]
    if len(shared) < 2:
        raise ArtifactError(
            f"face model {face_model} ({', '.join(face)}) and audio model {audio_model} "
            f"({', '.join(audio)}) share {len(shared)} class(es): nothing to fuse"
        )
    return shared


def restricted(probs: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """(..., K_model) probabilities -> (..., K) over the classes of ``order`` (indices into
    the model's classes), renormalised to sum to one (all but a subset: the same)."""
    kept = np.asarray(probs)[..., list(order)]
    total = kept.sum(axis=-1, keepdims=True)
    return np.asarray(kept / np.where(total > 0, total, 1.0))


def left_out(model_classes: Sequence[str], classes: Sequence[str], name: str) -> str:
    """The note for a modality whose model knows classes the run does not decide between."""
    extra = [c for c in model_classes if c not in classes]
    if not extra:
        return ""
    return (
        f"{name}: the model's {', '.join(extra)} left out (the other model does not know it); "
        "its other probabilities renormalised"
    )


def _option(modality: str) -> str:
    return "--audio-model" if modality == "audio" else "--face-model"


def fuse_clip(pred: Predictor, clip: ClipResult) -> None:
    """Set ``clip.probs`` (K,) and ``clip.fusion`` from its modalities' (K,) probabilities:
    the stored fuser (modalities it lacks filled with 1/K and masked), else their mean."""
    present = clip.modality_probs
    if not present:
        clip.fusion = ""
        clip.notes.append("no modality could be used: no prediction")
        return
    if pred.fuser is not None:
        from emocli.fusion import modality_role

        names = [FACE if modality_role(m) == "visual" else AUDIO for m in pred.fuser_modalities]
        k = len(pred.classes)
        probs = np.stack([present.get(n, np.full(k, 1.0 / k)) for n in names])[None]
        mask = np.array([[n in present for n in names]])
        clip.probs = np.asarray(pred.fuser.predict(probs, mask), np.float64)[0]
        clip.fusion = pred.fuser.method
        if not mask.all():
            used = ", ".join(n for n in names if n in present)
            clip.fusion = f"{pred.fuser.method}->fallback"
            clip.notes.append(
                f"the {pred.fuser.method} fuser needs {' and '.join(names)}: fell back to the "
                f"{used} probabilities"
            )
        return
    stacked = np.stack(list(present.values()))
    clip.probs = stacked.mean(axis=0)
    clip.fusion = FUSION_MEAN if len(present) > 1 else FUSION_SINGLE
