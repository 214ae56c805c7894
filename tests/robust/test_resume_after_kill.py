"""SIGKILL a long ``finetune`` mid-training: the same command resumes and equals a clean run.

The CLI runs in its own process group; once its resume point says that at least one more
epoch is complete, the group is killed with SIGKILL (twice, the second time while the
resumed run is training). Each rerun must print ``resuming from epoch N of E`` with N at
least the epochs the killed run had completed, and the final artifacts must equal the
uninterrupted run's (every dataset and attribute but wall-clock fields), with no resume
point or temporary left beside them.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch  # noqa: F401 - read_header's import, done before the polling is timed

from emocli.training.resume import read_header, resume_files, resume_path
from tests.robust.helpers import artifact_content, cli_argv, cli_env, record, run_cli, same_content

pytestmark = pytest.mark.robust

EPOCHS = 40
KILLS = 2


def _kill_after_epochs(args: list[str], cwd: Path, point: Path, epochs: int, delay: float) -> int:
    """Run ``emocli args``; SIGKILL its group ``delay`` s after ``point`` records at least
    ``epochs`` completed epochs. Returns the epochs the point recorded after the kill."""
    proc = subprocess.Popen(
        cli_argv(*args),
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if point.is_file() and read_header(point)["epochs_done"] >= epochs:
                time.sleep(delay)
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the training ended before it could be killed"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return int(read_header(point)["epochs_done"])


def test_sigkilled_finetune_resumes_and_equals_an_uninterrupted_run(
    demo_data: Path, tmp_path: Path
) -> None:
    faces = tmp_path / "faces.h5"
    done = run_cli(["preprocess-faces", "sfew/", "-o", str(faces)], cwd=demo_data)
    assert done.returncode == 0, done.stderr
    model, preds = tmp_path / "out" / "face.h5", tmp_path / "out" / "face-preds.h5"
    args = ["finetune", str(faces), "--model", "resnet_small"]
    args += ["--model-kwargs", '{"widths": [4, 8], "blocks": [1, 1]}', "--augment", "strong"]
    args += ["--epochs", str(EPOCHS), "--patience", "0", "--batch-size", "4", "--threads", "1"]
    args += ["--accelerator", "cpu", "-o", str(model), "--predictions", str(preds)]
    clean = run_cli(args, cwd=demo_data)
    assert clean.returncode == 0, clean.stderr
    reference = {p: artifact_content(p) for p in (model, preds)}
    for p in (model, preds):
        p.unlink()

    rng = random.Random("resume")
    point = resume_path(model)
    completed = 0
    for _ in range(KILLS):
        completed = _kill_after_epochs(args, demo_data, point, completed + 1, rng.uniform(0, 0.02))
        assert not model.exists() and not preds.exists()
    rerun = run_cli(args, cwd=demo_data)
    assert rerun.returncode == 0, rerun.stderr
    said = re.search(r"resuming from epoch (\d+) of (\d+)", rerun.stderr)
    assert said, rerun.stderr
    assert int(said[1]) >= completed >= KILLS and int(said[2]) == EPOCHS
    diffs = {p.name: same_content(artifact_content(p), reference[p]) for p in (model, preds)}
    lost = sum(1 for d in diffs.values() if d)
    record(faults_sigkill=KILLS, artifacts_lost=lost, crashes=0)
    assert not lost, f"the resumed run differs from the uninterrupted one: {diffs}"
    assert resume_files(model) == [], "the resume point outlived the commit"
    assert not list(model.parent.glob(".*.tmp-*")), "a temporary was left"
