"""build-spectrograms: normalised log-mel spectrograms of an ``audio`` artifact (the thesis's front end).

For every clip: zero-pad at the end to the longest clip (``--pad longest``) or pad /
centre-crop to a fixed duration (``--pad SECONDS``), pre-emphasis, 25 ms Hamming frames every
10 ms, 40 mel bands, log (dB, librosa), standardise by the spectrogram's own mean and std,
then by global statistics computed on the training rows only (:func:`training_rows`):
``--train-split`` when the artifact has splits, else every labelled row, optionally
restricted to ``--train-subjects``. ``--stats-from OTHER.h5`` reuses another spectrogram
artifact's front end and statistics instead, so validation and test sets never leak into
them. The front end and statistics are stored (attr ``frontend``, group ``stats/``) for
:func:`emocli.audio.logmel_features`.

Two passes over the waveforms, both in worker processes that read the audio artifact
themselves: moments of the training rows, then every spectrogram, streamed into the output.
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
    apply_stats,
    frame_lengths,
    frontend_from_artifact,
    kernels_for,
    pad_or_crop,
    spectrogram_image,
    spectrograms_of,
    speech_span,
)
from emocli.errors import ArtifactError, InputError, ParamsError
from emocli.parallel import ordered_map
from emocli.progress import ProgressHook, no_progress
from emocli.stage import OutputSpec, StageInfo, StageResult, run_stage
from emocli.stage_params.spectrograms import BuildSpectrogramsParams, pad_seconds
from emocli.training.options import subject_mask

STAGE = StageInfo("build-spectrograms", 1)

#: Clips per worker task (16 clips of 5 s: ~80 MB of float64 intermediates).
BATCH_ROWS = 16
#: Spectrograms per class drawn in the preview PNG.
PREVIEW_PER_CLASS = 4
#: Columns of the audio artifact that index its waveforms: meaningless here, not copied.
_WAVEFORM_COLUMNS = ("offset", "length")
_WAVEFORMS = "waveforms/data"


def frontend_of(params: BuildSpectrogramsParams, sample_rate: int, pad_samples: int) -> FrontEnd:
    """The :class:`~emocli.audio.FrontEnd` of ``params`` at ``sample_rate``."""
    win, hop = frame_lengths(sample_rate, params.win_ms / 1000, params.hop_ms / 1000)
    n_fft = params.n_fft or win
    if win < 1 or hop < 1:
        raise ParamsError(f"--win-ms/--hop-ms are shorter than one sample at {sample_rate} Hz")
    if n_fft < win:
        raise ParamsError(f"--n-fft ({n_fft}) must be at least the window ({win} samples)")
    if params.fmax and params.fmax > sample_rate / 2:
        raise ParamsError(f"--fmax {params.fmax} Hz is above half the sample rate {sample_rate}")
    return FrontEnd(
        sample_rate=sample_rate,
        pad_samples=pad_samples if params.center else max(pad_samples, n_fft),
        preemphasis=params.preemphasis,
        n_fft=n_fft,
        win_length=win,
        hop_length=hop,
        window=params.window,
        n_mels=params.n_mels,
        fmin=params.fmin,
        fmax=params.fmax or None,
        top_db=params.top_db or None,
        center=params.center,
        global_norm=params.global_norm,
        trim_db=params.trim_db or None,
        clip_norm=params.clip_norm,
    )


# --------------------------------------------------------------------------- training rows


def training_rows(
    split: np.ndarray,
    label: np.ndarray,
    subject: np.ndarray,
    train_split: str = "train",
    train_subjects: str = "",
) -> tuple[np.ndarray, str]:
    """The rows whose spectrograms give the global statistics, and how they were chosen.

    With splits recorded: rows of ``train_split``. Without: every labelled row (every row if
    none is labelled). ``train_subjects`` further keeps only those subjects.
    Raises :class:`ParamsError` when the selection is empty, saying what is available.
    """
    if np.any(split != ""):
        mask = split == train_split
        if not mask.any():
            present = sorted(set(split.tolist()) - {""})
            raise ParamsError(
                f"no rows with split {train_split!r} (splits present: {present}); "
                "choose --train-split"
            )
        how = f"split == {train_split!r}"
    elif np.any(label >= 0):
        mask, how = label >= 0, "all labelled rows (no split recorded)"
    else:
        mask, how = np.ones(len(split), dtype=bool), "all rows (no split, no labels)"
    if train_subjects:
        if not np.any(subject != ""):
            raise ParamsError("--train-subjects given but the artifact records no subjects")
        mask = mask & subject_mask(subject, train_subjects)
        if not mask.any():
            present = sorted(set(subject.tolist()) - {""})
            raise ParamsError(
                f"--train-subjects {train_subjects!r} selects no row (subjects: {present})"
            )
        how += f" and subject in {train_subjects}"
    return mask, how


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
    out = np.zeros((len(task.rows), task.frontend.pad_samples), np.float32)
    kept = np.zeros(len(task.rows), np.int64)
    first = min(offset for offset, _ in task.rows)
    last = max(offset + length for offset, length in task.rows)
    needed = sum(length for _, length in task.rows)
    try:
        with h5py.File(task.audio, "r") as h5:
            data = h5[_WAVEFORMS]
            # one read of the whole span when the clips lie (nearly) end to end: far fewer calls
            span = data[first:last] if last - first <= 2 * needed else None
            for k, (offset, length) in enumerate(task.rows):
                clip = (
                    span[offset - first : offset - first + length]
                    if span is not None
                    else data[offset : offset + length]
                )
                speech = speech_span(clip, task.frontend)
                kept[k] = speech.shape[-1]
                out[k] = pad_or_crop(speech, task.frontend.pad_samples)
    except (OSError, KeyError) as exc:
        raise ArtifactError(
            f"{task.audio}: waveforms cannot be read ({exc}); the file is corrupt: "
            "rerun extract-audio with --force"
        ) from exc
    return out, kept


def _moments(task: _Task) -> MomentAccumulator:
    """Worker, pass 1: per-band moments of the task's per-spectrogram-normalised spectrograms."""
    acc = MomentAccumulator(task.frontend.n_mels)
    acc.add(spectrograms_of(_waveforms(task)[0], task.frontend, task.kernels))
    return acc


