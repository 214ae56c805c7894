"""Resume points of long trainings: ``finetune`` and ``pretrain-gan`` go on from the last
completed epoch after a kill instead of starting again.

After every completed epoch (and once more when a run's training ends) the training loop
writes a resume point beside the model output: ``.<output name>.resume``, or
``.<output name>.run<i>.resume`` for each run of a k-fold (or stacking) training. It is a
torch file of tensors and plain Python values only (read back with
``torch.load(..., weights_only=True)``: nothing is unpickled) holding

* the LightningModule's tensors (weight averages included), every optimiser and LR
  scheduler, the callbacks' states (early stopping, the best-epoch weights);
* the random states at the epoch boundary: torch (and CUDA), numpy, Python's ``random`` and
  the data loaders' own generators;
* the epoch and step counters, whether training had stopped early, and the stage's own
  bookkeeping (the history so far; pretrain-gan's grids and best epoch).

A point is written to a temporary file and moved into place (``os.replace``): a kill while
writing leaves the previous point whole. Its header ties it to the command: the stage
fingerprint (stage, version, result parameters, inputs), the run's index and rows, and the
epoch count; a point another command wrote is ignored and removed (the user is told), and
the stage deletes the points once its outputs are committed.

Restoring happens in ``on_train_start``: the counters are set so that Lightning's loop goes
on at the next epoch, and the random states are put back after every data loader has been
set up and before the next epoch's loader is iterated, at the same place of the loop where
they were saved (the start of an epoch). On one CPU process the resumed training therefore
takes exactly the course of an uninterrupted one. With several processes (DDP) only rank 0
writes, and every rank restores rank 0's random state: weights, optimisers and epochs
resume, but bit-identity is not promised.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocli.errors import LockedError
from emocli.stage import output_lock

#: Written into every resume point; a point of another format or version is ignored.
FORMAT, VERSION = "emocli-resume", 1
#: Suffix of a resume point's file name.
SUFFIX = ".resume"

Notice = Callable[[str], None]
#: What follows ``.<output name>`` in the name of a resume point or of its temporary.
_RESUME_NAME = re.compile(r"(\.run\d+)?\.resume(\.tmp-\d+)?")


def _no_notice(text: str) -> None:
    """The default notice hook: say nothing."""


def resume_path(output: Path, run: int = 0, runs: int = 1) -> Path:
    """The resume point of run ``run`` of ``runs`` for the model artifact ``output``."""
    output = Path(output)
    middle = "" if runs <= 1 else f".run{run}"
    return output.with_name(f".{output.name}{middle}{SUFFIX}")


def resume_files(output: Path) -> list[Path]:
    """Every resume point (and temporary of one) that exists beside ``output``."""
    output = Path(output)
    if not output.parent.is_dir():
        return []
    prefix = f".{output.name}"
    return sorted(
        p
        for p in output.parent.iterdir()
        if p.name.startswith(prefix)
        and _RESUME_NAME.fullmatch(p.name[len(prefix) :])
        and p.is_file()
    )


def discard_resume_points(output: Path) -> list[Path]:
    """Delete every resume point of ``output`` (and their temporaries); returns them."""
    removed = []
    for path in resume_files(output):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def discard_after_commit(output: Path) -> None:
    """Delete the resume points of ``output`` once it is committed (or found up to date),
    unless another process holds its lock (it may be training to it again)."""
    if not resume_files(output):
        return
    with contextlib.suppress(LockedError), output_lock(Path(output)):
        discard_resume_points(output)


def rows_digest(*parts: Any) -> str:
    """A short sha256 of integer arrays and plain values (a run's rows, its fold)."""
    sha = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            sha.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
        else:
            sha.update(repr(part).encode())
        sha.update(b"|")
    return sha.hexdigest()[:16]


def read_header(path: Path) -> dict[str, Any]:
    """The header of a resume point (memory-mapped: its tensors are not read).

    Raises whatever ``torch.load`` raises for a file that is not a resume point.
    """
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    header = payload.get("header") if isinstance(payload, dict) else None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("not an emocli resume point")
    return header


def _header_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return read_header(path)
    except Exception:  # truncated, not a torch file, not ours: unusable
        return None


def _points(paths: Sequence[Path]) -> str:
    """``the resume point X`` or ``3 resume points (X, Y, Z)``."""
    if len(paths) == 1:
        return f"the resume point {paths[0]}"
    return f"{len(paths)} resume points ({', '.join(str(p) for p in paths)})"


# --------------------------------------------------------------------------- one run


@dataclass
class RunResume:
    """The resume point of one training run: where it is, what it must match, what to do.

    key : identity of the run (stage, fingerprint, run index and count, rows, epochs);
    load : resume from an existing matching point (False: start over, still write points);
    writable : write points (rank 0; a DDP worker only reads).
    """

    path: Path
    key: dict[str, Any]
    load: bool = True
    writable: bool = True
    notice: Notice = _no_notice
    _broken: bool = field(default=False, repr=False)

    def read(self) -> dict[str, Any] | None:
        """The saved state when there is a matching point to resume from, else None."""
        if not self.load or not self.path.is_file():
            return None
        import torch

        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # an unreadable point: start this run over
            self.notice(f"ignoring the unreadable resume point {self.path} ({exc}); starting over")
            return None
        header = payload.get("header", {}) if isinstance(payload, dict) else {}
        if header.get("key") != self.key or header.get("version") != VERSION:
            return None
        state = payload.get("state")
        return state if isinstance(state, dict) else None

    def write(self, state: dict[str, Any], epochs_done: int, finished: bool) -> None:
        """Write a point atomically (temporary file + ``os.replace``).

        A failed write (disk full ...) removes the temporary, says so once and stops writing
        points for this run: training goes on without them.
        """
        if not self.writable or self._broken:
            return
        import torch

        header = {
            "format": FORMAT,
            "version": VERSION,
            "key": self.key,
            "epochs_done": int(epochs_done),
            "finished": bool(finished),
        }
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:
                torch.save({"header": header, "state": state}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            self._broken = True
            self.notice(
                f"warning: cannot write the resume point {self.path} "
                f"({exc.strerror or exc}); training goes on without one"
            )
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


@dataclass
class Resumer:
    """The resume points of one stage run (all its training runs) beside ``output``.

    load : resume where a matching point exists (``--no-resume``: False);
    writable : this process writes and removes points (False on a DDP worker);
    notice : prints one line to the user (the CLI's; tests collect them).
    """

    stage: str
    output: Path
    fingerprint: str
    load: bool = True
    writable: bool = True
    notice: Notice = _no_notice

    def key(self, run: int, runs: int, rows: str, epochs: int, **extra: Any) -> dict[str, Any]:
        """The identity a point must match: this command, this run and its rows."""
        return {
            "stage": self.stage,
            "fingerprint": self.fingerprint,
            "run": run,
            "runs": runs,
            "rows": rows,
            "epochs": epochs,
            **extra,
        }

    def prepare(self, keys: Sequence[dict[str, Any]], labels: Sequence[str]) -> list[RunResume]:
        """One :class:`RunResume` per run (``keys`` from :meth:`key`, ``labels`` such as
        ``fold 2/5`` for the message). Removes stale and unreadable points (and with
        ``load`` False every point) and says so in one line; says what is resumed in one."""
        runs = len(keys)
        expected = {resume_path(self.output, i, runs): i for i in range(runs)}
        usable: dict[int, dict[str, Any]] = {}
        removed: list[Path] = []
        stale: list[Path] = []
        for path in resume_files(self.output):
            i = expected.get(path, -1)
            if not path.name.endswith(SUFFIX):  # a temporary of a killed write
                self._remove(path)
            elif not self.load:
                removed.append(path)
            elif i >= 0 and self._matches(header := _header_or_none(path), keys[i]):
                usable[i] = header  # type: ignore[assignment]
            else:  # another command's, another run layout (other --folds ...) or unreadable
                stale.append(path)
        for path in removed + stale:
            self._remove(path)
        if removed:
            self.notice(f"--no-resume: starting over (removed {_points(removed)})")
        if stale:
            self.notice(
                f"ignoring {_points(stale)}: made by another command (other parameters, "
                "inputs or version) or unreadable; starting over"
            )
        if usable:
            self._say_resuming(usable, keys, labels)
        return [
            RunResume(path, keys[i], self.load, self.writable, self.notice)
            for path, i in expected.items()
        ]

    @staticmethod
    def _matches(header: dict[str, Any] | None, key: dict[str, Any]) -> bool:
        return header is not None and header.get("version") == VERSION and header.get("key") == key

    def _remove(self, path: Path) -> None:
        if self.writable:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _say_resuming(
        self,
        usable: dict[int, dict[str, Any]],
        keys: Sequence[dict[str, Any]],
        labels: Sequence[str],
    ) -> None:
        last = max(usable)
        header = usable[last]
        done, epochs = int(header["epochs_done"]), int(keys[last]["epochs"])
        where = f"epoch {done} of {epochs}"
        if header.get("finished"):
            where += " (training had ended)"
        path = resume_path(self.output, last, len(keys))
        if len(keys) > 1:
            finished = sum(1 for h in usable.values() if h.get("finished"))
            self.notice(
                f"resuming {labels[last]} from {where}; {finished} of {len(keys)} runs done "
                f"({path}; --no-resume starts over)"
            )
        else:
            self.notice(f"resuming from {where} ({path}; --no-resume starts over)")
