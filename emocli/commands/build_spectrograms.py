"""`emocli build-spectrograms`: normalised log-mel spectrograms (and images) of an audio artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from emocli.commands.common import Config, Force, Output, Workdir, Workers


def command(
    audio: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Argument(
            help="An audio artifact (from extract-audio); default: the only one in "
            "<workdir>/audio/.",
            show_default=False,
        ),
    ] = None,
    pad: Annotated[
        str,
        typer.Option(
            "--pad",
            help="'longest': zero-pad every clip to the longest (the thesis); or SECONDS: pad "
            "or centre-crop to that duration (recommended for mixed datasets).",
        ),
    ] = "longest",
    trim_db: Annotated[
        float,
        typer.Option(
            "--trim-db",
            help="Cut leading and trailing silence (frames this many dB below the loudest) "
            "before padding, so clips of other lengths look alike; 0 = keep it.",
        ),
    ] = 0.0,
    preemphasis: Annotated[
        float,
        typer.Option("--preemphasis", help="Pre-emphasis a in y(t) = x(t) - a x(t-1); 0 = off."),
    ] = 0.97,
    win_ms: Annotated[float, typer.Option("--win-ms", help="Frame (window) length, ms.")] = 25.0,
    hop_ms: Annotated[float, typer.Option("--hop-ms", help="Hop between frames, ms.")] = 10.0,
    n_fft: Annotated[
        int, typer.Option("--n-fft", help="FFT size, samples (0 = the frame length).")
    ] = 0,
    window: Annotated[
        str,
        typer.Option(
            "--window", help="Analysis window: hamming | hann | blackman | bartlett | boxcar."
        ),
    ] = "hamming",
    n_mels: Annotated[int, typer.Option("--n-mels", help="Mel filter banks.")] = 40,
    fmin: Annotated[float, typer.Option("--fmin", help="Lowest mel frequency, Hz.")] = 0.0,
    fmax: Annotated[
        float, typer.Option("--fmax", help="Highest mel frequency, Hz (0 = sample rate / 2).")
    ] = 0.0,
    top_db: Annotated[
        float,
        typer.Option("--top-db", help="dB kept below each spectrogram's peak (0 = all)."),
    ] = 80.0,
    center: Annotated[
        bool,
        typer.Option(
            "--center/--no-center",
            help="librosa's centred frames (1 + samples // hop) instead of "
            "1 + (samples - n_fft) // hop.",
        ),
    ] = False,
    clip_norm: Annotated[
        str,
        typer.Option(
            "--clip-norm",
            help="Standardise each spectrogram as a whole (scalar: the thesis) or each of its "
            "mel bands (band: also removes the voice's and room's spectral colour).",
        ),
    ] = "scalar",
    global_norm: Annotated[
        str,
        typer.Option(
            "--global-norm",
            help="Global normalisation after the per-spectrogram one: "
            "band (mean/std per mel band) | scalar | none.",
        ),
    ] = "band",
    train_split: Annotated[
        str,
        typer.Option(
            "--train-split",
            help="Split whose rows give the global statistics (when splits are recorded; "
            "otherwise every labelled row).",
        ),
    ] = "train",
    train_subjects: Annotated[
        str,
        typer.Option(
            "--train-subjects",
            help="Only these subjects' rows give the statistics, e.g. 01-16 or 01,02,05-08.",
        ),
    ] = "",
    stats_from: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--stats-from",
            help="Reuse the front end and statistics of this spectrograms artifact (for val/test "
            "sets: nothing of this artifact enters the statistics).",
        ),
    ] = None,
    as_image: Annotated[
        int,
        typer.Option(
            "--as-image", help="Also store SIZE x SIZE x 3 uint8 images (e.g. 224 for VGG16)."
        ),
    ] = 0,
    image_cmap: Annotated[
        str, typer.Option("--image-cmap", help="Matplotlib colour map of the images.")
    ] = "viridis",
    output: Output = None,
    workdir: Workdir = None,
    workers: Workers = 0,
    force: Force = False,
    config: Config = None,
) -> None:
    """Log-mel spectrograms of an audio artifact: pad, pre-emphasis, 25 ms Hamming frames,
    40 mel bands, log, per-spectrogram then training-set normalisation.

    Example: emocli build-spectrograms emocli-work/audio/ravdess.h5 --train-subjects 01-16
    """
    from emocli.console import console, execute, print_result
    from emocli.errors import InputError
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace
    from stages import build_spectrograms as stage

    workspace = resolve_workspace(workdir)

    def action(progress: ProgressHook) -> StageResult:
        params = stage.BuildSpectrogramsParams(
            pad=pad,
            trim_db=trim_db,
            preemphasis=preemphasis,
            win_ms=win_ms,
            hop_ms=hop_ms,
            n_fft=n_fft,
            window=window,
            n_mels=n_mels,
            fmin=fmin,
            fmax=fmax,
            top_db=top_db,
            center=center,
            clip_norm=clip_norm,
            global_norm=global_norm,
            train_split=train_split,
            train_subjects=train_subjects,
            as_image=as_image,
            image_cmap=image_cmap,
            workers=workers,
        )
        source = audio
        if source is None:
            found = workspace.artifacts("audio")
            if len(found) != 1:
                where = workspace.dir_for("audio")
                listing = ", ".join(str(p) for p in found) or "none"
                raise InputError(
                    f"give the audio artifact to use: {len(found)} found in {where} ({listing}); "
                    "run `emocli extract-audio DATASET` first if none"
                )
            source = found[0]
        out = output or workspace.default_output("spectrograms", source)
        return stage.run(params, source, out, stats_from=stats_from, force=force, progress=progress)

    result = execute(action)
    print_result(result)
    s = result.summary
    console.print(
        f"{s['clips']} spectrograms of {s['n_mels']} mel bands x {s['n_frames']} frames "
        f"({s['pad_seconds']:.2f} s: {s['padded']} padded, {s['cropped']} cropped); "
        f"{s['global_norm']} statistics from {s['stats_selection']}"
        + (f" ({s['stats_rows']} rows)" if s["stats_rows"] else "")
    )
    if s["images"]:
        console.print(f"images: {s['images']}x{s['images']}x3 uint8")
