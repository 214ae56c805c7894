"""`emocli pretrain-gan`: the semi-supervised DCGAN whose discriminator classifies emotions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Output, Resume, Workdir, print_notice


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        from emocli.console import fail

        fail(f"widths must be comma-separated integers, got {text!r}")


#: Parameters renamed to the British spelling (old name -> new name): configs and artifacts
#: written before still give them under the old names (:mod:`emocli.config`).
RENAMED_PARAMETERS = {
    "labeled": "labelled",
    "unlabeled": "unlabelled",
    "labeled_batch_size": "labelled_batch_size",
    "max_unlabeled": "max_unlabelled",
}


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """This command's parameters from an artifact's recorded params (``--as-config``)."""
    return {
        **params,
        "d_widths": ",".join(map(str, params.get("d_widths") or ())),
        "g_widths": ",".join(map(str, params.get("g_widths") or ())),
        "rich_bar": params.get("rich_progress"),
        "output": outputs.get("model"),
        "predictions_output": outputs.get("predictions"),
    }


def command(
    labelled: Annotated[
        Path, typer.Argument(help="Labelled faces artifact (e.g. emocli-work/faces/ckplus.h5).")
    ],
    unlabelled: Annotated[
        Optional[list[Path]],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--unlabelled",
            "--unlabeled",
            "-u",
            help="Unlabelled faces artifact(s) for the adversarial game (repeat the option); "
            "their labels are ignored.",
        ),
    ] = None,
    size: Annotated[int, typer.Option("--size", help="Face size in pixels (multiple of 16).")] = 64,
    schedule: Annotated[
        str,
        typer.Option(
            "--schedule",
            help="periodic (supervised D step every N steps) | mixed (every step) | "
            "supervised-only (the baseline: same D, labels only).",
        ),
    ] = "periodic",
    supervised_every: Annotated[
        int, typer.Option("--supervised-every", min=1, help="N of the periodic schedule.")
    ] = 1,
    supervised_weight: Annotated[
        float, typer.Option("--supervised-weight", help="Weight of D's classification term.")
    ] = 1.0,
    g_loss: Annotated[
        str, typer.Option("--g-loss", help="feature-matching | non-saturating.")
    ] = "feature-matching",
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs.")] = 25,
    steps_per_epoch: Annotated[
        int, typer.Option("--steps-per-epoch", min=0, help="Cap on steps per epoch (0 = all).")
    ] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Unlabelled batch size.")] = 64,
    labelled_batch_size: Annotated[
        int,
        typer.Option("--labelled-batch-size", "--labeled-batch-size", help="Labelled batch size."),
    ] = 64,
    lr_d: Annotated[float, typer.Option("--lr-d", help="Adam learning rate of D.")] = 2e-4,
    lr_g: Annotated[float, typer.Option("--lr-g", help="Adam learning rate of G.")] = 2e-4,
    lr_decay_start: Annotated[
        float,
        typer.Option(
            "--lr-decay-start",
            min=0.0,
            max=1.0,
            help="Fraction of the training steps after which both learning rates fall "
            "linearly to 0 (Salimans et al.; 1 = constant).",
        ),
    ] = 1.0,
    d_ema_decay: Annotated[
        float,
        typer.Option(
            "--d-ema-decay",
            min=0.0,
            max=0.9999,
            help="Keep a moving average of D's weights with this decay per step (e.g. 0.995) "
            "and use it as the classifier; the summary also reports the last weights "
            "(0 = off).",
        ),
    ] = 0.0,
    nz: Annotated[int, typer.Option("--nz", help="Length of G's noise vector.")] = 100,
    d_widths: Annotated[
        str, typer.Option("--d-widths", help="Channels of D's strided convolutions.")
    ] = "64,128,256,512",
    g_widths: Annotated[
        str, typer.Option("--g-widths", help="Channels of G's transposed convolutions.")
    ] = "512,256,128,64",
    d_dropout: Annotated[
        float, typer.Option("--d-dropout", help="Dropout before D's classification layer.")
    ] = 0.0,
    d_input_noise: Annotated[
        float,
        typer.Option(
            "--d-input-noise",
            help="Std of the Gaussian noise added to D's training inputs (images in [-1, 1]; "
            "Salimans et al.).",
        ),
    ] = 0.0,
    d_block_dropout: Annotated[
        float,
        typer.Option(
            "--d-block-dropout",
            help="Dropout after each of D's strided convolutions but the last (Salimans et al.).",
        ),
    ] = 0.0,
    d_block_depth: Annotated[
        int,
        typer.Option(
            "--d-block-depth",
            min=0,
            help="3x3 stride-1 convolutions after each of D's strided ones (all-convolutional "
            "depth; 0 = Radford et al.'s D).",
        ),
    ] = 0,
    flip: Annotated[bool, typer.Option("--flip/--no-flip", help="Random horizontal flips.")] = True,
    augment: Annotated[
        str,
        typer.Option(
            "--augment",
            help="Augment the labelled batches: none | light (flips, small shifts, rotations, "
            "zooms) | spec (the thesis's Keras settings) | strong.",
        ),
    ] = "none",
    labels_per_class: Annotated[
        int,
        typer.Option(
            "--labels-per-class",
            min=0,
            help="Keep n labelled training images per class (0 = all); the others become "
            "unlabelled.",
        ),
    ] = 0,
    dev_fraction: Annotated[
        float,
        typer.Option("--dev-fraction", help="Carve this fraction of train as val if none."),
    ] = 0.0,
    max_unlabelled: Annotated[
        int,
        typer.Option(
            "--max-unlabelled",
            "--max-unlabeled",
            min=0,
            help="Cap on unlabelled images (0 = all).",
        ),
    ] = 0,
    folds: Annotated[
        int, typer.Option("--folds", min=0, help="Subject-independent K-fold CV (0 = off).")
    ] = 0,
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            help="Grouping for the dev split and folds: auto (subject, else group such as "
            "SFEW's movie, else clip_id) | subject | group | clip_id | none.",
        ),
    ] = "auto",
    select_best: Annotated[
        bool,
        typer.Option("--select-best/--last-epoch", help="Keep D of the best val epoch."),
    ] = True,
    init: Annotated[
        str,
        typer.Option(
            "--init",
            help="Start from a dcgan_d model artifact (an earlier pretrain-gan, or finetune "
            "--model dcgan_d): D's tensors, G's too when it has the same shapes.",
        ),
    ] = "none",
    tta: Annotated[
        str,
        typer.Option("--tta", help="none | flip (average with the mirror image)."),
    ] = "none",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    accelerator: Annotated[
        str, typer.Option("--accelerator", help="Lightning accelerator: cpu | gpu | auto.")
    ] = "cpu",
    devices: Annotated[
        str, typer.Option("--devices", help="Lightning devices (1, 2, auto).")
    ] = "1",
    num_nodes: Annotated[
        int,
        typer.Option(
            "--num-nodes", min=1, help="Machines of a multi-node DDP run (--devices each)."
        ),
    ] = 1,
    strategy: Annotated[
        str, typer.Option("--strategy", help="Lightning strategy (auto, ddp ...).")
    ] = "auto",
    threads: Annotated[
        int, typer.Option("--threads", min=0, help="Torch CPU threads (0 = default).")
    ] = 0,
    rich_bar: Annotated[
        bool, typer.Option("--rich-bar", help="Lightning's RichProgressBar with live losses.")
    ] = False,
    predictions_output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--predictions-output",
            help="Predictions artifact \\[default: <workdir>/predictions/<labelled>-gan.h5].",
            show_default=False,
        ),
    ] = None,
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    resume: Resume = True,
    config: Config = None,
) -> None:
    """Train the semi-supervised DCGAN; its discriminator becomes the emotion classifier.

    Example: emocli pretrain-gan emocli-work/faces/ckplus.h5 -u emocli-work/faces/utkface.h5
    """
    from emocli.console import console, execute, print_result
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import pretrain_gan as stage

    workspace = resolve_workspace(workdir)
    params = execute(
        lambda _p: stage.PretrainGanParams(
            size=size,
            d_widths=_widths(d_widths),
            g_widths=_widths(g_widths),
            nz=nz,
            d_dropout=d_dropout,
            d_input_noise=d_input_noise,
            d_block_dropout=d_block_dropout,
            d_block_depth=d_block_depth,
            schedule=schedule,
            supervised_every=supervised_every,
            supervised_weight=supervised_weight,
            g_loss=g_loss,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            batch_size=batch_size,
            labelled_batch_size=labelled_batch_size,
            lr_d=lr_d,
            lr_g=lr_g,
            lr_decay_start=lr_decay_start,
            d_ema_decay=d_ema_decay,
            flip=flip,
            augment=augment,
            labels_per_class=labels_per_class,
            dev_fraction=dev_fraction,
            max_unlabelled=max_unlabelled,
            folds=folds,
            group_by=group_by,
            select_best=select_best,
            init=init,
            tta=tta,
            seed=seed,
            accelerator=accelerator,
            devices=devices,
            num_nodes=num_nodes,
            strategy=strategy,
            rich_progress=rich_bar,
            threads=threads,
        )
    )
    out = output or workspace.default_output("model", labelled, "-gan")
    preds_out = predictions_output or workspace.default_output("predictions", labelled, "-gan")

    def action(progress: ProgressHook) -> StageResult:
        return stage.run(
            params,
            labelled,
            list(unlabelled or []),
            out,
            preds_out,
            force=force,
            progress=progress,
            resume=resume,
            notice=print_notice,
        )

    result = execute(action, preload=("torch",))
    if not result.outputs:  # a DDP worker process: rank 0 reports
        return
    print_result(result)
    s = result.summary
    parts = [f"{s['labelled_train']} labelled + {s['unlabelled']} unlabelled training faces"]
    for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
        if key in s:
            parts.append(f"{key.replace('_', ' ')} {100 * s[key]:.2f} %")
    if "cv_accuracy_mean" in s:
        parts.append(
            f"{len(s['fold_accuracy'])}-fold accuracy {100 * s['cv_accuracy_mean']:.2f} % "
            f"± {100 * s['cv_accuracy_std']:.2f}"
        )
    last = s.get("last_weights", {})
    if "cv_accuracy_mean" in last:
        parts.append(f"last weights without the average {100 * last['cv_accuracy_mean']:.2f} %")
    console.print("; ".join(parts))
