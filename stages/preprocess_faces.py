"""preprocess-faces: raw face images / video clips -> one ``faces`` artifact of grey crops.

Reads any of the face layouts of :mod:`emocli.datasets.detect` (SFEW, AFEW, CK+, FER2013,
RAVDESS video, folder-per-class, unlabelled), runs the per-image pipeline of
:mod:`emocli.faces` (methodology 1, then 2) in worker processes, and streams the results,
in input order and in chunks, into the artifact: peak memory does not grow with the number
of images. Video clips are sampled at ``fps`` and follow the main person's face track; each
kept frame is a row carrying its clip id and frame index. Every input that yields no face
(unreadable, empty, too small, no face, no decodable frame ...) is listed in ``rejects/``
with its reason; nothing is dropped silently. A contact sheet of random faces per class
(``<output stem>.preview.png``) is written next to the artifact.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.artifacts import ArtifactWriter, fingerprint_raw
from emocli.datasets.common import MediaItem, require_folder
from emocli.datasets.detect import FaceSource, read_face_source
from emocli.faces.detect import check_cascades
from emocli.faces.params import DETECTED_STATUSES, STATUS_KEPT_WHOLE, FaceParams
from emocli.labels import UNLABELLED
from emocli.parallel import ordered_map, resolve_workers
from emocli.progress import ProgressHook, no_progress
from emocli.stage import OutputSpec, StageInfo, StageResult, run_stage
from emocli.stage_params.faces import DEFAULT_FPS, PreprocessFacesParams

if TYPE_CHECKING:
    from rich.table import Table

STAGE = StageInfo("preprocess-faces", 1)

#: Rows buffered before they are appended to the artifact (= one HDF5 chunk of 64x64 faces).
ROWS_PER_FLUSH = 256
#: Faces per class on the preview contact sheet, and the seed of their random choice.
PREVIEW_PER_CLASS = 10
PREVIEW_SEED = 0
#: Row name of unlabelled faces on the preview.
UNLABELLED_NAME = "unlabelled"
#: Reject reason of a clip whose container opens but yields no frame.
REASON_NO_FRAMES = "no decodable frames"
_TEXT_COLUMNS = ("sample_id", "split", "subject", "clip_id", "group", "status")
#: Reject reasons shown in the terminal summary (:func:`describe`).
SHOWN_REASONS = 6


def face_params(params: PreprocessFacesParams, source: FaceSource) -> FaceParams:
    """The per-image parameters of ``params`` for ``source``, with ``on_miss`` resolved."""
    on_miss = params.on_miss
    if on_miss == "auto":
        on_miss = "keep" if source.precropped and source.media != "video" else "reject"
    return FaceParams.from_dict(params.to_dict(), on_miss=on_miss)


# --------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class FaceTask:
    """One input for a worker: a file (image or clip) or a FER2013 CSV row's pixels."""

    path: str
    media: str
    face: FaceParams
    fps: float = DEFAULT_FPS
    max_frames: int = 0
    pixels: str = ""


#: A worker's answer: ``(frame index or -1, face (S, S) uint8 or None, status or reason)``.
Outcome = list[tuple[int, np.ndarray | None, str]]


def process_item(task: FaceTask) -> Outcome:
    """Worker: one image -> one face, one clip -> one face per sampled frame.

    Never raises for bad input: a failure comes back as ``(frame, None, reason)``.
    """
    from emocli.datasets.fer2013 import pixels_to_image
    from emocli.faces import decode_image, preprocess_frames, preprocess_image
    from emocli.video import VideoDecodeError, iter_frames

    try:
        if task.media == "video":
            indices: list[int] = []

            def images() -> Iterator[np.ndarray]:  # frames streamed: a long clip fits in memory
                for frame in iter_frames(task.path, task.fps, task.max_frames, colour="grey"):
                    indices.append(frame.index)
                    yield frame.image

            try:
                results = preprocess_frames(images(), task.face)
            except VideoDecodeError as exc:
                return [(-1, None, exc.reason)]
            if not indices:
                return [(-1, None, REASON_NO_FRAMES)]
            return [(i, r.face, r.status) for i, r in zip(indices, results, strict=True)]
        if task.media == "pixels":
            grey = pixels_to_image(task.pixels)
            if grey is None:
                return [(-1, None, "bad pixels (not a square of integers 0..255)")]
        else:
            grey, reason = decode_image(task.path)
            if grey is None:
                return [(-1, None, reason)]
        face, status = preprocess_image(grey, task.face)
        return [(-1, face, status)]
    except Exception as exc:  # one broken input must not stop the dataset
        return [(-1, None, f"unexpected error: {type(exc).__name__}: {exc}")]


# --------------------------------------------------------------------------- stage


