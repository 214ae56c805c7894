"""ordered_map: input order, bounded buffering, errors and early stops across worker processes."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from emocli.parallel import ordered_map


def _slow_first(item: int) -> int:
    """Item 0 is slow, so later chunks finish first and must wait in the buffer."""
    if item == 0:
        time.sleep(0.3)
    return item * item


def _fails_on_seven(item: int) -> int:
    if item == 7:
        raise ValueError("item 7 is bad")
    return item


def test_results_come_back_in_input_order_when_later_chunks_finish_first() -> None:
    assert list(ordered_map(_slow_first, range(50), workers=2, chunksize=1)) == [
        i * i for i in range(50)
    ]


def test_one_worker_runs_in_process_and_keeps_order() -> None:
    assert list(ordered_map(_slow_first, range(5), workers=1)) == [0, 1, 4, 9, 16]


def test_an_exception_in_a_worker_is_raised_in_the_caller() -> None:
    with pytest.raises(ValueError, match="item 7 is bad"):
        list(ordered_map(_fails_on_seven, range(20), workers=2, chunksize=2))


def test_stopping_early_ends_the_workers() -> None:
    results = ordered_map(_slow_first, range(1000), workers=2, chunksize=4)
    assert next(results) == 0
    started = time.perf_counter()
    results.close()  # what a Ctrl-C or an error in the caller does
    assert time.perf_counter() - started < 5
    assert not multiprocessing.active_children(), "a worker outlived the stop"


def test_workers_are_capped_by_the_chunks_of_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-j 500`` on 4 images took minutes starting 500 processes; now it starts what can work."""
    import emocli.parallel as parallel

    started: list[int] = []
    real = parallel._worker_pipes

    def counting(fn, workers):  # type: ignore[no-untyped-def]
        started.append(workers)
        return real(fn, workers)

    monkeypatch.setattr(parallel, "_worker_pipes", counting)
    assert list(ordered_map(_slow_first, [1, 2, 3, 4], workers=500, chunksize=8)) == [1, 4, 9, 16]
    assert started == []  # one chunk: runs in this process
    assert list(ordered_map(_slow_first, list(range(1, 25)), workers=500, chunksize=8))[-1] == 576
    assert started == [3]  # three chunks of eight
    items = iter(range(1, 25))  # an iterator says how many items it holds with ``total``
    assert list(ordered_map(_slow_first, items, workers=500, chunksize=8, total=24))[0] == 1
    assert started == [3, 3]