def _features(task: _Task) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Worker, pass 2: (k, n_mels, T) normalised features, (k, S, S, 3) images or None, and
    (k,) the clips' lengths before padding (after trimming), samples."""
    assert task.stats is not None
    waveforms, kept = _waveforms(task)
    spectrograms = spectrograms_of(waveforms, task.frontend, task.kernels)
    features = apply_stats(spectrograms, task.stats)
    images = None
    if task.image_size:
        images = np.stack(
            [spectrogram_image(f, task.image_size, task.image_cmap) for f in features]
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
    preview = _Preview(art.classes, columns["label"])
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


class _Preview:
    """Keeps the first few spectrograms of each class and draws them in a grid (PNG)."""

    def __init__(self, classes: Sequence[str], labels: np.ndarray) -> None:
        self.classes = list(classes)
        self.labels = labels
        self.kept: dict[int, list[np.ndarray]] = {}

    def offer(self, start: int, features: np.ndarray) -> None:
        for k, spectrogram in enumerate(features):
            label = int(self.labels[start + k])
            kept = self.kept.setdefault(label, [])
            if len(kept) < PREVIEW_PER_CLASS:
                kept.append(spectrogram.copy())

    def save(self, path: Path, frontend: FrontEnd) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        labels = sorted(self.kept)
        rows = max(1, len(labels))
        fig = Figure(figsize=(3.0 * PREVIEW_PER_CLASS, 1.6 * rows), dpi=80)
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, PREVIEW_PER_CLASS, squeeze=False)
        seconds = frontend.pad_samples / frontend.sample_rate
        for r, label in enumerate(labels):
            name = self.classes[label] if 0 <= label < len(self.classes) else "unlabelled"
            for c in range(PREVIEW_PER_CLASS):
                ax = axes[r][c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(self.kept[label]):
                    ax.imshow(
                        self.kept[label][c],
                        origin="lower",
                        aspect="auto",
                        cmap="viridis",
                        extent=(0.0, seconds, 0.0, float(frontend.n_mels)),
                    )
                else:
                    ax.axis("off")
            axes[r][0].set_ylabel(name)
        fig.suptitle(
            f"log-mel spectrograms ({frontend.n_mels} bands x {frontend.n_frames} frames, "
            f"{seconds:.2f} s), normalised"
        )
        fig.tight_layout()
        fig.savefig(path, format="png")
