"""Every stage of emocli through the CLI, as ``make demo`` chains them, on a tiny demo dataset.

demo data -> preprocess-faces (sfew/, afew/, unlabelled/) -> extract-audio -> build-spectrograms
-> pretrain-gan -> finetune (faces from the GAN, audio) -> fuse (frames -> clips, then SVM)
-> evaluate, then ``predict`` on one clip and ``inspect``; a second run of the stages must find
every one up to date, rewrite nothing and take a fraction of the first run's time.

Commands run in this process (``CliRunner``) from inside the data folder, as a user would
(``emocli preprocess-faces sfew/``), with the workspace given by ``EMOCLI_WORKDIR``. Training
is a couple of epochs of tiny networks: nothing here asserts accuracy above chance.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emocli.artifacts import open_artifact
from emocli.cli import app
from emocli.demo.spec import EMOTION_FOLDERS
from tests.tiny_demo import TINY_DEMO

SPEC = TINY_DEMO
N_CLASSES = len(EMOTION_FOLDERS)
#: AFEW clips per split, as the stages name the splits.
SPLIT_CLIPS = {"train": SPEC.clips_train, "val": SPEC.clips_val}
FACE_SIZE = 32
#: Tiny training settings for every trainer.
TRAIN = ["--accelerator", "cpu", "--devices", "1", "--threads", "1"]
FAST = [*TRAIN, "--batch-size", "8", "--lr", "0.01", "--epochs", "2", "--patience", "0"]
GAN = ["--size", str(FACE_SIZE), "--epochs", "1", "--nz", "16", "--batch-size", "16"]
GAN += ["--labelled-batch-size", "16", "--d-widths", "8,16,32", "--g-widths", "32,16,8"]
GAN += ["--accelerator", "cpu", "--threads", "1"]
AUDIO_MODEL = ["--model", "audio_urbansound", "--model-kwargs"]
AUDIO_MODEL += ['{"widths": [4, 8, 8], "hidden": 16}']
#: A second run may take at most this fraction of the first run's wall time.
MAX_RERUN_FRACTION = 0.5

runner = CliRunner()


@dataclass
class Step:
    """One CLI command of the chain and what it printed."""

    name: str
    args: list[str]
    output: str = ""
    raw: str = ""
    seconds: float = 0.0


@dataclass
class Run:
    """One pass over the chain: its steps, wall and CPU seconds."""

    steps: dict[str, Step] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0


@dataclass
class Chain:
    """The demo data, the workspace and the chain's two runs."""

    data: Path
    work: Path
    clip: Path
    first: Run
    second: Run
    predict: Step
    inspect_json: Step
    inspect_text: Step
    demo_data_refused: Step
    mtimes: dict[Path, int]


def invoke(step: Step) -> Step:
    """Run ``step`` through the CLI; fail the test with its output if it does not exit 0."""
    started = time.perf_counter()
    result = runner.invoke(app, step.args)
    step.seconds = time.perf_counter() - started
    step.raw = result.output
    step.output = " ".join(result.output.split())  # undo rich's line wrapping
    if result.exit_code != 0:
        trace = ""
        if result.exc_info is not None and not isinstance(result.exception, SystemExit):
            trace = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(
            f"emocli {' '.join(step.args)} exited {result.exit_code}:\n{step.output}\n{trace}"
        )
    return step


