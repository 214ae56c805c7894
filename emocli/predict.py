"""``emocli predict``: any video, image or audio file in, emotion probabilities out.

The orchestration only; every step is a function of another module, used with the parameters
stored in the model artifacts, so new media are prepared exactly like the training data:

1. frames: :func:`emocli.video.sample_frames` at the face artifact's ``fps`` / ``max_frames``
   (an image is one frame);
2. faces: the per-image face pipeline of :mod:`emocli.faces` with the ``FaceParams`` stored
   in the face model's ``input.upstream.preprocessing``, following the main face over the
   clip (:func:`emocli.faces.face_track`; an image takes its main face, as preprocess-faces does);
3. face model: per-frame probabilities; the clip's video probabilities are their mean over the
   frames with a face (the thesis's frame-to-video late fusion);
4. audio: :func:`emocli.audio.decode_audio` at the front end's rate, then
   :func:`emocli.audio.logmel_features` with the ``frontend`` and ``stats`` stored in the audio
   model's ``input.upstream`` (rendered with :func:`emocli.audio.spectrogram_image` when the
   model was trained on spectrogram images);
5. fusion: a stored fuser (:func:`emocli.fusion.read_fuser`) in the modality order it was
   trained with, else the mean of the modalities present.

A model whose preprocessing cannot be reproduced is refused with an :class:`ArtifactError`.
A clip that lacks a modality (no face found, no audio track) is not an error: its result
says what is missing and uses what it has. Nothing here prints or writes files
(:mod:`emocli.timeline` writes the outputs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocli.datasets.common import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from emocli.errors import ArtifactError, InputError, ParamsError
from emocli.progress import ProgressHook, no_progress

#: Faces (or spectrograms) per forward pass.
BATCH_SIZE = 64
#: Input kinds: what a file is read as.
KIND_VIDEO, KIND_IMAGE, KIND_AUDIO = "video", "image", "audio"
#: Modality names, as the fusion stage calls them.
FACE, AUDIO = "face", "audio"
#: Fusion methods reported when no stored fuser is applied.
FUSION_SINGLE, FUSION_MEAN = "single", "mean"


# --------------------------------------------------------------------------- models


#: Said of a model trained on pre-cropped faces (``preprocess-faces --detector none``).
PRECROPPED_NOTE = (
    "the model was trained on pre-cropped faces (--detector none): in each frame the face is "
    "detected (Haar) and cropped to the detector's box without margin, about as tight as "
    "FER2013's crops; frames without a face are skipped"
)


@dataclass
class FaceModel:
    """A face classifier with the preprocessing it was trained with.

    face_params : the ``FaceParams`` of the faces artifact it was trained on.
    fps, max_frames : the frame sampling of that artifact's clips.
    resize_to : side (px) the faces are resized to before the model, as its training did
        (``pretrain-gan --size`` smaller than the faces); 0: used as made.
    note : how the faces of new media differ from the training faces' making ('' if not).
    """

    model: Any
    info: Any
    face_params: Any
    fps: float
    max_frames: int
    resize_to: int = 0
    note: str = ""
    onnx: Any = None  # an OnnxClassifier that replaces ``model`` (``--runtime onnx``)

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)


@dataclass
class AudioModel:
    """An audio classifier with its log-mel front end and normalisation statistics.

    image_size : side of the rendered spectrogram images it takes (0: the (n_mels, T) features).
    """

    model: Any
    info: Any
    frontend: Any
    stats: Any
    image_size: int = 0
    image_cmap: str = "viridis"
    onnx: Any = None  # an OnnxClassifier that replaces ``model`` (``--runtime onnx``)

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)


def _load(path: Path, expected: str, option: str) -> tuple[Any, Any, dict[str, Any]]:
    from emocli.training.model_store import load_model

    if not Path(path).is_file():
        raise InputError(f"{option} {path}: no such file")
    model, info = load_model(path)
    kind = str(info.input.get("kind", ""))
    if kind != expected:
        hint = {"faces": "--face-model", "spectrograms": "--audio-model"}.get(kind)
        raise ArtifactError(
            f"{path}: this model was trained on {kind or 'an unknown input kind'}, not on "
            f"{expected}; it cannot be used as {option}" + (f" (pass it as {hint})" if hint else "")
        )
    if "normalisation" not in info.input:
        raise ArtifactError(
            f"{path}: its 'input' attribute has no 'normalisation'; the input scaling it was "
            "trained with cannot be reproduced (retrain it with this version's finetune)"
        )
    upstream = info.input.get("upstream")
    if not isinstance(upstream, dict):
        raise ArtifactError(
            f"{path}: its 'input' attribute does not record the {expected} artifact it was "
            "trained on (no 'upstream'); its preprocessing cannot be reproduced"
        )
    return model, info, upstream


def _params_of(upstream: dict[str, Any]) -> dict[str, Any]:
    """The upstream stage's params (``{}`` when not recorded)."""
    params = upstream.get("params")
    return params if isinstance(params, dict) else {}


