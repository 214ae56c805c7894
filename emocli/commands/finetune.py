"""`emocli finetune`: train a classifier on faces or spectrograms, with transfer learning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Output, Resume, Workdir, Workers, print_notice

_TRAIN = "Training"
_TRANSFER = "Model and transfer"
_DATA = "Data and splits"
_HW = "Hardware"


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """This command's parameters from an artifact's recorded params (``--as-config``)."""
    return {
        **params,
        "predict_on": params.get("predict_on") or None,
        "compile_model": params.get("compile"),
        "output": outputs.get("model"),
        "predictions": outputs.get("predictions"),
    }


def command(
    input: Annotated[
        Path,
        typer.Argument(
            help="A faces (preprocess-faces) or spectrograms (build-spectrograms) artifact.",
            show_default=False,
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Architecture: vgg16, vgg_m_2048, squeezenet1_1, dcgan_d, static_cnn, "
            "audio_urbansound, audio_fayek, resnet_small. auto = the --init artifact's, else vgg16.",
            rich_help_panel=_TRANSFER,
        ),
    ] = "auto",
    model_kwargs: Annotated[
        str,
        typer.Option(
            "--model-kwargs",
            help='Extra constructor arguments as JSON, e.g. \'{"head": "torchvision"}\'.',
            rich_help_panel=_TRANSFER,
        ),
    ] = "{}",
    init: Annotated[
        str,
        typer.Option(
            "--init",
            help="none | imagenet:PATH (a local torchvision .pth) | MODEL.h5 (an earlier finetune "
            "or pretrain-gan model, or a bundled one: face, voice; every layer but the classifier "
            "is transferred).",
            rich_help_panel=_TRANSFER,
        ),
    ] = "none",
    freeze: Annotated[
        str,
        typer.Option(
            "--freeze",
            help="none | base (feature extraction) | all-but-last-N (the thesis: all-but-last-2).",
            rich_help_panel=_TRANSFER,
        ),
    ] = "none",
    optimizer: Annotated[
        str,
        typer.Option("--optimizer", help="sgd | adam | adamw | rmsprop.", rich_help_panel=_TRAIN),
    ] = "adam",
    lr: Annotated[
        float, typer.Option("--lr", help="(Peak) learning rate.", rich_help_panel=_TRAIN)
    ] = 1e-4,
    weight_decay: Annotated[
        float, typer.Option("--weight-decay", help="Weight decay.", rich_help_panel=_TRAIN)
    ] = 0.0,
    scheduler: Annotated[
        str,
        typer.Option(
            "--scheduler", help="none | onecycle | cosine | plateau.", rich_help_panel=_TRAIN
        ),
    ] = "none",
    label_smoothing: Annotated[
        float, typer.Option("--label-smoothing", help="Label smoothing.", rich_help_panel=_TRAIN)
    ] = 0.0,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", help="Batch size.", rich_help_panel=_TRAIN)
    ] = 32,
    epochs: Annotated[
        int, typer.Option("--epochs", help="Most epochs.", rich_help_panel=_TRAIN)
    ] = 30,
    patience: Annotated[
        int,
        typer.Option(
            "--patience",
            help="Stop after this many epochs without improvement on the validation split (0 = off).",
            rich_help_panel=_TRAIN,
        ),
    ] = 5,
    monitor: Annotated[
        str,
        typer.Option(
            "--monitor",
            help="val_loss | val_accuracy: early stopping and best-epoch selection.",
            rich_help_panel=_TRAIN,
        ),
    ] = "val_loss",
    augment: Annotated[
        str,
        typer.Option(
            "--augment",
            help="auto (spec for faces, none for spectrograms) | spec (brightness 0.5-1, shear "
            "0.2, zoom 0.1, flip) | light | strong | specaugment (spectrogram features) | "
            "speech (specaugment + speed and pitch) | none.",
            rich_help_panel=_TRAIN,
        ),
    ] = "auto",
    class_weights: Annotated[
        str,
        typer.Option("--class-weights", help="none | balanced.", rich_help_panel=_TRAIN),
    ] = "none",
    tta: Annotated[
        str,
        typer.Option(
            "--tta", help="none | flip (average with the mirror image).", rich_help_panel=_TRAIN
        ),
    ] = "none",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.", rich_help_panel=_TRAIN)] = 0,
    input_column: Annotated[
        str,
        typer.Option(
            "--input-column",
            help="auto | images | features (spectrograms: features for audio_* models, else the "
            "rendered images when present).",
            rich_help_panel=_DATA,
        ),
    ] = "auto",
    validation: Annotated[
        str,
        typer.Option(
            "--validation",
            help="Early stopping / best epoch on: auto (the val split, else a hold-out) | split | "
            "holdout (ignore the val split, e.g. when it is your test set) | none (last epoch).",
            rich_help_panel=_DATA,
        ),
    ] = "auto",
    val_fraction: Annotated[
        float,
        typer.Option(
            "--val-fraction",
            help="Without a val split: hold out this share of train, by subject/clip (0 = none).",
            rich_help_panel=_DATA,
        ),
    ] = 0.1,
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            help="Grouping for held-out rows and folds: auto (subject, else group, else clip_id) "
            "| subject | group | clip_id | none.",
            rich_help_panel=_DATA,
        ),
    ] = "auto",
    test_subjects: Annotated[
        str,
        typer.Option(
            "--test-subjects",
            help="Hold these subjects out as the test split, e.g. 17-20 (RAVDESS actors).",
            rich_help_panel=_DATA,
        ),
    ] = "",
    folds: Annotated[
        int,
        typer.Option(
            "--folds", help="K-fold cross-validation by group (0 = off).", rich_help_panel=_DATA
        ),
    ] = 0,
    fold: Annotated[
        int,
        typer.Option(
            "--fold", help="Run only this fold (0-based; -1 = all).", rich_help_panel=_DATA
        ),
    ] = -1,
    stacking: Annotated[
        str,
        typer.Option(
            "--stacking",
            help="With --folds, honest inputs for a trained fuser: folds over the train rows "
            "only, train rows (and --predict-on rows of their clips) predicted out of fold, the "
            "others by the mean of the fold models (mean) or by one more model of all train "
            "rows, then the model output (refit). none | mean | refit.",
            rich_help_panel=_DATA,
        ),
    ] = "none",
    predict_on: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--predict-on",
            help="Predict this artifact instead of the input's splits.",
            rich_help_panel=_DATA,
        ),
    ] = None,
    accelerator: Annotated[
        str,
        typer.Option(
            "--accelerator",
            help="Lightning accelerator: auto | cpu | gpu | mps.",
            rich_help_panel=_HW,
        ),
    ] = "auto",
    devices: Annotated[
        str,
        typer.Option(
            "--devices",
            help="Lightning devices: auto, a count or a list (0,1).",
            rich_help_panel=_HW,
        ),
    ] = "auto",
    num_nodes: Annotated[
        int,
        typer.Option(
            "--num-nodes",
            min=1,
            help="Machines of a multi-node DDP run (--devices on each).",
            rich_help_panel=_HW,
        ),
    ] = 1,
    strategy: Annotated[
        str,
        typer.Option("--strategy", help="Lightning strategy (auto, ddp ...).", rich_help_panel=_HW),
    ] = "auto",
    precision: Annotated[
        str,
        typer.Option(
            "--precision", help="32-true | 16-mixed | bf16-mixed | 64-true.", rich_help_panel=_HW
        ),
    ] = "32-true",
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            help="CPU threads for torch (0 = the cores the load average leaves free).",
            rich_help_panel=_HW,
        ),
    ] = 0,
    compile_model: Annotated[
        bool,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the network for training (faster steps after a compile of a "
            "minute or more; needs a C++ compiler).",
            rich_help_panel=_HW,
        ),
    ] = False,
    max_memory_mb: Annotated[
        int,
        typer.Option(
            "--max-memory-mb",
            help="Load the input into memory up to this size; larger inputs are read lazily.",
            rich_help_panel=_HW,
        ),
    ] = 4096,
    output: Output = None,
    predictions: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--predictions",
            help="Predictions artifact path (default: the workspace's predictions/<input>-<model>.h5).",
        ),
    ] = None,
    workdir: Workdir = None,
    workers: Workers = 0,
    force: Force = False,
    resume: Resume = True,
    config: Config = None,
) -> None:
    """Train a classifier on a faces or spectrograms artifact (transfer learning, k-fold);
    write a model artifact and its predictions.

    Example: emocli finetune emocli-work/faces/ckplus48.h5 --model resnet_small --folds 5
    """
    from emocli.console import console, execute, is_interactive, print_result
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import finetune as stage

    workspace = resolve_workspace(workdir)
    from emocli.zoo import BUNDLED, resolve_model

    if init in BUNDLED:  # a bundled model's name: its file
        init = str(resolve_model(init, "--init"))

    def action(progress: ProgressHook) -> StageResult:
        params = stage.FinetuneParams(
            model=model,
            model_kwargs=model_kwargs,
            init=init,
            freeze=freeze,
            input_column=input_column,
            augment=augment,
            class_weights=class_weights,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            scheduler=scheduler,
            label_smoothing=label_smoothing,
            batch_size=batch_size,
            epochs=epochs,
            patience=patience,
            monitor=monitor,
            validation=validation,
            val_fraction=val_fraction,
            group_by=group_by,
            test_subjects=test_subjects,
            folds=folds,
            fold=fold,
            stacking=stacking,
            tta=tta,
            predict_on=str(predict_on) if predict_on else "",
            precision=precision,
            seed=seed,
            accelerator=accelerator,
            devices=devices,
            num_nodes=num_nodes,
            strategy=strategy,
            workers=workers,
            threads=threads,
            max_memory_mb=max_memory_mb,
            compile=compile_model,
            progress_bar=is_interactive(),
        )
        name = model if model != "auto" else Path(init).stem if init.endswith(".h5") else "vgg16"
        suffix = f"-{name}" + (f"-fold{fold}" if fold >= 0 else "")
        model_out = output or workspace.default_output("model", input, suffix)
        pred_source = predict_on or input
        pred_out = predictions or workspace.default_output("predictions", pred_source, suffix)
        return stage.run(
            params,
            input,
            model_out,
            pred_out,
            force=force,
            progress=progress,
            resume=resume,
            notice=print_notice,
        )

    result = execute(action, preload=("torch",))
    if result.summary.get("distributed_rank"):
        return  # a DDP worker process: rank 0 reports
    print_result(result)
    s = result.summary
    for note in s.get("notes", []):
        console.print(f"note: {note}")
    if s.get("train_class_counts"):
        counts = ", ".join(f"{k} {v}" for k, v in s["train_class_counts"].items())
        console.print(f"training rows per class: {counts}")
    if s.get("fold_accuracy"):
        console.print(
            f"{s['model']}: {len(s['fold_accuracy'])}-fold accuracy "
            f"{100 * s['cv_accuracy_mean']:.2f} % ± {100 * s['cv_accuracy_std']:.2f} "
            f"(folds: {', '.join(f'{100 * a:.1f}' for a in s['fold_accuracy'])}; by {s['group_by']})"
        )
    if "stacking" in s:
        st = s["stacking"]
        by_split = ", ".join(f"{k} {100 * v:.2f} %" for k, v in st["other_accuracy"].items())
        oof = st["out_of_fold_accuracy"]
        others = "the fold models' mean" if st["others_from"] == "mean" else "the refitted model"
        console.print(
            f"stacking: {st['out_of_fold_rows']} rows predicted out of fold"
            + (f" ({100 * oof:.2f} %)" if oof is not None else "")
            + f", {st['other_rows']} by {others}"
            + (f" ({by_split})" if by_split else "")
        )
        if st["training_rows_not_out_of_fold"]:
            console.print(
                f"warning: {st['training_rows_not_out_of_fold']} labelled train rows of the "
                "predicted artifact match no held-out clip of the input (no clip id in common): "
                "their predictions come from models that may have seen them"
            )
    elif s.get("accuracy"):
        parts = ", ".join(f"{k} {100 * v:.2f} %" for k, v in s["accuracy"].items())
        console.print(
            f"{s['model']}: accuracy {parts} (train {s['train']}, val {s['val']}, "
            f"best epoch {s['best_epoch']}, {s['train_seconds']} s)"
        )
