"""Shared helpers of the robustness suite: tiny demo data, CLI subprocesses, fault counts.

Set ``EMOCLI_ROBUST_COUNTS=<file.json>`` to have every test add what it tried (faults
injected, bad inputs, crashes, artifacts lost or half-written) to that file; docs/robustness.md
quotes the totals of ``make test-robust``.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from emocli.demo import DemoSpec, generate_demo_data

#: Environment variable naming the JSON file the counts are added to.
COUNTS_ENV = "EMOCLI_ROBUST_COUNTS"
#: The smallest demo dataset every stage can run on (7 clips per split: every class once).
TINY_SPEC = DemoSpec(
    seed=0,
    clips_train=7,
    clips_val=7,
    frames_per_clip_sfew=1,
    unlabelled=8,
    image_size=96,
    fps=5,
    sample_rate=8000,
    min_clip_s=0.5,
    max_clip_s=1.0,
)
#: Parts of names of wall-clock measurements, left out when two runs are compared.
TIMING_WORDS = ("seconds", "elapsed", "duration_s", "per_second")
REPO = Path(__file__).resolve().parents[2]


def record(**counts: int) -> None:
    """Add ``counts`` (e.g. ``faults=3, crashes=0``) to the JSON file named by the env var."""
    target = os.environ.get(COUNTS_ENV)
    if not target:
        return
    path = Path(target)
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        text = fh.read()
        totals: dict[str, int] = json.loads(text) if text.strip() else {}
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + int(value)
        fh.seek(0)
        fh.truncate()
        json.dump(totals, fh, indent=2, sort_keys=True)


def make_demo(root: Path) -> Path:
    """Generate the tiny demo dataset under ``root`` (returns the data folder)."""
    generate_demo_data(root, TINY_SPEC)
    return root


def cli_env(workdir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env.pop(COUNTS_ENV, None)
    if workdir is not None:
        env["EMOCLI_WORKDIR"] = str(workdir)
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "emocli.cli", *args]


def run_cli(
    args: list[str], cwd: Path, workdir: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``emocli <args>`` in a subprocess; returns the finished process (text output)."""
    return subprocess.run(
        cli_argv(*args),
        cwd=cwd,
        env=cli_env(workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


#: Attrs that say when and where an artifact was written (its creation time, the command's
#: working folder and output paths), which differ between two runs of the same result.
WHEN_AND_WHERE = ("created_utc", "cwd", "outputs")


def artifact_content(path: Path) -> dict[str, Any]:
    """Everything an artifact holds except when and where it was written: attrs and every
    dataset."""
    out: dict[str, Any] = {}
    with h5py.File(path, "r") as h5:
        for key, value in h5.attrs.items():
            if key not in WHEN_AND_WHERE:
                text = value.decode() if isinstance(value, bytes) else str(value)
                out[f"@{key}"] = _without_timings(text)

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and not _is_timing(name):
                out[name] = np.asarray(obj[()])
            for key, value in obj.attrs.items():
                out[f"{name}@{key}"] = str(value)

        h5.visititems(visit)
    return out


def _is_timing(name: str) -> bool:
    """Wall-clock measurements (``epoch_seconds``, ``seconds`` ...) differ between any two runs."""
    return any(word in name.rsplit("/", 1)[-1] for word in TIMING_WORDS)


def _drop_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_timings(v) for k, v in value.items() if not _is_timing(str(k))}
    if isinstance(value, list):
        return [_drop_timings(v) for v in value]
    return value


def _without_timings(text: str) -> str:
    if text[:1] not in "[{":
        return text
    try:
        return json.dumps(_drop_timings(json.loads(text)), sort_keys=True)
    except json.JSONDecodeError:
        return text


def same_content(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Names of the entries that differ between two :func:`artifact_content` results."""
    diffs = sorted(set(a) ^ set(b))
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                diffs.append(key)
        elif x != y:
            diffs.append(key)
    return diffs
