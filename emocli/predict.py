"""``emocli predict``: any video, image or audio file in, emotion probabilities out.

The orchestration only; each model's inputs are made by its input contract
(:mod:`emocli.contract`), recorded when it was trained, so new media are prepared exactly like
the training data:

1. frames: decoded in a stream (:func:`emocli.video.iter_frames`) at the face model's training
   rate, or at ``--fps`` (``all``: every frame); an image is one frame;
2. faces: :func:`emocli.contract.faces_of_frames`, the face track of preprocess-faces with the
   model's ``FaceParams``, detecting faces on every frame up to about :data:`DETECT_RATE` per
   second and interpolating between detections above it;
3. face model: per-frame probabilities in batches; the clip's video probabilities are their
   mean over the frames with a face (the thesis's frame-to-video late fusion);
4. audio, in a second thread while the frames are decoded: the waveform at the front end's
   rate, then :func:`emocli.contract.audio_rows` (log-mel features standardised with the
   model's training statistics, or their rendered image);
5. fusion: a stored fuser (:func:`emocli.fusion.read_fuser`) in the modality order it was
   trained with, else the mean of the modalities present.

A model whose preprocessing cannot be reproduced is refused with an :class:`ArtifactError`.
A clip that lacks a modality (no face found, no audio track) is not an error: its result
says what is missing and uses what it has. Nothing here prints or writes files
(:mod:`emocli.timeline` writes the outputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocli.contract import (
    AudioContract,
    FaceContract,
    audio_contract,
    face_contract,
    faces_of_frames,
)
from emocli.datasets.common import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from emocli.errors import ArtifactError, InputError
from emocli.labels import column_order
from emocli.progress import ProgressHook, no_progress
from emocli.training.classify import classify

#: Input kinds: what a file is read as.
KIND_VIDEO, KIND_IMAGE, KIND_AUDIO = "video", "image", "audio"
#: Modality names, as the fusion stage calls them.
FACE, AUDIO = "face", "audio"
#: Fusion methods reported when no stored fuser is applied.
FUSION_SINGLE, FUSION_MEAN = "single", "mean"
#: Face detections per second of video when frames are kept more often (``--detect-every 0``).
DETECT_RATE = 5.0
#: Decoding threads for one video (predict reads one file at a time).
DECODE_THREADS = 2
#: The progress bar moves every this many frames of a video.
PROGRESS_EVERY = 30


# --------------------------------------------------------------------------- models


@dataclass
class FaceModel:
    """A face classifier with its input contract (how its faces are made)."""

    model: Any
    info: Any
    contract: FaceContract
    onnx: Any = None  # an OnnxClassifier run instead of ``model`` (.onnx, int8 graph, --runtime)

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)


@dataclass
class AudioModel:
    """An audio classifier with its input contract (log-mel front end, statistics)."""

    model: Any
    info: Any
    contract: AudioContract
    onnx: Any = None  # an OnnxClassifier run instead of ``model`` (.onnx, int8 graph, --runtime)

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)


#: Suffix of a model exported by ``emocli export`` (run with onnxruntime, without torch).
ONNX_SUFFIX = ".onnx"


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


@dataclass(frozen=True)
class Sampling:
    """Which frames of a video are classified, and how often faces are detected.

    fps : frames per second kept (``0``: every frame; ``None``: the face model's training clips'
    rate and frame cap). detect_every : detect faces on every k-th kept frame, the frames
    between take the faces found around them (:func:`emocli.faces.track_frames`); ``0``:
    about :data:`DETECT_RATE` detections per second of video.
    """

    fps: float | None = None
    detect_every: int = 0

    def __post_init__(self) -> None:
        if self.fps is not None and self.fps < 0:
            raise InputError("--fps must be 'all' or a positive number of frames per second")
        if self.detect_every < 0:
            raise InputError("--detect-every must be >= 0 (0: automatic)")


def parse_fps(text: str | None) -> float | None:
    """``--fps``: ``all`` -> 0 (every frame), a number -> itself, None -> None (the model's)."""
    if text is None:
        return None
    if text.strip().lower() == "all":
        return 0.0
    try:
        fps = float(text)
    except ValueError:
        fps = -1.0
    if not fps > 0:
        raise InputError(f"--fps {text!r}: give 'all' or a positive number of frames per second")
    return fps


def detection_step(sampling: Sampling, kept_rate: float) -> int:
    """Frames between two face detections at a kept-frame rate of ``kept_rate`` per second:
    ``--detect-every``; else every frame at the model's own sampling (its training faces were
    detected on every sampled frame), and about :data:`DETECT_RATE` per second at a ``--fps``."""
    if sampling.detect_every:
        return sampling.detect_every
    if sampling.fps is None:
        return 1
    return max(1, round(kept_rate / DETECT_RATE))


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


# --------------------------------------------------------------------------- results


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


# --------------------------------------------------------------------------- inputs


def input_kind(path: Path) -> str:
    """``image``, ``audio`` or ``video`` from the file name's extension (anything else: video)."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return KIND_IMAGE
    if suffix in AUDIO_EXTENSIONS:
        return KIND_AUDIO
    return KIND_VIDEO


def clip_names(paths: Sequence[Path]) -> list[str]:
    """A unique, file-name-safe name per input: its stem, prefixed by its folder when stems repeat."""
    stems = [p.stem for p in paths]
    names = [f"{p.parent.name}-{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    out: list[str] = []
    for name in names:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "clip"
        candidate, k = safe, 2
        while candidate in out:
            candidate, k = f"{safe}-{k}", k + 1
        out.append(candidate)
    return out


# --------------------------------------------------------------------------- inference


def _classify(loaded: Any, rows: np.ndarray) -> np.ndarray:
    """(N, K) probabilities of raw rows with a loaded face or audio model, by its runtime."""
    if loaded.onnx is not None:
        return np.asarray(loaded.onnx.predict_proba_raw(rows), dtype=np.float64)
    return classify(loaded.model, loaded.info, rows)


def _face_probs(
    pred: Predictor, path: Path, kind: str, clip: ClipResult, progress: ProgressHook
) -> None:
    from emocli.faces import decode_image
    from emocli.video import Frame, VideoDecodeError, iter_frames, video_rate

    face = pred.face
    assert face is not None
    contract = face.contract
    if face.contract.note:
        clip.notes.append(f"face: {contract.note}")
    if kind == KIND_IMAGE:
        grey, reason = decode_image(path)
        if grey is None:
            clip.notes.append(f"face: image unreadable ({reason})")
            return
        frames: list[Frame] = [Frame(0, 0.0, grey)]
        tracked, faces, kept = faces_of_frames([grey], contract, still=True)
    else:
        sampling = pred.sampling
        fps = contract.fps if sampling.fps is None else sampling.fps
        max_frames = contract.max_frames if sampling.fps is None else 0
        try:
            rate, total = video_rate(path)
        except VideoDecodeError as exc:
            clip.notes.append(f"face: no video frames ({exc.reason})")
            return
        kept_rate = min(fps, rate) if fps > 0 else rate
        expected = max(1, round(total * kept_rate / rate)) if total else 0
        if max_frames:
            expected = min(expected, max_frames) if expected else max_frames
        frames = []

        def images() -> Any:
            for frame in iter_frames(path, fps, max_frames, colour="grey", threads=DECODE_THREADS):
                frames.append(Frame(frame.index, frame.time, np.empty(0, np.uint8)))
                yield frame.image
                if len(frames) % PROGRESS_EVERY == 0:
                    progress(f"{clip.name} frames", len(frames), max(expected, len(frames)))

        try:
            step = detection_step(sampling, kept_rate)
            tracked, faces, kept = faces_of_frames(images(), contract, detect_every=step)
        except VideoDecodeError as exc:
            clip.notes.append(f"face: no video frames ({exc.reason})")
            return
        progress(f"{clip.name} frames", len(frames), len(frames))
        if not frames:
            clip.notes.append("face: no video frames (no decodable frames)")
            return
    probs = np.zeros((0, len(pred.classes)))
    if kept:
        probs = restricted(_classify(face, faces[:, None]), pred.face_order)
        clip.faces = faces
    by_frame = dict(zip(kept, probs, strict=True))
    clip.frames = [
        FrameResult(f.index, f.time, t.box, t.result.status, by_frame.get(i))
        for i, (f, t) in enumerate(zip(frames, tracked, strict=True))
    ]
    if not kept:
        clip.notes.append(f"face: no face in any of the {len(frames)} sampled frames")
        return
    clip.modality_probs[FACE] = probs.mean(axis=0)
    note = left_out(face.classes, pred.classes, FACE)
    clip.notes += [note] if note else []


def _audio_probs(pred: Predictor, path: Path) -> tuple[np.ndarray | None, str]:
    """The audio model's (K,) probabilities of one file, or None and why not."""
    from emocli.audio import AudioDecodeError, decode_audio
    from emocli.contract import audio_rows

    audio = pred.audio
    assert audio is not None
    try:
        waveform = decode_audio(path, audio.contract.frontend.sample_rate)
    except AudioDecodeError as exc:
        return None, f"audio modality missing ({exc.reason})"
    return restricted(
        _classify(audio, audio_rows(waveform, audio.contract))[0], pred.audio_order
    ), ""


def _fuse(pred: Predictor, clip: ClipResult) -> None:
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


def predict_file(
    pred: Predictor, path: Path, name: str, progress: ProgressHook = no_progress
) -> ClipResult:
    """One input file -> its :class:`ClipResult` (faces and/or audio, then fusion). The audio
    of a video is decoded and classified in a second thread while its frames are."""
    from concurrent.futures import ThreadPoolExecutor

    kind = input_kind(path)
    clip = ClipResult(path, name, kind, None, {}, "")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        audio = None
        if kind != KIND_IMAGE and pred.audio is not None:
            audio = pool.submit(_audio_probs, pred, path)
        if kind != KIND_AUDIO and pred.face is not None:
            _face_probs(pred, path, kind, clip, progress)
        if audio is not None:
            probs, missing = audio.result()
            if probs is None:
                clip.notes.append(missing)
            else:
                clip.modality_probs[AUDIO] = probs
                assert pred.audio is not None
                note = left_out(pred.audio.classes, pred.classes, AUDIO)
                clip.notes += [note] if note else []
    finally:  # Ctrl-C does not wait for the audio thread (its result is not needed)
        pool.shutdown(wait=False, cancel_futures=True)
    _fuse(pred, clip)
    if clip.probs is not None:
        clip.probs = clip.probs / clip.probs.sum()
    return clip


def check_inputs(pred: Predictor, paths: Sequence[Path]) -> None:
    """Refuse inputs no given model can read (an audio file without --audio-model ...)."""
    if not paths:
        raise InputError("give at least one video, image or audio file")
    for path in paths:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file")
        kind = input_kind(Path(path))
        if kind == KIND_AUDIO and pred.audio is None:
            raise InputError(f"{path}: an audio file needs an --audio-model")
        if kind == KIND_IMAGE and pred.face is None:
            raise InputError(f"{path}: an image needs a --face-model")


def predict(
    paths: Sequence[Path], pred: Predictor, progress: ProgressHook = no_progress
) -> PredictResult:
    """Every input file -> a :class:`ClipResult`, in input order."""
    paths = [Path(p) for p in paths]
    check_inputs(pred, paths)
    names = clip_names(paths)
    clips = []
    progress("predict", 0, len(paths))
    for i, (path, name) in enumerate(zip(paths, names, strict=True)):
        clips.append(predict_file(pred, path, name, progress))
        progress("predict", i + 1, len(paths))
    return PredictResult(list(pred.classes), clips)
