"""`emocli predict`: emotion probabilities of new videos, images or audio files, or of every
row of a faces / spectrograms artifact (a predictions artifact, see stages/predict_artifact.py)."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from emocli.commands.common import StageCall, argument, option, run_and_report, with_params
from emocli.stage_params.predict_artifact import PredictArtifactParams

if TYPE_CHECKING:
    from emocli.predict import PredictResult
    from emocli.predict_inputs import PredictInputs
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult

#: Output folder inside the workspace's reports folder.
DEFAULT_SUBDIR = "predict"


@with_params(PredictArtifactParams)
def command(
    call: StageCall,
    clips: list[Path] = argument(
        "Videos, images or audio files to predict, or one faces / spectrograms artifact (.h5)."
    ),
    face_model: Optional[Path] = option(
        "Face model artifact (finetune, pretrain-gan) or its .onnx export."
    ),
    audio_model: Optional[Path] = option(
        "Audio model artifact (finetune on spectrograms) or its .onnx export."
    ),
    fuser: Optional[Path] = option(
        "Fuser model artifact (emocli fuse) \\[default: mean of the modalities]."
    ),
    output: Optional[Path] = option(
        "Output folder \\[default: <workdir>/reports/predict]; for an artifact input, the "
        "predictions artifact \\[default: <workdir>/predictions/<input>-<model>.h5].",
        "--output",
        "-o",
    ),
    fps: Optional[str] = option(
        "Video frames classified per second, or 'all' (a per-frame timeline) \\[default: the "
        "rate of the face model's training clips]."
    ),
    detect_every: int = option(
        "Detect faces every N classified frames, interpolating between (0 = every frame at "
        "the model's rate, about 5 per second with --fps).",
        default=0,
        min=0,
    ),
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

    frames_chosen = fps is not None or bool(detect_every)
    chosen: PredictInputs = execute(
        lambda _progress: predict_inputs(clips, face_model, audio_model, fuser, frames_chosen)
    )
    if chosen.kind:
        _predict_artifact(chosen, output, call)
    else:
        out = output or call.workspace.dir_for("evaluation") / DEFAULT_SUBDIR
        _predict_media(chosen, fuser, fps, detect_every, call.values["runtime"], out)


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


def _predict_artifact(chosen: PredictInputs, output: Path | None, call: StageCall) -> None:
    """``emocli predict ARTIFACT.h5``: a predictions artifact (the stage predict-artifact)."""
    from emocli.workspace import source_name
    from stages import predict_artifact as stage

    def action(progress: ProgressHook) -> StageResult:
        params = call.params()
        suffix = f"-{source_name(chosen.model)}"
        out = output or call.workspace.default_output("predictions", chosen.paths[0], suffix=suffix)
        return stage.run(params, chosen.paths[0], chosen.model, out, **call.options(progress))

    run_and_report(action, stage.describe)
