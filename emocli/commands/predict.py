"""`emocli predict`: emotion probabilities of new videos, images or audio files, or of every
row of a faces / spectrograms artifact (a predictions artifact, see stages/predict_artifact.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from emocli.commands.common import Config, Force, Workdir

#: Output folder inside the workspace's reports folder.
DEFAULT_SUBDIR = "predict"
#: Class names are cut to this many characters in the table's header.
CLASS_HEADER = 4


def command(
    clips: Annotated[
        list[Path],
        typer.Argument(
            help="Videos, images or audio files to predict, or one faces / spectrograms "
            "artifact (.h5).",
            show_default=False,
        ),
    ],
    face_model: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--face-model", help="Face model artifact (finetune, pretrain-gan) or its .onnx export."
        ),
    ] = None,
    audio_model: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--audio-model",
            help="Audio model artifact (finetune on spectrograms) or its .onnx export.",
        ),
    ] = None,
    fuser: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--fuser",
            help="Fuser model artifact (emocli fuse) \\[default: mean of the modalities].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            help="Output folder \\[default: <workdir>/reports/predict]; for an artifact input, "
            "the predictions artifact \\[default: <workdir>/predictions/<input>-<model>.h5].",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows per forward pass (artifact input).")
    ] = 64,
    tta: Annotated[
        str,
        typer.Option(
            "--tta", help="none | flip (average with the mirror image; face artifact input)."
        ),
    ] = "none",
    runtime: Annotated[
        str,
        typer.Option(
            "--runtime",
            help="auto (a bundled model's int8 graph, else torch) | torch | onnx (the int8 "
            "graph, else the model exported to ONNX; run with onnxruntime).",
        ),
    ] = "auto",
    threads: Annotated[
        int, typer.Option("--threads", min=0, help="CPU threads (0 = the idle cores).")
    ] = 0,
    fps: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--fps",
            help="Video frames classified per second, or 'all' (a per-frame timeline) "
            "\\[default: the rate of the face model's training clips].",
            show_default=False,
        ),
    ] = None,
    detect_every: Annotated[
        int,
        typer.Option(
            "--detect-every",
            min=0,
            help="Detect faces every N classified frames, interpolating between (0 = every "
            "frame at the model's rate, about 5 per second with --fps).",
        ),
    ] = 0,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
) -> None:
    """Predict the emotion of videos, images or audio files with trained models (by default
    the bundled face and voice models, see emocli models).

    Frames, faces and log-mel spectrograms are prepared with the parameters stored in the
    models. Writes predictions.csv/json, and per clip a timeline (CSV, PNG) and the face track.

    Given a faces or spectrograms artifact instead, predicts every row with the model of its
    kind and writes a predictions artifact (for evaluate and fuse), skipped when up to date.

    Example: emocli predict clip.mp4 --face-model models/face.h5 --audio-model models/audio.h5

    Example: emocli predict emocli-work/faces/new.h5 --face-model emocli-work/models/face.h5
    """
    face_model, audio_model = _models(face_model, audio_model)
    artifact_kind = _artifact_inputs(clips)
    if artifact_kind and (fps is not None or detect_every):
        from emocli.console import fail

        fail(
            "--fps and --detect-every choose video frames; an artifact's rows are predicted as made"
        )
    if artifact_kind:
        _predict_artifact(
            clips,
            artifact_kind,
            face_model,
            audio_model,
            fuser,
            output,
            workdir,
            force,
            batch_size=batch_size,
            tta=tta,
            runtime=runtime,
            threads=threads,
        )
        return
    if face_model is None and audio_model is None:
        face_model, audio_model = _bundled_for_media(clips)
    from emocli.console import console, execute
    from emocli.predict import Sampling, load_predictor, parse_fps, predict
    from emocli.progress import ProgressHook
    from emocli.timeline import write_outputs
    from emocli.workspace import resolve_workspace

    out = output or resolve_workspace(workdir).dir_for("evaluation") / DEFAULT_SUBDIR

    def action(progress: ProgressHook) -> tuple[object, dict[str, Path]]:
        sampling = Sampling(parse_fps(fps), detect_every)
        predictor = load_predictor(face_model, audio_model, fuser, runtime, sampling)
        result = predict(clips, predictor, progress)
        try:
            written = write_outputs(result, out)
        except OSError as exc:
            from emocli.errors import InputError

            raise InputError(f"cannot write the outputs in {out}: {exc}") from exc
        return result, written

    result, written = execute(action, preload=("torch",))
    _print_table(result)
    console.print(f"[green]predict[/]: wrote {len(written)} files in {out}")


ARTIFACT_SUFFIXES = (".h5", ".hdf5")


def _models(face_model: Path | None, audio_model: Path | None) -> tuple[Path | None, Path | None]:
    """The model options with a bundled model's name (``face``, ``voice``) made its path."""
    from emocli.console import fail
    from emocli.errors import EmocliError
    from emocli.zoo import resolve_model

    try:
        face = resolve_model(face_model, "--face-model") if face_model is not None else None
        audio = resolve_model(audio_model, "--audio-model") if audio_model is not None else None
    except EmocliError as exc:
        fail(str(exc), exc.exit_code)
    return face, audio


def _bundled(name: str) -> Path | None:
    """The bundled model ``name`` when this installation has it."""
    from emocli.zoo import bundled_path

    path = bundled_path(name)
    return path if path.is_file() else None


