"""`emocli export`: a model artifact -> an ONNX file (class probabilities, emocli metadata)."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import Optional

from emocli.commands.common import argument, option
from emocli.quantize import CALIBRATION_ROWS

#: Below this top-1 agreement with the float32 graph, an int8 export is warned about.
INT8_WARN_AGREEMENT = 0.9


def command(
    model: Path = argument("Model artifact: a finetune model or pretrain-gan's discriminator."),
    output: Optional[Path] = option(
        "ONNX file to write \\[default: next to MODEL, with the suffix .onnx].", "--output", "-o"
    ),
    calibration: Optional[Path] = option(
        "Quantize to int8, calibrated on rows of this faces/spectrograms artifact (training "
        "rows, made like the model's input)."
    ),
    calibration_rows: int = option(
        "Rows used to calibrate (int8).", default=CALIBRATION_ROWS, min=1
    ),
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
    from emocli.console import console, err_console, execute
    from emocli.export import ExportResult, export_onnx
    from emocli.render import export_line

    r: ExportResult = execute(
        lambda _progress: export_onnx(model, output, calibration, calibration_rows),
        preload=("torch",),
    )
    console.print(export_line(r), soft_wrap=True)
    if r.int8 is not None and r.int8["agreement"] < INT8_WARN_AGREEMENT:
        err_console.print(
            f"[bold yellow]warning:[/] the int8 graph picks another class than the float32 one "
            f"on {1 - r.int8['agreement']:.0%} of the calibration rows: check its accuracy, or "
            "use the float32 export",
            soft_wrap=True,
        )
