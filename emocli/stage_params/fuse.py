"""``fuse``'s parameters and choices, declared once for the command, the stage and
:mod:`emocli.fusion`."""

from __future__ import annotations

from dataclasses import dataclass

from emocli.params import param, require

#: Fusion methods of ``emocli fuse`` (their fusers: :data:`emocli.fusion.base.FUSERS`).
FUSION_METHODS: tuple[str, ...] = ("mean", "weighted", "svm", "mlp")
#: What happens to clips that lack a modality.
MISSING_POLICIES: tuple[str, ...] = ("drop", "fallback")
#: How the rows of one clip are combined.
CLIP_REDUCTIONS: tuple[str, ...] = ("mean", "median", "max-confidence")
#: Modality attribute of fuse's outputs; such artifacts are never picked as default inputs.
FUSED = "fused"


@dataclass(frozen=True)
class FuseParams:
    """method : mean | weighted | svm | mlp.
    missing : drop | fallback (clips lacking a modality).
    reduce : frame -> clip rule, mean | median | max-confidence.
    train_split : the split trained fusers learn from (only that one).
    cv_folds, seed : stratified k-fold CV for weights / C and gamma / calibration; all seeded.
    svm_c, svm_gamma : the grid searched (the thesis's best, C=1 and gamma=0.1, is in it).
    weight_step : grid step of the modality weights (they sum to 1).
    mlp_* : the MLP fuser (dense 28 ReLU, dropout 0.25, RMSprop lr 1e-3, batch 32 as the
    thesis/Keras defaults; early stopping after ``mlp_patience`` epochs without improvement
    of the loss on ``mlp_holdout`` of the training clips).
    modalities : names of the inputs' modalities, in input order (default: each artifact's
    ``modality`` attribute).

    ``method`` (its default: a ``--fuser``'s method), ``svm_c``, ``svm_gamma`` (repeated, the
    grid above by default) and ``modalities`` (``--modality``, repeated) have the command's own
    options; the fields without ``--help`` text have none.
    """

    method: str = "mean"
    missing: str = param("drop", f"Clips lacking a modality: {' | '.join(MISSING_POLICIES)}.")
    reduce: str = param("mean", f"Frames -> clip: {' | '.join(CLIP_REDUCTIONS)}.")
    train_split: str = param("train", "The only split trained fusers learn from.")
    cv_folds: int = param(5, "Folds of the cross-validation.", min=2)
    seed: int = param(0, "Seed of folds, SVM and MLP.")
    svm_c: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    svm_gamma: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
    weight_step: float = 0.05
    mlp_hidden: int = 28
    mlp_dropout: float = 0.25
    mlp_lr: float = 1e-3
    mlp_batch_size: int = 32
    mlp_max_epochs: int = 500
    mlp_patience: int = 30
    mlp_holdout: float = 0.2
    modalities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require(
            self.method in FUSION_METHODS, f"--method must be one of {', '.join(FUSION_METHODS)}"
        )
        require(
            self.missing in MISSING_POLICIES,
            f"--missing must be one of {', '.join(MISSING_POLICIES)}",
        )
        require(
            self.reduce in CLIP_REDUCTIONS, f"--reduce must be one of {', '.join(CLIP_REDUCTIONS)}"
        )
        require(bool(self.train_split), "--train-split must not be empty")
        require(self.cv_folds >= 2, f"--cv-folds must be >= 2, got {self.cv_folds}")
        require(len(self.svm_c) > 0 and all(c > 0 for c in self.svm_c), "SVM C values must be > 0")
        require(
            len(self.svm_gamma) > 0 and all(g > 0 for g in self.svm_gamma),
            "SVM gamma values must be > 0",
        )
        require(0 < self.weight_step <= 0.5, "the weight step must be in (0, 0.5]")
        require(self.mlp_hidden >= 1, "the MLP needs at least one hidden unit")
        require(0 <= self.mlp_dropout < 1, "MLP dropout must be in [0, 1)")
        require(self.mlp_lr > 0, "the MLP learning rate must be > 0")
        require(self.mlp_batch_size >= 1, "the MLP batch size must be >= 1")
        require(self.mlp_max_epochs >= 1, "the MLP needs at least one epoch")
        require(self.mlp_patience >= 1, "MLP patience must be >= 1")
        require(0 < self.mlp_holdout < 0.5, "the MLP hold-out fraction must be in (0, 0.5)")
        require(
            all(m and m != FUSED for m in self.modalities),
            "modality names must be non-empty and not 'fused'",
        )
