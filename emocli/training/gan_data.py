"""Data for the semi-supervised GAN: labelled and unlabelled faces artifacts as tensors.

* :func:`load_faces` reads a ``faces`` artifact's images (N, S, S) uint8, resized to the
  GAN's size, with its per-sample columns; :func:`load_inputs` reads pretrain-gan's inputs
  (the labelled artifact and the pooled unlabelled ones) into a :class:`GanInputs`.
* :func:`few_label_subset` keeps ``n`` labelled training images per class and returns the
  rest, whose labels are then ignored (they join the unlabelled pool).
* :func:`carve_dev_rows` holds out a fraction of the training rows as a dev set for model
  selection (grouped by subject, or movie, when known).
* :func:`grouped_folds` assigns subject- (or movie-) independent, class-stratified
  cross-validation folds; :func:`choose_groups` picks the grouping column.
* :func:`to_unit_range` maps uint8 grey images to the (B, 1, S, S) float tensors in [-1, 1]
  that the generator's ``tanh`` produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocli.artifacts import open_artifact
from emocli.contract.common import upstream_of
from emocli.errors import ArtifactError
from emocli.fields import from_attributes
from emocli.progress import ProgressHook, no_progress
from emocli.training.options import pick_groups

#: Rows read from an artifact at a time (bounded memory while resizing).
READ_BATCH = 2048


@dataclass
class FaceSet:
    """Faces of one artifact, resized.

    images : (N, S, S) uint8 grey; label : (N,) int64 (-1 = unlabelled);
    sample_id, split, subject, clip_id, group : (N,) str (``group``: e.g. SFEW's movie);
    classes : the artifact's class names.
    """

    images: np.ndarray
    label: np.ndarray
    sample_id: np.ndarray
    split: np.ndarray
    subject: np.ndarray
    clip_id: np.ndarray
    group: np.ndarray
    classes: list[str]
    source_size: int
    upstream: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def load_faces(path: Path | str, size: int) -> FaceSet:
    """Read a ``faces`` artifact, resizing its images to ``size`` x ``size``.

    Raises :class:`ArtifactError` if the artifact is not a faces artifact, has no images,
    or its images are not (N, S, S) grey.
    """
    from emocli.faces.geometry import resize_images  # cv2: only when faces are read

    with open_artifact(path, "faces") as art:
        if not art.has("images"):
            raise ArtifactError(f"{path}: this faces artifact has no 'images' column")
        shape = art.h5["images"].shape
        if len(shape) != 3:
            raise ArtifactError(
                f"{path}: images have shape {shape}; the GAN needs (N, S, S) grey faces "
                "(rerun preprocess-faces without colour)"
            )
        n = int(shape[0])
        images = np.empty((n, size, size), dtype=np.uint8)
        for start, rows in art.iter_rows("images", READ_BATCH):
            images[start : start + len(rows)] = resize_images(rows, size)

        def text(name: str) -> np.ndarray:
            return art.column(name) if art.has(name) else np.full(n, "", dtype=str)

        upstream = upstream_of(art)  # with the face preprocessing: predict rebuilds the faces
        label = art.column("label").astype(np.int64) if art.has("label") else np.full(n, -1)
        return FaceSet(
            images=images,
            label=label,
            sample_id=text("sample_id") if art.has("sample_id") else np.arange(n).astype(str),
            split=text("split"),
            subject=text("subject"),
            clip_id=text("clip_id"),
            group=text("group"),
            classes=art.classes,
            source_size=int(shape[1]),
            upstream=upstream,
        )


@dataclass
class GanInputs:
    """pretrain-gan's inputs, in the labelled artifact's row order (N rows).

    images : (N, S, S) uint8 grey faces at the GAN's size S; label : (N,) int64 (-1 =
    unlabelled); split, sample_id, subject, clip_id : (N,) str; group_by : the grouping column
    used (subject, group, clip_id or none) and groups its (N,) str values (``""`` = a row on
    its own); unlabelled : (U, S, S) uint8, the unlabelled artifacts' faces end to end;
    source : the labelled artifact's path; upstream : its preprocessing (the model's input
    contract).
    """

    classes: list[str]
    images: np.ndarray
    label: np.ndarray
    split: np.ndarray
    sample_id: np.ndarray
    subject: np.ndarray
    clip_id: np.ndarray
    group_by: str
    groups: np.ndarray
    unlabelled: np.ndarray
    source: str
    upstream: dict[str, Any]


def load_inputs(
    labelled: Path,
    unlabelled: Sequence[Path],
    size: int,
    group_by: str,
    need_unlabelled: bool,
    progress: ProgressHook = no_progress,
) -> GanInputs:
    """Read the labelled faces artifact and the unlabelled ones at ``size`` x ``size`` pixels.

    Raises :class:`ArtifactError` when the labelled artifact has no classes or no labelled
    row, or when ``need_unlabelled`` and the unlabelled artifacts hold no face.
    """
    progress("loading faces", 0, 1 + len(unlabelled))
    lab = load_faces(labelled, size)
    if not lab.classes:
        raise ArtifactError(f"{labelled}: the labelled faces artifact has no classes")
    if not (lab.label >= 0).any():
        raise ArtifactError(f"{labelled}: no labelled rows (every label is -1)")
    pools = []
    for i, path in enumerate(unlabelled, start=1):
        pools.append(load_faces(path, size).images)
        progress("loading faces", 1 + i, 1 + len(unlabelled))
    pool = np.concatenate(pools) if pools else np.zeros((0, size, size), np.uint8)
    if need_unlabelled and len(pool) == 0:
        raise ArtifactError(
            "no unlabelled faces: pass --unlabelled ARTIFACT (or --schedule supervised-only)"
        )
    progress("loading faces", 1 + len(unlabelled), 1 + len(unlabelled))
    group_name, groups = choose_groups(lab, group_by)
    # the labelled faces' columns, then the rest
    return from_attributes(
        GanInputs, lab, group_by=group_name, groups=groups, unlabelled=pool, source=str(labelled)
    )


def few_label_subset(
    labels: np.ndarray, rows: np.ndarray, per_class: int, n_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``per_class`` rows of each class among ``rows`` (seeded); return (kept, rest).

    A class with fewer rows keeps all of them. ``kept`` and ``rest`` are sorted index arrays.
    """
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    for k in range(n_classes):
        of_class = rows[labels[rows] == k]
        if len(of_class) > per_class:
            of_class = rng.choice(of_class, size=per_class, replace=False)
        kept.append(of_class)
    kept_rows = np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)
    rest = np.setdiff1d(rows, kept_rows)
    return kept_rows, rest