def stage_steps(work: Path) -> list[Step]:
    """The stages of ``make demo``, in order (paths of the workspace ``work``; cwd = data)."""
    faces, models, preds = work / "faces", work / "models", work / "predictions"
    return [
        Step("faces-sfew", ["preprocess-faces", "sfew/", "--size", str(FACE_SIZE), "-j", "1"]),
        Step("faces-afew", ["preprocess-faces", "afew/", "--size", str(FACE_SIZE), "-j", "1"]),
        Step(
            "faces-unlabelled",
            ["preprocess-faces", "unlabelled/", "--size", str(FACE_SIZE), "-j", "1"],
        ),
        Step("audio", ["extract-audio", "afew/", "-j", "1"]),
        Step("spectrograms", ["build-spectrograms", str(work / "audio" / "afew.h5"), "-j", "1"]),
        Step(
            "gan",
            [
                "pretrain-gan",
                str(faces / "sfew.h5"),
                "-u",
                str(faces / "unlabelled.h5"),
                *GAN,
                "-o",
                str(models / "gan.h5"),
                "--predictions-output",
                str(preds / "gan" / "sfew-gan.h5"),
            ],
        ),
        Step(
            "face-model",
            [
                "finetune",
                str(faces / "sfew.h5"),
                "--init",
                str(models / "gan.h5"),
                *FAST,
                "--predict-on",
                str(faces / "afew.h5"),
                "-o",
                str(models / "face.h5"),
                "--predictions",
                str(preds / "video-frames.h5"),
            ],
        ),
        Step(
            "audio-model",
            [
                "finetune",
                str(work / "spectrograms" / "afew.h5"),
                *AUDIO_MODEL,
                *FAST,
                "-o",
                str(models / "audio.h5"),
                "--predictions",
                str(preds / "audio.h5"),
            ],
        ),
        Step(
            "fuse-frames",
            [
                "fuse",
                str(preds / "video-frames.h5"),
                "--method",
                "mean",
                "-o",
                str(preds / "clips" / "video.h5"),
            ],
        ),
        # default inputs: the face and the audio predictions of the workspace
        Step("fuse-svm", ["fuse", "--method", "svm", "--svm-c", "0.1", "--svm-c", "10"]),
        Step(
            "evaluate",
            [
                "evaluate",
                str(preds / "clips" / "video.h5"),
                str(preds / "audio.h5"),
                str(preds / "fused-svm.h5"),
                str(preds / "gan" / "sfew-gan.h5"),
                "--split",
                "val",
                "-o",
                str(work / "reports" / "demo"),
            ],
        ),
    ]


def run_chain(work: Path) -> Run:
    """Every stage once; wall and CPU time of the whole pass."""
    run = Run()
    wall, cpu = time.perf_counter(), time.process_time()
    for step in stage_steps(work):
        run.steps[step.name] = invoke(step)
    run.wall, run.cpu = time.perf_counter() - wall, time.process_time() - cpu
    return run


def artifact_mtimes(work: Path) -> dict[Path, int]:
    """Modification time (ns) of every artifact of the workspace."""
    return {p: p.stat().st_mtime_ns for p in sorted(work.rglob("*.h5"))}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, tiny_demo: Path) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("e2e")
    data, work = root / "demo", root / "work"
    shutil.copytree(tiny_demo, data)
    clip = sorted((data / "afew" / "Val" / "Happy").glob("*.mp4"))[0]
    threads = torch.get_num_threads()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(data)
            mp.setenv("EMOCLI_WORKDIR", str(work))
            first = run_chain(work)
            mtimes = artifact_mtimes(work)
            second = run_chain(work)
            models = work / "models"
            predict = invoke(
                Step(
                    "predict",
                    [
                        "predict",
                        str(clip.relative_to(data)),
                        "--face-model",
                        str(models / "face.h5"),
                        "--audio-model",
                        str(models / "audio.h5"),
                    ],
                )
            )
            fused = str(work / "predictions" / "fused-svm.h5")
            inspect_json = invoke(Step("inspect", ["inspect", fused, "--json"]))
            inspect_text = invoke(Step("inspect", ["inspect", fused]))
            refused = Step("demo-data", ["demo-data", str(data)])
            result = runner.invoke(app, refused.args)
            refused.output = f"exit {result.exit_code}: " + " ".join(result.output.split())
        yield Chain(
            data,
            work,
            clip,
            first,
            second,
            predict,
            inspect_json,
            inspect_text,
            refused,
            mtimes,
        )
    finally:
        torch.set_num_threads(threads)  # --threads 1 is process-wide: give later tests theirs


def column(path: Path, kind: str, name: str) -> np.ndarray:
    with open_artifact(path, kind) as art:
        return art.column(name)


def n_samples(path: Path, kind: str) -> int:
    with open_artifact(path, kind) as art:
        return art.n_samples


def clip_ids(path: Path, kind: str) -> set[str]:
    return {str(c) for c in column(path, kind, "clip_id")}


def afew_clip_ids(data: Path) -> set[str]:
    return {p.stem for p in (data / "afew").rglob("*.mp4")}