def run(
    params: PreprocessFacesParams,
    source: Path,
    output: Path,
    force: bool = False,
    progress: ProgressHook = no_progress,
) -> StageResult:
    """Preprocess every face of the dataset at ``source`` into the ``faces`` artifact ``output``.

    Raises :class:`~emocli.errors.InputError` for a missing or empty input, or one with no
    sample in the expected layout.
    """
    source = require_folder(Path(source), "input")
    check_cascades(params)
    inputs = [fingerprint_raw(source, role="source")]

    def build(writers: dict[str, ArtifactWriter]) -> dict[str, Any]:
        dataset = read_face_source(
            source,
            params.format,
            ck_peak_fraction=params.ck_peak_fraction,
            ck_neutral=params.ck_neutral,
            small_side=params.small_side,
            class_list=params,
        )
        items = dataset.items[: params.limit] if params.limit else dataset.items
        face = face_params(params, dataset)
        writer = writers["faces"]
        writer.set_classes(dataset.classes)
        writer.set_attr("size", params.size)
        writer.set_attr("source_format", dataset.format)
        writer.set_attr("source_layout", dataset.layout)
        writer.set_attr("media", dataset.media)
        writer.set_attr("preprocessing", face.to_dict())
        writer.set_attr("canonical_eyes", [list(p) for p in face.canonical_eyes])
        sink = _FaceSink(writer, dataset, face, preview=params.preview)
        for reject in dataset.rejects:
            sink.reject_listed(*reject)
        workers = resolve_workers(params.workers)
        outcomes = ordered_map(
            process_item,
            _tasks(dataset, items, face, params),
            workers=workers,
            chunksize=1 if dataset.media == "video" else 8,
            total=len(items),
        )
        task_name = "preprocessing faces"
        progress(task_name, 0, len(items))
        with _cv2_threads(1 if workers == 1 else None):
            for done, (item, outcome) in enumerate(zip(items, outcomes, strict=True), 1):
                sink.add(item, outcome)
                progress(task_name, done, len(items))
        sink.close()
        return {**sink.summary(len(items)), "warnings": dataset.warnings}

    return run_stage(
        STAGE, params, inputs, {"faces": OutputSpec(Path(output), "faces")}, build, force
    )


def describe(result: StageResult) -> list[str | Table]:
    """What the terminal shows of a run: faces kept and rejected, a table of the inputs per
    split and class, how the faces were made, the commonest reject reasons."""
    from emocli.render import count_table

    s = result.summary
    status = ", ".join(f"{name} {n}" for name, n in s.get("status", {}).items())
    lines: list[str | Table] = [
        f"{s['faces']} faces from {s['inputs']} inputs ({s['format']}, {s['layout']}), "
        f"{s['rejected']} rejected; on miss: {s['on_miss']}, align: {s['align']}",
        count_table(
            "inputs per split and class", ("split", "class"), TABLE_COUNTS, s.get("table", [])
        ),
        f"  how the faces were made: {status or 'none'}",
    ]
    for reason, count in list(s.get("reasons", {}).items())[:SHOWN_REASONS]:
        lines.append(f"  rejected: {count} x {reason}")
    if s["rejected"]:
        where = result.outputs["faces"]
        lines.append(f"  (each rejected input and its reason: group rejects/ of {where})")
    return lines


def _tasks(
    dataset: FaceSource, items: list[MediaItem], face: FaceParams, params: PreprocessFacesParams
) -> Iterator[FaceTask]:
    """Worker tasks, lazily (a FER2013 CSV's pixels are streamed, never all in memory)."""
    if dataset.media == "pixels" and dataset.csv is not None:
        from emocli.datasets.fer2013 import iter_fer2013_pixels

        pixels = iter_fer2013_pixels(dataset.csv, (i.row for i in items))
        for item, text in zip(items, pixels, strict=True):
            yield FaceTask(str(item.path), "pixels", face, pixels=text)
        return
    for item in items:
        yield FaceTask(str(item.path), dataset.media, face, params.fps, params.max_frames)


@contextlib.contextmanager
def _cv2_threads(threads: int | None) -> Iterator[None]:
    """With one worker, OpenCV runs single-threaded too (``--workers 1`` means one core)."""
    if threads is None:
        yield
        return
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


#: The summary table's columns beyond read / kept / rejected.
STATUS_COLUMNS = ("detected", "eye-aligned", "kept-whole")
#: The counts of the summary's table of inputs per split and class.
TABLE_COUNTS = ("read", "kept", "rejected", *STATUS_COLUMNS)


def status_columns(status: str) -> list[str]:
    """Which of :data:`STATUS_COLUMNS` a kept face's status counts in: ``detected`` (a face
    detector found it), ``eye-aligned`` (methodology 2 applied), ``kept-whole`` (no face
    found, whole image kept)."""
    columns = []
    if status in DETECTED_STATUSES:
        columns.append("detected")
    if status.endswith("+eyes"):
        columns.append("eye-aligned")
    if status.startswith(STATUS_KEPT_WHOLE):
        columns.append("kept-whole")
    return columns


