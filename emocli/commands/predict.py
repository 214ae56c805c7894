"""`emocli predict`: emotion probabilities of new videos, images or audio files, or of every
row of a faces / spectrograms artifact (a predictions artifact, see stages/predict_artifact.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from emocli.commands.common import Config, Force, Workdir, run_and_report, with_params
from emocli.stage_params.predict_artifact import PredictArtifactParams

if TYPE_CHECKING:
    from emocli.predict import PredictResult
    from emocli.predict_inputs import PredictInputs
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult
    from emocli.workspace import Workspace

#: Output folder inside the workspace's reports folder.
DEFAULT_SUBDIR = "predict"


@with_params(PredictArtifactParams)
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
    **values: Any,
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
    from emocli.console import execute
    from emocli.predict_inputs import predict_inputs
    from emocli.workspace import resolve_workspace

    workspace = resolve_workspace(workdir)
    frames_chosen = fps is not None or bool(detect_every)
    chosen: PredictInputs = execute(
        lambda _progress: predict_inputs(clips, face_model, audio_model, fuser, frames_chosen)
    )
    if chosen.kind:
        _predict_artifact(chosen, output, workspace, force, values)
    else:
        out = output or workspace.dir_for("evaluation") / DEFAULT_SUBDIR
        _predict_media(chosen, fuser, fps, detect_every, values["runtime"], out)


def _predict_media(
    chosen: PredictInputs,
    fuser: Path | None,
    fps: str | None,
    detect_every: int,
    runtime: str,
    out: Path,
) -> None:
    """``emocli predict CLIP...``: per clip, its probabilities, timeline and face track."""
    from emocli.console import console, execute
    from emocli.errors import InputError
    from emocli.predict import Sampling, load_predictor, parse_fps, predict
    from emocli.render import render_predictions
    from emocli.timeline import write_outputs

    def action(progress: ProgressHook) -> tuple[PredictResult, dict[str, Path]]:
        sampling = Sampling(parse_fps(fps), detect_every)
        predictor = load_predictor(chosen.face_model, chosen.audio_model, fuser, runtime, sampling)
        result = predict(chosen.paths, predictor, progress)
        try:
            written = write_outputs(result, out)
        except OSError as exc:
            raise InputError(f"cannot write the outputs in {out}: {exc}") from exc
        return result, written

    result, written = execute(action, preload=("torch",))
    render_predictions(console, result)
    console.print(f"[green]predict[/]: wrote {len(written)} files in {out}")


def _predict_artifact(
    chosen: PredictInputs,
    output: Path | None,
    workspace: Workspace,
    force: bool,
    values: dict[str, Any],
) -> None:
    """``emocli predict ARTIFACT.h5``: a predictions artifact (the stage predict-artifact)."""
    from emocli.workspace import source_name
    from stages import predict_artifact as stage

    def action(progress: ProgressHook) -> StageResult:
        params = PredictArtifactParams(**values)
        suffix = f"-{source_name(chosen.model)}"
        out = output or workspace.default_output("predictions", chosen.paths[0], suffix=suffix)
        return stage.run(params, chosen.paths[0], chosen.model, out, force=force, progress=progress)

    run_and_report(action, stage.describe)
