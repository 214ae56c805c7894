"""run_stage: the cache (skip, param change, --force), atomicity, locking."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from emocli.artifacts import ArtifactWriter, InputRef, open_artifact
from emocli.errors import LockedError
from emocli.params import runtime_field
from emocli.stage import OutputSpec, StageInfo, output_lock, run_stage

STAGE = StageInfo("toy", 1)


@dataclasses.dataclass(frozen=True)
class ToyParams:
    scale: int = 2
    workers: int = runtime_field(1)


class Counter:
    """A build function that counts its calls and can fail midway."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, writers: dict[str, ArtifactWriter]) -> dict:
        self.calls += 1
        writer = writers["out"]
        writer.set_classes(["a", "b"])
        writer.create_column("x", (), np.int64)
        for block in range(3):
            if self.fail_after is not None and block == self.fail_after:
                raise RuntimeError("boom")
            writer.append({"x": np.arange(4) + 4 * block})
        return {"rows": 12}


def run(path: Path, params: ToyParams, build: Counter, force: bool = False, inputs=()):
    return run_stage(STAGE, params, list(inputs), {"out": OutputSpec(path, "faces")}, build, force)


def test_second_run_is_skipped_quickly(tmp_path: Path) -> None:
    out, build = tmp_path / "out.h5", Counter()
    first = run(out, ToyParams(), build)
    assert not first.up_to_date and build.calls == 1
    started = time.perf_counter()
    second = run(out, ToyParams(), build)
    assert second.up_to_date and build.calls == 1
    assert time.perf_counter() - started < 1.0
    assert second.summary == {"rows": 12}
    assert second.fingerprint == first.fingerprint


def test_runtime_params_do_not_invalidate_the_cache(tmp_path: Path) -> None:
    out, build = tmp_path / "out.h5", Counter()
    run(out, ToyParams(workers=1), build)
    assert run(out, ToyParams(workers=8), build).up_to_date


def test_changed_param_input_or_force_reruns(tmp_path: Path) -> None:
    out, build = tmp_path / "out.h5", Counter()
    run(out, ToyParams(), build)
    assert not run(out, ToyParams(scale=3), build).up_to_date
    assert run(out, ToyParams(scale=3), build).up_to_date
    assert not run(out, ToyParams(scale=3), build, force=True).up_to_date
    changed = [InputRef("in.h5", "other", "faces")]
    assert not run(out, ToyParams(scale=3), build, inputs=changed).up_to_date
    assert build.calls == 4


def test_a_stage_that_raises_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="boom"):
        run(out, ToyParams(), Counter(fail_after=2))
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_rerun_keeps_the_previous_valid_artifact(tmp_path: Path) -> None:
    out = tmp_path / "out.h5"
    good = run(out, ToyParams(), Counter())
    with pytest.raises(RuntimeError):
        run(out, ToyParams(scale=5), Counter(fail_after=1))
    with open_artifact(out) as art:
        assert art.fingerprint == good.fingerprint
        assert art.column("x").tolist() == list(range(12))


def _build_slowly(path: str) -> None:
    def build(writers: dict[str, ArtifactWriter]) -> dict:
        writers["out"].add_column("x", np.arange(3))
        time.sleep(30)
        return {}

    run_stage(STAGE, ToyParams(), [], {"out": OutputSpec(Path(path), "faces")}, build)


def test_killed_process_leaves_no_valid_looking_file_and_rerun_works(tmp_path: Path) -> None:
    out = tmp_path / "out.h5"
    proc = mp.get_context("fork").Process(target=_build_slowly, args=(str(out),))
    proc.start()
    deadline = time.time() + 20
    while not list(tmp_path.glob(".out.h5.tmp-*")) and time.time() < deadline:
        time.sleep(0.05)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert not out.exists()
    result = run(out, ToyParams(), Counter())
    assert not result.up_to_date
    assert not list(tmp_path.glob(".out.h5.tmp-*")), "stale temporary not cleaned"


def _hold_lock(path: str, ready, release) -> None:  # type: ignore[no-untyped-def]
    with output_lock(Path(path)):
        ready.set()
        release.wait(20)


def test_a_lock_file_removed_under_a_waiter_is_locked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unlink-on-release race: the lock file is removed (by the holder releasing it) just
    after this process opened it; the lock must then be taken on the file that is there now,
    so that a third process sees it held."""
    import fcntl

    out = tmp_path / "out.h5"
    lock_path = tmp_path / "out.h5.lock"
    real_open = os.open
    opened: list[str] = []

    def racing_open(path: object, flags: int, mode: int = 0o777) -> int:
        fd = real_open(path, flags, mode)  # type: ignore[arg-type]
        if Path(str(path)) == lock_path:
            if not opened:
                os.unlink(lock_path)  # the previous holder releases right after our open
            opened.append(str(path))
        return fd

    monkeypatch.setattr(os, "open", racing_open)
    with output_lock(out):
        monkeypatch.setattr(os, "open", real_open)
        assert len(opened) == 2 and lock_path.exists()
        other = os.open(lock_path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    assert not lock_path.exists()


def test_concurrent_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    out = tmp_path / "out.h5"
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(out), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockedError, match="another emocli process is writing"):
            run(out, ToyParams(), Counter())
    finally:
        release.set()
        holder.join()
    assert not run(out, ToyParams(), Counter()).up_to_date
    assert not (tmp_path / "out.h5.lock").exists()
