"""`emocli extract-audio`: the audio track of every clip (AFEW videos, RAVDESS, audio folders)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from emocli.commands.common import (
    Classes,
    Config,
    Force,
    Output,
    Strict,
    Workdir,
    Workers,
    print_warnings,
)

#: Reject reasons shown in the terminal summary.
SHOWN_REJECTS = 5


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """This command's parameters from an artifact's recorded params (``--as-config``)."""
    return {
        **params,
        "classes": ",".join(params.get("classes") or ()),
        "output": outputs.get("audio"),
    }


def command(
    source: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder (AFEW Train|Val/<Emotion>/*.avi, RAVDESS Actor_XX/*.wav, "
            "<class>/*.wav) or one media file."
        ),
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="auto | afew | ravdess | folder (auto detects the layout)."
        ),
    ] = "auto",
    sample_rate: Annotated[
        int, typer.Option("--sample-rate", "-r", help="Sample rate of the stored audio, Hz.")
    ] = 16000,
    classes: Classes = "",
    strict: Strict = False,
    output: Output = None,
    workdir: Workdir = None,
    workers: Workers = 0,
    force: Force = False,
    config: Config = None,
) -> None:
    """Decode the audio of every clip to mono float32 at one sample rate (PyAV); clips without
    usable audio are listed as rejects with the reason.

    Example: emocli extract-audio ../datasets/AFEW --sample-rate 16000
    """
    from emocli.console import console, execute, print_result
    from emocli.datasets.classes import parse_class_option
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import extract_audio as stage

    out = output or resolve_workspace(workdir).default_output("audio", source)

    def action(progress: ProgressHook) -> StageResult:
        params = stage.ExtractAudioParams(
            format=format,
            sample_rate=sample_rate,
            workers=workers,
            classes=parse_class_option(classes),
            strict=strict,
        )
        return stage.run(params, source, out, force=force, progress=progress)

    result = execute(action)
    print_result(result)
    s = result.summary
    console.print(
        f"{s['clips']} clips ({s['format']}), {s['total_seconds']:.1f} s of audio at "
        f"{s['sample_rate']} Hz, {s['min_seconds']:.2f}-{s['max_seconds']:.2f} s per clip; "
        f"{s['rejects']} rejected"
    )
    if s["per_class"]:
        console.print("per class: " + ", ".join(f"{k} {v}" for k, v in s["per_class"].items()))
    for reason, count in list(s["reject_reasons"].items())[:SHOWN_REJECTS]:
        console.print(f"  rejected: {count} x {reason}")
    if s["rejects"]:
        console.print(f"  (each rejected file and its reason: group rejects/ of {out})")
    print_warnings(s)
    if s.get("clipped_files"):
        console.print(
            f"  {s['clipped_files']} files had samples beyond full scale: clipped to [-1, 1]"
        )
