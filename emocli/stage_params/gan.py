"""``pretrain-gan``'s parameters, declared once for the command, its ``--help`` and the stage
(:mod:`stages.pretrain_gan`); light (no numpy, h5py or torch), so validating them before the
up-to-date check stays instant.

The defaults follow Radford et al. 2015 ("Unsupervised representation learning with deep
convolutional generative adversarial networks", the DCGAN pair and Adam at 2e-4) and
Salimans et al. 2016 ("Improved techniques for training GANs", the K-class discriminator,
feature matching and the semi-supervised losses).
"""

from __future__ import annotations

from dataclasses import dataclass

from emocli.params import param, require, runtime_field
from emocli.stage_params import hardware
from emocli.stage_params.choices import GROUP_CHOICES, IMAGE_AUGMENTS, TTAS
from emocli.stage_params.hardware import HARDWARE

#: Training schedules: a supervised D step every N steps, in every step, labels only, or
#: labels + the consistency term on unlabelled faces without the generator (an ablation).
SCHEDULES = ("periodic", "mixed", "supervised-only", "consistency-only")
#: The schedules that train the generator against D.
ADVERSARIAL_SCHEDULES = ("periodic", "mixed")
#: Generator losses: feature matching (Salimans et al. 2016) or the non-saturating -log D(G(z)).
G_LOSSES = ("feature-matching", "non-saturating")
#: Face sizes (pixels) are multiples of this by default: one doubling per width of the
#: default four-width generator, 2**4 = 16.
SIZE_MULTIPLE = 16
#: Augmentation presets for the labelled batches (images only).
GAN_AUGMENTS = ("none", *IMAGE_AUGMENTS)
#: Registry names of the two networks.
D_ARCHITECTURE, G_ARCHITECTURE = "dcgan_d", "dcgan_g"

#: The ``--help`` panels of the options.
NETWORKS, TRAIN, DATA = "Networks", "Training", "Data and splits"
CHOICE = "Augmentation and selection"