def carve_dev_rows(
    rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """About ``fraction`` of ``rows`` (training rows) held out as a dev set: sorted indices.

    With groups known (subjects, movies), whole groups move (no person on both sides);
    otherwise rows are drawn per class (stratified). Seeded.
    """
    if fraction <= 0 or len(rows) == 0:
        return np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    row_groups = groups[rows]
    if np.all(row_groups != ""):
        unique = np.unique(row_groups)
        rng.shuffle(unique)
        n_dev = max(1, round(fraction * len(unique)))
        dev_groups = set(unique[:n_dev].tolist())
        dev = rows[np.array([g in dev_groups for g in row_groups])]
    else:
        picks = []
        for k in np.unique(labels[rows]):
            of_class = rows[labels[rows] == k]
            picks.append(rng.choice(of_class, size=round(fraction * len(of_class)), replace=False))
        dev = np.concatenate(picks)
    return np.sort(dev).astype(np.int64)


def choose_groups(faces: FaceSet, group_by: str) -> tuple[str, np.ndarray]:
    """The grouping that keeps related rows together in dev splits and folds: ``auto`` takes
    the first of subject, group (e.g. SFEW's movie), clip_id that is filled in; ``none`` groups
    nothing. Returns (column name or ``"none"``, (N,) str groups, ``""`` = a row on its own)."""
    name, values = pick_groups(lambda column: getattr(faces, column), group_by)
    return name, values if values is not None else np.full(len(faces), "", dtype=str)


def grouped_folds(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(N,) int64 fold index in [0, k): group-independent (a subject, or a movie, is in one
    fold only), stratified by class as far as groups allow. Rows without a group (``""``)
    are grouped alone.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    groups = np.where(groups == "", np.char.add("row-", np.arange(len(groups)).astype(str)), groups)
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise ArtifactError(f"only {n_groups} groups (subjects): cannot make {k} independent folds")
    largest = int(np.bincount(labels).max()) if len(labels) else 0
    if largest < k:
        raise ArtifactError(
            f"every class has fewer than {k} labelled rows (the largest has {largest}): cannot "
            f"make {k} stratified folds; ask for {max(largest, 2)} folds or fewer, or add samples"
        )
    folds = np.full(len(labels), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
        folds[test] = fold
    return folds


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """(N, S, S) uint8 -> (N, 1, S, S) float32 in [-1, 1] (the range of the generator's tanh)."""
    return (images.astype(np.float32)[:, None] / 127.5) - 1.0


def from_unit_range(images: np.ndarray) -> np.ndarray:
    """(N, 1, S, S) or (N, S, S) float in [-1, 1] -> (N, S, S) uint8."""
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 4:
        arr = arr[:, 0]
    return np.clip(np.rint((arr + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int, pad: int = 2) -> np.ndarray:
    """Tile (N, S, S) uint8 images into one (rows*(S+pad)+pad, cols*(S+pad)+pad) uint8 grid."""
    n, s = images.shape[0], images.shape[1]
    rows = -(-n // columns)
    grid = np.zeros((rows * (s + pad) + pad, columns * (s + pad) + pad), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        y, x = pad + r * (s + pad), pad + c * (s + pad)
        grid[y : y + s, x : x + s] = images[i]
    return grid