def _bundled_for_media(clips: list[Path]) -> tuple[Path | None, Path | None]:
    """Without a model option: the bundled ``face`` model for images and videos and ``voice``
    for audio and videos (their probabilities averaged); exits when there is none."""
    from emocli.console import fail
    from emocli.predict import KIND_AUDIO, KIND_IMAGE, input_kind

    kinds = {input_kind(Path(c)) for c in clips}
    face = _bundled("face") if kinds - {KIND_AUDIO} else None
    voice = _bundled("voice") if kinds - {KIND_IMAGE} else None
    if face is None and voice is None:
        wanted = " or ".join(
            name for name, kind in (("face", KIND_IMAGE), ("voice", KIND_AUDIO)) if kind in kinds
        )
        fail(
            "give a --face-model and/or an --audio-model: this installation has no bundled "
            f"{wanted or 'face or voice'} model for these inputs (make zoo builds them from "
            "FER2013 and RAVDESS)"
        )
    return face, voice


def _artifact_inputs(paths: list[Path]) -> str:
    """The artifact kind (faces / spectrograms) when every input is such an .h5 artifact, ``""``
    when none is; exits with a message for a mix, several artifacts, or another .h5 kind."""
    from emocli.artifacts import open_artifact
    from emocli.console import fail
    from emocli.errors import EmocliError

    h5 = [p for p in paths if p.suffix.lower() in ARTIFACT_SUFFIXES]
    if not h5:
        return ""
    if len(h5) != len(paths):
        media = [str(p) for p in paths if p not in h5]
        fail(
            f"cannot mix artifacts ({', '.join(map(str, h5))}) and media files "
            f"({', '.join(media)}): predict an artifact, or videos/images/audio, per command"
        )
    if len(h5) > 1:
        fail(
            f"give one artifact per command (got {len(h5)}): each writes its own predictions "
            "artifact"
        )
    try:
        with open_artifact(h5[0], ("faces", "spectrograms")) as art:
            return str(art.kind)
    except EmocliError as exc:
        fail(str(exc), exc.exit_code)
    return ""


def _predict_artifact(
    clips: list[Path],
    kind: str,
    face_model: Path | None,
    audio_model: Path | None,
    fuser: Path | None,
    output: Path | None,
    workdir: Path | None,
    force: bool,
    **options: object,
) -> None:
    """``emocli predict ARTIFACT.h5 --face-model|--audio-model M.h5``: a predictions artifact."""
    from emocli.console import console, execute, fail, print_result
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import resolve_workspace, source_name
    from stages import predict_artifact as stage

    option, model = (
        ("--face-model", face_model) if kind == "faces" else ("--audio-model", audio_model)
    )
    other_option, other = (
        ("--audio-model", audio_model) if kind == "faces" else ("--face-model", face_model)
    )
    if fuser is not None:
        fail("--fuser fuses media predictions; for artifacts run emocli fuse on the predictions")
    if other is not None:
        fail(f"{clips[0]} is a {kind} artifact: give its model as {option}, not {other_option}")
    if model is None:
        model = _bundled("face" if kind == "faces" else "voice")
    if model is None:
        fail(
            f"{clips[0]} is a {kind} artifact: give the model to predict it with ({option} M.h5); "
            "this installation has no bundled model for it (make zoo builds them)"
        )
    assert model is not None
    if not model.is_file():
        fail(f"{option} {model}: no such file")

    def action(progress: ProgressHook) -> StageResult:
        params = stage.PredictArtifactParams(**options)  # type: ignore[arg-type]
        out = output or resolve_workspace(workdir).default_output(
            "predictions", clips[0], suffix=f"-{source_name(model)}"
        )
        return stage.run(params, clips[0], model, out, force=force, progress=progress)

    result = execute(action)
    print_result(result)
    s = result.summary
    console.print(
        f"{s['rows']} rows predicted with {s['model']} ({s['modality']}, {len(s['classes'])} "
        f"classes, {s['runtime']}); labelled: {s['labelled']}"
        + (f", accuracy {s['accuracy']:.4f}" if s.get("accuracy") is not None else "")
    )
    if s.get("unknown_labels"):
        listing = ", ".join(f"{k} ({v})" for k, v in s["unknown_label_classes"].items())
        console.print(
            f"[yellow]{s['unknown_labels']} rows kept unlabelled[/]: their class is not one of "
            f"the model's ({listing})"
        )
    for note in s.get("notes", []):
        console.print(f"note: {note}")


def _print_table(result: object) -> None:
    """Per clip: the modalities used, the predicted class and every class's probability (%)."""
    from rich import box
    from rich.table import Table

    from emocli.console import console
    from emocli.predict import PredictResult

    assert isinstance(result, PredictResult)
    fusions = sorted({c.fusion for c in result.clips if c.fusion})
    table = Table(
        title="Per-clip probabilities (%)",
        title_justify="left",
        caption=f"fusion: {', '.join(fusions)}" if fusions else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("clip", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("pred", style="bold", no_wrap=True)
    for name in result.classes:
        table.add_column(name[:CLASS_HEADER], justify="right", no_wrap=True)
    for clip in result.clips:
        if clip.probs is None:
            cells = ["-"] * len(result.classes)
        else:
            best = int(clip.probs.argmax())
            cells = [
                f"[bold]{p * 100:.0f}[/]" if k == best else f"{p * 100:.0f}"
                for k, p in enumerate(clip.probs)
            ]
        table.add_row(
            clip.name,
            "+".join(clip.modalities) or "-",
            clip.predicted(result.classes) or "-",
            *cells,
        )
    console.print(table)
    for clip in result.clips:
        for note in clip.notes:
            console.print(f"[yellow]{clip.name}[/]: {note}")
