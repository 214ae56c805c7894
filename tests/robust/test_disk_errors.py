"""Disk full and unwritable outputs: a clear error naming the path, exit 2, nothing partial.

ENOSPC: a 32 KiB tmpfs when this process may mount one (root), else h5py's write is made to
fail with ENOSPC in-process. Unwritable: a read-only tmpfs (root) and, everywhere, an output
whose parent is a regular file and a folder whose ``os.open`` fails with EACCES (root ignores
chmod, so permissions are simulated). Inputs are checked unchanged after every failure.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emocli.artifacts import fingerprint_raw
from emocli.cli import app
from tests.robust.helpers import record, run_cli

runner = CliRunner()


def _mount(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 KiB tmpfs (skipped where mounting is not allowed)."""
    target = tmp_path / "tiny disk"
    if not _mount(target, "size=32k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _assert_clean_failure(proc_rc: int, text: str, out: Path, words: str) -> None:
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert proc_rc == 2, text
    assert lines and str(out.parent) in lines[-1] and words in lines[-1], text
    assert not out.exists()
    assert (
        not [p for p in out.parent.glob("*") if p.name != "lost+found"]
        if out.parent.is_dir()
        else True
    )


def test_disk_full_on_a_real_small_file_system(demo_data: Path, tiny_disk: Path) -> None:
    before = fingerprint_raw(demo_data / "sfew")
    out = tiny_disk / "out" / "sfew.h5"
    proc = run_cli(["preprocess-faces", "sfew/", "-o", str(out)], cwd=demo_data)
    _assert_clean_failure(proc.returncode, proc.stderr + proc.stdout, out, "No space left")
    assert "Segmentation" not in proc.stderr
    assert fingerprint_raw(demo_data / "sfew") == before, "an input was modified"
    record(faults_disk=1, crashes=0, artifacts_half_written=0)


def test_read_only_file_system(demo_data: Path, tmp_path: Path) -> None:
    target = tmp_path / "ro"
    if not _mount(target, "size=1m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True)
        out = target / "sfew.h5"
        proc = run_cli(["preprocess-faces", "sfew/", "-o", str(out)], cwd=demo_data)
        _assert_clean_failure(proc.returncode, proc.stderr, out, "Read-only file system")
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)
    record(faults_disk=1, crashes=0)


def test_enospc_from_hdf5_in_process(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no tmpfs can be mounted: the HDF5 write itself fails with ENOSPC."""
    import h5py

    real_setitem = h5py.Dataset.__setitem__

    def full(self: h5py.Dataset, key: object, value: object) -> None:
        if self.name == "/images":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_setitem(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", full)
    out = tmp_path / "out dir" / "sfew.h5"
    before = fingerprint_raw(demo_data / "sfew")
    result = runner.invoke(app, ["preprocess-faces", str(demo_data / "sfew"), "-o", str(out)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"cannot write {out}" in text and "no space left on device" in text
    assert not out.exists() and not list(out.parent.glob(".*tmp-*"))
    assert fingerprint_raw(demo_data / "sfew") == before
    record(faults_disk=1, crashes=0)


def test_unwritable_output_folders(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    out = blocker / "sfew.h5"
    result = runner.invoke(app, ["preprocess-faces", str(demo_data / "sfew"), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert str(blocker) in " ".join(result.output.split())
    assert blocker.read_text() == "not a folder"

    denied = tmp_path / "denied"
    denied.mkdir()
    real_open = os.open

    def no_access(path: object, *args: object, **kwargs: object) -> int:
        if str(path).startswith(str(denied)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_access)
    out = denied / "sfew.h5"
    result = runner.invoke(app, ["preprocess-faces", str(demo_data / "sfew"), "-o", str(out)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert str(denied) in text and "Permission denied" in text
    assert not list(denied.iterdir())
    record(faults_disk=2, crashes=0)
