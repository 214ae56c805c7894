"""The SVM fuser: standardised concatenated probability vectors -> RBF SVM (C and gamma by
grid search, sigmoid-calibrated probabilities). Re-applied by evaluating its decision
function in numpy from the stored support vectors, dual coefficients, intercepts and
calibration parameters: nothing is unpickled, and a fuser gives the same probabilities at
fit time and after reloading (checked against scikit-learn in the tests)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emocli.artifacts import Artifact, ArtifactWriter
from emocli.errors import InputError
from emocli.fusion.base import FeatureFuser, Fuser, stratified_folds, write_search_table

#: Rows of the RBF kernel evaluated at once (bounds memory to rows x support vectors x D).
KERNEL_CHUNK = 256


def _ovr_from_ovo(dec: np.ndarray, n: int) -> np.ndarray:
    """scikit-learn's one-vs-rest decision (votes + confidence in (-1/3, 1/3)) from OvO values."""
    votes = np.zeros((dec.shape[0], n))
    confidence = np.zeros((dec.shape[0], n))
    p = 0
    for i in range(n):
        for j in range(i + 1, n):
            confidence[:, i] += dec[:, p]
            confidence[:, j] -= dec[:, p]
            votes[:, i] += dec[:, p] >= 0
            votes[:, j] += dec[:, p] < 0
            p += 1
    return votes + confidence / (3 * (np.abs(confidence) + 1))


