"""Predicting new media: each video, image or audio file -> its :class:`ClipResult`.

Frames are decoded in a stream at the face model's training rate (or ``--fps``), faces made
by the model's input contract (:func:`emocli.contract.faces_of_frames`) and classified in
batches; the audio is decoded and classified in a second thread meanwhile; the modalities are
then fused (:func:`~emocli.predict.predictor.fuse_clip`). Nothing here prints or writes files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emocli.contract import faces_of_frames
from emocli.datasets.common import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from emocli.errors import InputError
from emocli.predict.predictor import Predictor, fuse_clip, left_out, restricted
from emocli.predict.results import (
    AUDIO,
    FACE,
    KIND_AUDIO,
    KIND_IMAGE,
    KIND_VIDEO,
    ClipResult,
    FrameResult,
    PredictResult,
)
from emocli.predict.sampling import detection_step
from emocli.progress import ProgressHook, no_progress
from emocli.training.classify import classify

__all__ = [
    "DECODE_THREADS",
    "PROGRESS_EVERY",
    "check_inputs",
    "clip_names",
    "input_kind",
    "predict",
    "predict_file",
]

#: Decoding threads for one video (predict reads one file at a time).
DECODE_THREADS = 2
#: The progress bar moves every this many frames of a video.
PROGRESS_EVERY = 30


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
    """A unique, file-name-safe name per input: its stem, prefixed by its folder when stems
    repeat."""
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


# --------------------------------------------------------------------------- inference


def _classify(loaded: Any, rows: np.ndarray) -> np.ndarray:
    """(N, K) probabilities of raw rows with a loaded face or audio model, by its runtime."""
    if loaded.onnx is not None:
        return np.asarray(loaded.onnx.predict_proba_raw(rows), dtype=np.float64)
    return classify(loaded.model, loaded.info, rows)


def _face_probs(
    pred: Predictor, path: Path, kind: str, clip: ClipResult, progress: ProgressHook
) -> None:
    """Fill ``clip.frames``, ``clip.faces`` ((F, S, S) uint8) and the face modality's (K,)
    probabilities (the mean over the frames with a face), or a note saying why not."""
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
    fuse_clip(pred, clip)
    if clip.probs is not None:
        clip.probs = clip.probs / clip.probs.sum()
    return clip


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
