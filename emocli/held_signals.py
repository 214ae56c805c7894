"""Holding Ctrl-C (and SIGTERM) back while a block runs, e.g. while torch loads: a
KeyboardInterrupt raised inside torch's C++ start-up aborts the process (SIGABRT) instead of
stopping it cleanly."""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator

#: Signals that stop a run cleanly, as Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold a Ctrl-C (or SIGTERM) back while the block runs, then deliver it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: held.append(signum)) for sig in STOP_SIGNALS
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if held:
        handler = previous[signal.Signals(held[0])]
        if callable(handler):
            handler(held[0], None)  # raises KeyboardInterrupt (Python's, or the caller's)


def import_held(*modules: str) -> None:
    """Import ``modules`` with Ctrl-C held back until they are loaded (then delivered)."""
    with ctrl_c_held():
        for module in modules:
            importlib.import_module(module)
