"""Terminal output for the CLI: rich progress bars, results, and one-line errors.

Only the CLI layer prints; stages report through the progress hook and return results.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from emocli.errors import EmocliError
from emocli.held_signals import STOP_SIGNALS, import_held
from emocli.progress import ProgressHook

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

#: Exit code after Ctrl-C, as shells use (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: Exit code after SIGTERM (``kill``, ``docker stop``, a batch scheduler): 128 + SIGTERM.
EXIT_TERMINATED = 143
#: Without a terminal (a log file), a running task reports itself at most this often, seconds.
LOG_PROGRESS_EVERY_S = 60.0


@contextlib.contextmanager
def rich_progress() -> Iterator[ProgressHook]:
    """A progress hook that draws one rich bar per task description (to stderr).

    Without a terminal (output to a log file) there is no bar: a running task prints a line
    at most every :data:`LOG_PROGRESS_EVERY_S` seconds, and one line when it is done.
    """
    bars = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}
    started: dict[str, float] = {}
    last_line: dict[str, float] = {}

    def hook(task: str, completed: int, total: int | None) -> None:
        now = time.perf_counter()
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total)
            started[task] = last_line[task] = now
        bars.update(tasks[task], completed=completed, total=total)
        if not bars.disable or task not in started:
            return
        # no bar in a log file: a line now and then, and one when the task is done
        seconds = now - started[task]
        if total and completed >= total:
            del started[task]
            err_console.print(f"{task}: {completed}/{total} done in {seconds:.1f} s", markup=False)
        elif now - last_line[task] >= LOG_PROGRESS_EVERY_S:
            last_line[task] = now
            done = f"{completed}/{total} ({100 * completed / total:.0f} %)" if total else completed
            err_console.print(f"{task}: {done} after {seconds:.0f} s", markup=False)

    with bars:
        yield hook


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr (as text: ``emocli[onnx]`` stays) and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def execute(action: Callable[[ProgressHook], Any], preload: tuple[str, ...] = ()) -> Any:
    """Call ``action(progress_hook)`` with a progress bar; turn expected failures into messages.

    :class:`EmocliError` -> ``error: ...`` and its exit code; Ctrl-C -> one line and exit 130;
    SIGTERM is handled like Ctrl-C (the same clean-up) and exits with 143.
    ``preload`` modules are imported first with Ctrl-C held back until they are loaded: a
    KeyboardInterrupt raised inside torch's C++ start-up aborts the process (SIGABRT).
    """
    sys.unraisablehook = _quiet_hdf5_cleanup(sys.unraisablehook)
    terminated: list[int] = []
    try:
        with rich_progress() as hook, _sigterm_as_interrupt(terminated):
            import_held(*preload)
            return action(hook)
    except EmocliError as exc:
        if _abandoned_hdf5_files():
            # HDF5 would crash at exit closing a file that a full disk broke: leave at once.
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True
            )
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.exit_code)
        fail(str(exc), exc.exit_code)
    except PermissionError as exc:
        where = exc.filename or "a file or folder"
        fail(f"permission denied: {where}; give this user read (and, for outputs, write) access")
    except KeyboardInterrupt:
        if terminated:
            err_console.print("terminated: stopped cleanly (SIGTERM), no partial artifact was left")
            raise typer.Exit(EXIT_TERMINATED) from None
        err_console.print("interrupted: stopped cleanly, no partial artifact was left")
        raise typer.Exit(EXIT_INTERRUPTED) from None


@contextlib.contextmanager
def _sigterm_as_interrupt(received: list[int]) -> Iterator[None]:
    """While the block runs, SIGTERM raises ``KeyboardInterrupt`` (after noting itself in
    ``received``), so every clean-up written for Ctrl-C runs for it too (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def ignore_ctrl_c_from_now_on() -> None:
    """Ignore Ctrl-C once the command's exit status is decided.

    While Python shuts down it resets SIGINT to the system default, which kills the process:
    a Ctrl-C landing while a finished run tears down (freeing torch, closing HDF5) would turn
    its exit status (0, or 130 after an interrupt) into death by signal. Ignored, the status
    the command chose stands. A Ctrl-C already on its way is discarded too.
    """
    for sig in STOP_SIGNALS:
        while signal.getsignal(sig) is not signal.SIG_IGN:
            with contextlib.suppress(KeyboardInterrupt):
                signal.signal(sig, signal.SIG_IGN)
    _forget_caught_interrupts()


def _forget_caught_interrupts() -> None:
    """Clear CPython's record of a Ctrl-C that escaped a nested ``exec`` of a string.

    CPython 3.11 sets a flag when a KeyboardInterrupt leaves any ``exec(str)`` (a library
    defining a class while it is imported, say), even if the program catches it later;
    under ``python -m`` the interpreter then ends by killing itself with SIGINT instead of
    exiting with the status the program chose (130). The outcome is decided here, so the
    flag is cleared; on versions without the symbol this does nothing.
    """
    import ctypes

    with contextlib.suppress(ValueError, AttributeError):
        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0


def _abandoned_hdf5_files() -> int:
    artifacts = sys.modules.get("emocli.artifacts")  # not imported here: --help stays fast
    return int(artifacts.abandoned_files()) if artifacts is not None else 0


def _quiet_hdf5_cleanup(hook: Any) -> Callable[[Any], None]:
    """An unraisable-exception hook that hides h5py's failed cleanups after a disk-full error."""

    def quiet(unraisable: Any) -> None:
        if "h5py" in repr(unraisable.object) or "h5py" in str(unraisable.err_msg or ""):
            return
        hook(unraisable)

    return quiet


def print_result(result: Any, details: Sequence[object] = ()) -> None:
    """Report a :class:`~emocli.stage.StageResult`: up-to-date notice or written outputs;
    then ``details`` (lines with rich markup, or tables: what the stage's summary says) and
    the summary's ``warnings`` (labels a reader guessed) as ``warning:`` lines on stderr."""
    outputs = ", ".join(str(p) for p in result.outputs.values())
    if result.up_to_date:
        console.print(
            f"[green]{result.stage}[/]: up to date, skipping ({outputs}); use --force to rerun"
        )
    else:
        console.print(f"[green]{result.stage}[/]: wrote {outputs} in {result.seconds:.1f} s")
    for item in details:
        console.print(item)
    for warning in result.summary.get("warnings") or []:
        err_console.print(f"[bold yellow]warning:[/] {escape(str(warning))}", soft_wrap=True)


def print_notice(text: str) -> None:
    """Print a stage's notice (``resuming from epoch 3 of 10 ...``) to stderr, as it is."""
    err_console.print(text, markup=False, soft_wrap=True, highlight=False)


def is_interactive() -> bool:
    return sys.stderr.isatty()
