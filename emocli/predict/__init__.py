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

Modules: :mod:`~emocli.predict.predictor` (loading the models, matching their classes,
fusing a clip), :mod:`~emocli.predict.sampling` (which frames are classified),
:mod:`~emocli.predict.media` (steps 1-4 for each file), :mod:`~emocli.predict.results`
(what comes out); everything is re-exported here.
"""

from emocli.predict.media import (
    DECODE_THREADS,
    PROGRESS_EVERY,
    check_inputs,
    clip_names,
    input_kind,
    predict,
    predict_file,
)
from emocli.predict.predictor import (
    ONNX_SUFFIX,
    AudioModel,
    FaceModel,
    Predictor,
    fuse_clip,
    left_out,
    load_audio_model,
    load_face_model,
    load_predictor,
    restricted,
    shared_classes,
)
from emocli.predict.results import (
    AUDIO,
    FACE,
    FUSION_MEAN,
    FUSION_SINGLE,
    KIND_AUDIO,
    KIND_IMAGE,
    KIND_VIDEO,
    ClipResult,
    FrameResult,
    PredictResult,
)
from emocli.predict.sampling import DETECT_RATE, Sampling, detection_step, parse_fps

__all__ = [
    "AUDIO",
    "DECODE_THREADS",
    "DETECT_RATE",
    "FACE",
    "FUSION_MEAN",
    "FUSION_SINGLE",
    "KIND_AUDIO",
    "KIND_IMAGE",
    "KIND_VIDEO",
    "ONNX_SUFFIX",
    "PROGRESS_EVERY",
    "AudioModel",
    "ClipResult",
    "FaceModel",
    "FrameResult",
    "PredictResult",
    "Predictor",
    "Sampling",
    "check_inputs",
    "clip_names",
    "detection_step",
    "fuse_clip",
    "input_kind",
    "left_out",
    "load_audio_model",
    "load_face_model",
    "load_predictor",
    "parse_fps",
    "predict",
    "predict_file",
    "restricted",
    "shared_classes",
]