@dataclass
class SvmFuser(FeatureFuser):
    """An RBF SVM on standardised concatenated probability vectors, with calibrated probabilities.

    class_index : (C,) int64, the classes seen in training (indices into the K classes).
    support_vectors : (S, D) float64 in standardised units; dual_coef : (C-1, S);
    intercept : (C(C-1)/2,); n_support : (C,) support vectors per class, in class order.
    scaler_mean, scaler_scale : (D,) standardisation of the raw features.
    calibration_a, calibration_b : (C,) (or (1,) for two classes) sigmoid parameters:
    ``p_c = 1 / (1 + exp(a_c * f_c + b_c))`` on the one-vs-rest decision ``f_c``, then
    normalised (scikit-learn's ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``).
    """

    n_classes: int
    class_index: np.ndarray
    scaler_mean: np.ndarray
    scaler_scale: np.ndarray
    support_vectors: np.ndarray
    dual_coef: np.ndarray
    intercept: np.ndarray
    n_support: np.ndarray
    gamma: float
    C: float
    calibration_a: np.ndarray
    calibration_b: np.ndarray
    grid: dict[str, np.ndarray] = field(default_factory=dict)
    cv_accuracy: float = float("nan")
    method: str = "svm"

    def decision_ovo(self, x: np.ndarray) -> np.ndarray:
        """(N, C(C-1)/2) one-vs-one decision values of standardised features ``x`` (N, D).

        Pair ``(i, j)`` (i < j, in class order) is positive for class ``i`` (libsvm's rule) when
        there are more than two classes; with two, the single value is scikit-learn's
        ``decision_function``, positive for the second class.
        """
        sv = self.support_vectors
        kernel = np.empty((x.shape[0], sv.shape[0]))
        for start in range(0, x.shape[0], KERNEL_CHUNK):
            block = x[start : start + KERNEL_CHUNK]
            sq = ((block[:, None, :] - sv[None, :, :]) ** 2).sum(axis=2)
            kernel[start : start + KERNEL_CHUNK] = np.exp(-self.gamma * sq)
        n = len(self.class_index)
        starts = np.concatenate([[0], np.cumsum(self.n_support)[:-1]]).astype(np.int64)
        dec = np.empty((x.shape[0], n * (n - 1) // 2))
        p = 0
        for i in range(n):
            for j in range(i + 1, n):
                si, sj = starts[i], starts[j]
                ci, cj = int(self.n_support[i]), int(self.n_support[j])
                dec[:, p] = (
                    kernel[:, si : si + ci] @ self.dual_coef[j - 1, si : si + ci]
                    + kernel[:, sj : sj + cj] @ self.dual_coef[i, sj : sj + cj]
                    + self.intercept[p]
                )
                p += 1
        return dec

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """(N, K) float64 calibrated probabilities of raw concatenated features (N, D)."""
        x = (np.asarray(features, dtype=np.float64) - self.scaler_mean) / self.scaler_scale
        dec = self.decision_ovo(x)
        n = len(self.class_index)
        if n == 2:
            # the stored (scikit-learn public) coefficients already give sklearn's binary
            # decision, which is positive for the second class
            p1 = 1.0 / (1.0 + np.exp(self.calibration_a[0] * dec[:, 0] + self.calibration_b[0]))
            proba = np.stack([1.0 - p1, p1], axis=1)
        else:
            f = _ovr_from_ovo(dec, n)
            proba = 1.0 / (1.0 + np.exp(self.calibration_a * f + self.calibration_b))
            total = proba.sum(axis=1, keepdims=True)
            proba = np.divide(proba, total, out=np.full_like(proba, 1.0 / n), where=total != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        out = np.zeros((features.shape[0], self.n_classes))
        out[:, self.class_index] = proba
        return out

    def save(self, writer: ArtifactWriter) -> None:
        arrays = {
            "class_index": self.class_index.astype(np.int64),
            "scaler_mean": self.scaler_mean,
            "scaler_scale": self.scaler_scale,
            "support_vectors": self.support_vectors,
            "dual_coef": self.dual_coef,
            "intercept": self.intercept,
            "n_support": self.n_support.astype(np.int64),
            "calibration_a": self.calibration_a,
            "calibration_b": self.calibration_b,
        }
        attrs = {
            "method": self.method,
            "kernel": "rbf",
            "C": float(self.C),
            "gamma": float(self.gamma),
            "n_classes": int(self.n_classes),
            "cv_accuracy": float(self.cv_accuracy),
            "calibration": "sigmoid on the one-vs-rest decision, cross-validated (sklearn "
            "CalibratedClassifierCV ensemble=False)",
        }
        writer.write_group("fuser", arrays, attrs)
        write_search_table(writer, self.grid)

    @classmethod
    def load(
        cls, art: Artifact, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]
    ) -> Fuser:
        return cls(
            n_classes=int(attrs["n_classes"]),
            class_index=np.asarray(arrays["class_index"], np.int64),
            scaler_mean=np.asarray(arrays["scaler_mean"], np.float64),
            scaler_scale=np.asarray(arrays["scaler_scale"], np.float64),
            support_vectors=np.asarray(arrays["support_vectors"], np.float64),
            dual_coef=np.asarray(arrays["dual_coef"], np.float64),
            intercept=np.asarray(arrays["intercept"], np.float64),
            n_support=np.asarray(arrays["n_support"], np.int64),
            gamma=float(attrs["gamma"]),
            C=float(attrs["C"]),
            calibration_a=np.asarray(arrays["calibration_a"], np.float64),
            calibration_b=np.asarray(arrays["calibration_b"], np.float64),
            cv_accuracy=float(attrs.get("cv_accuracy", float("nan"))),
        )


def fit_svm(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    c_grid: Sequence[float] = (1.0,),
    gamma_grid: Sequence[float] = (0.1,),
    folds: int = 5,
    seed: int = 0,
) -> SvmFuser:
    """Fit an :class:`SvmFuser` on training clips only.

    features : (N, D) concatenated probability vectors; labels : (N,) int64 in 0..K-1.
    C and gamma: grid search by seeded stratified k-fold accuracy (standardisation fitted
    inside each fold); then standardisation on all N rows and an RBF SVC with sigmoid
    calibration on out-of-fold decision values (same folds), the SVC refitted on all N rows.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise InputError("the SVM fuser needs training clips of at least two classes")
    splits = stratified_folds(y, folds, seed)
    fold_of = np.empty(len(y), dtype=np.int64)
    for f, (_, held) in enumerate(splits):
        fold_of[held] = f
    cv = PredefinedSplit(fold_of)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), SVC(kernel="rbf")),
        {"svc__C": list(c_grid), "svc__gamma": list(gamma_grid)},
        cv=cv,
        scoring="accuracy",
        n_jobs=1,
    )
    search.fit(x, y)
    best_c = float(search.best_params_["svc__C"])
    best_gamma = float(search.best_params_["svc__gamma"])
    scaler = StandardScaler().fit(x)
    xs = scaler.transform(x)
    calibrated = CalibratedClassifierCV(
        SVC(kernel="rbf", C=best_c, gamma=best_gamma), method="sigmoid", ensemble=False, cv=cv
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        calibrated.fit(xs, y)
    inner = calibrated.calibrated_classifiers_[0]
    svc = inner.estimator
    results = search.cv_results_
    grid = {
        "C": np.asarray(results["param_svc__C"], dtype=np.float64),
        "gamma": np.asarray(results["param_svc__gamma"], dtype=np.float64),
        "mean_accuracy": np.asarray(results["mean_test_score"], dtype=np.float64),
        "std_accuracy": np.asarray(results["std_test_score"], dtype=np.float64),
    }
    return SvmFuser(
        n_classes=n_classes,
        class_index=np.asarray(svc.classes_, dtype=np.int64),
        scaler_mean=np.asarray(scaler.mean_, dtype=np.float64),
        scaler_scale=np.asarray(scaler.scale_, dtype=np.float64),
        support_vectors=np.asarray(svc.support_vectors_, dtype=np.float64),
        dual_coef=np.asarray(svc.dual_coef_, dtype=np.float64),
        intercept=np.asarray(svc.intercept_, dtype=np.float64),
        n_support=np.asarray(svc.n_support_, dtype=np.int64),
        gamma=best_gamma,
        C=best_c,
        calibration_a=np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
        calibration_b=np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
        grid=grid,
        cv_accuracy=float(search.best_score_),
    )
