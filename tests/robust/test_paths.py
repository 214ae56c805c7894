"""Paths with spaces and non-ASCII characters: data folder, workspace and outputs.

The tiny demo data is copied under a name with spaces, accents, CJK and an emoji; the faces,
audio, spectrogram, import and evaluate stages run on it through the CLI, and inspect reads
the results.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emocli.artifacts import open_artifact
from tests.robust.helpers import record, run_cli
from tests.robust.pipeline import PREDICTIONS_CSV

pytestmark = pytest.mark.robust

ODD = "dätä sét ñandú 表情 😀"


def test_every_stage_works_under_odd_paths(demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / ODD / "démo data"
    shutil.copytree(demo_data, data)
    work = tmp_path / ODD / "wörk space"
    csv = data / "prédictions vidéo.csv"
    csv.write_text(PREDICTIONS_CSV, encoding="utf-8")
    steps = [
        (["preprocess-faces", "sfew/"], work / "faces" / "sfew.h5"),
        (["extract-audio", "afew/"], work / "audio" / "afew.h5"),
        (
            ["build-spectrograms", str(work / "audio" / "afew.h5")],
            work / "spectrograms" / "afew.h5",
        ),
        (["import-predictions", csv.name, "-o", str(work / "p ré.h5")], work / "p ré.h5"),
        (
            ["evaluate", str(work / "p ré.h5"), "-o", str(work / "rëport")],
            work / "rëport" / "evaluation.h5",
        ),
    ]
    for args, out in steps:
        proc = run_cli(args, cwd=data, workdir=work)
        assert proc.returncode == 0, (args, proc.stderr)
        with open_artifact(out) as art:
            art.check_columns()
        shown = run_cli(["inspect", str(out)], cwd=data)
        assert shown.returncode == 0, shown.stderr
    with open_artifact(work / "faces" / "sfew.h5") as art:
        assert art.n_samples > 0
    record(odd_path_runs=len(steps) * 2, crashes=0)
