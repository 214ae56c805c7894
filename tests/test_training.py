"""Training building blocks: augmentation, tables and sources, group-aware splits, the Lightning
loop (fast_dev_run on tiny faces and spectrograms, NaN guard, determinism).

Also home of the tiny-artifact builders the other finetune tests import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from emocli.artifacts import InputRef, open_artifact
from emocli.errors import ParamsError, TrainingError
from emocli.stage import OutputSpec, StageInfo, run_stage
from emocli.training.augment import AugmentConfig, augment_batch, preset
from emocli.training.datamodule import (
    H5Source,
    MemorySource,
    RowsDataset,
    channel_stats,
    open_source,
    read_table,
)
from emocli.training.splits import (
    balanced_class_weights,
    holdout_split,
    kfold_splits,
    resolve_groups,
)

CLASSES = ["angry", "happy", "sad"]


@dataclass(frozen=True)
class _FakeParams:
    seed: int = 0


def _columns(n: int, per_subject: int, splits: Callable[[int], list[str]] | None) -> dict:
    return {
        "label": (np.arange(n) % len(CLASSES)).astype(np.int64),
        "sample_id": [f"s{i:04d}" for i in range(n)],
        "subject": [f"S{i // per_subject:03d}" for i in range(n)],
        "clip_id": [f"c{i // 2:04d}" for i in range(n)],
        "split": splits(n) if splits else [""] * n,
    }


def make_faces(
    path: Path,
    n_subjects: int = 6,
    per_subject: int = 8,
    size: int = 16,
    splits: Callable[[int], list[str]] | None = None,
    seed: int = 0,
    classes: list[str] | None = None,
) -> Path:
    """A tiny ``faces`` artifact: the class is a bright vertical band (learnable in a few steps).

    images : (N, size, size) uint8; subjects S000.. (``per_subject`` rows each).
    """
    rng = np.random.default_rng(seed)
    names = classes or CLASSES

    def build(writers: dict) -> dict:
        w = writers["faces"]
        w.set_classes(names)
        n = n_subjects * per_subject
        cols = _columns(n, per_subject, splits)
        cols["label"] = cols["label"] % len(names)
        images = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
        band = size // len(names)
        for i, label in enumerate(cols["label"]):
            images[i, :, label * band : (label + 1) * band] += 150
        w.add_column("images", images)
        for name, values in cols.items():
            w.add_column(name, values)
        w.add_column("frame", np.full(n, -1, np.int64))
        w.add_column("status", ["face"] * n)
        w.set_attr("size", size)
        return {"faces": n}

    run_stage(
        StageInfo("preprocess-faces", 1),
        _FakeParams(seed),
        [InputRef(f"raw-{seed}", f"fp-{seed}-{size}", "folder")],
        {"faces": OutputSpec(Path(path), "faces")},
        build,
        force=True,
    )
    return Path(path)


def make_spectrograms(
    path: Path,
    n_subjects: int = 6,
    per_subject: int = 6,
    n_mels: int = 16,
    n_frames: int = 24,
    images: int = 0,
    nan_row: int = -1,
    splits: Callable[[int], list[str]] | None = None,
) -> Path:
    """A tiny ``spectrograms`` artifact: features (N, n_mels, n_frames) float32, class = a loud
    band of mel bins; optional rendered ``images`` (N, S, S, 3) uint8; ``nan_row`` poisons a row."""
    rng = np.random.default_rng(1)

    def build(writers: dict) -> dict:
        w = writers["spectrograms"]
        w.set_classes(CLASSES)
        n = n_subjects * per_subject
        cols = _columns(n, per_subject, splits)
        feats = rng.normal(0, 1, (n, n_mels, n_frames)).astype(np.float32)
        band = n_mels // len(CLASSES)
        for i, label in enumerate(cols["label"]):
            feats[i, label * band : (label + 1) * band] += 3
        if nan_row >= 0:
            feats[nan_row] = np.nan
        w.add_column("features", feats)
        if images:
            w.add_column("images", rng.integers(0, 255, (n, images, images, 3)).astype(np.uint8))
        for name, values in cols.items():
            w.add_column(name, values)
        w.write_group("stats", {"mean": np.zeros(1), "std": np.ones(1)})
        return {"clips": n}

    run_stage(
        StageInfo("build-spectrograms", 1),
        _FakeParams(nan_row),
        [InputRef("audio", f"fp-{nan_row}-{images}", "audio")],
        {"spectrograms": OutputSpec(Path(path), "spectrograms")},
        build,
        force=True,
    )
    return Path(path)


# --------------------------------------------------------------------------- augmentation


def test_augment_keeps_shape_and_range_and_is_seeded() -> None:
    x = torch.rand(8, 1, 16, 16)
    cfg = preset("strong")
    assert cfg is not None
    torch.manual_seed(3)
    a = augment_batch(x, cfg)
    torch.manual_seed(3)
    b = augment_batch(x, cfg)
    assert a.shape == x.shape
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert torch.equal(a, b)
    assert not torch.allclose(a, x)


def test_flip_only_mirrors_or_keeps_each_image() -> None:
    x = torch.rand(16, 1, 8, 8)
    cfg = AugmentConfig(brightness=(1.0, 1.0), shear=0.0, zoom=0.0, hflip=True)
    out = augment_batch(x, cfg)
    for i in range(len(x)):
        same = torch.allclose(out[i], x[i], atol=1e-5)
        mirrored = torch.allclose(out[i], torch.flip(x[i], dims=[2]), atol=1e-5)
        assert same or mirrored
    assert preset("none") is None
    with pytest.raises(ValueError):
        preset("wild")


def test_presets_build_on_each_other() -> None:
    light, strong = preset("light"), preset("strong")
    assert light is not None and strong is not None
    assert (strong.rotation, strong.shift, strong.zoom) == (light.rotation, light.shift, light.zoom)
    assert strong.erase > 0 and light.erase == 0 and not light.freq_masks
    specaugment, speech = preset("specaugment"), preset("speech")
    assert specaugment is not None and speech is not None
    assert not specaugment.geometric and specaugment.brightness == (1.0, 1.0)
    assert replace(speech, stretch=0.0, band_shift=0.0) == specaugment


def test_hardware_flags_and_trainer_arguments() -> None:
    from emocli.training.trainer import Hardware

    hw = Hardware(accelerator="gpu", devices="0,1", num_nodes=2, strategy="ddp")
    assert hw.flags == "--accelerator gpu --devices 0,1 --num-nodes 2 --strategy ddp"
    assert hw.trainer_kwargs() == {
        "accelerator": "gpu",
        "devices": [0, 1],
        "num_nodes": 2,
        "strategy": "ddp",
    }
    assert Hardware().trainer_kwargs()["devices"] == "auto"


def test_brightness_only_darkens_within_range() -> None:
    x = torch.full((32, 1, 4, 4), 0.8)
    out = augment_batch(x, AugmentConfig(shear=0.0, zoom=0.0, hflip=False))
    factors = out[:, 0, 0, 0] / 0.8
    assert float(factors.min()) >= 0.5 - 1e-6 and float(factors.max()) <= 1.0 + 1e-6


# --------------------------------------------------------------------------- tables, sources, splits


def test_read_table_and_sources_agree(tmp_path: Path) -> None:
    path = make_faces(tmp_path / "f.h5", n_subjects=3, per_subject=4, size=8)
    table = read_table(path)
    assert (table.kind, table.column, table.layout, table.shape) == (
        "faces",
        "images",
        "NHW",
        (1, 8, 8),
    )
    assert table.classes == CLASSES and len(table) == 12
    memory = open_source(table, 1 << 30)
    lazy = open_source(table, 0)
    assert isinstance(memory, MemorySource) and isinstance(lazy, H5Source)
    rows = np.array([7, 2, 11, 2])
    assert np.array_equal(memory.read(rows), lazy.read(rows))
    assert memory.read(rows).shape == (4, 1, 8, 8)
    x, y, pos = RowsDataset(lazy, np.array([3, 5]), np.array([0, 2])).__getitems__([1, 0])
    assert x.shape == (2, 1, 8, 8) and y.tolist() == [2, 0] and pos.tolist() == [1, 0]


def test_spectrogram_columns_and_image_layout(tmp_path: Path) -> None:
    path = make_spectrograms(tmp_path / "s.h5", images=12)
    assert read_table(path, audio_model=True).shape == (1, 16, 24)
    table = read_table(path)  # image models take the rendered images
    assert (table.column, table.layout, table.shape) == ("images", "NHWC", (3, 12, 12))
    with open_artifact(path) as art:
        raw = art.column("images")[:2]
    got = open_source(table, 0).read(np.array([0, 1]))
    assert np.array_equal(got, raw.transpose(0, 3, 1, 2))
    with pytest.raises(ParamsError, match="no 'images' column"):
        read_table(make_spectrograms(tmp_path / "s2.h5"), column="images")


def test_channel_stats_match_numpy() -> None:
    data = np.random.default_rng(0).integers(0, 255, (50, 6, 6)).astype(np.uint8)
    mean, std = channel_stats(MemorySource(data, "NHW"), np.arange(10, 50), 255.0)
    ref = data[10:50] / 255.0
    assert mean[0] == pytest.approx(ref.mean(), rel=1e-6)
    assert std[0] == pytest.approx(ref.std(), rel=1e-6)


def test_folds_never_share_a_subject(tmp_path: Path) -> None:
    table = read_table(make_faces(tmp_path / "f.h5", n_subjects=10, per_subject=5, size=8))
    name, groups = resolve_groups(table, "auto")
    assert name == "subject" and groups is not None
    rows = np.arange(len(table))
    folds = kfold_splits(rows, table.label, groups, 5, seed=0)
    assert len(folds) == 5
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == rows.tolist()  # every row is tested exactly once
    for train, test in folds:
        assert not set(table.subject[train]) & set(table.subject[test])
        assert len(np.intersect1d(train, test)) == 0


def test_holdout_by_group_and_stratified_fallback(tmp_path: Path) -> None:
    table = read_table(make_faces(tmp_path / "f.h5", n_subjects=10, per_subject=6, size=8))
    rows = np.arange(len(table))
    _, groups = resolve_groups(table, "subject")
    train, val = holdout_split(rows, table.label, groups, 0.2, seed=1)
    assert not set(table.subject[train]) & set(table.subject[val])
    assert 0.1 < len(val) / len(rows) < 0.35
    name, none = resolve_groups(table, "none")
    assert name == "none" and none is None
    train, val = holdout_split(rows, table.label, None, 0.25, seed=1)
    assert np.bincount(table.label[val]).tolist() == [5, 5, 5]  # stratified
    name, clips = resolve_groups(table, "clip_id")
    assert name == "clip_id" and clips is not None
    with pytest.raises(ParamsError, match="no such column"):
        resolve_groups(table, "movie")
    with pytest.raises(ParamsError, match="at least 20"):
        kfold_splits(rows, table.label, groups, 20, seed=0)


def test_balanced_class_weights() -> None:
    weights = balanced_class_weights(np.array([0, 0, 0, 1, -1]), 3)
    assert weights.tolist() == pytest.approx([4 / 6, 2.0, 0.0])


# --------------------------------------------------------------------------- the Lightning loop


def _params(**kw: object) -> object:
    from stages.finetune import FinetuneParams

    base: dict[str, object] = {
        "model": "resnet_small",
        "model_kwargs": '{"widths": [4, 8], "blocks": [1, 1]}',
        "batch_size": 8,
        "epochs": 2,
        "lr": 0.01,
        "accelerator": "cpu",
        "devices": "1",
        "threads": 1,
    }
    base.update(kw)
    return FinetuneParams(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["faces", "spectrograms"])
def test_fast_dev_run_on_tiny_artifacts(tmp_path: Path, kind: str) -> None:
    from stages import finetune

    if kind == "faces":
        src = make_faces(tmp_path / "in.h5")
        params = _params(fast_dev_run=True)
    else:
        src = make_spectrograms(tmp_path / "in.h5")
        params = _params(
            fast_dev_run=True,
            model="audio_urbansound",
            model_kwargs='{"widths": [4, 8, 8], "hidden": 16}',
        )
    result = finetune.run(params, src, tmp_path / "m.h5", tmp_path / "p.h5")  # type: ignore[arg-type]
    assert (tmp_path / "m.h5").is_file() and (tmp_path / "p.h5").is_file()
    assert result.summary["input"]["kind"] == kind
    with open_artifact(tmp_path / "p.h5", "predictions") as art:
        probs = art.column("probs")
        assert art.attrs["modality"] == ("face" if kind == "faces" else "audio")
    assert probs.shape == (36 if kind == "spectrograms" else 48, 3)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)


def test_nan_loss_stops_with_clear_error_and_no_artifact(tmp_path: Path) -> None:
    from stages import finetune

    src = make_spectrograms(tmp_path / "in.h5", nan_row=0, per_subject=2)
    params = _params(
        model="audio_urbansound",
        model_kwargs='{"widths": [4, 8, 8], "hidden": 16}',
        batch_size=64,
        val_fraction=0.0,
    )
    with pytest.raises(TrainingError, match="diverged"):
        finetune.run(params, src, tmp_path / "m.h5", tmp_path / "p.h5")  # type: ignore[arg-type]
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "p.h5").exists()
    assert not list(tmp_path.glob(".*tmp*")) and not list(tmp_path.glob("*.png"))


def test_training_is_deterministic_on_cpu(tmp_path: Path) -> None:
    from emocli.training.model_store import load_model
    from stages import finetune

    src = make_faces(tmp_path / "in.h5")
    weights = []
    for name in ("a", "b"):
        params = _params(epochs=2, augment="strong", seed=7)
        finetune.run(params, src, tmp_path / f"{name}.h5", tmp_path / f"p{name}.h5")  # type: ignore[arg-type]
        model, _ = load_model(tmp_path / f"{name}.h5")
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_subject_selection_by_names_and_ranges() -> None:
    from emocli.training.options import subject_mask

    subjects = np.array(["01", "16", "17", "20", "21", "S005", "bob"])
    assert subject_mask(subjects, "17-20").tolist() == [
        False,
        False,
        True,
        True,
        False,
        False,
        False,
    ]
    assert subject_mask(subjects, "01,bob,4-5").tolist() == [
        True,
        False,
        False,
        False,
        False,
        True,
        True,
    ]
    with pytest.raises(ParamsError, match="two numbers"):
        subject_mask(subjects, "a-b")
    with pytest.raises(ParamsError, match="start > end"):
        subject_mask(subjects, "20-17")


def test_specaugment_masks_and_shifts_spectrograms() -> None:
    cfg = preset("specaugment")
    assert cfg is not None and not cfg.geometric
    x = torch.arange(16 * 40, dtype=torch.float32).reshape(1, 1, 16, 40).repeat(6, 1, 1, 1)
    out = augment_batch(x, cfg)
    assert out.shape == x.shape and not torch.equal(out, x)
    # values are only moved in time or replaced by the sample mean, never invented
    mean = float(x[0].mean())
    allowed = set(x[0].flatten().tolist()) | {mean}
    assert set(out.flatten().tolist()) <= allowed


def test_speech_preset_stretches_time_and_shifts_bands() -> None:
    cfg = preset("speech")
    assert cfg is not None and cfg.stretch > 0 and cfg.band_shift > 0 and not cfg.geometric
    torch.manual_seed(0)
    ramp = torch.arange(40, dtype=torch.float32).reshape(1, 1, 40, 1).repeat(8, 1, 1, 64)
    out = augment_batch(ramp, replace(cfg, freq_masks=0, time_masks=0, time_shift=0.0))
    assert out.shape == ramp.shape
    shift = (out - ramp)[:, 0, 10:30].mean(dim=(1, 2))  # rows moved, inside the border
    assert shift.abs().max() > 0.2 and shift.abs().max() <= 2.0 + 1e-4
    assert torch.allclose(out[..., 0], out[..., -1])  # a pure band ramp: time untouched
