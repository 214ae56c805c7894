"""Progress reporting through a callback, so library code never prints.

A stage function takes an optional ``progress`` hook and calls it as
``progress(task, completed, total)``: ``task`` is a short description ("detecting faces"),
``completed`` how many units are done, ``total`` how many in all (``None`` if unknown).
The CLI supplies a rich progress bar (:mod:`emocli.console`); tests pass nothing.
"""

from __future__ import annotations

from typing import Protocol


class ProgressHook(Protocol):
    def __call__(self, task: str, completed: int, total: int | None) -> None: ...


def no_progress(task: str, completed: int, total: int | None) -> None:
    """The default hook: report nothing."""
