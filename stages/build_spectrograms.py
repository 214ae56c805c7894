"""build-spectrograms: normalised log-mel spectrograms of an ``audio`` artifact (thesis front end).

For every clip: zero-pad at the end to the longest clip (``--pad longest``) or pad /
centre-crop to a fixed duration (``--pad SECONDS``), pre-emphasis, 25 ms Hamming frames every
10 ms, 40 mel bands, log (dB, librosa), standardise by the spectrogram's own mean and std,
then by global statistics computed on the training rows only
(:func:`~emocli.training.splits.training_rows`): ``--train-split`` when the artifact has
splits, else every labelled row, optionally restricted to ``--train-subjects``.
``--stats-from OTHER.h5`` reuses another spectrogram artifact's front end and statistics
instead, so validation and test sets never leak into them. The front end and statistics
are stored (attr ``frontend``, group ``stats/``) for :func:`emocli.audio.logmel_features`.

Two passes over the waveforms, both in worker processes that read the audio artifact
themselves: moments of the training rows, then every spectrogram, streamed into the output.
The front end and each pass over a batch of clips are :mod:`emocli.audio.batch`'s; the
preview PNG is :class:`emocli.audio.SpectrogramPreview`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from emocli.artifacts import ArtifactWriter, fingerprint_artifact, open_artifact
from emocli.audio import (
    FrontEnd,
    Kernels,
    MomentAccumulator,
    NormStats,
    SpectrogramPreview,
    batch_features,
    batch_moments,
    frontend_from_artifact,
    frontend_of,
    kernels_for,
    padded_batch,
)
from emocli.errors import ArtifactError, InputError, ParamsError
from emocli.parallel import ordered_map
from emocli.progress import ProgressHook, no_progress
from emocli.stage import OutputSpec, StageInfo, StageResult, run_stage
from emocli.stage_params.spectrograms import BuildSpectrogramsParams, pad_seconds
from emocli.training.splits import training_rows

STAGE = StageInfo("build-spectrograms", 1)

#: Clips per worker task (16 clips of 5 s: ~80 MB of float64 intermediates).
BATCH_ROWS = 16
#: Columns of the audio artifact that index its waveforms: meaningless here, not copied.
_WAVEFORM_COLUMNS = ("offset", "length")
_WAVEFORMS = "waveforms/data"


# --------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class _Task:
    audio: str
    rows: tuple[tuple[int, int], ...]  # (offset, length) per clip
    frontend: FrontEnd
    kernels: Kernels  # built in the parent: workers never import librosa (seconds each)
    stats: NormStats | None  # None: return moments (pass 1)
    image_size: int = 0
    image_cmap: str = "viridis"


def _waveforms(task: _Task) -> tuple[np.ndarray, np.ndarray]:
    """(k, pad_samples) float32: the task's clips, read from the audio artifact, trimmed when
    the front end says so and padded/cropped; and (k,) int64 their lengths before padding."""
    first = min(offset for offset, _ in task.rows)
    last = max(offset + length for offset, length in task.rows)
    needed = sum(length for _, length in task.rows)
    try:
        with h5py.File(task.audio, "r") as h5:
            data = h5[_WAVEFORMS]
            # one read of the whole span when the clips lie (nearly) end to end: far fewer calls
            span = data[first:last] if last - first <= 2 * needed else None
            clips = [
                span[offset - first : offset - first + length]
                if span is not None
                else data[offset : offset + length]
                for offset, length in task.rows
            ]
    except (OSError, KeyError) as exc:
        raise ArtifactError(
            f"{task.audio}: waveforms cannot be read ({exc}); the file is corrupt: "
            "rerun extract-audio with --force"
        ) from exc
    return padded_batch(clips, task.frontend)


def _moments(task: _Task) -> MomentAccumulator:
    """Worker, pass 1: per-band moments of the task's per-spectrogram-normalised spectrograms."""
    return batch_moments(_waveforms(task)[0], task.frontend, task.kernels)


