"""Two runs writing the same output at once: the second is refused with a clear message
naming the lock file next to the output; the survivor's artifact is valid, and a refused
``--force`` rerun leaves the existing artifact untouched.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from emocli.artifacts import open_artifact
from tests.robust.helpers import cli_argv, cli_env, record, run_cli

pytestmark = pytest.mark.robust


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_argv(*args),
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), "the first run never took its lock"


@pytest.mark.parametrize("force", [False, True], ids=["fresh", "force-over-existing"])
def test_second_writer_is_refused_and_the_first_survives(
    force: bool, demo_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "faces dir" / "afew.h5"
    args = ["preprocess-faces", "afew/", "--fps", "5", "-o", str(out)]
    if force:
        assert run_cli(args, cwd=demo_data).returncode == 0
        before = out.read_bytes()
        args.append("--force")
    first = _start(args, demo_data)
    _wait_for(out.with_name("afew.h5.lock"), first)
    second = run_cli(args, cwd=demo_data)
    if force:
        assert out.read_bytes() == before, "the refused run touched the existing artifact"
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    text = " ".join(second.stderr.split())
    assert second.returncode == 2, second.stderr
    assert "another emocli process is writing" in text and f"{out}.lock" in text
    with open_artifact(out, "faces") as art:
        art.check_columns()
        assert art.n_samples > 0
    assert not out.with_name("afew.h5.lock").exists()
    assert not list(out.parent.glob(".*tmp-*"))
    record(faults_concurrent=1, crashes=0, artifacts_half_written=0)
