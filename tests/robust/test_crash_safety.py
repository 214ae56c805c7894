"""SIGKILL at seeded random moments: never a partial artifact; the rerun equals a clean run.

For every stage, the CLI is started in its own process group and the whole group is killed
with SIGKILL after a random delay (seeded by the stage name), several times. After each kill
every output path holds either nothing or a complete artifact identical to the uninterrupted
run's. Then the stage is rerun to completion and compared with the uninterrupted run
(fingerprint and every dataset).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import zlib

import pytest

from emocli.artifacts import open_artifact
from emocli.errors import ArtifactError
from tests.robust.conftest import Reference
from tests.robust.helpers import artifact_content, cli_argv, cli_env, record, run_cli, same_content
from tests.robust.pipeline import STEPS, Step

#: Kills per stage.
KILLS = 3

pytestmark = pytest.mark.robust


def _kill_after(step: Step, ref: Reference, delay: float) -> bool:
    """Start the step, SIGKILL its process group after ``delay`` s; True if it was still running."""
    proc = subprocess.Popen(
        cli_argv(*step.argv(ref.work)),
        cwd=ref.data,
        env=cli_env(ref.work),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


def _check_outputs(step: Step, ref: Reference) -> list[str]:
    """Each output is absent or complete and equal to the reference; returns the problems."""
    bad = []
    for out in step.outputs:
        path = ref.work / out
        if not path.exists():
            continue
        try:
            with open_artifact(path) as art:
                art.check_columns()
        except ArtifactError as exc:
            bad.append(str(exc))
            continue
        diffs = same_content(artifact_content(path), ref.contents[out])
        if diffs:
            bad.append(f"{out} differs from the uninterrupted run in {diffs}")
    return bad


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_sigkill_leaves_nothing_or_a_complete_artifact(step: Step, reference: Reference) -> None:
    rng = random.Random(zlib.crc32(step.name.encode()))
    for out in step.outputs:  # time an uninterrupted run now (the machine's load varies)
        (reference.work / out).unlink(missing_ok=True)
    started = time.perf_counter()
    timed = run_cli(step.argv(reference.work), cwd=reference.data, workdir=reference.work)
    assert timed.returncode == 0, timed.stderr
    full = min(reference.seconds[step.name], time.perf_counter() - started)
    faults = 0
    bad: list[str] = []
    for _ in range(KILLS):
        for out in step.outputs:
            (reference.work / out).unlink(missing_ok=True)
        faults += _kill_after(step, reference, rng.uniform(0.05, 0.8) * full)
        bad += _check_outputs(step, reference)
    proc = run_cli(step.argv(reference.work), cwd=reference.data, workdir=reference.work)
    assert proc.returncode == 0, proc.stderr
    diffs = {
        out: same_content(artifact_content(reference.work / out), reference.contents[out])
        for out in step.outputs
    }
    lost = sum(1 for d in diffs.values() if d)
    record(faults_sigkill=faults, artifacts_half_written=len(bad), artifacts_lost=lost, crashes=0)
    assert not bad, f"a killed run left a partial or wrong artifact: {bad}"
    assert faults >= 1, f"every kill came after {step.name} had finished"
    assert not lost, f"rerun differs from the uninterrupted run: {diffs}"
    leftovers = [p for out in step.outputs for p in (reference.work / out).parent.glob(".*.tmp-*")]
    assert not leftovers, f"temporaries left after the rerun: {leftovers}"
