"""Every stage's first run against its up-to-date rerun, and peak memory against dataset size.

* The demo pipeline (``make demo``'s chain, emocli/demo/chain.py) on
  a small generated demo dataset: each command run once (it builds its artifact), then
  rerun :data:`RERUNS` times with nothing changed (it must find its outputs up to date and
  return). Each is a separate ``emocli`` process timed from the outside, so the rerun time
  includes the interpreter's start-up and the imports; ``emocli --help`` is timed the same
  way as the floor any command pays.
* Peak RSS (``os.wait4``'s ``ru_maxrss`` of the ``emocli`` process, one worker so all the
  work is in that process) of ``extract-audio``, ``build-spectrograms`` and ``finetune`` (one
  epoch, the input column in memory) on N and 4N speech clips (RAVDESS speech from
  ``../shared/datasets``, else synthetic FLAC clips), with the up-to-date rerun of the first
  two at both sizes.

    python -m tests.benchmarks.run --only stages --out docs/benchmarks.md
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from emocli.demo.chain import demo_chain
from tests.benchmarks.run import BenchContext

#: The demo dataset: the default DemoSpec's layout at a third of its size.
DEMO_SIZE = {
    "clips_train": 28,
    "clips_val": 14,
    "frames_per_clip_sfew": 2,
    "unlabelled": 60,
}
#: Up-to-date reruns of each command, and runs of each start-up floor (medians reported).
RERUNS = 3
#: Speech clips of the memory runs: N and 4N.
MEMORY_CLIPS = (200, 800)
#: A rerun this much slower than ``emocli --help`` is called out under the table, seconds.
SLOW_RERUN_S = 1.0
SPEECH = "ravdess_speech_16k"

#: ``make demo``'s chain, written once in emocli/demo/chain.py.
CHAIN = demo_chain()


@dataclass(frozen=True)
class Measured:
    """One process: wall seconds, CPU seconds (its own and its reaped children's), peak RSS
    in MiB (the largest of it and its reaped children), the 1-minute load average when it
    started, and what it printed. ``forkserver`` pool workers are the forkserver's children,
    not the process's: neither their CPU time nor their memory is counted."""

    seconds: float
    cpu: float
    peak_mib: float
    load: float
    output: str


def emocli_argv(ctx: BenchContext) -> list[str]:
    """The venv's ``emocli`` script next to the interpreter, else ``python -m emocli.cli``."""
    script = Path(ctx.python).parent / "emocli"
    return [str(script)] if script.exists() else [ctx.python, "-m", "emocli.cli"]


def measure(argv: list[str], cwd: Path, workdir: Path) -> Measured:
    """Run one command to completion; raise with its output if it fails."""
    env = dict(os.environ, EMOCLI_WORKDIR=str(workdir), COLUMNS="200")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()  # the pipe closes when the process exits
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{output[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, cpu, usage.ru_maxrss / 1024, load, output)  # Linux: KiB


def _median(runs: list[Measured], key: str) -> float:
    return statistics.median(getattr(m, key) for m in runs)


def _floors(ctx: BenchContext, cwd: Path) -> list[tuple[str, float, float]]:
    """(what, median seconds, median CPU s) of the start-ups every command pays part of."""
    probes = {
        "`emocli --help`": [*emocli_argv(ctx), "--help"],
        '`python -c "import torch"`': [ctx.python, "-c", "import torch"],
        '`python -c "import pytorch_lightning"`': [ctx.python, "-c", "import pytorch_lightning"],
    }
    out = []
    for name, argv in probes.items():
        runs = [measure(argv, cwd, cwd) for _ in range(RERUNS)]
        out.append((name, _median(runs, "seconds"), _median(runs, "cpu")))
    return out


def _demo_chain(ctx: BenchContext, root: Path, floor: float) -> tuple[str, dict[str, float]]:
    from emocli.demo import DemoSpec, generate_demo_data

    data, workdir = root / "data", root / "work"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    counts = generate_demo_data(data, DemoSpec(seed=0, **DEMO_SIZE))
    generated = time.perf_counter() - started
    emocli = emocli_argv(ctx)

    rows, slow, loads = [], [], []
    first_total = rerun_total = 0.0
    for command in CHAIN:
        argv = [*emocli, *command.argv(workdir)]
        cwd = data if command.in_data else root
        first = measure(argv, cwd, workdir)
        reruns = [measure(argv, cwd, workdir) for _ in range(RERUNS)]
        stale = [m.output for m in reruns if "up to date" not in m.output]
        if stale:
            raise RuntimeError(f"{command.shown} was not up to date on rerun:\n{stale[0]}")
        again = _median(reruns, "seconds")
        first_total += first.seconds
        rerun_total += again
        loads += [first.load, *(m.load for m in reruns)]
        if again - floor > SLOW_RERUN_S:
            slow.append(f"`{' '.join(command.args[:2]).replace('{W}', 'W')}`")
        rows.append(
            f"| {command.args[0]} | `{command.shown}` | {first.seconds:.1f} | {first.cpu:.1f} "
            f"| {first.peak_mib:.0f} | **{again:.2f}** | {_median(reruns, 'cpu'):.2f} "
            f"| {again - floor:+.2f} | {first.seconds / again:.0f}x |"
        )
    rows.append(
        f"| all seven | the {len(CHAIN)} commands above | {first_total:.1f} | | "
        f"| **{rerun_total:.1f}** | | {rerun_total - len(CHAIN) * floor:+.1f} "
        f"| {first_total / rerun_total:.0f}x |"
    )
    figures = {
        "first_total": first_total,
        "rerun_total": rerun_total,
        "load_min": min(loads),
        "load_max": max(loads),
        "generated": generated,
        "clips": sum(sum(v.values()) for v in counts["afew"].values()),
        "stills": sum(sum(v.values()) for v in counts["sfew"].values()),
        "unlabelled": counts["unlabelled"],
    }
    note = (
        f"Reruns more than {SLOW_RERUN_S:.0f} s over the floor: {', '.join(slow)}."
        if slow
        else f"Every rerun is within {SLOW_RERUN_S:.0f} s of the floor."
    )
    return "\n".join(rows) + "\n\n" + note, figures


def _speech_subsets(ctx: BenchContext, root: Path) -> tuple[str, dict[int, Path]]:
    """Folders of symlinks to N and 4N speech clips, evenly spaced over the sorted list (so
    every actor is in both)."""
    source = ctx.datasets / SPEECH
    note = f"RAVDESS speech (`{SPEECH}`, 16 kHz FLAC, 2.9-5.3 s, 20 actors)"
    if not source.is_dir():
        from tests.benchmarks.bench_audio import _synthetic_speech

        source = root / "synthetic-speech"
        if not source.is_dir():
            _synthetic_speech(source)
        note = "synthetic RAVDESS-named 16 kHz FLAC clips of 2.9-5.3 s (RAVDESS absent)"
    files = sorted(source.rglob("*.flac"))
    folders = {}
    for n in MEMORY_CLIPS:
        if len(files) < n:
            raise RuntimeError(f"{source} has {len(files)} clips; the benchmark needs {n}")
        folder = root / f"speech{n}"
        shutil.rmtree(folder, ignore_errors=True)
        for k in range(n):
            f = files[k * len(files) // n]
            link = folder / f.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f.resolve())
        folders[n] = folder
    return note, folders


def _memory_commands(folder: Path, workdir: Path, n: int) -> dict[str, list[str]]:
    audio, spectrograms = workdir / f"audio{n}.h5", workdir / f"spectrograms{n}.h5"
    return {
        "extract-audio": ["extract-audio", str(folder), "-j", "1", "-o", str(audio)],
        "build-spectrograms": [
            *("build-spectrograms", str(audio), "--train-subjects", "01-16", "-j", "1"),
            *("-o", str(spectrograms)),
        ],
        "finetune": [
            *("finetune", str(spectrograms), "--model", "audio_urbansound", "--epochs", "1"),
            *("--validation", "none", "--threads", "1", "-o", str(workdir / f"model{n}.h5")),
            *("--predictions", str(workdir / f"predictions{n}.h5")),
        ],
    }


#: Stages of the memory runs whose up-to-date rerun is timed too (finetune's is in the chain).
RERUN_MEMORY = ("extract-audio", "build-spectrograms")


def _memory(ctx: BenchContext, root: Path) -> tuple[str, str]:
    note, folders = _speech_subsets(ctx, root)
    emocli = emocli_argv(ctx)
    workdir = root / "work"
    shutil.rmtree(workdir, ignore_errors=True)
    first: dict[tuple[str, int], Measured] = {}
    again: dict[tuple[str, int], Measured] = {}
    for n, folder in folders.items():
        for stage, args in _memory_commands(folder, workdir, n).items():
            first[stage, n] = measure([*emocli, *args], root, workdir)
            if stage in RERUN_MEMORY:
                again[stage, n] = measure([*emocli, *args], root, workdir)
                if "up to date" not in again[stage, n].output:
                    raise RuntimeError(f"{stage} on {n} clips was not up to date on rerun")
    small, large = MEMORY_CLIPS
    rows = []
    for stage in ("extract-audio", "build-spectrograms", "finetune"):
        for n in MEMORY_CLIPS:
            m = first[stage, n]
            rerun = f"{again[stage, n].seconds:.2f}" if (stage, n) in again else "(chain)"
            rows.append(
                f"| `{stage}` | {n} | {m.seconds:.1f} | {m.cpu:.1f} | {m.peak_mib:.0f} "
                f"| {rerun} | {m.load:.1f} |"
            )
        ratio = first[stage, large].peak_mib / first[stage, small].peak_mib
        rows.append(f"| `{stage}` | {large} / {small} | | | **{ratio:.2f}x** | | |")
    return note, "\n".join(rows)


def run(ctx: BenchContext) -> str:
    root = ctx.workdir / "stages"
    root.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    floors = _floors(ctx, root)
    floor = floors[0][1]
    chain_rows, f = _demo_chain(ctx, root / "demo", floor)
    memory_note, memory_rows = _memory(ctx, root / "memory")
    load_end = os.getloadavg()[0]
    floor_rows = "\n".join(f"| {name} | {sec:.2f} | {cpu:.2f} |" for name, sec, cpu in floors)
    spec = ", ".join(f"{k}={v}" for k, v in DEMO_SIZE.items())
    small, large = MEMORY_CLIPS
    return f"""## Up-to-date reruns and memory against dataset size (stages)

Every stage of the `make demo` chain (emocli/demo/chain.py's commands and flags, in order) on a demo
dataset generated with `DemoSpec(seed=0, {spec})` ({f["clips"]:.0f} clips with sound,
{f["stills"]:.0f} stills, {f["unlabelled"]:.0f} unlabelled faces; generated in
{f["generated"]:.0f} s). Each command is a separate `emocli` process timed from the outside:
first the run that builds its artifacts, then {RERUNS} reruns with nothing changed, which
must each print "up to date" (the table gives their median). `W/` is the workspace
(`EMOCLI_WORKDIR`).

Load: 1-minute load average {load_start:.1f} at the start and {load_end:.1f} at the end,
{f["load_min"]:.1f}-{f["load_max"]:.1f} when the chain's commands started, on
{os.cpu_count()} cores. A load above the benchmark's own 1-2 processes means other jobs
shared the cores: the absolute times are then upper bounds, and the figures to read are the
ratios and differences, which compare processes measured side by side in the same run.

A rerun's time is mostly the interpreter's start-up and the imports it needs before it can
check its outputs. The floors, timed the same way (median of {RERUNS}):

| start-up | seconds | CPU s |
|---|---:|---:|
{floor_rows}

"Over the floor" is the rerun minus `emocli --help`. "CPU s" and "peak MiB" are those of the
`emocli` process and the children it reaped (`os.wait4`); the pool workers of
`preprocess-faces`, `extract-audio` and `build-spectrograms` (2 here, started by a
forkserver) are not included, so for those three stages the first run's wall time is the
figure that counts all the work.

| stage | command | first run s | CPU s | peak MiB | up-to-date rerun s | CPU s | over the floor s | first / rerun |
|---|---|---:|---:|---:|---:|---:|---:|---:|
{chain_rows}

Peak memory against dataset size: `extract-audio`, `build-spectrograms` (one worker: all the
work in the measured process) and `finetune` (`audio_urbansound`, 1 epoch, 1 thread,
no validation; the spectrograms are loaded into memory) on N = {small} and 4N = {large} clips
of {memory_note}, evenly spaced over the sorted files so both sizes span every actor. Peak
RSS is `ru_maxrss` from `os.wait4`; "rerun s" is the up-to-date rerun at that size (a raw
folder is fingerprinted from its listing, not its contents).

| command | clips | seconds | CPU s | peak MiB | rerun s | load |
|---|---:|---:|---:|---:|---:|---:|
{memory_rows}

Regenerate with `.venv/bin/python -m tests.benchmarks.run --only stages --out docs/benchmarks.md`.
"""