def _features(task: _Task) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Worker, pass 2: (k, n_mels, T) normalised features, (k, S, S, 3) images or None, and
    (k,) the clips' lengths before padding (after trimming), samples."""
    assert task.stats is not None
    waveforms, kept = _waveforms(task)
    features, images = batch_features(
        waveforms, task.frontend, task.kernels, task.stats, task.image_size, task.image_cmap
    )
    return features, images, kept


def _tasks(
    audio: Path,
    offsets: np.ndarray,
    lengths: np.ndarray,
    rows: Sequence[int],
    frontend: FrontEnd,
    stats: NormStats | None,
    params: BuildSpectrogramsParams,
) -> Iterator[_Task]:
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        yield _Task(
            str(audio),
            tuple((int(offsets[r]), int(lengths[r])) for r in chunk),
            frontend,
            kernels_for(frontend),
            stats,
            params.as_image,
            params.image_cmap,
        )


# --------------------------------------------------------------------------- the stage


def run(
    params: BuildSpectrogramsParams,
    audio: Path,
    output: Path,
    stats_from: Path | None = None,
    force: bool = False,
    progress: ProgressHook = no_progress,
) -> StageResult:
    """Write the ``spectrograms`` artifact ``output`` from the ``audio`` artifact ``audio``.

    stats_from : a spectrograms artifact whose front end (padded length included) and
        statistics are reused; this artifact's own rows then never enter any statistic.
    """
    audio = Path(audio)
    inputs = [fingerprint_artifact(audio, "audio", role="audio")]
    if stats_from is not None:
        inputs.append(fingerprint_artifact(stats_from, "spectrograms", role="stats_from"))

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        with open_artifact(audio, "audio") as art:
            return _build(writers["spectrograms"], art, audio, params, stats_from, progress)

    return run_stage(
        STAGE,
        params,
        inputs,
        {"spectrograms": OutputSpec(Path(output), "spectrograms")},
        build,
        force,
    )


