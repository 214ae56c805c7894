"""The files around an atomic write: stale temporaries of killed runs, directory fsyncs, full
disks, and HDF5 files that a failed write left unclosable."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import h5py

#: Free space under which a folder counts as full when a failed artifact is discarded, bytes.
DISK_FULL_BYTES = 1 << 20


#: HDF5 files a failed write left unclosable (see :meth:`ArtifactWriter.discard`).
_ABANDONED: list[h5py.File] = []


def abandon(h5: h5py.File) -> None:
    """Keep ``h5`` open for the rest of the process: closing it would flush it (see
    :meth:`~emocli.artifacts.ArtifactWriter.discard`)."""
    _ABANDONED.append(h5)


def abandoned_files() -> int:
    """How many unclosable HDF5 files this process holds; if any, exit with ``os._exit``."""
    return len(_ABANDONED)


def write_failure(exc: BaseException) -> str:
    """A short reason for a failed write: the errno text when HDF5 buries it in its message."""
    text = str(exc)
    if "No space left on device" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        return "no space left on device; free some space or write the output elsewhere"
    return text.splitlines()[0] if text else type(exc).__name__


def disk_full(directory: Path) -> bool:
    """True when ``directory``'s file system has less than :data:`DISK_FULL_BYTES` free."""
    try:
        stats = os.statvfs(directory)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < DISK_FULL_BYTES


def fsync_dir(directory: Path) -> None:
    """Flush ``directory``'s entries (a rename into it) to disk; errors are ignored."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(path: Path, dead_only: bool = False) -> int:
    """Delete temporary files that a killed run left next to ``path``; returns how many.

    Those of ``path`` itself go whatever their process id (the caller holds its lock) unless
    ``dead_only``; other hidden ``.<name>.tmp-<pid>`` files (sidecars: plots, previews) only
    if ``pid`` is dead.
    """
    count = 0
    own = f".{Path(path).name}.tmp-"
    if not Path(path).parent.is_dir():
        return 0
    for tmp in Path(path).parent.glob(".*.tmp-*"):
        pid = tmp.name.rsplit(".tmp-", 1)[-1]
        mine = tmp.name.startswith(own) and not dead_only
        if not mine and (not pid.isdigit() or _process_alive(int(pid))):
            continue
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
