"""``finetune``'s parameters, declared once for the command, its ``--help`` and the stage
(:mod:`stages.finetune`); light (no numpy, h5py or torch), so validating them before the
up-to-date check stays instant."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emocli.errors import ParamsError
from emocli.params import param, require, runtime_field
from emocli.stage_params import hardware
from emocli.stage_params.choices import (
    AUGMENT_PRESETS,
    DEFAULT_MODEL,
    GROUP_CHOICES,
    GROUP_COLUMNS,
    INIT_IMAGENET,
    MODEL_NAMES,
    OPTIMIZERS,
    SCHEDULERS,
    TTAS,
    parse_freeze,
    parse_subjects,
)
from emocli.stage_params.hardware import HARDWARE
from emocli.zoo import BUNDLED

AUGMENTS = ("auto", *AUGMENT_PRESETS)
CLASS_WEIGHTS = ("none", "balanced")
INPUT_COLUMNS = ("auto", "images", "features")
MONITORS = ("val_loss", "val_accuracy")
VALIDATIONS = ("auto", "split", "holdout", "none")
#: How --stacking predicts the rows no fold held out: the fold models' mean, or a refitted model.
STACKINGS = ("none", "mean", "refit")
#: Lightning precisions; ``32`` is the old spelling of ``32-true``, accepted but not listed.
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "64-true")

#: The ``--help`` panels of the options.
TRANSFER, TRAIN, DATA = "Model and transfer", "Training", "Data and splits"


def _choices(values: Iterable[str], notes: Mapping[str, str] | None = None) -> str:
    """``a | b (note) | c``: an option's values as ``--help`` lists them, some with a note."""
    notes = notes or {}
    return " | ".join(f"{v} ({notes[v]})" if v in notes else v for v in values)