def _build(
    writer: ArtifactWriter,
    art: Any,
    audio: Path,
    params: BuildSpectrogramsParams,
    stats_from: Path | None,
    progress: ProgressHook,
) -> dict[str, Any]:
    n = art.n_samples
    if n == 0:
        raise InputError(
            f"{audio} holds no clips (every input was rejected?); see `emocli inspect {audio}`"
        )
    sample_rate = int(art.attrs["sample_rate"])
    offsets, lengths = art.column("offset"), art.column("length")
    columns = {c: art.column(c) for c in art.columns() if c not in _WAVEFORM_COLUMNS}
    for name, default in (("split", ""), ("subject", ""), ("label", -1)):
        columns.setdefault(name, np.full(n, default))

    if stats_from is not None:
        frontend, stats = _reference(params, stats_from, sample_rate)
        selection = f"statistics of {stats_from}"
        stats_ids = np.array([], dtype=object)
    else:
        seconds = pad_seconds(params.pad)
        pad_samples = int(lengths.max()) if seconds is None else int(round(seconds * sample_rate))
        frontend = frontend_of(params, sample_rate, pad_samples)
        if frontend.global_norm == "none":
            mask, selection = np.zeros(n, dtype=bool), "none (no global normalisation)"
        else:
            mask, selection = training_rows(
                columns["split"],
                columns["label"],
                columns["subject"],
                params.train_split,
                params.train_subjects,
            )
        rows = np.flatnonzero(mask).tolist()
        acc = MomentAccumulator(frontend.n_mels)
        task = "spectrogram statistics"
        progress(task, 0, len(rows))
        done = 0
        tasks = _tasks(audio, offsets, lengths, rows, frontend, None, params)
        batches = -(-len(rows) // BATCH_ROWS)
        for part in ordered_map(_moments, tasks, params.workers, chunksize=1, total=batches):
            acc.merge(part)
            done = min(len(rows), done + BATCH_ROWS)
            progress(task, done, len(rows))
        stats = acc.stats(frontend.global_norm)
        stats_ids = columns["sample_id"][mask] if "sample_id" in columns else np.array([])

    n_mels, n_frames = frontend.n_mels, frontend.n_frames
    writer.set_classes(art.classes)
    writer.create_column("features", (n_mels, n_frames), np.float32)
    if params.as_image:
        writer.create_column("images", (params.as_image, params.as_image, 3), np.uint8)
    preview = SpectrogramPreview(art.classes, columns["label"])
    task = "spectrograms"
    progress(task, 0, n)
    done = 0
    tasks = _tasks(audio, offsets, lengths, range(n), frontend, stats, params)
    batches = -(-n // BATCH_ROWS)
    kept_parts = []
    for features, images, kept in ordered_map(_features, tasks, params.workers, 1, total=batches):
        kept_parts.append(kept)
        batch: dict[str, Any] = {"features": features}
        if images is not None:
            batch["images"] = images
        writer.append(batch)
        preview.offer(done, features)
        done += len(features)
        progress(task, done, n)
    for name, values in columns.items():
        writer.add_column(name, values)

    writer.write_group(
        "stats",
        {"mean": stats.mean, "std": stats.std, "sample_id": np.asarray(stats_ids, dtype=object)},
        {"mode": frontend.global_norm, "selection": selection, "rows": len(stats_ids)},
    )
    writer.set_attr("frontend", frontend.to_dict())
    writer.set_attr("sample_rate", sample_rate)
    writer.set_attr("n_frames", n_frames)
    preview.save(writer.sidecar(f"{Path(writer.path).stem}.png"), frontend)

    target = frontend.pad_samples
    kept = np.concatenate(kept_parts) if kept_parts else np.zeros(0, np.int64)
    return {
        "clips": n,
        "n_mels": n_mels,
        "n_frames": n_frames,
        "pad_seconds": round(target / sample_rate, 4),
        "padded": int(np.sum(kept < target)),
        "cropped": int(np.sum(kept > target)),
        "stats_selection": selection,
        "stats_rows": len(stats_ids),
        "global_norm": frontend.global_norm,
        "images": params.as_image,
    }


def _reference(
    params: BuildSpectrogramsParams, path: Path, sample_rate: int
) -> tuple[FrontEnd, NormStats]:
    """Front end and statistics of the ``--stats-from`` artifact, checked against ``params``."""
    with open_artifact(path, "spectrograms") as ref:
        if "frontend" not in ref.attrs or not ref.has("stats/mean"):
            raise ArtifactError(f"{path}: no front end or statistics stored; rebuild it")
        frontend, stats = frontend_from_artifact(ref)
    seconds = pad_seconds(params.pad)
    wanted = frontend_of(params, sample_rate, frontend.pad_samples)
    if seconds is not None and int(round(seconds * sample_rate)) != frontend.pad_samples:
        raise ParamsError(
            f"--pad {params.pad} s differs from the {frontend.pad_samples / sample_rate:g} s of "
            f"{path}; leave --pad as 'longest' to reuse its length"
        )
    differ = {
        key: (value, getattr(frontend, key))
        for key, value in wanted.to_dict().items()
        if getattr(frontend, key) != value
    }
    if differ:
        listing = ", ".join(f"{k}: {a!r} here, {b!r} there" for k, (a, b) in differ.items())
        raise ParamsError(
            f"front end differs from --stats-from {path} ({listing}); use the same options"
        )
    return frontend, stats


def describe(result: StageResult) -> list[str]:
    """The spectrograms' shape, padding and where the normalisation statistics came from."""
    s = result.summary
    lines = [
        f"{s['clips']} spectrograms of {s['n_mels']} mel bands x {s['n_frames']} frames "
        f"({s['pad_seconds']:.2f} s: {s['padded']} padded, {s['cropped']} cropped); "
        f"{s['global_norm']} statistics from {s['stats_selection']}"
        + (f" ({s['stats_rows']} rows)" if s["stats_rows"] else "")
    ]
    if s["images"]:
        lines.append(f"images: {s['images']}x{s['images']}x3 uint8")
    return lines