class _FaceSink:
    """Streams faces and their per-sample columns into the writer; counts for the summary;
    keeps a bounded random sample per class for the preview."""

    def __init__(
        self, writer: ArtifactWriter, dataset: FaceSource, face: FaceParams, preview: bool
    ) -> None:
        from emocli.faces.sheet import ClassSampler

        self.writer = writer
        self.dataset = dataset
        self.face = face
        self.class_index = {name: k for k, name in enumerate(dataset.classes)}
        self.preview = ClassSampler(PREVIEW_PER_CLASS, PREVIEW_SEED) if preview else None
        writer.create_column("images", (face.size, face.size), np.uint8)
        for name in _TEXT_COLUMNS:
            writer.create_column(name, (), str)
        writer.create_column("label", (), np.int64)
        writer.create_column("frame", (), np.int64)
        self.buffer: list[tuple[MediaItem, str, int, np.ndarray, str]] = []
        self.rejects: list[tuple[str, str, str]] = []
        self.kept = 0
        self.status: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.table: dict[tuple[str, str], Counter[str]] = {}

    def _count(self, item: MediaItem, key: str) -> None:
        row = self.table.setdefault((item.split, item.label), Counter())
        row[key] += 1

    def add(self, item: MediaItem, outcome: Outcome) -> None:
        video = self.dataset.media == "video"
        for frame, face, status in outcome:
            sample_id = f"{item.sample_id}/{frame:05d}" if video and frame >= 0 else item.sample_id
            self._count(item, "read")
            if face is None:
                self.rejects.append((sample_id, str(item.path), status))
                self.reasons[status.split(":")[0]] += 1
                self._count(item, "rejected")
                continue
            self.buffer.append((item, sample_id, frame, face, status))
            self.status[status] += 1
            self._count(item, "kept")
            for column in status_columns(status):
                self._count(item, column)
            if self.preview is not None:
                self.preview.add(item.label or UNLABELLED_NAME, face)
            if len(self.buffer) >= ROWS_PER_FLUSH:
                self.flush()

    def reject_listed(self, sample_id: str, path: str, reason: str) -> None:
        """An input refused by the reader (bad name or label), before any decoding."""
        self.rejects.append((sample_id, path, reason))
        self.reasons[reason.split(":")[0]] += 1

    def flush(self) -> None:
        if not self.buffer:
            return
        rows = self.buffer
        self.writer.append(
            {
                "images": np.stack([r[3] for r in rows]),
                "sample_id": [r[1] for r in rows],
                "split": [r[0].split for r in rows],
                "subject": [r[0].subject for r in rows],
                "clip_id": [r[0].clip_id for r in rows],
                "group": [r[0].group for r in rows],
                "status": [r[4] for r in rows],
                "label": np.array(
                    [self.class_index.get(r[0].label, UNLABELLED) for r in rows], dtype=np.int64
                ),
                "frame": np.array([r[2] for r in rows], dtype=np.int64),
            }
        )
        self.kept += len(rows)
        self.buffer = []

    def close(self) -> None:
        """Write the last rows, the rejects and the preview."""
        self.flush()
        columns = list(zip(*self.rejects, strict=True)) or [(), (), ()]
        self.writer.write_group(
            "rejects",
            {
                name: np.array(list(values), dtype=object)
                for name, values in zip(("sample_id", "path", "reason"), columns, strict=True)
            },
        )
        if self.preview is not None and self.kept:
            import cv2

            from emocli.faces.sheet import contact_sheet

            order = [*self.dataset.classes, UNLABELLED_NAME]
            sheet = contact_sheet(self.preview.rows(order), PREVIEW_PER_CLASS)
            ok, png = cv2.imencode(".png", sheet)
            if ok:
                name = f"{self.writer.path.stem}.preview.png"
                self.writer.sidecar(name).write_bytes(png.tobytes())

    def summary(self, n_inputs: int) -> dict[str, Any]:
        table = [
            {
                "split": split,
                "class": label or UNLABELLED_NAME,
                **{k: counts[k] for k in TABLE_COUNTS},
            }
            for (split, label), counts in sorted(self.table.items())
        ]
        return {
            "format": self.dataset.format,
            "layout": self.dataset.layout,
            "media": self.dataset.media,
            "on_miss": self.face.on_miss,
            "align": self.face.align,
            "size": self.face.size,
            "inputs": n_inputs,
            "faces": self.kept,
            "rejected": len(self.rejects),
            "status": dict(self.status.most_common()),
            "reasons": dict(self.reasons.most_common()),
            "classes": list(self.dataset.classes),
            "table": table,
        }
