"""The demo chain: every stage of emocli on the synthetic demo data, in dependency order.

Written once, here, for ``make demo`` (``python -m emocli.demo.chain DATA``), the stage
benchmark (tests/benchmarks/bench_stages.py) and the robustness suite (``quick=True``: one
epoch a training). Each step is the command a user would type: the steps that read a dataset
folder run from inside the data folder (``emocli preprocess-faces sfew/``); the others name
their artifacts in the workspace (``{W}``, given to emocli as ``EMOCLI_WORKDIR`` too).

    python -m emocli.demo.chain emocli-demo --workdir emocli-work
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

#: Placeholder of the workspace folder in a step's arguments.
WORKSPACE = "{W}"
#: Fixed torch threads: the same seed gives the same figures however busy the machine is.
THREADS = "2"
#: The faces at the GAN's 32 px: the face model then starts from the whole discriminator.
FACE_SIZE = ("--size", "32")
#: Stacking: each base model is trained in 3 folds over the train clips, so that the fuser
#: learns from out-of-fold predictions of them; the val clips get the 3 fold models' mean.
STACKING = ("--folds", "3", "--stacking", "mean", "--validation", "none")
#: The audio model: audio_urbansound with mean+std pooling over time, lightly regularised.
AUDIO_KWARGS = {"time_pool": "meanstd", "conv_dropout": 0.1, "dropout": 0.3}


@dataclass(frozen=True)
class Step:
    """One emocli command of the chain: ``args`` after ``emocli`` (``{W}`` = the workspace),
    ``outputs`` the artifacts it writes (relative to the workspace), ``in_data`` whether it
    runs from inside the data folder."""

    name: str
    args: tuple[str, ...]
    outputs: tuple[str, ...]
    in_data: bool = False

    def argv(self, workdir: Path) -> list[str]:
        """The arguments with the workspace filled in."""
        return [a.replace(WORKSPACE, str(workdir)) for a in self.args]

    @property
    def shown(self) -> str:
        """The command as docs print it (``W`` for the workspace)."""
        return "emocli " + " ".join(a.replace(WORKSPACE, "W") for a in self.args)


def demo_chain(*, quick: bool = False, unlabelled: str = "unlabelled") -> tuple[Step, ...]:
    """The chain's steps. ``quick`` (the robustness suite, on demo data as small as one train
    clip per class) trains every model one epoch, without stacking and without the SVM fuser
    (whose folds need two train clips per class); ``unlabelled`` is the data folder of
    unlabelled faces (``unlabeled`` in demo data generated before the spelling changed)."""

    def epochs(n: int) -> tuple[str, ...]:
        return ("--epochs", "1" if quick else str(n))

    stacking = () if quick else STACKING
    w = WORKSPACE
    steps = (
        Step(
            "preprocess-faces", ("preprocess-faces", "sfew/", *FACE_SIZE), ("faces/sfew.h5",), True
        ),
        Step(
            "preprocess-faces-video",
            ("preprocess-faces", "afew/", "--fps", "5", *FACE_SIZE),
            ("faces/afew.h5",),
            True,
        ),
        Step(
            "preprocess-faces-unlabelled",
            ("preprocess-faces", f"{unlabelled}/", *FACE_SIZE, "-o", f"{w}/faces/unlabelled.h5"),
            ("faces/unlabelled.h5",),
            True,
        ),
        Step("extract-audio", ("extract-audio", "afew/"), ("audio/afew.h5",), True),
        Step(
            "build-spectrograms",
            ("build-spectrograms", f"{w}/audio/afew.h5", "--pad", "1"),
            ("spectrograms/afew.h5",),
        ),
        Step(
            "pretrain-gan",
            (
                *("pretrain-gan", f"{w}/faces/sfew.h5", "-u", f"{w}/faces/unlabelled.h5"),
                *FACE_SIZE,
                *epochs(5),
                *("--last-epoch", "--threads", THREADS, "-o", f"{w}/models/gan.h5"),
                *("--predictions-output", f"{w}/predictions/gan/sfew-gan.h5"),
            ),
            ("models/gan.h5", "predictions/gan/sfew-gan.h5"),
        ),
        Step(
            "finetune",
            (
                *("finetune", f"{w}/faces/sfew.h5", "--init", f"{w}/models/gan.h5"),
                *epochs(10),
                *("--lr", "0.001", *stacking, "--threads", THREADS),
                *("--predict-on", f"{w}/faces/afew.h5", "-o", f"{w}/models/face.h5"),
                *("--predictions", f"{w}/predictions/video-frames.h5"),
            ),
            ("models/face.h5", "predictions/video-frames.h5"),
        ),
        Step(
            "finetune-audio",
            (
                *("finetune", f"{w}/spectrograms/afew.h5", "--model", "audio_urbansound"),
                *epochs(40),
                *("--lr", "0.001", "--batch-size", "8"),
                *("--model-kwargs", json.dumps(AUDIO_KWARGS), *stacking, "--threads", THREADS),
                *("-o", f"{w}/models/audio.h5", "--predictions", f"{w}/predictions/audio.h5"),
            ),
            ("models/audio.h5", "predictions/audio.h5"),
        ),
        Step(
            "fuse-frames",
            (
                *("fuse", f"{w}/predictions/video-frames.h5", "--method", "mean"),
                *("-o", f"{w}/predictions/clips/video.h5"),
            ),
            ("predictions/clips/video.h5",),
        ),
        Step(
            "fuse-svm",
            (
                *("fuse", f"{w}/predictions/video-frames.h5", f"{w}/predictions/audio.h5"),
                *("--method", "svm"),
            ),
            ("predictions/fused-svm.h5", "models/fuser-svm.h5"),
        ),
        Step(
            "evaluate",
            (
                *("evaluate", f"{w}/predictions/clips/video.h5", f"{w}/predictions/audio.h5"),
                *(() if quick else (f"{w}/predictions/fused-svm.h5",)),
                *(f"{w}/predictions/gan/sfew-gan.h5", "--split", "val", "-o", f"{w}/reports/demo"),
            ),
            ("reports/demo/evaluation.h5",),
        ),
    )
    return tuple(s for s in steps if not (quick and s.name == "fuse-svm"))


def emocli_argv() -> list[str]:
    """The ``emocli`` script beside this interpreter, else ``python -m emocli.cli``."""
    script = Path(sys.executable).parent / "emocli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "emocli.cli"]


def run_chain(data: Path, workdir: Path, steps: tuple[Step, ...]) -> None:
    """Run ``steps`` in order as separate ``emocli`` processes (each skips itself when its
    outputs are up to date); stop with the failing step's exit code."""
    env = {**os.environ, "EMOCLI_WORKDIR": str(workdir)}
    for step in steps:
        print(f"$ {step.shown}", flush=True)
        cwd = data if step.in_data else Path.cwd()
        done = subprocess.run([*emocli_argv(), *step.argv(workdir)], cwd=cwd, env=env)
        if done.returncode != 0:
            print(f"error: the demo step {step.name} failed (exit {done.returncode})")
            raise SystemExit(done.returncode)


def main(
    data: Path = typer.Argument(..., help="The demo data folder (emocli demo-data writes one)."),
    workdir: Path = typer.Option(Path("emocli-work"), help="Workspace of the demo's artifacts."),
) -> None:
    """Run every stage of the demo chain on DATA, artifacts in WORKDIR."""
    if not (data / "sfew").is_dir():
        print(f"error: {data} is not demo data (no sfew/); run `emocli demo-data {data}` first")
        raise SystemExit(2)
    unlabelled = "unlabeled" if (data / "unlabeled").is_dir() else "unlabelled"
    run_chain(data.resolve(), workdir.resolve(), demo_chain(unlabelled=unlabelled))


if __name__ == "__main__":
    typer.run(main)