def load_face_model(path: Path) -> FaceModel:
    """Load a face model and the face preprocessing it was trained with.

    Raises :class:`ArtifactError` when it is not a face model, or its artifact lacks the
    ``FaceParams`` (``input.upstream.preprocessing``) or disagrees with them (size, channels).
    """
    from emocli.faces import FaceParams

    model, info, upstream = _load(path, "faces", "--face-model")
    stored = upstream.get("preprocessing")
    if not isinstance(stored, dict):
        raise ArtifactError(
            f"{path}: its 'input' attribute lacks the face preprocessing parameters "
            "(input.upstream.preprocessing); the faces it was trained on cannot be reproduced. "
            "Models of pretrain-gan written before emocli recorded them: rerun the same "
            "pretrain-gan command with --force to rebuild it"
        )
    try:
        params = FaceParams.from_dict(stored)
    except (ParamsError, TypeError) as exc:
        raise ArtifactError(
            f"{path}: its face preprocessing parameters cannot be reproduced ({exc})"
        ) from exc
    if info.input.get("column", "images") != "images" or info.channels != 1:
        raise ArtifactError(
            f"{path}: trained on {info.channels}-channel {info.input.get('column')!r} rows; "
            "face preprocessing makes 1-channel grey 'images'"
        )
    note = ""
    if params.detector == "none":  # trained on crops: a frame needs a face found and cropped
        params = dataclasses.replace(params, detector="haar", margin=0.0, on_miss="reject")
        note = PRECROPPED_NOTE
    resize_to = 0
    if info.input_size != (params.size, params.size):
        if (
            info.input.get("resized_from") != params.size
            or info.input_size[0] != info.input_size[1]
        ):
            raise ArtifactError(
                f"{path}: its input is {info.input_size} but its face preprocessing makes "
                f"{params.size}x{params.size} faces"
            )
        resize_to = info.input_size[0]  # pretrain-gan --size: faces resized as in training
    sampling = _params_of(upstream)
    from emocli.video import DEFAULT_FPS

    fps = float(sampling.get("fps", DEFAULT_FPS))
    max_frames = int(sampling.get("max_frames", 0))
    return FaceModel(model, info, params, fps, max_frames, resize_to, note)


def load_audio_model(path: Path) -> AudioModel:
    """Load an audio model with the log-mel front end and statistics it was trained with.

    Raises :class:`ArtifactError` when it is not a spectrogram model, or its artifact lacks
    the front end / statistics, or they do not produce the input size it takes.
    """
    from emocli.audio import FrontEnd, NormStats

    model, info, upstream = _load(path, "spectrograms", "--audio-model")
    frontend_dict, stats = upstream.get("frontend"), upstream.get("stats")
    if not isinstance(frontend_dict, dict) or not isinstance(stats, dict):
        raise ArtifactError(
            f"{path}: its 'input' attribute lacks the log-mel front end or the normalisation "
            "statistics of its spectrograms (input.upstream.frontend / stats); the features it "
            "was trained on cannot be reproduced"
        )
    try:
        frontend = FrontEnd.from_dict(frontend_dict)
        norm = NormStats(
            np.asarray(stats["mean"], np.float32).reshape(-1),
            np.asarray(stats["std"], np.float32).reshape(-1),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path}: its log-mel front end cannot be rebuilt ({exc})") from exc
    if norm.mean.size not in (1, frontend.n_mels) or norm.std.size != norm.mean.size:
        raise ArtifactError(
            f"{path}: its normalisation statistics have {norm.mean.size} means and "
            f"{norm.std.size} deviations for {frontend.n_mels} mel bands"
        )
    column = info.input.get("column", "features")
    settings = _params_of(upstream)
    if column == "features":
        expected, channels, size = (frontend.n_mels, frontend.n_frames), 1, 0
    elif column == "images":
        size = int(settings.get("as_image", 0))
        expected, channels = (size, size), 3
    else:
        raise ArtifactError(f"{path}: trained on an unknown spectrogram column {column!r}")
    if info.input_size != expected or info.channels != channels:
        raise ArtifactError(
            f"{path}: its input is {info.channels}x{info.input_size} but its front end makes "
            f"{channels}x{expected} {column}; the spectrograms cannot be reproduced"
        )
    return AudioModel(model, info, frontend, norm, size, str(settings.get("image_cmap", "viridis")))


