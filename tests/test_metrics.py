"""Metrics: agreement with scikit-learn, fold summaries, class distributions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from emocli.metrics import (
    class_distribution,
    classification_metrics,
    confusion_matrix,
    fold_summary,
)

CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


@pytest.mark.parametrize("seed", range(8))
def test_metrics_match_scikit_learn_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    k = len(CLASSES)
    # some seeds leave classes out of y_true or y_pred, to exercise zero divisions
    high = k if seed % 2 == 0 else k - 2
    y_true = rng.integers(0, high, n)
    y_pred = np.where(rng.random(n) < 0.4, y_true, rng.integers(0, k, n))
    m = classification_metrics(y_true, y_pred, CLASSES)
    labels = list(range(k))
    assert m.n == n
    assert m.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert m.macro_f1 == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    assert m.weighted_f1 == pytest.approx(
        skm.f1_score(y_true, y_pred, average="weighted", zero_division=0)
    )
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    np.testing.assert_allclose(m.precision, p)
    np.testing.assert_allclose(m.recall, r)
    np.testing.assert_allclose(m.f1, f)
    np.testing.assert_array_equal(m.support, s)
    np.testing.assert_array_equal(m.confusion, skm.confusion_matrix(y_true, y_pred, labels=labels))
    np.testing.assert_allclose(
        m.confusion_normalised,
        np.nan_to_num(skm.confusion_matrix(y_true, y_pred, labels=labels, normalize="true")),
    )


def test_confusion_normalised_rows_sum_to_one_or_zero() -> None:
    m = classification_metrics(np.array([0, 0, 1]), np.array([0, 1, 1]), ["a", "b", "c"])
    np.testing.assert_allclose(m.confusion_normalised.sum(axis=1), [1.0, 1.0, 0.0])
    assert m.as_dict()["per_class"]["a"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }


def test_empty_input_gives_zeros_not_errors() -> None:
    m = classification_metrics(np.array([], int), np.array([], int), ["a", "b"])
    assert (m.n, m.accuracy, m.macro_f1, m.weighted_f1) == (0, 0.0, 0.0, 0.0)


def test_confusion_matrix_refuses_out_of_range_labels() -> None:
    with pytest.raises(ValueError, match="0..1"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)


def test_fold_summary_is_mean_and_std_over_folds() -> None:
    rng = np.random.default_rng(3)
    folds = np.repeat(np.arange(5), 40)
    y_true = rng.integers(0, 3, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 3, 200))
    summary = fold_summary(y_true, y_pred, folds, ["a", "b", "c"])
    assert summary is not None
    per_fold = [skm.accuracy_score(y_true[folds == f], y_pred[folds == f]) for f in range(5)]
    assert summary.folds == [0, 1, 2, 3, 4]
    assert summary.mean["accuracy"] == pytest.approx(np.mean(per_fold))
    assert summary.std["accuracy"] == pytest.approx(np.std(per_fold))
    macro = [
        skm.f1_score(y_true[folds == f], y_pred[folds == f], average="macro", zero_division=0)
        for f in range(5)
    ]
    assert summary.mean["macro_f1"] == pytest.approx(np.mean(macro))
    assert summary.as_dict()["per_fold"][2]["n"] == 40


def test_fold_summary_needs_two_folds() -> None:
    y = np.array([0, 1, 1])
    assert fold_summary(y, y, np.array([-1, -1, -1]), ["a", "b"]) is None
    assert fold_summary(y, y, np.array([0, 0, -1]), ["a", "b"]) is None


def test_class_distribution_per_split_ignores_unlabelled() -> None:
    labels = np.array([0, 1, 1, -1, 2, 0])
    splits = np.array(["val", "train", "train", "train", "test", ""])
    dist = class_distribution(labels, splits, 3)
    assert list(dist) == ["train", "val", "test", "(none)"]
    np.testing.assert_array_equal(dist["train"], [0, 2, 0])
    np.testing.assert_array_equal(dist["test"], [0, 0, 1])
    np.testing.assert_array_equal(dist["(none)"], [1, 0, 0])
