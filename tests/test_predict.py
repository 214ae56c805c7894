"""`emocli predict`: new media -> per-clip and per-frame probabilities, with the models'
own preprocessing; refusals of models whose preprocessing cannot be reproduced."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emocli.artifacts import ArtifactWriter, open_artifact
from emocli.audio import FrontEnd
from emocli.cli import app
from emocli.demo import DemoSpec, generate_demo_data
from emocli.errors import InputError
from emocli.faces import FaceParams, preprocess_frames
from emocli.fusion import WeightedFuser, write_fuser
from emocli.models import TINY_CONFIGS, build_model
from emocli.predict import clip_names
from emocli.training.model_store import ModelInfo, write_model
from emocli.video import sample_frames

CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
FACE_SIZE = 32
FPS = 5.0
FRONTEND = FrontEnd(sample_rate=16000, pad_samples=16000)
SPEC = DemoSpec(
    clips_train=2, clips_val=0, unlabelled=0, frames_per_clip_sfew=1, image_size=96, max_clip_s=1.2
)

runner = CliRunner()


def _write(path: Path, fill: Any) -> Path:
    writer = ArtifactWriter(
        path, "model", stage="test", params={}, inputs=[], fingerprint=path.stem
    )
    fill(writer)
    writer.close()
    writer.commit()
    return path


def face_model(path: Path, classes: list[str] = CLASSES, **input_overrides: Any) -> Path:
    torch.manual_seed(0)
    kwargs = {
        "in_channels": 1,
        "input_size": [FACE_SIZE, FACE_SIZE],
        "n_classes": len(classes),
        **TINY_CONFIGS["static_cnn"],
    }
    model = build_model("static_cnn", **kwargs)
    upstream = {
        "stage": "preprocess-faces",
        "preprocessing": FaceParams(size=FACE_SIZE, on_miss="keep").to_dict(),
        "params": {"fps": FPS, "max_frames": 0},
    }
    inp = {
        "kind": "faces",
        "column": "images",
        "size": [FACE_SIZE, FACE_SIZE],
        "channels": 1,
        "normalisation": {"scale": 255.0, "mean": [0.5], "std": [0.5]},
        "upstream": upstream,
        **input_overrides,
    }
    info = ModelInfo("static_cnn", kwargs, classes, inp)
    return _write(path, lambda w: write_model(w, model, info))


def audio_model(path: Path, classes: list[str] = CLASSES, as_image: int = 0) -> Path:
    """A tiny audio model on (n_mels, T) features, or on ``as_image`` px spectrogram images."""
    torch.manual_seed(1)
    architecture = "static_cnn" if as_image else "audio_fayek"
    size = [as_image, as_image] if as_image else [FRONTEND.n_mels, FRONTEND.n_frames]
    channels = 3 if as_image else 1
    kwargs = {
        "in_channels": channels,
        "input_size": size,
        "n_classes": len(classes),
        **TINY_CONFIGS[architecture],
    }
    model = build_model(architecture, **kwargs)
    stats = {"mean": [0.0] * FRONTEND.n_mels, "std": [1.0] * FRONTEND.n_mels}
    normalisation = {"scale": 255.0 if as_image else 1.0, "mean": [0.0], "std": [1.0]}
    inp = {
        "kind": "spectrograms",
        "column": "images" if as_image else "features",
        "size": size,
        "channels": channels,
        "normalisation": normalisation,
        "upstream": {
            "frontend": FRONTEND.to_dict(),
            "stats": stats,
            "params": {"as_image": as_image, "image_cmap": "viridis"},
        },
    }
    info = ModelInfo(architecture, kwargs, classes, inp)
    return _write(path, lambda w: write_model(w, model, info))


def fuser_model(path: Path, modalities: list[str], weights: list[float]) -> Path:
    def fill(writer: ArtifactWriter) -> None:
        write_fuser(
            writer,
            WeightedFuser(np.asarray(weights)),
            modalities=modalities,
            classes=CLASSES,
            train_split="train",
            fitted_split=np.array(["train"]),
            fitted_clip=np.array(["x"]),
        )

    return _write(path, fill)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny demo dataset, a silent copy of a clip, a wav, and tiny model artifacts."""
    import av
    import soundfile

    root = tmp_path_factory.mktemp("predict")
    generate_demo_data(root / "demo", SPEC)
    clips = sorted((root / "demo" / "afew").rglob("*.mp4"))
    still = sorted((root / "demo" / "sfew").rglob("*.png"))[0]
    silent = root / "silent.mp4"
    frames = sample_frames(clips[0], fps=0, colour="bgr")
    with av.open(str(silent), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height = frames[0].image.shape[1], frames[0].image.shape[0]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame.image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    wav = root / "speech.wav"
    t = np.arange(int(1.3 * 16000)) / 16000
    soundfile.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    models = root / "models"
    return {
        "clip0": clips[0],
        "clip1": clips[1],
        "still": still,
        "silent": silent,
        "wav": wav,
        "face": face_model(models / "face.h5"),
        "audio": audio_model(models / "audio.h5"),
        "fuser": fuser_model(models / "fuser.h5", ["face", "audio"], [0.25, 0.75]),
        "root": root,
    }


def _run(*args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_videos_and_an_image_give_probabilities_timelines_and_face_tracks(
    kit: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    clips = [kit["clip0"], kit["clip1"], kit["still"]]
    result = _run("predict", *clips, "--face-model", kit["face"], "--audio-model", kit["audio"],
                  "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Per-clip probabilities" in result.output
    rows = _csv(out / "predictions.csv")
    assert [r["file"] for r in rows] == [str(c) for c in clips]
    document = json.loads((out / "predictions.json").read_text())
    assert document["classes"] == CLASSES
    for row, clip in zip(rows, document["clips"], strict=True):
        probs = np.array([float(row[c]) for c in CLASSES])
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert row["predicted"] == CLASSES[int(probs.argmax())] == clip["predicted"]
    assert rows[0]["modalities"] == "face+audio" and rows[0]["fusion"] == "mean"
    assert rows[2]["modalities"] == "face" and rows[2]["fusion"] == "single"
    # without a fuser, two modalities are averaged
    face, audio = (np.array(list(document["clips"][0]["modality_probabilities"][m].values()))
                   for m in ("face", "audio"))  # fmt: skip
    fused = np.array(list(document["clips"][0]["probabilities"].values()))
    np.testing.assert_allclose(fused, (face + audio) / 2, atol=2e-6)
    for clip, name in zip(clips, clip_names(clips), strict=True):
        timeline = _csv(out / f"timeline-{name}.csv")
        expected = 1 if clip.suffix == ".png" else len(sample_frames(clip, FPS))
        assert len(timeline) == expected
        assert (out / f"timeline-{name}.png").read_bytes()[:4] == b"\x89PNG"
        with_face = [r for r in timeline if r["x"]]
        assert with_face, "the demo faces are found"
        for r in with_face:
            assert sum(float(r[c]) for c in CLASSES) == pytest.approx(1.0, abs=1e-5)
            assert float(r["w"]) > 0 and float(r["h"]) > 0
        assert len(_csv(out / f"track-{name}.csv")) == expected
        assert (out / f"track-{name}.png").is_file()
    assert not list(out.glob(".*tmp*")), "no temporary files are left"


def test_predict_makes_faces_as_the_preprocessing_pipeline(kit: dict[str, Path]) -> None:
    from emocli.contract import FaceContract, faces_of_frames

    params = FaceParams(size=FACE_SIZE, on_miss="keep")
    images = [f.image for f in sample_frames(kit["clip0"], FPS)]
    contract = FaceContract(params, params, FPS, 0)
    tracked, faces, kept = faces_of_frames(iter(images), contract)
    reference = preprocess_frames(images, params)
    assert [t.result.status for t in tracked] == [r.status for r in reference]
    assert kept == [i for i, r in enumerate(reference) if r.face is not None]
    np.testing.assert_array_equal(faces, np.stack([reference[i].face for i in kept]))
    h, w = images[0].shape
    for t in tracked:
        assert t.box is not None
        x, y, bw, bh = t.box
        assert x >= 0 and y >= 0 and x + bw <= w + 1 and y + bh <= h + 1


def test_fps_all_gives_a_timeline_row_per_video_frame(kit: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run("predict", kit["clip0"], "--face-model", kit["face"], "--fps", "all",
                  "--detect-every", 3, "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    timeline = _csv(out / f"timeline-{kit['clip0'].stem}.csv")
    every = sample_frames(kit["clip0"], 0)
    assert len(timeline) == len(every) > len(sample_frames(kit["clip0"], FPS))
    assert [int(r["frame"]) for r in timeline] == [f.index for f in every]
    assert sum(1 for r in timeline if r["x"]) >= len(every) // 2, "faces between detections"
    bad = _run("predict", kit["clip0"], "--face-model", kit["face"], "--fps", "fast")
    assert bad.exit_code != 0 and "--fps 'fast'" in bad.output


def test_audio_files_and_videos_without_sound(kit: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run("predict", kit["wav"], kit["silent"], "--face-model", kit["face"],
                  "--audio-model", kit["audio"], "--fuser", kit["fuser"], "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    wav, silent = json.loads((out / "predictions.json").read_text())["clips"]
    assert wav["modalities"] == ["audio"] and wav["frames"] == 0
    assert not (out / "timeline-speech.csv").exists()
    assert silent["modalities"] == ["face"]
    assert any("audio modality missing" in n for n in silent["notes"])
    assert any("fell back to the face" in n for n in silent["notes"])
    assert silent["probabilities"] == silent["modality_probabilities"]["face"]
    assert "audio modality missing" in result.output
    # an audio file needs an audio model
    result = _run("predict", kit["wav"], "--face-model", kit["face"], "-o", out)
    assert result.exit_code != 0
    assert "needs an --audio-model" in result.output


def test_a_stored_fuser_weighs_the_modalities_in_its_order(
    kit: dict[str, Path], tmp_path: Path
) -> None:
    fuser = fuser_model(tmp_path / "swapped.h5", ["audio", "video"], [0.25, 0.75])
    result = _run("predict", kit["clip0"], "--face-model", kit["face"], "--audio-model",
                  kit["audio"], "--fuser", fuser, "-o", tmp_path / "out")  # fmt: skip
    assert result.exit_code == 0, result.output
    clip = json.loads((tmp_path / "out" / "predictions.json").read_text())["clips"][0]
    face, audio = (np.array(list(clip["modality_probabilities"][m].values()))
                   for m in ("face", "audio"))  # fmt: skip
    np.testing.assert_allclose(
        np.array(list(clip["probabilities"].values())), 0.25 * audio + 0.75 * face, atol=2e-6
    )
    assert clip["fusion"] == "weighted"


def test_audio_classes_are_matched_by_name(kit: dict[str, Path], tmp_path: Path) -> None:
    shuffled = audio_model(tmp_path / "shuffled.h5", CLASSES[::-1])
    for name, model in (("a", shuffled), ("b", kit["audio"])):
        result = _run("predict", kit["wav"], "--face-model", kit["face"], "--audio-model", model,
                      "-o", tmp_path / name)  # fmt: skip
        assert result.exit_code == 0, result.output
    mine, theirs = (_csv(tmp_path / name / "predictions.csv")[0] for name in ("a", "b"))
    # same weights (same seed), class names reversed: output k now means CLASSES[6 - k]
    for k, name in enumerate(CLASSES):
        assert float(mine[name]) == pytest.approx(float(theirs[CLASSES[6 - k]]), abs=2e-6)
    assert list(mine)[-7:] == CLASSES, "outputs follow the face model's classes"


def test_models_of_other_class_sets_are_fused_over_the_classes_both_know(
    kit: dict[str, Path], tmp_path: Path
) -> None:
    """The bundled voice model knows RAVDESS's ``calm``, the face model does not: a video is
    decided between the 7 shared classes, the audio probabilities renormalised over them."""
    eight = audio_model(tmp_path / "eight.h5", [*CLASSES, "calm"])
    out = tmp_path / "out"
    result = _run("predict", kit["clip0"], "--face-model", kit["face"], "--audio-model", eight,
                  "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    (clip,) = json.loads((out / "predictions.json").read_text())["clips"]
    assert clip["modalities"] == ["face", "audio"] and clip["fusion"] == "mean"
    assert list(clip["probabilities"]) == CLASSES
    audio = clip["modality_probabilities"]["audio"]
    assert list(audio) == CLASSES and sum(audio.values()) == pytest.approx(1.0, abs=1e-4)
    assert any("calm left out" in note for note in clip["notes"])
    alone = _run("predict", kit["wav"], "--audio-model", eight, "-o", tmp_path / "alone")
    assert alone.exit_code == 0, alone.output
    (only,) = json.loads((tmp_path / "alone" / "predictions.json").read_text())["clips"]
    assert list(only["probabilities"]) == [*CLASSES, "calm"], "one model: all its classes"


def test_an_audio_model_on_spectrogram_images_gets_the_same_rendering(
    kit: dict[str, Path], tmp_path: Path
) -> None:
    from emocli.audio import NormStats, decode_audio, logmel_features, spectrogram_image
    from emocli.predict import load_audio_model
    from emocli.training.classify import classify

    path = audio_model(tmp_path / "images.h5", as_image=24)
    result = _run("predict", kit["wav"], "--audio-model", path, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    row = _csv(tmp_path / "out" / "predictions.csv")[0]
    loaded = load_audio_model(path)
    stats = NormStats(np.zeros(FRONTEND.n_mels, np.float32), np.ones(FRONTEND.n_mels, np.float32))
    features = logmel_features(decode_audio(kit["wav"], 16000), 16000, FRONTEND, stats)
    image = spectrogram_image(features, 24, "viridis").transpose(2, 0, 1)[None]
    expected = classify(loaded.model, loaded.info, image)[0]
    np.testing.assert_allclose([float(row[c]) for c in CLASSES], expected, atol=2e-6)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-preprocessing", "lacks the face preprocessing parameters"),
        ("audio-as-face", "trained on spectrograms, not on faces"),
        ("face-as-audio", "trained on faces, not on spectrograms"),
        ("classes", "share 1 class(es): nothing to fuse"),
        ("fuser-modalities", "trained on the modalities"),
        ("fuser-needs-audio", "give the model of audio"),
        ("size", "its face preprocessing makes"),
    ],
)
def test_models_whose_preprocessing_cannot_be_reproduced_are_refused(
    kit: dict[str, Path], tmp_path: Path, case: str, message: str
) -> None:
    face, audio, fuser = kit["face"], None, None
    if case == "no-preprocessing":
        face = face_model(tmp_path / "bare.h5", upstream={"stage": "preprocess-faces"})
    elif case == "audio-as-face":
        face = kit["audio"]
    elif case == "face-as-audio":
        audio = kit["face"]
    elif case == "classes":
        audio = audio_model(tmp_path / "other.h5", ["angry", "calm", "bored"])
    elif case == "fuser-modalities":
        audio, fuser = kit["audio"], fuser_model(tmp_path / "f.h5", ["face", "text"], [0.5, 0.5])
    elif case == "fuser-needs-audio":
        fuser = kit["fuser"]
    elif case == "size":
        face = face_model(tmp_path / "big.h5", size=[48, 48])
    args: list[Any] = ["predict", kit["clip0"], "--face-model", face, "-o", tmp_path / "out"]
    if audio is not None:
        args += ["--audio-model", audio]
    if fuser is not None:
        args += ["--fuser", fuser]
    result = _run(*args)
    assert result.exit_code != 0
    assert "error:" in result.output and message in " ".join(result.output.split())
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_clip_names_are_unique_and_safe() -> None:
    names = clip_names([Path("a/Angry/001.mp4"), Path("b/Happy/001.mp4"), Path("c/x y.png")])
    assert names == ["Angry-001", "Happy-001", "x_y"]


@pytest.mark.real_data
def test_predict_on_a_ravdess_clip(
    shared_datasets: Path, kit: dict[str, Path], tmp_path: Path
) -> None:
    clip = shared_datasets / "ravdess_av_sample" / "01-01-01-01-01-01-01.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not available")
    out = tmp_path / "out"
    result = _run("predict", clip, "--face-model", kit["face"], "--audio-model", kit["audio"],
                  "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "01-01-01-01-01-01-01" in result.output
    row = _csv(out / "predictions.csv")[0]
    assert row["modalities"] == "face+audio"
    assert sum(float(row[c]) for c in CLASSES) == pytest.approx(1.0, abs=1e-5)
    timeline = _csv(out / "timeline-01-01-01-01-01-01-01.csv")
    assert len(timeline) == len(sample_frames(clip, FPS))
    assert sum(bool(r["x"]) for r in timeline) >= len(timeline) // 2
    assert (out / "timeline-01-01-01-01-01-01-01.png").is_file()


@pytest.mark.parametrize("gan_size", [32, 16])
def test_a_pretrain_gan_model_predicts_a_clip(
    kit: dict[str, Path], tmp_path: Path, gan_size: int
) -> None:
    """pretrain-gan's model (the seeds' classifier) records the face preprocessing like
    finetune's; trained at a smaller --size, predict resizes the faces the same way."""
    faces = tmp_path / "faces.h5"
    made = _run(
        "preprocess-faces", kit["root"] / "demo" / "sfew", "--size", 32, "-j", 1, "-o", faces
    )
    assert made.exit_code == 0, made.output
    widths = ["--d-widths", "8,16,32", "--g-widths", "32,16,8"] if gan_size == 32 else []
    if gan_size == 16:
        widths = ["--d-widths", "8,16", "--g-widths", "16,8"]
    gan = tmp_path / "gan.h5"
    trained = _run(
        "pretrain-gan", faces, "--schedule", "supervised-only", "--size", gan_size,
        "--epochs", 1, "--nz", 16, "--batch-size", 16, *widths,
        "-o", gan, "--predictions-output", tmp_path / "gan-pred.h5",
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    with open_artifact(gan, "model") as art:
        contract = art.attrs["input"]
    assert contract["upstream"]["preprocessing"]["size"] == 32
    assert contract["size"] == [gan_size, gan_size] and contract["resized_from"] == 32
    result = _run("predict", kit["clip0"], "--face-model", gan, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = _csv(tmp_path / "out" / "predictions.csv")
    assert len(rows) == 1 and rows[0]["modalities"] == "face" and rows[0]["predicted"]


def test_a_model_of_pre_cropped_faces_sees_detected_faces_not_whole_frames(
    kit: dict[str, Path], tmp_path: Path
) -> None:
    """FER2013, CK+48, UTKFace are prepared with --detector none: on a video the face must
    be detected and cropped, never the whole frame squeezed to the model's size."""
    crops = FaceParams(size=FACE_SIZE, detector="none", on_miss="keep").to_dict()
    upstream = {"stage": "preprocess-faces", "preprocessing": crops, "params": {"fps": FPS}}
    model = face_model(tmp_path / "crops.h5", upstream=upstream)
    out = tmp_path / "out"
    result = _run("predict", kit["clip0"], "--face-model", model, "-o", out)
    assert result.exit_code == 0, result.output
    assert "pre-cropped faces" in " ".join(result.output.split())
    timeline = next(out.rglob("*timeline*.csv"))
    statuses = [row["status"] for row in _csv(timeline)]
    assert statuses and not [s for s in statuses if s.startswith("whole")], statuses
    assert any(s.startswith("face") for s in statuses), statuses


def test_onnx_runtime_on_media_gives_torchs_probabilities(
    kit: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    import emocli.export

    exported: list[Path] = []
    real = emocli.export.onnx_classifier

    def counted(path: Path, threads: int = 0) -> Any:
        exported.append(Path(path))
        return real(path, threads)

    monkeypatch.setattr(emocli.export, "onnx_classifier", counted)
    documents = {}
    for runtime in ("torch", "onnx"):
        out = tmp_path / runtime
        args = ["predict", kit["clip0"], "--face-model", kit["face"], "--audio-model", kit["audio"]]
        result = _run(*args, "--runtime", runtime, "-o", out)
        assert result.exit_code == 0, result.output
        documents[runtime] = json.loads((out / "predictions.json").read_text())
    assert exported == [kit["face"], kit["audio"]]  # onnxruntime ran both models
    torch_clip, onnx_clip = documents["torch"]["clips"][0], documents["onnx"]["clips"][0]
    for modality in ("face", "audio"):
        mine = np.array(list(onnx_clip["modality_probabilities"][modality].values()))
        theirs = np.array(list(torch_clip["modality_probabilities"][modality].values()))
        np.testing.assert_allclose(mine, theirs, atol=1e-4)
    # the exported files themselves (emocli export) predict the same, with onnxruntime
    onnx_files = []
    for name in ("face", "audio"):
        done = _run("export", kit[name], "-o", tmp_path / f"{name}.onnx")
        assert done.exit_code == 0, done.output
        onnx_files.append(tmp_path / f"{name}.onnx")
    out = tmp_path / "files"
    result = _run("predict", kit["clip0"], "--face-model", onnx_files[0],
                  "--audio-model", onnx_files[1], "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    files_clip = json.loads((out / "predictions.json").read_text())["clips"][0]
    np.testing.assert_allclose(
        list(files_clip["probabilities"].values()),
        list(torch_clip["probabilities"].values()),
        atol=1e-4,
    )


def test_detection_runs_on_every_frame_at_the_models_own_rate() -> None:
    from emocli.predict import Sampling, detection_step, parse_fps

    assert detection_step(Sampling(), 30.0) == 1, "as the training faces were made"
    assert detection_step(Sampling(parse_fps("all")), 30.0) == 6  # about 5 per second
    assert detection_step(Sampling(10.0), 10.0) == 2
    assert detection_step(Sampling(0.0, detect_every=3), 30.0) == 3
    for bad in ("0", "-2", "fast"):
        with pytest.raises(InputError, match="--fps"):
            parse_fps(bad)


def test_frame_options_are_refused_for_an_artifact(kit: dict[str, Path], tmp_path: Path) -> None:
    from tests.test_training import make_faces

    faces = make_faces(tmp_path / "faces.h5", size=FACE_SIZE)
    result = _run("predict", faces, "--face-model", kit["face"], "--fps", "all")
    assert result.exit_code != 0 and "--fps and --detect-every" in result.output
