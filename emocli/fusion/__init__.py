"""Late fusion: frames -> clips, and several modalities (audio, video ...) -> one prediction.

Pure functions on :class:`~emocli.predictions.Predictions` (no artifact I/O except the
fuser (de)serialisation at the end):

* :func:`reduce_to_clips` combines the rows of one clip (SPEC eq. 1: the mean of the frame
  probability vectors; also the median and the most confident frame). The clip keeps the
  clip's label, not the frames'.
* :func:`join_modalities` joins clip-level predictions of several modalities on
  ``(split, clip_id)``, counting clips that lack a modality; ``drop`` removes them,
  ``fallback`` keeps them and fuses the modalities they have.
* Fusers turn the joined ``(N, M, K)`` probabilities into ``(N, K)`` probabilities:
  :class:`MeanFuser`, :class:`WeightedFuser` (weights chosen by cross-validation on the
  training split), :class:`SvmFuser` (standardised concatenated vectors -> RBF SVM, C
  and gamma by grid search, sigmoid-calibrated probabilities) and ``MlpFuser``
  (:mod:`emocli.fusion.mlp`, torch: imported when used). One module per method, one base
  class (:mod:`~emocli.fusion.base`, with the ``--method`` name -> class registry).

Trained fusers are stored as ``model`` artifacts with plain HDF5 datasets. The SVM is
re-applied by evaluating its decision function in numpy from the stored support vectors,
dual coefficients, intercepts and calibration parameters: nothing is unpickled, and a
fuser gives the same probabilities at fit time and after reloading, because both go
through the same numpy code (checked against scikit-learn in the tests).
"""

from emocli.fusion.base import (
    FUSERS,
    FUSION_METHODS,
    TRAINED_METHODS,
    FeatureFuser,
    Fuser,
    fuser_class,
    mean_of_present,
    stratified_folds,
)
from emocli.fusion.clips import (
    CLIP_REDUCTIONS,
    ClipReduction,
    align_classes,
    clip_keys,
    qualified_ids,
    reduce_to_clips,
)
from emocli.fusion.join import (
    MISSING_POLICIES,
    VISUAL_MODALITIES,
    Joined,
    join_modalities,
    modality_role,
    order_for_fuser,
)
from emocli.fusion.mean import MeanFuser
from emocli.fusion.store import StoredFuser, read_fuser, write_fuser
from emocli.fusion.svm import KERNEL_CHUNK, SvmFuser, fit_svm
from emocli.fusion.weighted import EPS, WeightedFuser, fit_weighted, simplex_grid

__all__ = [
    "CLIP_REDUCTIONS",
    "EPS",
    "FUSERS",
    "FUSION_METHODS",
    "KERNEL_CHUNK",
    "MISSING_POLICIES",
    "TRAINED_METHODS",
    "VISUAL_MODALITIES",
    "ClipReduction",
    "FeatureFuser",
    "Fuser",
    "Joined",
    "MeanFuser",
    "StoredFuser",
    "SvmFuser",
    "WeightedFuser",
    "align_classes",
    "clip_keys",
    "fit_svm",
    "fit_weighted",
    "fuser_class",
    "join_modalities",
    "mean_of_present",
    "modality_role",
    "order_for_fuser",
    "qualified_ids",
    "read_fuser",
    "reduce_to_clips",
    "simplex_grid",
    "stratified_folds",
    "write_fuser",
]
