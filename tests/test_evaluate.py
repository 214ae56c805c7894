"""evaluate: metrics.json, report.md, PNGs, the evaluation artifact, folds, curves, comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from typer.testing import CliRunner

from emocli.artifacts import ArtifactWriter, open_artifact, read_group
from emocli.cli import app
from emocli.errors import InputError
from emocli.predictions import Predictions
from stages import evaluate as stage
from tests.test_fusion import CLASSES, write_preds

runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def random_preds(
    n: int = 90,
    seed: int = 0,
    *,
    classes: list[str] = CLASSES,
    folds: bool = False,
    split: str | None = None,
) -> Predictions:
    rng = np.random.default_rng(seed)
    k = len(classes)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    splits = np.array([split] * n) if split else np.array(["train", "val", "val"] * (n // 3))
    labels[5] = -1  # one unlabelled row
    return Predictions.build(
        classes,
        probs,
        np.array([f"s{i:03d}" for i in range(n)]),
        label=labels,
        split=splits,
        fold=np.arange(n) % 3 if folds else None,
        modality="face",
        level="frame",
    )


def assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not a blank picture


def test_evaluate_writes_metrics_report_pngs_and_artifact(tmp_path: Path, workdir: Path) -> None:
    preds = random_preds()
    path = write_preds(tmp_path / "model.h5", preds)
    result = runner.invoke(app, ["evaluate", str(path)])
    assert result.exit_code == 0, result.output
    report_dir = workdir / "reports" / "model"
    rows = (preds.split == "val") & (preds.label >= 0)
    y_true, y_pred = preds.label[rows], preds.probs[rows].argmax(axis=1)
    expected = skm.accuracy_score(y_true, y_pred)

    document = json.loads((report_dir / "metrics.json").read_text())
    entry = document["inputs"][0]
    assert entry["split"] == "val" and entry["requested_split"] == "auto"
    assert entry["n"] == int(rows.sum()) and entry["n_unlabelled_in_split"] == 1  # row 5
    assert entry["accuracy"] == pytest.approx(expected)
    assert entry["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert entry["metrics"]["confusion"] == skm.confusion_matrix(y_true, y_pred).tolist()
    assert (
        entry["class_distribution"]["train"]
        == np.bincount(
            preds.label[(preds.split == "train") & (preds.label >= 0)], minlength=3
        ).tolist()
    )

    report = (report_dir / "report.md").read_text()
    assert "Split evaluated: **val**" in report
    assert f"{100 * expected:.2f} %" in report
    for name in ("confusion-model.png", "distribution-model.png", "f1-per-class.png"):
        assert f"]({name})" in report
        assert_png(report_dir / name)
    assert f"{100 * expected:.2f} %" in result.output  # the rich table
    assert "per class" in result.output

    with open_artifact(report_dir / "evaluation.h5", "evaluation") as art:
        group = read_group(art, "results/model")
        assert group["confusion"].tolist() == entry["metrics"]["confusion"]
        assert art.h5["results/model"].attrs["accuracy"] == pytest.approx(expected)
        assert art.h5["results/model"].attrs["split"] == "val"
    again = runner.invoke(app, ["evaluate", str(path)])
    assert "up to date" in again.output
    assert f"{100 * expected:.2f} %" in again.output


def test_fold_column_gives_mean_and_std_over_folds(tmp_path: Path) -> None:
    preds = random_preds(folds=True, split="test")
    path = write_preds(tmp_path / "cv.h5", preds)
    result = stage.run(stage.EvaluateParams(), [path], tmp_path / "report")
    rows = preds.label >= 0
    accs = [
        skm.accuracy_score(
            preds.label[rows & (preds.fold == f)], preds.probs[rows & (preds.fold == f)].argmax(1)
        )
        for f in range(3)
    ]
    folds = result.summary["inputs"][0]["folds"]
    assert result.summary["inputs"][0]["split"] == "test"
    assert folds["n"] == 3
    assert folds["mean"]["accuracy"] == pytest.approx(np.mean(accs))
    assert folds["std"]["accuracy"] == pytest.approx(np.std(accs))
    report = (tmp_path / "report" / "report.md").read_text()
    assert "### Folds" in report and "mean ± std" in report
    with open_artifact(tmp_path / "report" / "evaluation.h5", "evaluation") as art:
        np.testing.assert_allclose(art.column("results/cv/fold_accuracy"), accs)


def test_training_curves_are_drawn_from_the_model_history(tmp_path: Path) -> None:
    model = tmp_path / "models" / "net.h5"
    writer = ArtifactWriter(model, "model", stage="test", params={}, inputs=[], fingerprint="m1")
    writer.set_classes(CLASSES)
    epochs = np.arange(1, 11)
    writer.write_group(
        "history",
        {
            "epoch": epochs,
            "train_loss": 1 / epochs,
            "val_loss": 1.2 / epochs,
            "val_accuracy": 1 - 1 / (epochs + 1),
        },
    )
    writer.close()
    writer.commit()
    # a relative path, as stages write it, resolved from the predictions' workspace
    path = write_preds(
        tmp_path / "predictions" / "net.h5", random_preds(), attrs={"model": "models/net.h5"}
    )
    stage.run(stage.EvaluateParams(), [path], tmp_path / "report")
    assert_png(tmp_path / "report" / "curves-net.png")
    assert "### Training curves" in (tmp_path / "report" / "report.md").read_text()


def test_several_inputs_one_table_classes_mapped_by_name(tmp_path: Path) -> None:
    a = write_preds(tmp_path / "a" / "model.h5", random_preds(seed=1))
    reordered = random_preds(seed=2)
    order = [2, 0, 1]
    reordered = Predictions.build(
        [CLASSES[i] for i in order],
        reordered.probs[:, order],
        reordered.sample_id,
        label=np.array([order.index(v) if v >= 0 else -1 for v in reordered.label]),
        split=reordered.split,
    )
    b = write_preds(tmp_path / "b" / "model.h5", reordered)
    result = runner.invoke(app, ["evaluate", str(a), str(b), "-o", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    names = [entry["name"] for entry in document["inputs"]]
    assert names == ["a-model", "b-model"]  # same stems: told apart by their folders
    expected = random_preds(seed=2)
    rows = (expected.split == "val") & (expected.label >= 0)
    assert document["inputs"][1]["accuracy"] == pytest.approx(
        skm.accuracy_score(expected.label[rows], expected.probs[rows].argmax(1))
    )
    assert document["inputs"][1]["classes"] == CLASSES
    assert "| a-model |" in (tmp_path / "cmp" / "report.md").read_text()

    other = write_preds(tmp_path / "other.h5", random_preds(classes=["angry", "happy", "fear"]))
    refused = runner.invoke(app, ["evaluate", str(a), str(other), "-o", str(tmp_path / "x")])
    assert refused.exit_code == 2
    assert "missing ['sad'], extra ['fear']" in refused.output


def test_split_selection_and_its_errors(tmp_path: Path) -> None:
    preds = random_preds()
    preds.split[:] = ""
    path = write_preds(tmp_path / "nosplit.h5", preds)
    result = stage.run(stage.EvaluateParams(), [path], tmp_path / "r1")
    assert result.summary["inputs"][0]["split"] == "all"
    assert result.summary["inputs"][0]["n"] == int((preds.label >= 0).sum())
    with pytest.raises(InputError, match="no labelled rows to evaluate in split 'val'"):
        stage.run(stage.EvaluateParams(split="val"), [path], tmp_path / "r2")
    train = stage.run(
        stage.EvaluateParams(split="train"),
        [write_preds(tmp_path / "t.h5", random_preds())],
        tmp_path / "r3",
    )
    assert train.summary["inputs"][0]["split"] == "train"


def test_in_sample_rows_are_flagged_in_the_report(tmp_path: Path, workdir: Path) -> None:
    from tests.test_fusion import _workspace_inputs

    _workspace_inputs(workdir)
    assert runner.invoke(app, ["fuse", "--method", "weighted"]).exit_code == 0
    fused = workdir / "predictions" / "fused-weighted.h5"
    stage.run(stage.EvaluateParams(split="train"), [fused], tmp_path / "r")
    assert "in-sample" in (tmp_path / "r" / "report.md").read_text()
