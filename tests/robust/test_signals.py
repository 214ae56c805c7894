"""Ctrl-C (SIGINT to the whole process group, as a terminal sends it) at random moments.

Every interrupted run exits with 130, prints one ``interrupted: ...`` line and no
traceback of its own, and leaves neither an artifact nor a temporary file; stages with a
worker pool run with ``--workers 2`` so the pool's processes get the signal too. Known
leftover: a worker still starting when the pool is torn down can print multiprocessing's
own traceback (counted as ``sigint_worker_tracebacks``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.robust.helpers import cli_argv, cli_env, record, run_cli

#: Interrupts per stage (``EMOCLI_SIGINT_RUNS`` for a longer stress run).
INTERRUPTS = int(os.environ.get("EMOCLI_SIGINT_RUNS", "2"))

pytestmark = pytest.mark.robust


@pytest.fixture(scope="module")
def audio(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signals-audio") / "audio.h5"
    proc = run_cli(["extract-audio", "afew/", "-o", str(out)], cwd=demo_data)
    assert proc.returncode == 0, proc.stderr
    return out


def _cases(audio: Path) -> dict[str, list[str]]:
    return {
        "preprocess-faces": ["preprocess-faces", "afew/", "--fps", "5", "--workers", "2"],
        "extract-audio": ["extract-audio", "afew/", "--workers", "2"],
        "build-spectrograms": ["build-spectrograms", str(audio), "--workers", "2"],
        "finetune": ["finetune", str(audio.parent / "spec.h5"), "--epochs", "3"],
    }


def _as_from_a_shell() -> None:
    """Default SIGINT handling in the child, as a shell gives it (in-process tests that ran
    Lightning in this pytest process may have left SIGINT ignored, which children inherit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _interrupt(
    args: list[str], cwd: Path, out: Path, delay: float, sig: int = signal.SIGINT
) -> subprocess.CompletedProcess[str]:
    """Run until the output's lock file appears, then ``delay`` s more, then ``sig`` the group."""
    proc = subprocess.Popen(
        [*cli_argv(*args), "-o", str(out)],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_as_from_a_shell,
    )
    lock = out.with_name(out.name + ".lock")
    deadline = time.monotonic() + 120
    while proc.poll() is None and not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize(
    "stage",
    [
        "preprocess-faces",
        "extract-audio",
        "build-spectrograms",
        "finetune",
    ],
)
def test_ctrl_c_stops_cleanly_with_exit_130(
    stage: str, demo_data: Path, audio: Path, tmp_path: Path
) -> None:
    if stage == "finetune" and not (audio.parent / "spec.h5").exists():
        proc = run_cli(
            ["build-spectrograms", str(audio), "-o", str(audio.parent / "spec.h5")], cwd=demo_data
        )
        assert proc.returncode == 0, proc.stderr
    rng = random.Random(stage)
    interrupted = worker_noise = 0
    for i in range(INTERRUPTS):
        out = tmp_path / f"run {i}" / "out.h5"
        done = _interrupt(_cases(audio)[stage], demo_data, out, rng.uniform(0.0, 0.4))
        if done.returncode == 0:
            continue  # finished before the signal arrived
        interrupted += 1
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 130, done.stderr
        own = [line for line in lines if "emocli" in line or "interrupted" in line]
        assert len(own) == 1 and own[0].startswith("interrupted:"), done.stderr
        worker_noise += len(lines) > 1
        assert not out.exists(), "an interrupted run left an artifact"
        assert not list(out.parent.glob(".*tmp-*")), "an interrupted run left a temporary"
    record(faults_sigint=interrupted, sigint_worker_tracebacks=worker_noise, crashes=0)
    assert interrupted >= 1, f"{stage} always finished before Ctrl-C"


@pytest.mark.parametrize("stage", ["preprocess-faces", "extract-audio", "finetune"])
def test_sigterm_stops_like_ctrl_c_with_exit_143(
    stage: str, demo_data: Path, audio: Path, tmp_path: Path
) -> None:
    """SIGTERM (``kill``, ``docker stop``, a batch scheduler) to the whole process group:
    the same clean stop as Ctrl-C, exit 143, and no temporary or lock file left beside the
    output; a later up-to-date run removes a stale lock left by a killed run."""
    if stage == "finetune" and not (audio.parent / "spec.h5").exists():
        proc = run_cli(
            ["build-spectrograms", str(audio), "-o", str(audio.parent / "spec.h5")], cwd=demo_data
        )
        assert proc.returncode == 0, proc.stderr
    rng = random.Random(stage)
    terminated = 0
    for i in range(INTERRUPTS):
        out = tmp_path / f"run {i}" / "out.h5"
        delay = rng.uniform(0.0, 0.4)
        done = _interrupt(_cases(audio)[stage], demo_data, out, delay, signal.SIGTERM)
        if done.returncode == 0:
            continue
        terminated += 1
        assert done.returncode == 143, done.stderr
        assert "terminated: stopped cleanly" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert not out.exists(), "a terminated run left an artifact"
        left = [p.name for p in out.parent.iterdir()]
        assert not [n for n in left if ".tmp-" in n or n.endswith(".lock")], left
    record(faults_sigterm=terminated, crashes=0)
    assert terminated >= 1, f"{stage} always finished before SIGTERM"
    # a stale lock (its process died by SIGKILL) goes on the next run, even an up-to-date one
    out = tmp_path / "done" / "out.h5"
    work = tmp_path / "work"  # finetune's predictions go to the workspace: not the caller's
    proc = run_cli([*_cases(audio)[stage], "-o", str(out)], cwd=demo_data, workdir=work)
    assert proc.returncode == 0, proc.stderr
    stale_lock = out.with_name(out.name + ".lock")
    stale_lock.write_text("999999\n")
    stale_tmp = out.with_name(f".{out.name}.tmp-999999")
    stale_tmp.write_bytes(b"partial")
    proc = run_cli([*_cases(audio)[stage], "-o", str(out)], cwd=demo_data, workdir=work)
    assert proc.returncode == 0 and "up to date" in proc.stdout, proc.stderr
    assert not stale_lock.exists() and not stale_tmp.exists()