def test_every_stage_writes_its_artifact(chain: Chain) -> None:
    w = chain.work
    expected = {
        w / "faces" / "sfew.h5": "faces",
        w / "faces" / "afew.h5": "faces",
        w / "faces" / "unlabelled.h5": "faces",
        w / "audio" / "afew.h5": "audio",
        w / "spectrograms" / "afew.h5": "spectrograms",
        w / "models" / "gan.h5": "model",
        w / "models" / "face.h5": "model",
        w / "models" / "audio.h5": "model",
        w / "models" / "fuser-svm.h5": "model",
        w / "predictions" / "gan" / "sfew-gan.h5": "predictions",
        w / "predictions" / "video-frames.h5": "predictions",
        w / "predictions" / "audio.h5": "predictions",
        w / "predictions" / "clips" / "video.h5": "predictions",
        w / "predictions" / "fused-svm.h5": "predictions",
        w / "reports" / "demo" / "evaluation.h5": "evaluation",
    }
    for path, kind in expected.items():
        with open_artifact(path, kind) as art:  # raises on a missing file or another kind
            assert art.kind == kind
            if kind != "evaluation" and path.stem != "unlabelled":
                assert art.classes == [c.lower() for c in EMOTION_FOLDERS], path
    assert set(chain.mtimes) == set(expected), "unexpected or missing artifacts"
    assert (w / "faces" / "sfew.preview.png").stat().st_size > 0


def test_faces_audio_and_spectrograms_have_the_demo_rows(chain: Chain) -> None:
    w, data = chain.work, chain.data
    n_stills = len(list((data / "sfew").rglob("*.png")))
    sfew = w / "faces" / "sfew.h5"
    assert 0 < n_samples(sfew, "faces") <= n_stills
    assert set(column(sfew, "faces", "split")) == {"train", "val"}
    train = column(sfew, "faces", "split") == "train"
    assert set(column(sfew, "faces", "label")[train]) == set(range(N_CLASSES))
    with open_artifact(sfew, "faces") as art:
        assert art.column("images", slice(0, 1)).shape == (1, FACE_SIZE, FACE_SIZE)
    afew_faces = w / "faces" / "afew.h5"
    assert n_samples(afew_faces, "faces") > len(afew_clip_ids(data))  # several frames per clip
    assert clip_ids(afew_faces, "faces") <= afew_clip_ids(data)
    unlabelled = w / "faces" / "unlabelled.h5"
    assert n_samples(unlabelled, "faces") > 0
    assert set(column(unlabelled, "faces", "label")) == {-1}
    n_clips = SPEC.clips_train + SPEC.clips_val
    assert len(afew_clip_ids(data)) == n_clips
    for path, kind in (
        (w / "audio" / "afew.h5", "audio"),
        (w / "spectrograms" / "afew.h5", "spectrograms"),
    ):
        assert n_samples(path, kind) == n_clips, path
        assert clip_ids(path, kind) == afew_clip_ids(data), path
        assert Counter(column(path, kind, "split")) == SPLIT_CLIPS, path


def _probs_ok(path: Path) -> np.ndarray:
    probs = column(path, "predictions", "probs")
    assert probs.shape[1] == N_CLASSES and np.all((probs >= 0) & (probs <= 1)), path
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4, err_msg=str(path))
    return probs


def test_predictions_cover_their_inputs(chain: Chain) -> None:
    w = chain.work
    sfew, afew_faces = w / "faces" / "sfew.h5", w / "faces" / "afew.h5"
    gan = w / "predictions" / "gan" / "sfew-gan.h5"
    frames = w / "predictions" / "video-frames.h5"
    audio = w / "predictions" / "audio.h5"
    for path in (gan, frames, audio):
        assert len(_probs_ok(path)) > 0, path
    # the GAN predicts the labelled faces' splits; the face model every afew frame
    gan_splits = Counter(column(gan, "predictions", "split"))
    sfew_splits = Counter(column(sfew, "faces", "split"))
    assert gan_splits and all(gan_splits[s] == sfew_splits[s] for s in gan_splits)
    assert n_samples(frames, "predictions") == n_samples(afew_faces, "faces")
    assert Counter(column(frames, "predictions", "split")) == Counter(
        column(afew_faces, "faces", "split")
    )
    assert n_samples(audio, "predictions") == SPEC.clips_train + SPEC.clips_val
    assert Counter(column(audio, "predictions", "split")) == SPLIT_CLIPS


