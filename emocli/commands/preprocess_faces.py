"""`emocli preprocess-faces`: face images / video clips -> a ``faces`` artifact of grey crops."""

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
SHOWN_REASONS = 6


def config_values(params: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """This command's parameters from an artifact's recorded params (``--as-config``)."""
    return {
        **params,
        "cascade": params.get("face_cascade"),
        "classes": ",".join(params.get("classes") or ()),
        "output": outputs.get("faces"),
    }


def command(
    source: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder or file: SFEW, AFEW, CK+ (or CK+48), fer2013.csv or FER2013 "
            "image folders, RAVDESS videos, <class>/*.png folders, or any tree of images.",
            show_default=False,
        ),
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="auto | sfew | afew | ckplus | fer2013 | ravdess-video | folder | unlabelled "
            "(auto detects the layout; a folder-per-class set with non-emotion class names "
            "needs --format folder).",
        ),
    ] = "auto",
    size: Annotated[int, typer.Option("--size", "-s", help="Output side, pixels (grey).")] = 64,
    align: Annotated[
        bool,
        typer.Option(
            "--align/--no-align",
            help="Methodology 2: align on the eyes after cropping the face (falls back to the "
            "face crop, status 'face', when no plausible eye pair is found).",
        ),
    ] = True,
    detector: Annotated[
        str,
        typer.Option(
            "--detector",
            help="haar (Viola-Jones face cascade) | none (the whole image is the face).",
        ),
    ] = "haar",
    on_miss: Annotated[
        str,
        typer.Option(
            "--on-miss",
            help="When no face is found: keep (use the whole image as the face, status "
            "'kept-whole') | reject (list it in rejects/) | auto: keep for datasets of "
            "pre-cropped faces (fer2013, CK+48, image sets smaller than --small-side), "
            "reject for wild images and video frames.",
        ),
    ] = "auto",
    fps: Annotated[
        float, typer.Option("--fps", help="Video frames sampled per second (0 = every frame).")
    ] = 5.0,
    max_frames: Annotated[
        int, typer.Option("--max-frames", help="At most this many frames per clip (0 = all).")
    ] = 0,
    ck_peak_fraction: Annotated[
        float,
        typer.Option(
            "--ck-peak-fraction", help="CK+: last fraction of each labelled sequence's frames."
        ),
    ] = 0.2,
    ck_neutral: Annotated[
        bool,
        typer.Option("--ck-neutral", help="CK+: also take each sequence's first frame as neutral."),
    ] = False,
    clahe_clip: Annotated[
        float, typer.Option("--clahe-clip", help="CLAHE clip limit (0 = no equalisation).")
    ] = 2.0,
    clahe_tile: Annotated[
        int, typer.Option("--clahe-tile", help="CLAHE tiles per side of the image.")
    ] = 8,
    cascade: Annotated[
        str,
        typer.Option(
            "--cascade", help="Haar face cascade: a file name from cv2.data or an XML path."
        ),
    ] = "haarcascade_frontalface_default.xml",
    fallback_cascade: Annotated[
        str,
        typer.Option(
            "--fallback-cascade",
            help="A second face cascade tried when the first finds nothing ('' = none).",
        ),
    ] = "haarcascade_frontalface_alt2.xml",
    detect_raw: Annotated[
        bool,
        typer.Option(
            "--detect-raw/--no-detect-raw",
            help="When the equalised image shows no face, search the unequalised one too.",
        ),
    ] = True,
    scale_factor: Annotated[
        float, typer.Option("--scale-factor", help="Haar search: scale step between sizes.")
    ] = 1.1,
    min_neighbors: Annotated[
        int, typer.Option("--min-neighbors", help="Haar search: overlapping hits a face needs.")
    ] = 3,
    min_face: Annotated[
        float,
        typer.Option(
            "--min-face", help="Smallest face searched, fraction of the image's shorter side."
        ),
    ] = 0.1,
    margin: Annotated[
        float, typer.Option("--margin", help="Margin around a detected face, fraction of its side.")
    ] = 0.1,
    small_side: Annotated[
        int,
        typer.Option(
            "--small-side",
            help="Images whose longer side is below this (px) are taken as pre-cropped faces: "
            "padded (replicated border) and upscaled to this side before detection.",
        ),
    ] = 256,
    pad: Annotated[
        float,
        typer.Option(
            "--pad", help="Border added around pre-cropped images, fraction of their side."
        ),
    ] = 0.25,
    eye_x: Annotated[
        float,
        typer.Option("--eye-x", help="Aligned left pupil x (right: 1 - x), fraction of the size."),
    ] = 0.3,
    eye_y: Annotated[
        float, typer.Option("--eye-y", help="Aligned pupils' y, fraction of the size.")
    ] = 0.36,
    limit: Annotated[
        int, typer.Option("--limit", help="Only the first N samples, in path order (0 = all).")
    ] = 0,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview/--no-preview",
            help="Write <output>.preview.png: random faces of each class, next to the artifact.",
        ),
    ] = True,
    classes: Classes = "",
    strict: Strict = False,
    output: Output = None,
    workdir: Workdir = None,
    workers: Workers = 0,
    force: Force = False,
    config: Config = None,
) -> None:
    """Find, crop, equalise and align the face in every image or video frame of a dataset
    (CLAHE + Haar face, then Haar eyes + similarity transform), into grey SIZE x SIZE crops;
    inputs without a usable face are listed as rejects with the reason.

    Example: emocli preprocess-faces sfew/ --size 64
    """
    from emocli.console import execute, print_result
    from emocli.datasets.classes import parse_class_option
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import preprocess_faces as stage

    out = output or resolve_workspace(workdir).default_output("faces", source)

    def action(progress: ProgressHook) -> StageResult:
        params = stage.PreprocessFacesParams(
            format=format,
            size=size,
            align=align,
            detector=detector,
            on_miss=on_miss,
            fps=fps,
            max_frames=max_frames,
            ck_peak_fraction=ck_peak_fraction,
            ck_neutral=ck_neutral,
            clahe_clip=clahe_clip,
            clahe_tile=clahe_tile,
            face_cascade=cascade,
            fallback_cascade=fallback_cascade,
            detect_raw=detect_raw,
            scale_factor=scale_factor,
            min_neighbors=min_neighbors,
            min_face=min_face,
            margin=margin,
            small_side=small_side,
            pad=pad,
            eye_x=eye_x,
            eye_y=eye_y,
            limit=limit,
            preview=preview,
            workers=workers,
            classes=parse_class_option(classes),
            strict=strict,
        )
        return stage.run(params, source, out, force=force, progress=progress)

    result = execute(action)
    print_result(result)
    _print_summary(result.summary, out)
    print_warnings(result.summary)


def _print_summary(s: dict[str, Any], out: Path) -> None:
    from rich.table import Table

    from emocli.console import console

    console.print(
        f"{s['faces']} faces from {s['inputs']} inputs ({s['format']}, {s['layout']}), "
        f"{s['rejected']} rejected; on miss: {s['on_miss']}, align: {s['align']}"
    )
    counts = ("read", "kept", "rejected", "detected", "eye-aligned", "kept-whole")
    table = Table(title="inputs per split and class", title_justify="left")
    for name in ("split", "class", *counts):
        table.add_column(name, justify="left" if name in ("split", "class") else "right")
    for row in s.get("table", []):
        table.add_row(row["split"] or "-", row["class"], *(str(row.get(k, 0)) for k in counts))
    console.print(table)
    status = ", ".join(f"{name} {n}" for name, n in s.get("status", {}).items())
    console.print(f"  how the faces were made: {status or 'none'}")
    for reason, count in list(s.get("reasons", {}).items())[:SHOWN_REASONS]:
        console.print(f"  rejected: {count} x {reason}")
    if s["rejected"]:
        console.print(f"  (each rejected input and its reason: group rejects/ of {out})")