def class_order(source: Sequence[str], target: Sequence[str], what: str) -> list[int]:
    """Indices into ``source`` that put its classes in the order of ``target``, by name.

    Raises :class:`ArtifactError` when the class sets differ.
    """
    if sorted(source) != sorted(target) or len(set(source)) != len(source):
        missing = sorted(set(target) - set(source))
        extra = sorted(set(source) - set(target))
        raise ArtifactError(
            f"{what}: its classes {list(source)} are not the classes {list(target)} "
            f"(missing {missing}, extra {extra}); probabilities can only be combined over "
            "the same classes"
        )
    return [list(source).index(name) for name in target]


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


def load_predictor(
    face_model: Path | None,
    audio_model: Path | None = None,
    fuser: Path | None = None,
    runtime: str = "torch",
) -> Predictor:
    """Load and cross-check the models: classes matched by name, fuser modalities checked.

    runtime : ``torch``, or ``onnx`` (each model exported to ONNX and run with onnxruntime).
    """
    if face_model is None and audio_model is None:
        raise InputError("give a --face-model and/or an --audio-model")
    if runtime not in ("torch", "onnx"):
        raise InputError(f"--runtime must be torch or onnx, not {runtime!r}")
    face = load_face_model(face_model) if face_model is not None else None
    audio = load_audio_model(audio_model) if audio_model is not None else None
    if runtime == "onnx":
        from emocli.export import onnx_classifier

        for loaded, path in ((face, face_model), (audio, audio_model)):
            if loaded is not None and path is not None:
                loaded.onnx = onnx_classifier(path)
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
    pred = Predictor(face=face, audio=audio, classes=classes)
    if face is not None:
        pred.face_order = class_order(face.classes, classes, f"face model {face_model}")
    if audio is not None:
        pred.audio_order = class_order(audio.classes, classes, f"audio model {audio_model}")
    if stored is not None:
        pred.fuser = stored.fuser
        pred.fuser_modalities = list(stored.modalities)
    return pred


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


# --------------------------------------------------------------------------- faces


@dataclass
class _Track:
    boxes: list[tuple[float, float, float, float] | None]
    results: list[Any]  # FaceResult per frame


def track_faces(images: Sequence[np.ndarray], params: Any, still: bool = False) -> _Track:
    """The face pipeline over the frames of one clip, keeping each frame's face box.

    images : (H, W) grey or (H, W, 3) BGR frames of one clip. Follows the main face like
    :func:`emocli.faces.preprocess_frames` (``still``: one image's main face, like
    :func:`emocli.faces.preprocess_image`); boxes are in frame pixels.
    """
    from emocli.faces import detect_faces, face_track, prepare, to_grey
    from emocli.faces.detect import main_face
    from emocli.faces.params import (
        REASON_NO_FACE,
        REASON_TOO_SMALL,
        STATUS_FACE,
        STATUS_KEPT_WHOLE,
        STATUS_WHOLE,
    )
    from emocli.faces.pipeline import FaceResult, finish_face

    boxes: list[list[tuple[float, float, float, float]]] = []
    crops: list[list[Any]] = []
    misses: list[Any] = []
    maps: list[tuple[float, float, float, float]] = []
    content = None
    for image in images:
        grey = to_grey(image)
        h, w = grey.shape
        found: list[Any] = []
        faces: list[Any] = []
        maps.append((0.0, 0.0, 1.0, 1.0))
        if min(h, w) < params.min_image_side:
            miss = FaceResult(None, f"{REASON_TOO_SMALL}: {w}x{h} px")
        else:
            prepared = prepare(grey, params)
            cx, cy, cw, ch = prepared.content
            maps[-1] = (cx, cy, w / cw, h / ch)
            if params.detector == "none":
                miss = finish_face(prepared, None, STATUS_WHOLE, params)
            else:
                content = content or prepared.content
                found = detect_faces(prepared, params)
                faces = [finish_face(prepared, box, STATUS_FACE, params) for box in found]
                miss = (
                    finish_face(prepared, None, STATUS_KEPT_WHOLE, params)
                    if params.on_miss == "keep"
                    else FaceResult(None, REASON_NO_FACE)
                )
        boxes.append(found)
        crops.append(faces)
        misses.append(miss)
    if still:
        track = [main_face(b, content) if b and content else None for b in boxes]
    else:
        track = face_track(boxes, content or (0.0, 0.0, 1.0, 1.0))
    out_boxes: list[tuple[float, float, float, float] | None] = []
    results: list[Any] = []
    for i, k in enumerate(track):
        if k is None:
            out_boxes.append(None)
            results.append(misses[i])
            continue
        x, y, bw, bh = boxes[i][k]
        cx, cy, sx, sy = maps[i]
        out_boxes.append(((x - cx) * sx, (y - cy) * sy, bw * sx, bh * sy))
        results.append(crops[i][k])
    return _Track(out_boxes, results)


