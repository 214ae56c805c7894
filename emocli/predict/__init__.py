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
(what comes out); everything public (each module's ``__all__``) is re-exported here.
"""

from emocli.predict import media, predictor, results, sampling
from emocli.predict.media import *  # noqa: F403
from emocli.predict.predictor import *  # noqa: F403
from emocli.predict.results import *  # noqa: F403
from emocli.predict.sampling import *  # noqa: F403

#: Each module's public names (its ``__all__``).
__all__ = [*media.__all__, *predictor.__all__, *results.__all__, *sampling.__all__]
