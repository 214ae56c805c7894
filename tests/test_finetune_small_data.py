"""`emocli finetune` on datasets too small for the asked hold-out or folds (hostile inputs).

The hold-out falls back to fewer folds and says so in the stage summary (``notes``); what
cannot be split is refused with a message naming the class that is too small, never with a
scikit-learn traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.artifacts import InputRef, open_artifact
from emocli.cli import app
from emocli.stage import OutputSpec, StageInfo, run_stage
from tests.test_training import _FakeParams, make_faces

TINY = ["--model", "resnet_small", "--model-kwargs", '{"widths": [4, 8], "blocks": [1, 1]}']
FAST = ["--epochs", "1", "--batch-size", "8", "--accelerator", "cpu", "--devices", "1"]
FAST += ["--threads", "1"]


def faces_of_counts(path: Path, counts: tuple[int, ...], size: int = 8) -> Path:
    """A ``faces`` artifact with ``counts[k]`` rows of class ``ck``, unsplit, no subject or
    clip (so splits stratify by class). images : (N, size, size) uint8 noise."""
    labels = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    n = len(labels)

    def build(writers: dict) -> dict:
        w = writers["faces"]
        w.set_classes([f"c{k}" for k in range(len(counts))])
        rng = np.random.default_rng(0)
        w.add_column("images", rng.integers(0, 255, (n, size, size)).astype(np.uint8))
        w.add_column("label", labels)
        w.add_column("sample_id", [f"s{i:03d}" for i in range(n)])
        for name in ("subject", "clip_id", "split"):
            w.add_column(name, [""] * n)
        w.add_column("frame", np.full(n, -1, np.int64))
        w.add_column("status", ["face"] * n)
        w.set_attr("size", size)
        return {"faces": n}

    fingerprint = "fp-" + "-".join(map(str, counts))
    run_stage(
        StageInfo("preprocess-faces", 1),
        _FakeParams(),
        [InputRef("raw", fingerprint, "folder")],
        {"faces": OutputSpec(path, "faces")},
        build,
        force=True,
    )
    return path


@pytest.mark.parametrize(
    ("counts", "args", "note"),
    [
        ((9, 9), [], "hold-out of 1/9 of the training rows (2) instead of 1/10"),
        ((6, 2), [], "hold-out of 1/6 of the training rows (2) instead of 1/10"),
        ((3, 3), [], "hold-out of 1/3 of the training rows (2) instead of 1/10"),
        ((10, 4), ["--folds", "5"], "fold 0: validation hold-out of 1/8"),
    ],
    ids=["9+9", "6+2", "3+3", "10+4-folds5"],
)
def test_small_holdout_falls_back_to_fewer_folds_and_says_so(
    tmp_path: Path, workdir: Path, counts: tuple[int, ...], args: list[str], note: str
) -> None:
    src = faces_of_counts(tmp_path / "faces.h5", counts)
    out = tmp_path / "model.h5"
    result = CliRunner().invoke(app, ["finetune", str(src), *TINY, *FAST, *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.exception is None and "Traceback" not in result.output
    with open_artifact(out) as art:
        summary = art.attrs["summary"]
    assert any(note in n for n in summary["notes"]), summary["notes"]
    assert all("instead of 1/10 (--val-fraction 0.1)" in n for n in summary["notes"])


@pytest.mark.parametrize(
    ("counts", "args", "message"),
    [
        ((1, 2), [], "class 'c0' has only 1 row (each class needs at least 2"),
        ((3, 3), ["--folds", "5"], "the largest, 'c0', has 3), so no stratified 5-fold"),
    ],
    ids=["1+2", "3+3-folds5"],
)
def test_unsplittable_input_is_refused_naming_the_class(
    tmp_path: Path, workdir: Path, counts: tuple[int, ...], args: list[str], message: str
) -> None:
    src = faces_of_counts(tmp_path / "faces.h5", counts)
    result = CliRunner().invoke(app, ["finetune", str(src), *TINY, *FAST, *args])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in output
    assert message in output
    assert ("--validation none" if not args else "pass --folds 3 or fewer") in output
    assert not (workdir / "models").exists() or not list((workdir / "models").glob("*.h5"))


def test_holdout_keeps_the_split_of_inputs_that_fit(tmp_path: Path) -> None:
    """Where scikit-learn accepted the split, it is the same as before: one fold of
    ``min(round(1 / fraction), groups)`` folds."""
    from emocli.training.datamodule import read_table
    from emocli.training.splits import holdout_folds, holdout_split, kfold_splits, resolve_groups

    table = read_table(make_faces(tmp_path / "f.h5", n_subjects=10, per_subject=6, size=8))
    rows = np.arange(len(table))
    few = "only 10 groups (subjects/clips)"
    for by, fraction, k, reason in (
        ("subject", 0.2, 5, ""),
        ("none", 0.1, 10, ""),
        ("subject", 0.05, 10, few),  # 20 folds wanted, 10 subjects: as before, and now said
    ):
        _, groups = resolve_groups(table, by)
        train, val = holdout_split(rows, table.label, groups, fraction, seed=3)
        old_train, old_val = kfold_splits(rows, table.label, groups, k, seed=3)[0]
        assert train.tolist() == old_train.tolist() and val.tolist() == old_val.tolist()
        folds = holdout_folds(table.label, groups, fraction)
        assert folds.used == k and folds.reason == reason


def test_grouped_holdout_falls_back_or_names_the_class(tmp_path: Path) -> None:
    from emocli.errors import ParamsError
    from emocli.training.splits import holdout_folds, holdout_split, kfold_splits

    labels = np.repeat([0, 1], [4, 4])
    groups = np.array([f"S{i}" for i in range(8)])  # one row per subject
    folds = holdout_folds(labels, groups, 0.1, ["angry", "happy"])
    assert (folds.used, folds.wanted) == (4, 10)
    assert folds.reason == "only 8 groups (subjects/clips) and no class has 8 rows " + (
        "(the largest, 'angry', has 4)"
    )
    train, val = holdout_split(np.arange(8), labels, groups, 0.1, seed=0)
    assert len(val) == 2 and sorted(labels[val].tolist()) == [0, 1]
    one_subject = np.array(["S0"] * 4 + [f"S{i}" for i in range(1, 5)])  # 'angry' all in S0
    with pytest.raises(ParamsError, match="class 'angry' has only 1 group"):
        holdout_folds(labels, one_subject, 0.1, ["angry", "happy"])
    with pytest.raises(ParamsError, match=r"--folds 6: .*'angry', has 4\).*--folds 4 or fewer"):
        kfold_splits(np.arange(8), labels, groups, 6, seed=0, classes=["angry", "happy"])


def test_fusion_mlp_holdout_of_few_clips_does_not_stratify_into_a_crash() -> None:
    from emocli.fusion.mlp import _holdout_split

    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # 2 held-out rows, 4 classes
    train, held = _holdout_split(labels, 0.2, seed=0)
    assert len(held) == 2 and sorted([*train, *held]) == list(range(8))


def test_gan_folds_refuse_more_folds_than_the_largest_class() -> None:
    from emocli.errors import ArtifactError
    from emocli.training.gan_data import grouped_folds

    groups = np.array(["a", "b", "c", "d"])
    with pytest.raises(ArtifactError, match="ask for 2 folds or fewer"):
        grouped_folds(np.array([0, 0, 1, 1]), groups, 3, seed=0)
