"""Ordered, streaming parallel map over worker processes.

Stages that decode many files (faces, audio) call :func:`ordered_map`: results come back in
input order, a few chunks at a time, so the caller can stream them into an HDF5 artifact and
peak memory does not grow with the number of inputs.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import resource_tracker
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def resolve_workers(workers: int) -> int:
    """``0`` means all cores; otherwise at least 1."""
    return (os.cpu_count() or 1) if workers <= 0 else workers


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int = 1, chunksize: int = 8
) -> Iterator[R]:
    """Apply ``fn`` to every item, in ``workers`` processes, yielding results in input order.

    ``fn`` must be a module-level function (picklable) that never raises for bad input but
    returns a result describing the failure. With ``workers == 1`` everything runs in this
    process (no pickling, easiest to debug). Worker processes use the ``forkserver`` start
    method where available, so they do not inherit threads (torch, OpenCV) from the parent.
    """
    workers = resolve_workers(workers)
    if workers == 1:
        yield from map(fn, items)
        return
    methods = mp.get_all_start_methods()
    context = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
    with _sigint_ignored():  # inherited by the workers and the forkserver: Ctrl-C is ours
        pool = context.Pool(workers, initializer=_limit_threads)
    try:
        yield from pool.imap(fn, items, chunksize=chunksize)
    finally:
        pool.terminate()
        pool.join()  # every worker is gone before the caller goes on (or exits after Ctrl-C)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Block SIGINT while worker processes start: they inherit the blocked signal, so Ctrl-C
    (sent to the whole process group) interrupts only this process, which then stops the
    pool, and workers print no tracebacks. A Ctrl-C meanwhile is delivered when unblocked."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Started first: starting it unblocks SIGINT again (and it ignores SIGINT itself).
    resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _limit_threads() -> None:
    """One thread per worker process: the parallelism is across processes."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - cv2 is a dependency
        pass