@dataclass(frozen=True)
class FinetuneParams:
    """How to train; each field's ``--help`` text describes it. Beyond that text:

    lr : the peak learning rate with ``onecycle``. weight_decay : L2 coefficient.
    momentum : SGD's (Nesterov when > 0); not an option. label_smoothing : epsilon in [0, 1)
    (Szegedy et al., "Rethinking the Inception architecture", CVPR 2016).
    validation ``holdout`` : e.g. FER2013's PublicTest when it is the test set.
    val_fraction : in [0, 1). test_subjects : ``17-20`` or ``01,03,10-12``, whatever the
    input's split column says (RAVDESS's speaker-independent protocol).
    stacking : Wolpert's stacked generalisation ("Stacked generalization", Neural Networks
    5(2), 1992): a training row (or a ``predict_on`` row of the same clip) gets its out-of-fold
    prediction, every other row (val, test, unlabelled) the mean of the K fold models'
    probabilities (``mean``: a fuser sees inputs of one kind) or the prediction of one more
    model trained on every training row (``refit``, the model artifact then).
    predict_on : another artifact of the same kind to predict instead of the input's splits
    (text: it enters the fingerprint as written; its option is the command's, a path).
    fast_dev_run : Lightning's one-batch smoke run (tests; keeps no resume point).
    threads : torch CPU threads. channels_last : NHWC memory layout of image batches.
    max_memory_mb : MiB (2**20 bytes). progress_bar : Lightning's bar (an interactive terminal).
    """

    model: str = param(
        "auto",
        f"Architecture: {', '.join(MODEL_NAMES)}. auto = the --init artifact's, else "
        f"{DEFAULT_MODEL}.",
        "--model",
        "-m",
        group=TRANSFER,
    )
    model_kwargs: str = param(
        "{}",
        'Extra constructor arguments as JSON, e.g. \'{"head": "torchvision"}\'.',
        group=TRANSFER,
    )
    init: str = param(
        "none",
        f"none | {INIT_IMAGENET}PATH (a local torchvision .pth) | MODEL.h5 (an earlier finetune "
        f"or pretrain-gan model, or a bundled one: {', '.join(BUNDLED)}; every layer but the "
        "classifier is transferred).",
        group=TRANSFER,
    )
    freeze: str = param(
        "none",
        "none | base (feature extraction) | all-but-last-N (the thesis: all-but-last-2).",
        group=TRANSFER,
    )
    optimizer: str = param("adam", f"{_choices(OPTIMIZERS)}.", group=TRAIN)
    lr: float = param(1e-4, "(Peak) learning rate.", group=TRAIN)
    weight_decay: float = param(0.0, "Weight decay.", group=TRAIN)
    momentum: float = 0.9
    scheduler: str = param("none", f"{_choices(SCHEDULERS)}.", group=TRAIN)
    label_smoothing: float = param(0.0, "Label smoothing.", group=TRAIN)
    batch_size: int = param(32, "Batch size.", "--batch-size", "-b", group=TRAIN)
    epochs: int = param(30, "Most epochs.", group=TRAIN)
    patience: int = param(
        5,
        "Stop after this many epochs without improvement on the validation split (0 = off).",
        group=TRAIN,
    )
    monitor: str = param(
        "val_loss",
        f"{_choices(MONITORS)}: early stopping and best-epoch selection.",
        group=TRAIN,
    )
    augment: str = param(
        "auto",
        _choices(
            AUGMENTS,
            {
                "auto": "spec for faces, none for spectrograms",
                "spec": "brightness 0.5-1, shear 0.2, zoom 0.1, flip",
                "specaugment": "spectrogram features",
                "speech": "specaugment + speed and pitch",
            },
        )
        + ".",
        group=TRAIN,
    )
    class_weights: str = param("none", f"{_choices(CLASS_WEIGHTS)}.", group=TRAIN)
    tta: str = param("none", f"{_choices(TTAS)} (average with the mirror image).", group=TRAIN)
    seed: int = param(0, "Random seed.", group=TRAIN)
    fast_dev_run: bool = False
    input_column: str = param(
        "auto",
        f"{_choices(INPUT_COLUMNS)} (spectrograms: features for audio_* models, else the "
        "rendered images when present).",
        group=DATA,
    )
    validation: str = param(
        "auto",
        "Early stopping / best epoch on: "
        + _choices(
            VALIDATIONS,
            {
                "auto": "the val split, else a hold-out",
                "holdout": "ignore the val split, e.g. when it is your test set",
                "none": "last epoch",
            },
        )
        + ".",
        group=DATA,
    )
    val_fraction: float = param(
        0.1,
        "Without a val split: hold out this share of train, by subject/clip (0 = none).",
        group=DATA,
    )
    group_by: str = param(
        "auto",
        f"Grouping for held-out rows and folds: auto ({', else '.join(GROUP_COLUMNS)}) | "
        f"{_choices(GROUP_CHOICES[1:])}.",
        group=DATA,
    )
    test_subjects: str = param(
        "", "Hold these subjects out as the test split, e.g. 17-20 (RAVDESS actors).", group=DATA
    )
    folds: int = param(0, "K-fold cross-validation by group (0 = off).", group=DATA)
    fold: int = param(-1, "Run only this fold (0-based; -1 = all).", group=DATA)
    stacking: str = param(
        "none",
        "With --folds, honest inputs for a trained fuser: folds over the train rows only, train "
        "rows (and --predict-on rows of their clips) predicted out of fold, the others by the "
        "mean of the fold models (mean) or by one more model of all train rows, then the model "
        f"output (refit). {_choices(STACKINGS)}.",
        group=DATA,
    )
    predict_on: str = ""
    accelerator: str = hardware.accelerator("auto")
    devices: str = hardware.devices("auto")
    num_nodes: int = hardware.num_nodes()
    strategy: str = hardware.strategy()
    precision: str = param(
        "32-true", f"{_choices(p for p in PRECISIONS if p != '32')}.", group=HARDWARE
    )
    workers: int = runtime_field(0)
    threads: int = runtime_field(
        0, "CPU threads for torch (0 = the cores the load average leaves free).", group=HARDWARE
    )
    channels_last: bool = runtime_field(True)
    compile: bool = runtime_field(
        False,
        "torch.compile the network for training (faster steps after a compile of a minute or "
        "more; needs a C++ compiler).",
        group=HARDWARE,
    )
    max_memory_mb: int = runtime_field(
        4096,
        "Load the input into memory up to this size; larger inputs are read lazily.",
        group=HARDWARE,
    )
    progress_bar: bool = runtime_field(False)

    def __post_init__(self) -> None:
        require(
            self.model == "auto" or self.model in MODEL_NAMES,
            f"--model must be one of: {', '.join(sorted(MODEL_NAMES))} (got {self.model!r})",
        )
        _parse_kwargs(self.model_kwargs)
        require(
            self.init == "none"
            or self.init.startswith(INIT_IMAGENET)
            or self.init.endswith((".h5", ".hdf5")),
            f"--init must be none, imagenet:PATH or a model artifact .h5 (got {self.init!r})",
        )
        parse_freeze(self.freeze)
        require(
            self.input_column in INPUT_COLUMNS,
            f"--input-column must be one of {', '.join(INPUT_COLUMNS)}",
        )
        require(self.augment in AUGMENTS, f"--augment must be one of {', '.join(AUGMENTS)}")
        require(self.class_weights in CLASS_WEIGHTS, "--class-weights must be none or balanced")
        require(self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        require(self.scheduler in SCHEDULERS, f"--scheduler must be one of {', '.join(SCHEDULERS)}")
        require(self.lr > 0, "--lr must be > 0")
        require(self.weight_decay >= 0, "--weight-decay must be >= 0")
        require(0 <= self.momentum < 1, "--momentum must be in [0, 1)")
        require(0 <= self.label_smoothing < 1, "--label-smoothing must be in [0, 1)")
        require(self.batch_size >= 1, "--batch-size must be >= 1")
        require(self.epochs >= 1, "--epochs must be >= 1")
        require(self.patience >= 0, "--patience must be >= 0")
        require(self.monitor in MONITORS, f"--monitor must be one of {', '.join(MONITORS)}")
        require(0 <= self.val_fraction < 1, "--val-fraction must be in [0, 1)")
        require(
            self.validation in VALIDATIONS, f"--validation must be one of {', '.join(VALIDATIONS)}"
        )
        require(
            self.validation != "holdout" or self.val_fraction > 0,
            "--validation holdout needs --val-fraction > 0",
        )
        require(
            not (self.folds and self.validation == "split"),
            "--validation split cannot be combined with --folds (folds hold out their own rows)",
        )
        require(self.folds == 0 or self.folds >= 2, "--folds must be 0 (off) or >= 2")
        require(
            self.fold == -1 or (self.folds >= 2 and 0 <= self.fold < self.folds),
            "--fold i needs --folds K with 0 <= i < K",
        )
        require(self.stacking in STACKINGS, f"--stacking must be one of {', '.join(STACKINGS)}")
        stacked = self.stacking != "none"
        require(
            not (self.folds and self.predict_on and not stacked),
            "--predict-on with --folds needs --stacking (each row is then predicted out of fold)",
        )
        require(not stacked or self.folds >= 2, "--stacking needs --folds K (K >= 2)")
        require(not (stacked and self.fold != -1), "--stacking needs every fold: leave --fold out")
        if self.test_subjects:
            parse_subjects(self.test_subjects)
        require(self.tta in TTAS, f"--tta must be one of {', '.join(TTAS)}")
        require(self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}")
        require(self.workers >= 0 and self.threads >= 0, "--workers and --threads must be >= 0")
        require(self.max_memory_mb >= 0, "--max-memory-mb must be >= 0")
        hardware.check_hardware(self)

    def kwargs(self) -> dict[str, Any]:
        """The extra model constructor arguments given as JSON."""
        return _parse_kwargs(self.model_kwargs)


def _parse_kwargs(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise ParamsError(f"--model-kwargs is not valid JSON ({exc.msg}): {text!r}") from exc
    if not isinstance(value, dict):
        raise ParamsError(f"--model-kwargs must be a JSON object, got {text!r}")
    reserved = {"in_channels", "input_size", "n_classes"} & set(value)
    if reserved:
        raise ParamsError(f"--model-kwargs cannot set {sorted(reserved)}: they come from the input")
    return value
