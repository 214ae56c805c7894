"""Real-data run of the audio path: extract-audio + build-spectrograms on RAVDESS speech
(actors 01-20, 1,200 clips) and on the RAVDESS audio-visual sample, plus agreement of the
stage's features with direct librosa calls on real clips.

    python -m tests.benchmarks.run --real --only audio --out docs/results.md
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.run import BenchContext

#: Clips compared one by one with direct librosa calls.
CHECKED_CLIPS = 20


def _emocli(ctx: BenchContext, workdir: Path, *args: str) -> tuple[float, str]:
    """Run one emocli command line; returns (seconds, the command as shown in the docs)."""
    env = dict(os.environ, EMOCLI_WORKDIR=str(workdir))
    started = time.perf_counter()
    subprocess.run([ctx.python, "-m", "emocli.cli", *args], check=True, env=env)
    shown = "emocli " + " ".join(shlex.quote(a) for a in args)
    return time.perf_counter() - started, shown


def _librosa_gap(audio: Path, spec: Path, rows: int) -> float:
    """Largest |stage - direct librosa| over the first ``rows`` clips (normalised features)."""
    import librosa

    from emocli.artifacts import open_artifact
    from emocli.audio import frontend_from_artifact

    with open_artifact(audio) as a, open_artifact(spec) as s:
        frontend, stats = frontend_from_artifact(s)
        features = s.column("features", slice(0, rows))
        offsets, lengths = a.column("offset"), a.column("length")
        gap = 0.0
        for k in range(rows):
            wave = a.column("waveforms/data", slice(offsets[k], offsets[k] + lengths[k]))
            y = np.zeros(frontend.pad_samples)
            y[: wave.size] = wave[: frontend.pad_samples]
            y = librosa.effects.preemphasis(y, coef=frontend.preemphasis, zi=np.zeros(1))
            mel = librosa.feature.melspectrogram(
                y=y,
                sr=frontend.sample_rate,
                n_fft=frontend.n_fft,
                hop_length=frontend.hop_length,
                win_length=frontend.win_length,
                window=frontend.window,
                center=frontend.center,
                n_mels=frontend.n_mels,
            )
            db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=frontend.top_db)
            db = (db - db.mean()) / db.std()
            expected = (db - stats.mean[:, None]) / stats.std[:, None]
            gap = max(gap, float(np.abs(features[k] - expected).max()))
    return gap


def run(ctx: BenchContext) -> str:
    from emocli.artifacts import open_artifact, read_group

    speech = ctx.datasets / "ravdess_speech_16k"
    sample = ctx.datasets / "ravdess_av_sample"
    if not speech.is_dir():
        return f"## Audio: extract-audio and build-spectrograms\n\nSkipped: {speech} not found."
    work = ctx.workdir / "audio-real"
    shutil.rmtree(work, ignore_errors=True)  # a fresh workspace: the default-input chain needs it
    t_extract, c_extract = _emocli(ctx, work, "extract-audio", str(speech), "-j", "2", "--force")
    t_spec, c_spec = _emocli(
        ctx, work, "build-spectrograms", "--train-subjects", "01-16", "-j", "2", "--force"
    )
    audio = work / "audio" / "ravdess_speech_16k.h5"
    spec = work / "spectrograms" / "ravdess_speech_16k.h5"
    with open_artifact(audio) as a:
        ea = a.attrs["summary"]
        subjects = sorted(set(a.column("subject").tolist()))
    with open_artifact(spec) as s:
        bs = s.attrs["summary"]
        stats = read_group(s, "stats")
        shape = s.h5["features"].shape
    stats_actors = sorted({i.rsplit("-", 1)[1] for i in stats["sample_id"]})
    gap = _librosa_gap(audio, spec, CHECKED_CLIPS)

    t_av, c_av = _emocli(ctx, work, "extract-audio", str(sample), "-j", "1", "--force")
    with open_artifact(work / "audio" / "ravdess_av_sample.h5") as a:
        av_summary = a.attrs["summary"]
        av_duration = float(a.column("duration")[0])
        av_peak = float(np.abs(a.column("waveforms/data")).max())

    per_class = ", ".join(f"{k} {v}" for k, v in ea["per_class"].items())
    return f"""## Audio: extract-audio and build-spectrograms

RAVDESS speech as shared here (actors {subjects[0]}-{subjects[-1]}, 16 kHz mono FLAC), through
the CLI, 2 workers, on the shared 2-core machine (other jobs were running, so the times are
upper bounds; `make bench` has the throughput figures):

```
{c_extract}
{c_spec}
{c_av}
```

| step | result |
|---|---|
| extract-audio, RAVDESS speech | {ea["clips"]} clips, **{ea["rejects"]} rejects**, {ea["total_seconds"]:.0f} s of audio, {ea["min_seconds"]:.2f}-{ea["max_seconds"]:.2f} s per clip (mean {ea["mean_seconds"]:.2f} s); {t_extract:.1f} s wall |
| classes | {per_class} |
| build-spectrograms | {bs["clips"]} spectrograms, features {shape[0]} x {shape[1]} x {shape[2]} float32 (padded to the longest clip, {bs["pad_seconds"]:.2f} s; {bs["padded"]} padded, {bs["cropped"]} cropped), every clip kept; {t_spec:.1f} s wall |
| global statistics | per mel band, from {bs["stats_rows"]} rows: {bs["stats_selection"]} (actors {stats_actors[0]}-{stats_actors[-1]}; 17-20 never enter them) |
| agreement with direct librosa calls | max abs difference {gap:.1e} over the first {CHECKED_CLIPS} clips (float64 `preemphasis`, `melspectrogram`, `power_to_db`, both normalisations, against the stored features) |
| extract-audio, `ravdess_av_sample` mp4 (H.264 + AAC) | {av_summary["clips"]} clip, {av_summary["rejects"]} rejects, audio track **{av_duration:.3f} s**, peak {av_peak:.2f}; {t_av:.1f} s wall |

Front end (defaults, as the thesis): pre-emphasis 0.97, 25 ms Hamming frames (400 samples =
n_fft) every 10 ms (160 samples), no centring: T = 1 + floor((samples - 400) / 160); 40 mel
bands (librosa Slaney filters, 0-8 kHz), `power_to_db` (ref 1, top_db 80), each spectrogram
standardised by its own mean and std, then per mel band by the training rows' statistics.
RAVDESS has no split folders, so `--train-subjects 01-16` restricts the statistics to the
actors that `finetune` trains on (its speaker-independent test actors are 17-20).
"""
