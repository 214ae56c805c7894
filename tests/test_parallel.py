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
