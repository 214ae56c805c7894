"""Every stage of the pipeline as a CLI call on the tiny demo data, in dependency order.

Each :class:`Step` names the artifacts it writes (relative to the workspace); ``{W}`` in an
argument is replaced by the workspace path. Commands run from inside the data folder, as a
user would (``emocli preprocess-faces sfew/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: A small prediction CSV (two classes, four clips) for ``import-predictions``.
PREDICTIONS_CSV = (
    "clip_id,split,label,Angry,Happy\n"
    "c01,train,Angry,0.8,0.2\n"
    "c02,train,Happy,0.3,0.7\n"
    "c03,val,Angry,0.6,0.4\n"
    "c04,val,Happy,0.1,0.9\n"
)


@dataclass(frozen=True)
class Step:
    name: str
    args: tuple[str, ...]
    outputs: tuple[str, ...]

    def argv(self, workdir: Path) -> list[str]:
        return [a.replace("{W}", str(workdir)) for a in self.args]


STEPS: tuple[Step, ...] = (
    Step("preprocess-faces", ("preprocess-faces", "sfew/"), ("faces/sfew.h5",)),
    Step("preprocess-faces-video", ("preprocess-faces", "afew/", "--fps", "5"), ("faces/afew.h5",)),
    Step(
        "preprocess-faces-unlabelled", ("preprocess-faces", "unlabelled/"), ("faces/unlabelled.h5",)
    ),
    Step("extract-audio", ("extract-audio", "afew/"), ("audio/afew.h5",)),
    Step(
        "build-spectrograms",
        ("build-spectrograms", "{W}/audio/afew.h5"),
        ("spectrograms/afew.h5",),
    ),
    Step(
        "pretrain-gan",
        (
            "pretrain-gan",
            "{W}/faces/sfew.h5",
            "-u",
            "{W}/faces/unlabelled.h5",
            "--size",
            "32",
            "--epochs",
            "1",
            "-o",
            "{W}/models/gan.h5",
            "--predictions-output",
            "{W}/predictions/gan/sfew-gan.h5",
        ),
        ("models/gan.h5", "predictions/gan/sfew-gan.h5"),
    ),
    Step(
        "finetune",
        (
            "finetune",
            "{W}/faces/sfew.h5",
            "--init",
            "{W}/models/gan.h5",
            "--epochs",
            "1",
            "--predict-on",
            "{W}/faces/afew.h5",
            "-o",
            "{W}/models/face.h5",
            "--predictions",
            "{W}/predictions/video-frames.h5",
        ),
        ("models/face.h5", "predictions/video-frames.h5"),
    ),
    Step(
        "finetune-audio",
        (
            "finetune",
            "{W}/spectrograms/afew.h5",
            "--model",
            "audio_urbansound",
            "--epochs",
            "1",
            "-o",
            "{W}/models/audio.h5",
            "--predictions",
            "{W}/predictions/audio.h5",
        ),
        ("models/audio.h5", "predictions/audio.h5"),
    ),
    Step(
        "fuse",
        (
            "fuse",
            "{W}/predictions/video-frames.h5",
            "--method",
            "mean",
            "-o",
            "{W}/predictions/clips/video.h5",
        ),
        ("predictions/clips/video.h5",),
    ),
    Step(
        "import-predictions",
        ("import-predictions", "{W}/imported.csv", "-o", "{W}/predictions/imported.h5"),
        ("predictions/imported.h5",),
    ),
    Step(
        "evaluate",
        (
            "evaluate",
            "{W}/predictions/clips/video.h5",
            "{W}/predictions/audio.h5",
            "--split",
            "val",
            "-o",
            "{W}/reports/demo",
        ),
        ("reports/demo/evaluation.h5",),
    ),
)