def test_fusion_covers_the_clips_of_both_inputs(chain: Chain) -> None:
    preds = chain.work / "predictions"
    video = preds / "clips" / "video.h5"
    with open_artifact(video, "predictions") as art:
        assert art.attrs["level"] == "clip"
    assert clip_ids(video, "predictions") == clip_ids(preds / "video-frames.h5", "predictions")
    assert n_samples(video, "predictions") == len(clip_ids(video, "predictions"))
    fused = preds / "fused-svm.h5"
    _probs_ok(fused)
    both = clip_ids(video, "predictions") & clip_ids(preds / "audio.h5", "predictions")
    assert clip_ids(fused, "predictions") == both and len(both) >= SPEC.clips_val
    assert n_samples(fused, "predictions") == len(both)
    assert column(fused, "predictions", "present").all()  # drop policy: both modalities
    with open_artifact(fused, "predictions") as art:
        assert art.attrs["fusion"]["method"] == "svm"
        assert art.attrs["modality"] == "fused"


def test_evaluate_writes_report_and_metrics(chain: Chain) -> None:
    report = chain.work / "reports" / "demo"
    metrics = json.loads((report / "metrics.json").read_text())
    names = [item["name"] for item in metrics["inputs"]]
    assert names == ["video", "audio", "fused-svm", "sfew-gan"]
    text = (report / "report.md").read_text()
    assert text.startswith("# Evaluation") and all(f"## {name}" in text for name in names)
    for item in metrics["inputs"]:
        assert item["split"] == "val" and item["n"] > 0, item["name"]
        assert 0.0 <= item["accuracy"] <= 1.0 and 0.0 <= item["macro_f1"] <= 1.0, item["name"]
    assert list(report.glob("confusion-*.png"))


def test_predict_writes_csv_json_and_timeline(chain: Chain) -> None:
    out = chain.work / "reports" / "predict"
    name = chain.clip.stem
    with (out / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["clip"] for r in rows] == [name]
    assert rows[0]["modalities"] == "face+audio" and rows[0]["predicted"] in rows[0]
    document = json.loads((out / "predictions.json").read_text())
    (clip,) = document["clips"]
    assert clip["modalities"] == ["face", "audio"]
    assert sum(clip["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    with (out / f"timeline-{name}.csv").open() as f:
        assert len(list(csv.reader(f))) > 2  # header + several frames
    for file in (f"timeline-{name}.png", f"track-{name}.csv", f"track-{name}.png"):
        assert (out / file).stat().st_size > 0, file


def test_inspect_and_demo_data_tools(chain: Chain) -> None:
    info = json.loads(chain.inspect_json.raw)
    fused = chain.work / "predictions" / "fused-svm.h5"
    with open_artifact(fused, "predictions") as art:
        assert info["fingerprint"] == art.fingerprint
    assert info["kind"] == "predictions" and info["stage"] == "fuse"
    assert info["n_samples"] == n_samples(fused, "predictions")
    assert "fuse" in chain.inspect_text.output and "predictions" in chain.inspect_text.output
    # demo-data never writes into a folder that has data
    assert chain.demo_data_refused.output.startswith("exit ")
    assert not chain.demo_data_refused.output.startswith("exit 0"), chain.demo_data_refused.output
    assert "not empty" in chain.demo_data_refused.output


def test_second_run_finds_every_stage_up_to_date(chain: Chain) -> None:
    for step in chain.first.steps.values():
        assert "up to date" not in step.output, step.name
    for step in chain.second.steps.values():
        # console.print_result: "<stage>: up to date, skipping (<outputs>); use --force ..."
        expected = rf"\b{re.escape(step.args[0])}: up to date, skipping\b"
        assert re.search(expected, step.output), f"{step.name}: {step.output}"
    assert artifact_mtimes(chain.work) == chain.mtimes  # nothing rewritten
    first, second = chain.first, chain.second
    timing = (
        f"first run {first.wall:.1f} s wall / {first.cpu:.1f} s CPU, "
        f"second {second.wall:.1f} s wall / {second.cpu:.1f} s CPU"
    )
    assert second.wall < MAX_RERUN_FRACTION * first.wall, timing
