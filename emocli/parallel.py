"""Ordered, streaming parallel map over worker processes.

Stages that decode many files (faces, audio) call :func:`ordered_map`: results come back in
input order, a few chunks at a time, so the caller can stream them into an HDF5 artifact and
peak memory does not grow with the number of inputs.

Each worker process talks to this process over its own pipe and shares no lock with the
others. ``multiprocessing.Pool`` shares one result queue, guarded by a lock: a worker
terminated while it held that lock (Ctrl-C at the wrong moment) deadlocked the pool's
teardown. Here an early stop simply kills the workers.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar, cast

from emocli.errors import EmocliError

T = TypeVar("T")
R = TypeVar("R")


def resolve_workers(workers: int) -> int:
    """``0`` means all cores; otherwise at least 1."""
    return (os.cpu_count() or 1) if workers <= 0 else workers


def auto_threads() -> int:
    """CPU threads for torch: the cores not already busy (1-minute load average), at least 1.

    On a shared machine an oversubscribed thread pool is several times slower than one thread.
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


def distributed_rank() -> int:
    """This process's rank in a multi-process (DDP) run: 0 in the one process that writes
    the artifacts (and when alone), positive in every other.

    ``RANK`` where the launcher sets it (torchrun); else the first positive one of
    ``LOCAL_RANK`` (Lightning's launcher starts a node's other processes with it),
    ``SLURM_PROCID`` (srun) and ``NODE_RANK`` (every process of a node started with
    ``NODE_RANK`` > 0 is a worker, its own first one too); then a positive number, not
    necessarily the global rank.
    """
    rank = os.environ.get("RANK", "")
    if rank.isdigit():
        return int(rank)
    for key in ("LOCAL_RANK", "SLURM_PROCID", "NODE_RANK"):
        value = os.environ.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 0


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    chunksize: int = 8,
    total: int | None = None,
) -> Iterator[R]:
    """Apply ``fn`` to every item, in ``workers`` processes, yielding results in input order.

    ``fn`` must be a module-level function (picklable) that never raises for bad input but
    returns a result describing the failure. With ``workers == 1`` everything runs in this
    process (no pickling, easiest to debug). Worker processes use the ``forkserver`` start
    method where available, so they do not inherit threads (torch, OpenCV) from the parent.
    Items are sent ``chunksize`` at a time, one chunk per worker in flight; at most
    ``2 * workers`` finished chunks wait for an earlier one, so memory stays bounded. No more
    workers start than there are chunks of work (``-j 500`` on 4 images starts none): the
    number of items is ``len(items)``, or ``total`` for an iterator.
    """
    workers = resolve_workers(workers)
    if total is None and isinstance(items, Sized):
        total = len(items)
    if total is not None:
        workers = max(1, min(workers, -(-total // max(1, chunksize))))
    if workers == 1:
        yield from map(fn, items)
        return
    chunks = enumerate(_chunked(items, chunksize))
    with _worker_pipes(fn, workers) as pipes:
        idle = list(pipes)
        running: dict[Connection, int] = {}  # pipe -> index of the chunk it works on
        finished: dict[int, list[R]] = {}
        next_index = 0
        exhausted = False
        while True:
            while idle and not exhausted and len(finished) < 2 * workers:
                job = next(chunks, None)
                if job is None:
                    exhausted = True
                    break
                pipe = idle.pop()
                pipe.send(job[1])
                running[pipe] = job[0]
            while next_index in finished:
                yield from finished.pop(next_index)
                next_index += 1
            if not running:
                if exhausted:
                    return
                continue  # the buffer was full: everything in it went out, send more
            for ready in wait(list(running)):
                pipe = cast(Connection, ready)
                finished[running.pop(pipe)] = _receive(pipe)
                idle.append(pipe)


def _chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, max(1, size))):
        yield chunk


def _receive(pipe: Connection) -> Any:
    """A worker's results for one chunk; its exception is raised again here."""
    try:
        ok, payload = pipe.recv()
    except EOFError:
        raise EmocliError(
            "a worker process died unexpectedly (out of memory, or a crash in a native "
            "library); rerun with --workers 1 to see which input causes it"
        ) from None
    if not ok:
        raise payload
    return payload


@contextlib.contextmanager
def _worker_pipes(fn: Callable[[Any], Any], workers: int) -> Iterator[list[Connection]]:
    """Start ``workers`` processes serving ``fn``; yield one pipe per worker.

    On a normal exit each worker is told to stop and joined; on an early exit (an error,
    Ctrl-C, the caller stopping the iteration) the workers are killed, so nothing waits on
    a half-finished chunk.
    """
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    context = cast(Any, mp.get_context(method))  # typeshed's BaseContext lacks .Process
    processes: list[Any] = []
    pipes: list[Connection] = []
    completed = False
    try:
        with _sigint_blocked():  # inherited by the workers and the forkserver: Ctrl-C is ours
            for _ in range(workers):
                ours, theirs = context.Pipe()
                process = context.Process(target=_serve, args=(fn, theirs), daemon=True)
                process.start()
                theirs.close()
                processes.append(process)
                pipes.append(ours)
        yield pipes
        completed = True
    finally:
        for pipe in pipes:
            if completed:
                with contextlib.suppress(OSError):
                    pipe.send(None)
        for process in processes:
            if not completed:
                process.kill()
            process.join()
        for pipe in pipes:
            pipe.close()


def _serve(fn: Callable[[Any], Any], pipe: Connection) -> None:
    """Worker loop: receive a chunk, send back ``(True, [fn(item) ...])``, or ``(False,
    exception)`` if ``fn`` raised (and stop). ``None``, or the parent closing the pipe
    (it stopped early), ends it quietly."""
    _limit_threads()
    with contextlib.suppress(EOFError, BrokenPipeError):
        while (chunk := pipe.recv()) is not None:
            try:
                results = [fn(item) for item in chunk]
            except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
                pipe.send((False, exc))
                return
            pipe.send((True, results))


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM while worker processes start: they inherit the blocked
    signals, so Ctrl-C or a scheduler's SIGTERM (sent to the whole process group) stops only
    this process, which then stops the workers, and workers print no tracebacks. A signal
    meanwhile is delivered when unblocked."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Started first: starting it unblocks SIGINT again (and it ignores SIGINT itself).
    resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _limit_threads() -> None:
    """One thread per worker process: the parallelism is across processes."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - cv2 is a dependency
        pass
