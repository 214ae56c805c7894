"""Running a stage: fingerprint, skip when up to date, lock, write atomically.

Every stage module (``stages/<name>.py``) ends its ``run(...)`` with::

    return run_stage(STAGE, params, inputs, {"faces": OutputSpec(out, "faces")}, build, force)

where ``build(writers)`` fills the :class:`~emocli.artifacts.ArtifactWriter` objects and
returns a small JSON summary. :func:`run_stage` does the rest, like DVC's ``reproduce``:

0. refuse outputs that are folders, inputs or named twice (:func:`check_output_paths`);
1. fingerprint = sha256 of (stage name, stage version, result-affecting params, input
   fingerprints);
2. if every output exists, is valid and carries that fingerprint, return at once
   (``up_to_date=True``) unless ``force``;
3. take a lock file next to each output (another process writing the same output is
   refused with a clear message);
4. call ``build`` with writers on temporary files; on success validate and move every
   output into place, on any exception or interrupt delete the temporaries.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emocli.artifacts import (
    ArtifactWriter,
    InputRef,
    fingerprint_of,
    is_up_to_date,
    open_artifact,
    remove_stale_temporaries,
)
from emocli.errors import ArtifactError, LockedError, ParamsError
from emocli.params import params_dict, result_params

#: errno values that mean the output's file system is full.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@dataclass(frozen=True)
class StageInfo:
    """A stage's identity. Bump ``version`` when a code change alters its results."""

    name: str
    version: int


@dataclass(frozen=True)
class OutputSpec:
    """One artifact a stage writes: where, and of which kind."""

    path: Path
    kind: str


@dataclass
class StageResult:
    """What a stage run produced. ``summary`` is the stage's own small JSON report."""

    stage: str
    outputs: dict[str, Path]
    up_to_date: bool
    fingerprint: str
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def stage_fingerprint(stage: StageInfo, params: Any, inputs: Sequence[InputRef]) -> str:
    """sha256 of the canonical JSON of stage name + version + result params + input fingerprints."""
    return fingerprint_of(
        {
            "stage": stage.name,
            "version": stage.version,
            "params": result_params(params),
            "inputs": [i.fingerprint for i in inputs],
        }
    )


def outputs_up_to_date(
    stage: StageInfo, params: Any, inputs: Sequence[InputRef], outputs: Mapping[str, OutputSpec]
) -> bool:
    """Whether :func:`run_stage` would skip this run (every output valid and carrying its
    fingerprint). A DDP worker, which writes nothing, asks it so that it skips with rank 0
    instead of waiting for a rank 0 that never starts training."""
    fingerprint = stage_fingerprint(stage, params, inputs)
    return all(is_up_to_date(s.path, s.kind, fingerprint) for s in outputs.values())


def run_stage(
    stage: StageInfo,
    params: Any,
    inputs: Sequence[InputRef],
    outputs: Mapping[str, OutputSpec],
    build: Callable[[dict[str, ArtifactWriter]], Mapping[str, Any]],
    force: bool = False,
) -> StageResult:
    """Run ``build`` unless every output is already up to date; write all outputs atomically.

    build : receives ``{output key: ArtifactWriter}`` and returns the stage's summary (JSON).
    Raises whatever ``build`` raises (after removing every temporary file),
    :class:`ParamsError` for an output path that is a folder, an input or named twice, or
    :class:`LockedError` if another process holds an output's lock.
    """
    started = time.perf_counter()
    check_output_paths(inputs, outputs)
    fingerprint = stage_fingerprint(stage, params, inputs)
    paths = {key: Path(spec.path) for key, spec in outputs.items()}
    if not force and all(is_up_to_date(s.path, s.kind, fingerprint) for s in outputs.values()):
        for spec in outputs.values():
            remove_stale_leftovers(spec.path)
        first = next(iter(outputs.values()))
        with open_artifact(first.path, first.kind) as art:
            summary = dict(art.attrs.get("summary") or {})
        return StageResult(
            stage.name, paths, True, fingerprint, summary, time.perf_counter() - started
        )

    with contextlib.ExitStack() as stack:
        for spec in outputs.values():
            stack.enter_context(output_lock(spec.path))
            remove_stale_temporaries(spec.path)
        writers: dict[str, ArtifactWriter] = {}
        try:
            for key, spec in outputs.items():
                writers[key] = ArtifactWriter(
                    spec.path,
                    spec.kind,
                    stage=stage.name,
                    params=params_dict(params),
                    inputs=inputs,
                    fingerprint=fingerprint,
                )
                record_command(writers[key], outputs)
            summary = dict(build(writers))
            for writer in writers.values():
                writer.set_summary(summary)
                writer.close()
            for writer in writers.values():
                writer.commit()
        except BaseException as exc:
            for writer in writers.values():
                writer.discard()
            if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
                where = ", ".join(str(p) for p in paths.values())
                raise ArtifactError(
                    f"cannot write {where}: {exc.strerror or exc}; free some space or write "
                    "the output elsewhere (nothing was written)"
                ) from exc
            raise
    return StageResult(
        stage.name, paths, False, fingerprint, summary, time.perf_counter() - started
    )


