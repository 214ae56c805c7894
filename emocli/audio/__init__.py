"""Pure signal functions for the audio path: decode, pad, pre-emphasis, log-mel, normalise, render.

The thesis's front end (seeds/001, section IV-A), every step a function here:

1. decode the audio track of any file FFmpeg reads (PyAV), average the channels to mono and
   resample to a fixed rate, clip to [-1, 1] (:func:`decode_audio`);
2. optionally trim leading and trailing silence (:func:`trim_silence`), then zero-pad at the
   end, or centre-crop, to a common length (:func:`pad_or_crop`);
3. pre-emphasis ``y[t] = x[t] - a x[t-1]`` with ``x[-1] = 0`` (:func:`preemphasis`);
4. 25 ms Hamming frames every 10 ms, power spectrum, 40 mel bands, log in dB with librosa
   (:func:`log_mel`);
5. each spectrogram standardised by its own mean and std (:func:`normalise_each`), then by
   the training set's statistics (:class:`NormStats`, :func:`apply_stats`);
6. optionally rendered as a colour image for image networks (:func:`spectrogram_image`).

:func:`logmel_features` chains 2-5 for one waveform with the :class:`FrontEnd` and
:class:`NormStats` stored in a ``spectrograms`` artifact, so a trained model can preprocess a
new recording exactly as its training data. Nothing here reads or writes artifacts.

Modules: :mod:`~emocli.audio.decode` (step 1), :mod:`~emocli.audio.frontend` (2-5),
:mod:`~emocli.audio.image` (6), :mod:`~emocli.audio.batch` (build-spectrograms' front end of
its options and its two passes over a batch of clips), :mod:`~emocli.audio.preview` (its
preview PNG); everything public (each module's ``__all__``) is re-exported here.
"""

from emocli.audio import batch, decode, frontend, image, preview
from emocli.audio.batch import *  # noqa: F403
from emocli.audio.decode import *  # noqa: F403
from emocli.audio.frontend import *  # noqa: F403
from emocli.audio.image import *  # noqa: F403
from emocli.audio.preview import *  # noqa: F403
from emocli.stage_params.spectrograms import (
    CLIP_NORMS,
    GLOBAL_NORMS,
    HOP_SECONDS,
    N_MELS,
    PREEMPHASIS,
    TOP_DB,
    WIN_SECONDS,
)

#: Each module's public names (its ``__all__``), and the front end's defaults.
__all__ = [
    *batch.__all__,
    *decode.__all__,
    *frontend.__all__,
    *image.__all__,
    *preview.__all__,
    "CLIP_NORMS",
    "GLOBAL_NORMS",
    "HOP_SECONDS",
    "N_MELS",
    "PREEMPHASIS",
    "TOP_DB",
    "WIN_SECONDS",
]
