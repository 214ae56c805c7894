"""Throughput of extract-audio and build-spectrograms (1 and 2 workers), and of the log-mel
front end itself on one core.

    python -m tests.benchmarks.run --only audio --out docs/benchmarks.md

Input: RAVDESS speech (1,200 clips of 16 kHz FLAC) from ``../shared/datasets``; when it is
absent, 1,200 synthetic FLAC clips of the same durations are generated instead.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.run import BenchContext

CLIPS = 1200
WORKERS = (1, 2)
#: Clip length of the single-core log-mel timing, seconds (the reference: ~1 ms per 3 s clip).
CLIP_SECONDS = 3.0
SAMPLE_RATE = 16000

_MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": usage.ru_maxrss / 1024,
                  "cpu": usage.ru_utime + usage.ru_stime}))
"""


def _measure(ctx: BenchContext, workdir: Path, *args: str) -> dict[str, float]:
    """Wall time, CPU time of the emocli process, peak RSS (largest process) and the 1-minute
    load average before one ``emocli`` command line (above the core count: other jobs competed)."""
    env = dict(os.environ, EMOCLI_WORKDIR=str(workdir))
    load = os.getloadavg()[0]
    out = subprocess.run(
        [ctx.python, "-c", _MEASURE, ctx.python, "-m", "emocli.cli", *args],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]), load=load)


def _synthetic_speech(root: Path) -> Path:
    """1,200 RAVDESS-named FLAC clips, 3-5 s of tones in noise (when the real set is absent)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    for k in range(CLIPS):
        actor = f"{k % 20 + 1:02d}"
        name = f"03-01-{k % 8 + 1:02d}-01-{k // 160 % 2 + 1:02d}-{k // 20 % 2 + 1:02d}-{actor}"
        n = int(SAMPLE_RATE * rng.uniform(2.9, 5.3))
        t = np.arange(n) / SAMPLE_RATE
        wave = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.02 * rng.standard_normal(n)
        path = root / f"Actor_{actor}" / f"{name}-{k:04d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return root


def logmel_timing(repeats: int = 5, batch: int = 32) -> dict[str, float]:
    """ms per 3 s clip on this process's cores: the whole front end of emocli in batches of
    ``batch``, and direct librosa calls clip by clip (run with 1 thread by :func:`run`)."""
    import librosa

    from emocli.audio import FrontEnd, spectrograms_of

    n = int(CLIP_SECONDS * SAMPLE_RATE)
    waves = (0.1 * np.random.default_rng(0).standard_normal((batch, n))).astype(np.float32)
    frontend = FrontEnd(SAMPLE_RATE, n)
    spectrograms_of(waves[:2], frontend)  # first call: imports, filters
    started = time.perf_counter()
    for _ in range(repeats):
        spectrograms_of(waves, frontend)
    ours = (time.perf_counter() - started) / (repeats * batch) * 1000

    def direct(y: np.ndarray) -> np.ndarray:
        mel = librosa.feature.melspectrogram(
            y=y,
            sr=SAMPLE_RATE,
            n_fft=400,
            hop_length=160,
            window="hamming",
            center=False,
            n_mels=40,
        )
        return librosa.power_to_db(mel)

    direct(waves[0])
    started = time.perf_counter()
    for _ in range(repeats):
        for y in waves:
            direct(y)
    theirs = (time.perf_counter() - started) / (repeats * batch) * 1000
    return {"emocli_ms": ours, "librosa_ms": theirs}


def run(ctx: BenchContext) -> str:
    speech = ctx.datasets / "ravdess_speech_16k"
    work = ctx.workdir / "audio-bench"
    source_note = "RAVDESS speech (`ravdess_speech_16k`, 1,200 clips of 16 kHz FLAC, 2.9-5.3 s)"
    if not speech.is_dir():
        speech = _synthetic_speech(work / "synthetic-speech")
        source_note = "1,200 synthetic 16 kHz FLAC clips of 2.9-5.3 s (RAVDESS absent)"
    rows = []
    for workers in WORKERS:
        m = _measure(ctx, work, "extract-audio", str(speech), "-j", str(workers), "--force")
        rows.append(("extract-audio", workers, m))
    audio = work / "audio" / f"{speech.name}.h5"
    for workers in WORKERS:
        m = _measure(
            ctx,
            work,
            "build-spectrograms",
            str(audio),
            "--train-subjects",
            "01-16",
            "-j",
            str(workers),
            "--force",
        )
        rows.append(("build-spectrograms", workers, m))
    for workers in WORKERS:
        m = _measure(
            ctx,
            work,
            "build-spectrograms",
            str(audio),
            "--train-subjects",
            "01-16",
            "--as-image",
            "224",
            "-o",
            str(work / "spectrograms" / "images.h5"),
            "-j",
            str(workers),
            "--force",
        )
        rows.append(("build-spectrograms --as-image 224", workers, m))
    one_core = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = "import json; from tests.benchmarks.bench_audio import logmel_timing as t; print(json.dumps(t()))"
    timing = json.loads(
        subprocess.run(
            [ctx.python, "-c", code], check=True, env=one_core, capture_output=True, text=True
        ).stdout
    )
    table = "\n".join(
        f"| `{stage}` | {workers} | {m['seconds']:.1f} | {CLIPS / m['seconds']:.0f} "
        f"| {m['cpu']:.1f} | {m['peak_mb']:.0f} | {m['load']:.1f} |"
        for stage, workers, m in rows
    )
    return f"""## Audio: extract-audio and build-spectrograms

{source_note}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores. Each
line is one CLI run with `--force`, timed from the outside (process start-up, worker
start-up and the atomic write included); peak memory is the largest single process; load
is the 1-minute load average when the run started (above {os.cpu_count()}: other jobs shared
the cores, and the times are upper bounds). "main CPU s" is the CPU time of the emocli
process itself (worker processes are not counted): with 1 worker it is all the work, so
it estimates the wall time on an idle core.
build-spectrograms pads to the longest clip and computes band statistics on actors 01-16.

| command | workers | seconds | clips/s | main CPU s | peak MB | load |
|---|---|---|---|---|---|---|
{table}

The log-mel front end alone on one core (3 s clip at 16 kHz, 298 frames of 40 bands):
emocli's `spectrograms_of` (pre-emphasis, STFT, mel, dB, per-spectrogram standardisation,
float64, sub-batches of 4) **{timing["emocli_ms"]:.2f} ms per clip**; direct `librosa.feature.melspectrogram`
+ `power_to_db` clip by clip {timing["librosa_ms"]:.2f} ms per clip (reference: ~1 ms).

Reproduce: `python -m tests.benchmarks.run --only audio --out docs/benchmarks.md`.
"""