def record_command(writer: ArtifactWriter, outputs: Mapping[str, OutputSpec]) -> None:
    """Record where the command ran and every output it wrote (absolute paths), so that
    ``inspect --as-config`` can rebuild it: attrs ``cwd`` (relative input paths, as the
    ``inputs`` records keep them, start there) and ``outputs`` (``{output key: path}``).
    Neither enters the fingerprint."""
    writer.set_attr("cwd", os.getcwd())
    writer.set_attr("outputs", {k: str(Path(s.path).absolute()) for k, s in outputs.items()})


def check_output_paths(inputs: Sequence[InputRef], outputs: Mapping[str, OutputSpec]) -> None:
    """Refuse, before any work, an output that would fail at the end or destroy data: a path
    that is a folder, that is one of the inputs, or that another output of the stage names.

    Raises :class:`ParamsError` saying which path to change.
    """
    taken = {Path(i.path).resolve(): i.path for i in inputs}
    named: dict[Path, str] = {}
    for key, spec in outputs.items():
        path = Path(spec.path)
        real = path.resolve()
        if path.is_dir():
            raise ParamsError(
                f"the {key} output {path} is a folder; give a file path, "
                f"e.g. {path / (key + '.h5')}"
            )
        if real in taken:
            raise ParamsError(
                f"the {key} output {path} is also an input ({taken[real]}); writing it would "
                "replace that input: give the output another path"
            )
        if real in named:
            raise ParamsError(
                f"the {named[real]} and {key} outputs are both {path}; give them different paths"
            )
        named[real] = key


def remove_stale_leftovers(path: Path) -> None:
    """Remove what a killed run left beside ``path``: its lock file, if no live process holds
    it, and the temporaries of dead processes. Never blocks; leaves a live writer's files."""
    lock_path = Path(path).with_name(Path(path).name + ".lock")
    if lock_path.exists():
        with contextlib.suppress(LockedError, ArtifactError), output_lock(Path(path)):
            remove_stale_temporaries(Path(path), dead_only=True)
        return
    remove_stale_temporaries(Path(path), dead_only=True)


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` exclusively while writing ``path``; refuse if another process holds it.

    The lock file is removed on release, so nothing is left beside the artifact. That opens
    the classic race of unlink-on-release locks: a waiter may open the file just before the
    holder removes it, and then lock a file nobody else can see. So after locking, the file
    locked must still be the one at ``<path>.lock`` (same inode); otherwise the lock is taken
    again on the file that is there now."""
    path = Path(path)
    lock_path = path.with_name(path.name + ".lock")
    fd = _locked_file(path, lock_path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
    finally:
        os.close(fd)


#: Times the lock is taken again when its file was removed under it (see :func:`output_lock`).
_LOCK_ATTEMPTS = 5


def _locked_file(path: Path, lock_path: Path) -> int:
    """An open descriptor of ``lock_path`` holding its exclusive ``flock``, the file still
    being the one at ``lock_path``; :class:`LockedError` when another process holds it."""
    for _ in range(_LOCK_ATTEMPTS):
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:
            raise ArtifactError(f"cannot write to {path.parent}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise LockedError(
                f"another emocli process is writing {path} (lock file {lock_path}); "
                "wait for it to finish, then rerun"
            ) from exc
        try:
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder removed this file after we opened it
    raise LockedError(
        f"another emocli process keeps taking the lock of {path} ({lock_path}); rerun later"
    )