# --------------------------------------------------------------------------- inference


def _classify(loaded: Any, rows: np.ndarray) -> np.ndarray:
    """(N, K) probabilities of raw rows with a loaded face or audio model, by its runtime."""
    if loaded.onnx is not None:
        return np.asarray(loaded.onnx.predict_proba_raw(rows), dtype=np.float64)
    return classify(loaded.model, loaded.info, rows)


def classify(model: Any, info: Any, rows: np.ndarray) -> np.ndarray:
    """(N, K) float64 softmax probabilities of raw rows (N, C, H, W), normalised as in training:
    ``(x / scale - mean) / std`` per channel."""
    import torch

    scale, mean, std = info.normalisation()
    mean_t = torch.tensor(mean, dtype=torch.float32)[None, :, None, None]
    std_t = torch.tensor(std, dtype=torch.float32)[None, :, None, None]
    out = []
    with torch.no_grad():
        for start in range(0, len(rows), BATCH_SIZE):
            x = torch.as_tensor(np.asarray(rows[start : start + BATCH_SIZE]), dtype=torch.float32)
            x = (x / scale - mean_t) / std_t
            out.append(torch.softmax(model(x).float(), dim=1).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(info.classes)))


def _face_probs(pred: Predictor, path: Path, kind: str, clip: ClipResult) -> None:
    from emocli.faces import decode_image
    from emocli.video import Frame, VideoDecodeError, sample_frames

    face = pred.face
    assert face is not None
    if kind == KIND_IMAGE:
        grey, reason = decode_image(path)
        if grey is None:
            clip.notes.append(f"face: image unreadable ({reason})")
            return
        frames = [Frame(0, 0.0, grey)]
    else:
        try:
            frames = sample_frames(path, face.fps, face.max_frames, colour="grey")
        except VideoDecodeError as exc:
            clip.notes.append(f"face: no video frames ({exc.reason})")
            return
    params = face.face_params
    if face.note:
        clip.notes.append(f"face: {face.note}")
        if kind == KIND_IMAGE:  # an image may itself be a crop: kept whole if no face is found
            params = dataclasses.replace(params, on_miss="keep")
    track = track_faces([f.image for f in frames], params, still=kind == KIND_IMAGE)
    kept = [i for i, r in enumerate(track.results) if r.face is not None]
    probs = np.zeros((0, len(pred.classes)))
    if kept:
        faces = np.stack([track.results[i].face for i in kept])
        if face.resize_to:
            from emocli.training.gan_data import resize_images

            faces = resize_images(faces, face.resize_to)
        probs = _classify(face, faces[:, None])[:, pred.face_order]
        clip.faces = faces
    by_frame = dict(zip(kept, probs, strict=True))
    clip.frames = [
        FrameResult(f.index, f.time, track.boxes[i], track.results[i].status, by_frame.get(i))
        for i, f in enumerate(frames)
    ]
    if not kept:
        clip.notes.append(f"face: no face in any of the {len(frames)} sampled frames")
        return
    clip.modality_probs[FACE] = probs.mean(axis=0)


def _audio_probs(pred: Predictor, path: Path, clip: ClipResult) -> None:
    from emocli.audio import AudioDecodeError, decode_audio, logmel_features, spectrogram_image

    audio = pred.audio
    assert audio is not None
    try:
        waveform = decode_audio(path, audio.frontend.sample_rate)
    except AudioDecodeError as exc:
        clip.notes.append(f"audio modality missing ({exc.reason})")
        return
    features = logmel_features(waveform, audio.frontend.sample_rate, audio.frontend, audio.stats)
    if audio.image_size:
        image = spectrogram_image(features, audio.image_size, audio.image_cmap)
        row = image.transpose(2, 0, 1)[None]
    else:
        row = features[None, None]
    probs = _classify(audio, row)[0, pred.audio_order]
    clip.modality_probs[AUDIO] = probs


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


def predict_file(pred: Predictor, path: Path, name: str) -> ClipResult:
    """One input file -> its :class:`ClipResult` (faces and/or audio, then fusion)."""
    kind = input_kind(path)
    clip = ClipResult(path, name, kind, None, {}, "")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if kind != KIND_AUDIO and pred.face is not None:
        _face_probs(pred, path, kind, clip)
    if kind != KIND_IMAGE and pred.audio is not None:
        _audio_probs(pred, path, clip)
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
        clips.append(predict_file(pred, path, name))
        progress("predict", i + 1, len(paths))
    return PredictResult(list(pred.classes), clips)
