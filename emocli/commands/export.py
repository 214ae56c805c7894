"""`emocli export`: a model artifact -> an ONNX file (class probabilities, emocli metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from emocli.quantize import CALIBRATION_ROWS

#: Below this top-1 agreement with the float32 graph, an int8 export is warned about.
INT8_WARN_AGREEMENT = 0.9


def _floats(values: list[float]) -> str:
    text = [f"{v:g}" for v in values]
    return text[0] if len(set(text)) == 1 else "[" + ", ".join(text) + "]"


def formula(scale: float, mean: list[float], std: list[float]) -> str:
    """``(x / 255 - 0.5) / 0.5``, ``(x + 0.0036) / 0.9988`` (per-channel values as lists)."""
    x = "x" if scale == 1 else f"x / {scale:g}"
    if all(m == 0 for m in mean):
        shifted = x
    elif all(m < 0 for m in mean):
        shifted = f"({x} + {_floats([-m for m in mean])})"
    else:
        shifted = f"({x} - {_floats(mean)})"
    return shifted if all(s == 1 for s in std) else f"{shifted} / {_floats(std)}"


def command(
    model: Annotated[
        Path,
        typer.Argument(
            help="Model artifact: a finetune model or pretrain-gan's discriminator.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--output",
            "-o",
            help="ONNX file to write \\[default: next to MODEL, with the suffix .onnx].",
            show_default=False,
        ),
    ] = None,
    calibration: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--calibration",
            help="Quantize to int8, calibrated on rows of this faces/spectrograms artifact "
            "(training rows, made like the model's input).",
            show_default=False,
        ),
    ] = None,
    calibration_rows: Annotated[
        int, typer.Option("--calibration-rows", min=1, help="Rows used to calibrate (int8).")
    ] = CALIBRATION_ROWS,
) -> None:
    """Export a trained model to ONNX, to run it without emocli (onnxruntime, any language).

    Input: float32 (N, C, H, W), normalised as the model was trained; output: the class
    probabilities emocli predict computes. The class names, normalisation and preprocessing
    contract are in the file's metadata (metadata_props, JSON).
    Needs: pip install "emocli\\[onnx]".

    With --calibration the graph is quantized to int8 (weights per channel, activations
    calibrated on the artifact's rows): about twice as fast on a CPU.

    Example: emocli export emocli-work/models/face.h5 -o face.onnx

    Example: emocli export face.h5 -o face-int8.onnx --calibration emocli-work/faces/train.h5
    """
    from emocli.console import console, execute
    from emocli.export import ExportResult, export_onnx
    from emocli.progress import ProgressHook

    def action(_progress: ProgressHook) -> ExportResult:
        return export_onnx(model, output, calibration, calibration_rows)

    r: ExportResult = execute(action, preload=("torch",))
    c, h, w = r.input_shape
    check = (
        f"onnxruntime vs torch: max |diff| {r.max_abs_diff:.1e}"
        if r.max_abs_diff is not None
        else "not checked: onnxruntime is not installed"
    )
    if r.int8 is not None:
        check += (
            f"; int8 vs float32 on {r.int8['rows']} calibration rows: top-1 agreement "
            f"{r.int8['agreement']:.1%}, max |diff| {r.int8['max_abs_diff']:.2g}"
        )
    console.print(
        f"[green]export[/]: wrote {r.path} ({r.architecture}, {len(r.classes)} classes; "
        f"input float32 [N, {c}, {h}, {w}] = {formula(r.scale, r.mean, r.std)}; "
        f"output: probabilities; {check})",
        soft_wrap=True,
    )
    if r.int8 is not None and r.int8["agreement"] < INT8_WARN_AGREEMENT:
        from emocli.console import err_console

        err_console.print(
            f"[bold yellow]warning:[/] the int8 graph picks another class than the float32 one "
            f"on {1 - r.int8['agreement']:.0%} of the calibration rows: check its accuracy, or "
            "use the float32 export",
            soft_wrap=True,
        )
