"""pretrain-gan: a semi-supervised DCGAN whose discriminator is the emotion classifier.

Inputs: one labelled ``faces`` artifact (SFEW, CK+, FER2013 ...) and one or more unlabelled
``faces`` artifacts (CASIA-WebFace, UTKFace; their labels are ignored), resized to
``size`` x ``size`` grey in [-1, 1].

1. rows to learn from: the labelled artifact's ``train`` rows (or, with ``folds`` = K, every
   labelled row, in K subject-independent folds); ``dev_fraction`` holds out part of
   ``train`` as a dev set for model selection (else the ``val`` split is used, if any);
   ``labels_per_class`` = n keeps n labelled
   images per class, the other training images join the unlabelled pool;
2. train G and D (:mod:`emocli.training.gan_train`) with Salimans's losses: adversarial
   steps on unlabelled batches, a supervised discriminator step on a labelled batch every
   ``supervised_every`` steps (``periodic``) or in every step (``mixed``), or the
   supervised-only baseline (same D, labelled batches only);
3. write a ``model`` artifact (D under ``weights/`` as ``dcgan_d``, loadable by finetune
   --init and the model registry; G under ``generator/``; per-epoch ``history/``; the
   per-epoch sample grids under ``samples/`` and as PNG files next to it) and a
   ``predictions`` artifact (D's class probabilities for every labelled row; out-of-fold
   with ``folds``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocli.artifacts import ArtifactWriter, fingerprint_artifact
from emocli.params import require, runtime_field
from emocli.predictions import Predictions, write_predictions
from emocli.progress import ProgressHook, no_progress
from emocli.stage import (
    OutputSpec,
    StageInfo,
    StageResult,
    outputs_up_to_date,
    run_stage,
    stage_fingerprint,
)
from emocli.training.options import GROUP_CHOICES, IMAGE_AUGMENTS, TTAS
from emocli.training.resume import Resumer, discard_after_commit, rows_digest

STAGE = StageInfo("pretrain-gan", 1)

SCHEDULES = ("periodic", "mixed", "supervised-only")
G_LOSSES = ("feature-matching", "non-saturating")
#: Sizes the DCGAN pair supports by default (multiples of 2**len(widths) = 16).
SIZE_MULTIPLE = 16
#: Augmentation presets for the labelled batches (images only).
GAN_AUGMENTS = ("none", *IMAGE_AUGMENTS)
#: Registry names of the two networks.
D_ARCHITECTURE, G_ARCHITECTURE = "dcgan_d", "dcgan_g"


@dataclass(frozen=True)
class PretrainGanParams:
    """size : faces are resized to size x size grey (a multiple of 16; 32, 48, 64 ...).
    d_widths / g_widths : channels of D's strided convolutions / G's transposed ones
    (Radford et al.: 64-128-256-512 and 512-256-128-64); nz : length of G's noise vector;
    d_dropout : dropout before D's classification layer (Salimans used dropout in D);
    d_input_noise : std of the Gaussian noise added to D's training inputs (images in [-1, 1]);
    d_block_dropout : dropout after each of D's strided blocks but the last (Salimans et al.);
    d_block_depth : 3x3 stride-1 convolutions after each of D's strided ones (0 = Radford's D).
    augment : augmentation preset for the labelled batches (``none``, ``light``, ``spec``,
    ``strong``: see :mod:`emocli.training.augment`); ``flip`` mirrors every real batch.
    schedule : periodic | mixed | supervised-only; supervised_every : periodic schedule's N;
    supervised_weight : weight of the classification term in D's loss.
    g_loss : feature-matching (Salimans; default for classification) | non-saturating.
    epochs : passes over the unlabelled pool (over the labelled set for supervised-only);
    steps_per_epoch : cap on steps per epoch (0 = a full pass).
    batch_size / labelled_batch_size : unlabelled / labelled mini-batches; lr_d / lr_g : Adam.
    lr_decay_start : fraction of the training steps after which both learning rates fall
    linearly to 0 at the last step (Salimans et al.; 1 = constant).
    d_ema_decay : > 0 keeps an exponential moving average of D's weights (this decay per
    discriminator step); the average is the D that is evaluated, selected and stored, and the
    summary's ``last_weights`` gives the accuracies of the last trained weights beside it.
    tta : ``flip`` averages each prediction with the mirror image's (also in epoch selection).
    labels_per_class : keep only n labelled training images per class (0 = all); the rest of
    the training images are then used as unlabelled (``leftover_unlabelled``).
    dev_fraction : hold out this fraction of ``train`` as the dev set that selects the epoch
    (0 = select on the ``val`` split when there is one). Predictions get a ``role`` column:
    ``labelled``, ``unlabelled`` (training image used without its label), ``dev`` or ``""``.
    max_unlabelled : cap on the unlabelled pool (seeded subsample; 0 = all).
    folds : K > 1 = subject-independent K-fold cross-validation on every labelled row.
    group_by : what keeps rows together in the dev split and the folds: ``auto`` (subject,
    else group such as SFEW's movie, else clip_id) | subject | group | clip_id | none.
    select_best : keep D from the epoch of best dev (or ``val``) accuracy.
    init : ``none`` or a ``dcgan_d`` model artifact (an earlier pretrain-gan, or finetune
    ``--model dcgan_d``) whose tensors start D (the classifier too when the classes are the
    same) and, from a pretrain-gan artifact with the same generator, G.
    accelerator / devices / num_nodes / strategy : Lightning's flags (cpu, gpu, ddp ...);
    threads : torch CPU threads (0 = torch's default; 1 is much faster on a busy machine).
    """

    size: int = 64
    d_widths: tuple[int, ...] = (64, 128, 256, 512)
    g_widths: tuple[int, ...] = (512, 256, 128, 64)
    nz: int = 100
    d_dropout: float = 0.0
    d_input_noise: float = 0.0
    d_block_dropout: float = 0.0
    d_block_depth: int = 0
    schedule: str = "periodic"
    supervised_every: int = 1
    supervised_weight: float = 1.0
    g_loss: str = "feature-matching"
    epochs: int = 25
    steps_per_epoch: int = 0
    batch_size: int = 64
    labelled_batch_size: int = 64
    lr_d: float = 2e-4
    lr_g: float = 2e-4
    lr_decay_start: float = 1.0
    d_ema_decay: float = 0.0
    flip: bool = True
    augment: str = "none"
    labels_per_class: int = 0
    leftover_unlabelled: bool = True
    dev_fraction: float = 0.0
    max_unlabelled: int = 0
    folds: int = 0
    group_by: str = "auto"
    select_best: bool = True
    init: str = "none"
    tta: str = "none"
    seed: int = 0
    fast_dev_run: bool = False
    collapse_patience: int = 200
    accelerator: str = runtime_field("cpu")
    devices: str = runtime_field("1")
    num_nodes: int = runtime_field(1)
    strategy: str = runtime_field("auto")
    rich_progress: bool = runtime_field(False)
    threads: int = runtime_field(0)

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
        require(self.num_nodes >= 1, "--num-nodes must be >= 1")
        require(self.collapse_patience >= 0, "--collapse-patience must be >= 0")


@dataclass
class _Data:
    """Everything the training needs, in the labelled artifact's row order."""

    classes: list[str]
    images: np.ndarray  # (N, S, S) uint8, labelled artifact
    label: np.ndarray
    split: np.ndarray
    sample_id: np.ndarray
    subject: np.ndarray
    clip_id: np.ndarray
    group_by: str  # the grouping column used (subject, group, clip_id or none)
    groups: np.ndarray  # (N,) str, "" = a row on its own
    unlabelled: np.ndarray  # (U, S, S) uint8 from the unlabelled artifacts
    source: str
    upstream: dict[str, Any]


def _train_rows(split: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Training rows: split ``train`` (or unsplit rows when no row is marked train), labelled."""
    base = split == "train"
    if not base.any():
        base = split == ""
    return np.flatnonzero(base & (label >= 0))


def run(
    params: PretrainGanParams,
    labelled: Path,
    unlabelled: Sequence[Path],
    output: Path,
    predictions_output: Path,
    force: bool = False,
    progress: ProgressHook = no_progress,
    resume: bool = True,
    notice: Callable[[str], None] | None = None,
) -> StageResult:
    """Train the semi-supervised GAN on ``labelled`` + ``unlabelled`` faces artifacts.

    Writes ``output`` (model) and ``predictions_output`` (predictions). Raises
    :class:`~emocli.errors.ArtifactError` for unusable inputs and
    :class:`~emocli.errors.TrainingError` when training diverges or collapses.
    A resume point beside ``output`` is kept after every epoch; the same command resumes from
    it after a kill (``resume`` False: start over), ``notice`` gets the line that says so
    (:mod:`emocli.training.resume`); it is deleted once the outputs are committed.
    """
    inputs = [fingerprint_artifact(labelled, "faces", role="labelled")]
    inputs += [fingerprint_artifact(p, "faces", role="unlabelled") for p in unlabelled]
    if params.init != "none":
        inputs.append(fingerprint_artifact(params.init, "model", role="init"))
    outputs = {
        "model": OutputSpec(Path(output), "model"),
        "predictions": OutputSpec(Path(predictions_output), "predictions"),
    }

    from emocli.parallel import distributed_rank

    rank = distributed_rank()
    resumer = None
    if not params.fast_dev_run:
        say = notice if notice is not None and rank == 0 else (lambda text: None)
        fingerprint = stage_fingerprint(STAGE, params, inputs)
        resumer = Resumer(STAGE.name, Path(output), fingerprint, resume, rank == 0, say)
    if rank > 0:  # a DDP worker started by Lightning or a launcher: train, write nothing
        if not force and outputs_up_to_date(STAGE, params, inputs, outputs):
            return StageResult(STAGE.name, {}, True, "", {"distributed_rank": rank})  # as rank 0
        data = _load(params, labelled, unlabelled, no_progress)  # rank 0 reports
        _train_and_write(params, data, None, Path(output), no_progress, resumer)
        return StageResult(STAGE.name, {}, False, "", {"distributed_rank": rank})

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        data = _load(params, labelled, unlabelled, progress)
        return _train_and_write(params, data, writers, Path(output), progress, resumer)

    result = run_stage(STAGE, params, inputs, outputs, build, force)
    discard_after_commit(Path(output))
    return result


def _load(
    params: PretrainGanParams, labelled: Path, unlabelled: Sequence[Path], progress: ProgressHook
) -> _Data:
    from emocli.errors import ArtifactError
    from emocli.training.gan_data import choose_groups, load_faces

    progress("loading faces", 0, 1 + len(unlabelled))
    lab = load_faces(labelled, params.size)
    if not lab.classes:
        raise ArtifactError(f"{labelled}: the labelled faces artifact has no classes")
    if not (lab.label >= 0).any():
        raise ArtifactError(f"{labelled}: no labelled rows (every label is -1)")
    split = lab.split
    pools = []
    for i, path in enumerate(unlabelled, start=1):
        pools.append(load_faces(path, params.size).images)
        progress("loading faces", 1 + i, 1 + len(unlabelled))
    pool = np.concatenate(pools) if pools else np.zeros((0, params.size, params.size), np.uint8)
    if params.schedule != "supervised-only" and len(pool) == 0 and not params.leftover_unlabelled:
        raise ArtifactError(
            "no unlabelled faces: pass --unlabelled ARTIFACT (or --schedule supervised-only)"
        )
    progress("loading faces", 1 + len(unlabelled), 1 + len(unlabelled))
    group_by, groups = choose_groups(lab, params.group_by)
    return _Data(
        classes=lab.classes,
        images=lab.images,
        label=lab.label,
        split=split,
        sample_id=lab.sample_id,
        subject=lab.subject,
        clip_id=lab.clip_id,
        group_by=group_by,
        groups=groups,
        unlabelled=pool,
        source=str(labelled),
        upstream=lab.upstream,
    )


def _fit_config(params: PretrainGanParams) -> Any:
    from emocli.training.gan_train import FitConfig

    return FitConfig(
        nz=params.nz,
        epochs=params.epochs,
        batch_size=params.batch_size,
        labelled_batch_size=params.labelled_batch_size,
        lr_d=params.lr_d,
        lr_g=params.lr_g,
        schedule=params.schedule,
        supervised_every=params.supervised_every,
        supervised_weight=params.supervised_weight,
        g_loss=params.g_loss,
        flip=params.flip,
        augment=params.augment,
        steps_per_epoch=params.steps_per_epoch,
        select_best=params.select_best,
        seed=params.seed,
        accelerator=params.accelerator,
        devices=params.devices,
        num_nodes=params.num_nodes,
        strategy=params.strategy,
        fast_dev_run=params.fast_dev_run,
        rich_progress=params.rich_progress,
        collapse_patience=params.collapse_patience,
        lr_decay_start=params.lr_decay_start,
        tta=params.tta,
        d_ema_decay=params.d_ema_decay,
    )


def d_kwargs(params: PretrainGanParams, n_classes: int) -> dict[str, Any]:
    """Constructor kwargs of the discriminator (``dcgan_d`` in the model registry)."""
    return {
        "in_channels": 1,
        "input_size": params.size,
        "n_classes": n_classes,
        "widths": list(params.d_widths),
        "dropout": params.d_dropout,
        "input_noise": params.d_input_noise,
        "block_dropout": params.d_block_dropout,
        "block_depth": params.d_block_depth,
    }


def g_kwargs(params: PretrainGanParams) -> dict[str, Any]:
    """Constructor kwargs of the generator (``dcgan_g``)."""
    return {
        "latent_dim": params.nz,
        "out_channels": 1,
        "output_size": params.size,
        "widths": list(params.g_widths),
    }


def _train_and_write(
    params: PretrainGanParams,
    data: _Data,
    writers: dict[str, ArtifactWriter] | None,
    output: Path,
    progress: ProgressHook,
    resumer: Resumer | None = None,
) -> dict[str, Any]:
    """Train (per fold), predict, and fill the writers (none on a DDP worker); the summary."""
    import torch

    from emocli.models import build_model

    if params.threads:
        torch.set_num_threads(params.threads)
    from emocli.training.gan import predict_probs
    from emocli.training.gan_data import (
        carve_dev_rows,
        few_label_subset,
        grouped_folds,
        to_unit_range,
    )
    from emocli.training.gan_train import fit_gan

    k = len(data.classes)
    config = _fit_config(params)
    x_all = torch.from_numpy(to_unit_range(data.images))
    y_all = torch.from_numpy(data.label.astype(np.int64))
    probs = np.zeros((len(data.label), k), np.float32)
    last_probs = np.zeros_like(probs)  # D's last weights, beside the averaged D
    fold_col = np.full(len(data.label), -1, np.int64)
    role = np.full(len(data.label), "", dtype=object)
    rng = np.random.default_rng(params.seed)

    start = load_init(params.init) if params.init != "none" else None
    init_report: dict[str, Any] = {}

    def make_d() -> torch.nn.Module:
        d = build_model(D_ARCHITECTURE, **d_kwargs(params, k))
        if start is not None:
            init_report.update(start.into_discriminator(d, data.classes))
        return d

    def make_g() -> torch.nn.Module:
        g = build_model(G_ARCHITECTURE, **g_kwargs(params))
        if start is not None:
            init_report["generator_loaded"] = start.into_generator(g)
        return g

    def pool_for(extra_rows: np.ndarray) -> torch.Tensor:
        parts = [data.unlabelled]
        if params.leftover_unlabelled and len(extra_rows):
            parts.append(data.images[extra_rows])
        pool = np.concatenate(parts)
        if params.max_unlabelled and len(pool) > params.max_unlabelled:
            pool = pool[np.sort(rng.choice(len(pool), params.max_unlabelled, replace=False))]
        return torch.from_numpy(to_unit_range(pool))

    runs: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # fold, train, val, predict
    if params.folds:
        labelled = np.flatnonzero(data.label >= 0)
        folds = np.full(len(data.label), -1, np.int64)
        folds[labelled] = grouped_folds(
            data.label[labelled], data.groups[labelled], params.folds, params.seed
        )
        for f in range(params.folds):
            runs.append(
                (
                    f,
                    labelled[folds[labelled] != f],
                    np.zeros(0, np.int64),
                    np.flatnonzero(folds == f),
                )
            )
    else:
        train = _train_rows(data.split, data.label)
        if params.dev_fraction > 0:
            val = carve_dev_rows(train, data.label, data.groups, params.dev_fraction, params.seed)
            train = np.setdiff1d(train, val)
            role[val] = "dev"
        else:
            val = np.flatnonzero((data.split == "val") & (data.label >= 0))
        runs.append((-1, train, val, np.arange(len(data.label))))

    points: list[Any] = [None] * len(runs)
    if resumer is not None:
        world = f"{params.devices}x{params.num_nodes}"
        keys = [
            resumer.key(i, len(runs), rows_digest(*run_), params.epochs, world=world)
            for i, run_ in enumerate(runs)
        ]
        labels = [f"fold {run_[0] + 1}/{params.folds}" for run_ in runs]
        points = list(resumer.prepare(keys, labels))
    result = None
    n_labelled_used = n_unlabelled_used = 0
    for (fold, train, val, predict), point in zip(runs, points, strict=True):
        rest = np.zeros(0, np.int64)
        if params.labels_per_class:
            train, rest = few_label_subset(
                data.label, train, params.labels_per_class, k, params.seed
            )
        if len(train) < 2:
            from emocli.errors import ArtifactError

            raise ArtifactError(f"{data.source}: fewer than 2 labelled training images")
        pool = pool_for(rest) if params.schedule != "supervised-only" else None
        if fold < 0:
            role[train] = "labelled"
            if pool is not None and params.leftover_unlabelled:
                role[rest] = "unlabelled"
        n_labelled_used, n_unlabelled_used = len(train), 0 if pool is None else int(pool.shape[0])
        task = "training GAN" if fold < 0 else f"training GAN, fold {fold + 1}/{params.folds}"
        result = fit_gan(
            make_g,
            make_d,
            x_all[train],
            y_all[train],
            pool,
            config,
            x_val=x_all[val] if len(val) else None,
            y_val=y_all[val] if len(val) else None,
            progress=progress,
            task=task,
            resume=point,
        )
        probs[predict] = predict_probs(result.discriminator, x_all[predict], tta=params.tta)
        if result.last_weights is not None:
            last_probs[predict] = predict_probs(result.last_weights, x_all[predict], tta=params.tta)
        if fold >= 0:
            fold_col[predict] = fold
    assert result is not None
    if writers is None:
        return {}
    _write_model(writers["model"], params, data, result, output, fold_col)
    preds = Predictions.build(
        data.classes,
        probs,
        data.sample_id,
        label=data.label,
        clip_id=data.clip_id,
        subject=data.subject,
        split=data.split,
        fold=fold_col,
        modality="face",
        level="frame",
    )
    write_predictions(writers["predictions"], preds)
    writers["predictions"].add_column("role", role.astype(str))
    writers["predictions"].set_attr("model", str(output))
    summary: dict[str, Any] = {
        "classes": len(data.classes),
        "labelled_train": n_labelled_used,
        "unlabelled": n_unlabelled_used,
        "epochs": len(result.history.get("epoch", [])),
        "schedule": params.schedule,
        "group_by": data.group_by,
    }
    summary.update(_accuracies(probs, data.label, data.split, role, fold_col))
    if result.last_weights is not None:
        summary["last_weights"] = _accuracies(last_probs, data.label, data.split, role, fold_col)
    if result.best_epoch >= 0:
        summary["best_epoch"] = result.best_epoch
    if init_report:
        summary["init"] = init_report
    return summary


def _accuracies(
    probs: np.ndarray, label: np.ndarray, split: np.ndarray, role: np.ndarray, fold: np.ndarray
) -> dict[str, Any]:
    """Accuracies of (N, K) ``probs`` for the summary: per fold with their mean and std
    (``fold`` >= 0 on held-out rows), else per split and per training role."""
    correct = probs.argmax(1) == label
    labelled = label >= 0
    out: dict[str, Any] = {}
    if (fold >= 0).any():
        folds = np.unique(fold[fold >= 0])
        fold_acc = [float(correct[(fold == f) & labelled].mean()) for f in folds]
        out["fold_accuracy"] = [round(a, 4) for a in fold_acc]
        out["cv_accuracy_mean"] = round(float(np.mean(fold_acc)), 4)
        out["cv_accuracy_std"] = round(float(np.std(fold_acc)), 4)
        return out
    groups = {f"{name}_accuracy": split == name for name in ("train", "val", "test")}
    groups["labelled_accuracy"] = role == "labelled"
    groups["dev_accuracy"] = role == "dev"
    for key, mask in groups.items():
        if (mask & labelled).any():
            out[key] = round(float(correct[mask & labelled].mean()), 4)
    return out


@dataclass
class InitWeights:
    """The tensors of an ``--init`` model artifact: D's (with its classes) and G's, if any."""

    source: str
    classes: list[str]
    discriminator: dict[str, Any]
    generator: dict[str, Any]

    def into_discriminator(self, d: Any, classes: Sequence[str]) -> dict[str, Any]:
        """Copy every matching tensor into ``d`` (not the classifier if the classes differ);
        the transfer report's summary."""
        from emocli.transfer import transfer_state

        report = transfer_state(d, self.discriminator, self.classes, classes, self.source)
        return report.summary()

    def into_generator(self, g: Any) -> bool:
        """Load G's tensors when the stored generator has exactly ``g``'s shapes."""
        own = g.state_dict()
        fits = bool(self.generator) and set(self.generator) == set(own)
        fits = fits and all(self.generator[n].shape == own[n].shape for n in own)
        if fits:
            g.load_state_dict(self.generator)
        return fits


def load_init(path: str) -> InitWeights:
    """Read an ``--init`` artifact; :class:`ArtifactError` unless it holds a ``dcgan_d``."""
    from emocli.artifacts import open_artifact
    from emocli.errors import ArtifactError
    from emocli.training.model_store import load_model, read_model_info
    from emocli.weights import read_state_dict

    info = read_model_info(path)  # refuse another network before reading its weights
    if info.architecture != D_ARCHITECTURE:
        raise ArtifactError(
            f"--init {path} holds a {info.architecture!r} model; pretrain-gan starts only from a "
            f"{D_ARCHITECTURE} (an earlier pretrain-gan, or finetune --model {D_ARCHITECTURE})"
        )
    d, _ = load_model(path)  # checks that the weights fit the dcgan_d they claim to be
    generator: dict[str, Any] = {}
    with open_artifact(path, "model") as art:
        if "generator" in art.h5 and len(art.h5["generator"]):
            generator = read_state_dict(art, "generator")
    return InitWeights(path, list(info.classes), d.state_dict(), generator)


def _write_model(
    writer: ArtifactWriter,
    params: PretrainGanParams,
    data: _Data,
    result: Any,
    output: Path,
    fold_col: np.ndarray,
) -> None:
    from emocli.contract import model_input
    from emocli.training.model_store import MINUS_ONE_TO_ONE, ModelInfo, write_model
    from emocli.weights import write_state_dict

    history = {key: np.asarray(values, np.float64) for key, values in result.history.items()}
    info = ModelInfo(
        architecture=D_ARCHITECTURE,
        model_kwargs=d_kwargs(params, len(data.classes)),
        classes=data.classes,
        # the faces were resized from the artifact's size to --size (area interpolation)
        input=model_input(
            "faces",
            "images",
            (1, params.size, params.size),
            MINUS_ONE_TO_ONE,
            data.upstream,
            resized_from=data.upstream.get("size"),
        ),
        history=history,
    )
    write_model(writer, result.discriminator, info)
    write_state_dict(writer, result.generator.state_dict(), "generator")
    writer.write_group(
        "generator", {}, {"architecture": G_ARCHITECTURE, "model_kwargs": g_kwargs(params)}
    )
    writer.set_attr("best_epoch", int(result.best_epoch))
    if params.folds:
        writer.set_attr("folds", params.folds)
        writer.set_attr("weights_fold", params.folds - 1)
    grids = result.grids
    if len(grids):
        writer.write_group(
            "samples",
            {"grids": grids, "epoch": np.arange(len(grids), dtype=np.int64)},
            {"noise": "fixed N(0, 1) batch, seeded", "layout": "8x8 grid, 2 px gaps"},
        )
        _write_grid_pngs(writer, grids, output)


def _write_grid_pngs(writer: ArtifactWriter, grids: np.ndarray, output: Path) -> None:
    """One PNG per epoch in ``<model stem>-samples/epoch_NNN.png`` next to the artifact."""
    import cv2

    folder = f"{output.stem}-samples"
    (output.parent / folder).mkdir(parents=True, exist_ok=True)
    for epoch, grid in enumerate(grids):
        ok, encoded = cv2.imencode(".png", grid)
        if ok:
            encoded.tofile(writer.sidecar(f"{folder}/epoch_{epoch + 1:03d}.png"))