@dataclass(frozen=True)
class PretrainGanParams:
    """How to train the GAN; each field's ``--help`` text describes it. Beyond that text:

    size : pixels; faces are resized (area interpolation) to size x size grey in [-1, 1].
    d_widths / g_widths : Radford et al. 2015's 64-128-256-512 and 512-256-128-64; on the
    command line comma-separated. d_dropout, d_block_dropout : probabilities in [0, 1);
    d_input_noise : std of the Gaussian noise, in units of the [-1, 1] pixel range.
    schedule : ``periodic`` is the source's; ``supervised-only`` trains the same D on the
    labelled batches alone (the baseline the GAN has to beat); ``consistency-only`` adds the
    consistency term on the unlabelled faces to it, without G: what the GAN itself adds.
    epochs : passes over the unlabelled pool (over the labelled set for supervised-only).
    batch_size / labelled_batch_size : images per unlabelled / labelled mini-batch.
    lr_decay_start : a fraction of the training steps, in [0, 1].
    d_ema_decay : per discriminator step; the average is the D that is evaluated, selected and
    stored, and the summary's ``last_weights`` gives the accuracies of the last trained weights.
    consistency_weight : the term is ``mean(mask * CE(D(strong(x_u)), argmax D(x_u)))`` over an
    unlabelled batch, ``mask`` = D's top probability on the (flipped) face >= the threshold;
    the strong view is the ``strong`` augmentation preset. Semi-supervised schedules only.
    labels_per_class : the training images beyond n per class lose their labels and, with
    leftover_unlabelled (not an option), join the unlabelled pool.
    dev_fraction : in [0, 1); > 0 holds out that share of ``train`` (by group) as the dev set
    that selects the epoch, else the ``val`` split selects it when there is one. Predictions get
    a ``role`` column: ``labelled``, ``unlabelled`` (a training image used without its label),
    ``dev`` or ``""``.
    max_unlabelled : a seeded subsample of the pool. folds : over every labelled row.
    init : D's tensors (its classifier too when the classes are the same) and, from a
    pretrain-gan artifact with the same generator, G's.
    fast_dev_run : Lightning's one-batch smoke run (tests; keeps no resume point).
    collapse_patience : consecutive steps with D's adversarial loss below 1e-3 (D wins
    outright, G gets no gradient) before training stops as collapsed (0 = never).
    threads : torch CPU threads (1 is much faster on a busy machine).
    """

    size: int = param(64, "Face size in pixels (multiple of 16).", group=NETWORKS)
    d_widths: tuple[int, ...] = param(
        (64, 128, 256, 512), "Channels of D's strided convolutions.", group=NETWORKS
    )
    g_widths: tuple[int, ...] = param(
        (512, 256, 128, 64), "Channels of G's transposed convolutions.", group=NETWORKS
    )
    nz: int = param(100, "Length of G's noise vector.", group=NETWORKS)
    d_dropout: float = param(0.0, "Dropout before D's classification layer.", group=NETWORKS)
    d_input_noise: float = param(
        0.0,
        "Std of the Gaussian noise added to D's training inputs (images in [-1, 1]; "
        "Salimans et al.).",
        group=NETWORKS,
    )
    d_block_dropout: float = param(
        0.0,
        "Dropout after each of D's strided convolutions but the last (Salimans et al.).",
        group=NETWORKS,
    )
    d_block_depth: int = param(
        0,
        "3x3 stride-1 convolutions after each of D's strided ones (all-convolutional depth; "
        "0 = Radford et al.'s D).",
        group=NETWORKS,
        min=0,
    )
    schedule: str = param(
        "periodic",
        "periodic (supervised D step every N steps) | mixed (every step) | supervised-only "
        "(the baseline: same D, labels only) | consistency-only (labels + the consistency "
        "term, no generator; needs --consistency-weight).",
        group=TRAIN,
    )
    supervised_every: int = param(1, "N of the periodic schedule.", group=TRAIN, min=1)
    supervised_weight: float = param(1.0, "Weight of D's classification term.", group=TRAIN)
    g_loss: str = param("feature-matching", f"{' | '.join(G_LOSSES)}.", group=TRAIN)
    epochs: int = param(25, "Training epochs.", group=TRAIN, min=1)
    steps_per_epoch: int = param(0, "Cap on steps per epoch (0 = all).", group=TRAIN, min=0)
    batch_size: int = param(64, "Unlabelled batch size.", group=TRAIN)
    labelled_batch_size: int = param(
        64, "Labelled batch size.", "--labelled-batch-size", "--labeled-batch-size", group=TRAIN
    )
    lr_d: float = param(2e-4, "Adam learning rate of D.", group=TRAIN)
    lr_g: float = param(2e-4, "Adam learning rate of G.", group=TRAIN)
    lr_decay_start: float = param(
        1.0,
        "Fraction of the training steps after which both learning rates fall linearly to 0 "
        "(Salimans et al.; 1 = constant).",
        group=TRAIN,
        min=0.0,
        max=1.0,
    )
    d_ema_decay: float = param(
        0.0,
        "Keep a moving average of D's weights with this decay per step (e.g. 0.995) and use "
        "it as the classifier; the summary also reports the last weights (0 = off).",
        group=TRAIN,
        min=0.0,
        max=0.9999,
    )
    consistency_weight: float = param(
        0.0,
        "Weight of a consistency term on the unlabelled faces: D's class for a face, when "
        "confident (the threshold below), is the target for a strongly augmented copy (Sohn "
        "et al. 2020, FixMatch; 0 = off).",
        group=TRAIN,
        min=0.0,
        omit_at_default=True,
    )
    consistency_threshold: float = param(
        0.95,
        "Confidence from which an unlabelled face's class becomes a consistency target.",
        group=TRAIN,
        min=0.0,
        max=1.0,
        omit_at_default=True,
    )
    flip: bool = param(True, "Random horizontal flips.", group=CHOICE)
    augment: str = param(
        "none",
        "Augment the labelled batches: none | light (flips, small shifts, rotations, zooms) | "
        "spec (the thesis's Keras settings) | strong.",
        group=CHOICE,
    )
    labels_per_class: int = param(
        0,
        "Keep n labelled training images per class (0 = all); the others become unlabelled.",
        group=DATA,
        min=0,
    )
    leftover_unlabelled: bool = True
    dev_fraction: float = param(0.0, "Carve this fraction of train as val if none.", group=DATA)
    max_unlabelled: int = param(
        0,
        "Cap on unlabelled images (0 = all).",
        "--max-unlabelled",
        "--max-unlabeled",
        group=DATA,
        min=0,
    )
    folds: int = param(0, "Subject-independent K-fold CV (0 = off).", group=DATA, min=0)
    group_by: str = param(
        "auto",
        "Grouping for the dev split and folds: auto (subject, else group such as SFEW's movie, "
        f"else clip_id) | {' | '.join(GROUP_CHOICES[1:])}.",
        group=DATA,
    )
    select_best: bool = param(
        True, "Keep D of the best val epoch.", "--select-best/--last-epoch", group=CHOICE
    )
    init: str = param(
        "none",
        f"Start from a {D_ARCHITECTURE} model artifact (an earlier pretrain-gan, or finetune "
        f"--model {D_ARCHITECTURE}): D's tensors, G's too when it has the same shapes.",
        group=NETWORKS,
    )
    tta: str = param("none", "none | flip (average with the mirror image).", group=CHOICE)
    seed: int = param(0, "Random seed.", group=TRAIN)
    fast_dev_run: bool = False
    collapse_patience: int = 200
    accelerator: str = hardware.accelerator("cpu")
    devices: str = hardware.devices("1")
    num_nodes: int = hardware.num_nodes()
    strategy: str = hardware.strategy()
    # "--rich-bar/": a flag without a --no-rich-bar form
    rich_progress: bool = runtime_field(
        False, "Lightning's RichProgressBar with live losses.", "--rich-bar/", group=HARDWARE
    )
    threads: int = runtime_field(0, "Torch CPU threads (0 = default).", group=HARDWARE, min=0)

    def __post_init__(self) -> None:
        require(self.size >= SIZE_MULTIPLE, f"--size must be at least {SIZE_MULTIPLE}")
        require(
            self.size % 2 ** len(self.g_widths) == 0,
            f"--size {self.size} must be a multiple of 2**{len(self.g_widths)} "
            f"(one doubling per generator width)",
        )
        require(len(self.d_widths) >= 1, "--d-widths needs at least one width")
        require(all(w > 0 for w in (*self.d_widths, *self.g_widths)), "widths must be positive")
        require(self.nz >= 1, "--nz must be positive")
        require(0.0 <= self.d_dropout < 1.0, "--d-dropout must be in [0, 1)")
        require(self.d_input_noise >= 0.0, "--d-input-noise must be >= 0")
        require(0.0 <= self.d_block_dropout < 1.0, "--d-block-dropout must be in [0, 1)")
        require(self.d_block_depth >= 0, "--d-block-depth must be >= 0")
        require(self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}")
        require(self.g_loss in G_LOSSES, f"--g-loss must be one of {', '.join(G_LOSSES)}")
        require(self.supervised_every >= 1, "--supervised-every must be >= 1")
        require(self.supervised_weight > 0, "--supervised-weight must be > 0")
        require(self.epochs >= 1, "--epochs must be >= 1")
        require(self.steps_per_epoch >= 0, "--steps-per-epoch must be >= 0")
        require(self.batch_size >= 2 and self.labelled_batch_size >= 2, "batch sizes must be >= 2")
        require(self.lr_d > 0 and self.lr_g > 0, "learning rates must be > 0")
        require(0.0 <= self.lr_decay_start <= 1.0, "--lr-decay-start must be in [0, 1]")
        require(0.0 <= self.d_ema_decay < 1.0, "--d-ema-decay must be in [0, 1)")
        require(self.consistency_weight >= 0.0, "--consistency-weight must be >= 0")
        require(
            0.0 <= self.consistency_threshold <= 1.0, "--consistency-threshold must be in [0, 1]"
        )
        require(
            self.consistency_weight == 0.0 or self.schedule != "supervised-only",
            "--consistency-weight needs unlabelled faces: not with --schedule supervised-only",
        )
        require(
            self.consistency_weight > 0.0 or self.schedule != "consistency-only",
            "--schedule consistency-only needs --consistency-weight > 0",
        )
        require(self.tta in TTAS, f"--tta must be one of {', '.join(TTAS)}")
        require(self.augment in GAN_AUGMENTS, f"--augment must be one of {', '.join(GAN_AUGMENTS)}")
        require(self.labels_per_class >= 0, "--labels-per-class must be >= 0")
        require(0.0 <= self.dev_fraction < 1.0, "--dev-fraction must be in [0, 1)")
        require(self.max_unlabelled >= 0, "--max-unlabelled must be >= 0")
        require(self.folds == 0 or self.folds >= 2, "--folds must be 0 (off) or >= 2")
        require(
            self.group_by in GROUP_CHOICES, f"--group-by must be one of {', '.join(GROUP_CHOICES)}"
        )
        require(
            self.init == "none" or self.init.endswith((".h5", ".hdf5")),
            f"--init must be none or a model artifact .h5 (got {self.init!r})",
        )
        require(self.threads >= 0, "--threads must be >= 0")
        hardware.check_hardware(self)
        require(self.collapse_patience >= 0, "--collapse-patience must be >= 0")
