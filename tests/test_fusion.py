"""Fusion: frames -> clips, joining modalities, the fusers and their HDF5 round trip, the stage."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.artifacts import ArtifactWriter, fingerprint_of, open_artifact
from emocli.cli import app
from emocli.errors import InputError
from emocli.fusion import (
    MeanFuser,
    align_classes,
    fit_svm,
    fit_weighted,
    join_modalities,
    read_fuser,
    reduce_to_clips,
    stratified_folds,
    write_fuser,
)
from emocli.importing import read_labels
from emocli.predictions import Predictions, load_predictions, write_predictions

runner = CliRunner()
CLASSES = ["angry", "happy", "sad"]


def write_preds(path: Path, preds: Predictions, attrs: dict | None = None) -> Path:
    """Write ``preds`` as a predictions artifact (fingerprint from its content)."""
    content = [preds.probs.tolist(), preds.label.tolist(), preds.sample_id.tolist(), preds.modality]
    writer = ArtifactWriter(
        path,
        "predictions",
        stage="test",
        params={},
        inputs=[],
        fingerprint=fingerprint_of(
            [content, preds.split.tolist(), preds.clip_id.tolist(), preds.fold.tolist()]
        ),
    )
    write_predictions(writer, preds)
    for key, value in (attrs or {}).items():
        writer.set_attr(key, value)
    writer.close()
    writer.commit()
    return path


def clip_preds(
    clips: list[str],
    probs: np.ndarray,
    *,
    labels: list[int] | None = None,
    split: list[str] | None = None,
    modality: str = "video",
    classes: list[str] = CLASSES,
) -> Predictions:
    return Predictions.build(
        classes,
        probs,
        np.array(clips),
        label=None if labels is None else np.array(labels),
        clip_id=np.array(clips),
        split=np.array(split or ["train"] * len(clips)),
        modality=modality,
        level="clip",
    )


def synthetic_modalities(
    n_train: int = 120, n_val: int = 60, k: int = 3, seed: int = 0
) -> tuple[Predictions, Predictions]:
    """Video (informative) and audio (weakly informative) clip predictions on the same clips."""
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    labels = rng.integers(0, k, n)
    clips = [f"{i:05d}" for i in range(n)]
    split = ["train"] * n_train + ["val"] * n_val

    def probs(strength: float) -> np.ndarray:
        logits = rng.normal(size=(n, k)) + strength * np.eye(k)[labels]
        e = np.exp(logits)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    classes = CLASSES[:k] if k <= 3 else [f"c{i}" for i in range(k)]
    video = clip_preds(clips, probs(2.0), labels=list(labels), split=split, classes=classes)
    audio = clip_preds(
        clips, probs(0.7), labels=list(labels), split=split, modality="audio", classes=classes
    )
    return video, audio


# --------------------------------------------------------------------------- frame -> clip


def frames_example() -> Predictions:
    """Clip 007: three frames whose mean picks 'happy' although frame 1 says 'angry'."""
    probs = np.array(
        [
            [0.60, 0.30, 0.10],
            [0.20, 0.50, 0.30],
            [0.05, 0.65, 0.30],
            [0.10, 0.10, 0.80],  # clip 008, one frame
            [0.70, 0.20, 0.10],  # no clip id: its own clip
        ],
        dtype=np.float32,
    )
    return Predictions.build(
        CLASSES,
        probs,
        np.array(["f1", "f2", "f3", "f4", "still"]),
        label=np.array([0, 0, 1, 2, 0]),  # frame labels (SFEW-style), clip 007 disagrees
        clip_id=np.array(["007", "007", "007", "008", ""]),
        split=np.array(["val"] * 5),
        modality="video",
        level="frame",
    )


def test_every_fusion_method_has_a_fuser() -> None:
    from emocli.fusion import FUSERS, FUSION_METHODS

    assert tuple(FUSERS) == FUSION_METHODS


def test_frame_to_clip_mean_is_eq_1_hand_computed() -> None:
    reduced = reduce_to_clips(frames_example(), "mean")
    clips = reduced.predictions
    assert clips.level == "clip"
    assert clips.clip_id.tolist() == ["007", "008", "still"]
    np.testing.assert_allclose(
        clips.probs[0], [0.85 / 3, 1.45 / 3, 0.70 / 3], rtol=1e-6
    )  # argmax 'happy', though frame 1's argmax is 'angry'
    assert clips.probs[0].argmax() == 1
    np.testing.assert_allclose(clips.probs[1], [0.1, 0.1, 0.8], rtol=1e-6)
    np.testing.assert_allclose(clips.probs[2], [0.7, 0.2, 0.1], rtol=1e-6)
    assert reduced.n_rows.tolist() == [3, 1, 1]
    # without clip labels: the frames' majority, and the disagreement is counted
    assert clips.label.tolist() == [0, 2, 0]
    assert reduced.label_conflicts == 1


def test_frame_to_clip_median_and_max_confidence() -> None:
    median = reduce_to_clips(frames_example(), "median").predictions
    np.testing.assert_allclose(median.probs[0], [0.2, 0.5, 0.3], rtol=1e-6)
    best = reduce_to_clips(frames_example(), "max-confidence").predictions
    np.testing.assert_allclose(best.probs[0], [0.05, 0.65, 0.30], rtol=1e-6)


def test_the_clip_label_is_the_clips_not_the_frames(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("clip_id,split,label\n007,val,sad\n008,val,sad\n")
    reduced = reduce_to_clips(frames_example(), "mean", read_labels(labels))
    assert reduced.predictions.label.tolist() == [2, 2, -1]  # 'still' is not in the table
    assert (reduced.from_labels, reduced.unlabelled) == (2, 1)


def test_clip_ids_repeated_across_splits_stay_apart() -> None:
    preds = clip_preds(
        ["0017", "0017"], np.array([[1, 0, 0], [0, 1, 0]]), labels=[0, 1], split=["train", "val"]
    )
    reduced = reduce_to_clips(preds).predictions
    assert len(reduced) == 2
    assert reduced.sample_id.tolist() == ["train/0017", "val/0017"]


# --------------------------------------------------------------------------- joining


def test_join_counts_missing_modalities_and_applies_the_policy() -> None:
    video = clip_preds(
        ["a", "b", "c"],
        np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]),
        labels=[0, 1, 2],
    )
    audio = clip_preds(
        ["b", "c", "d"],
        np.array([[0.5, 0.4, 0.1], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8]]),
        labels=[1, 2, 2],
        modality="audio",
    )
    dropped = join_modalities([video, audio], ["video", "audio"], "drop")
    assert dropped.clip_id.tolist() == ["b", "c"]
    assert dropped.missing == {"video": {"train": 1}, "audio": {"train": 1}}
    assert dropped.dropped == 2
    np.testing.assert_allclose(
        MeanFuser().predict(dropped.probs, dropped.present)[0], [0.3, 0.6, 0.1], rtol=1e-6
    )

    kept = join_modalities([video, audio], ["video", "audio"], "fallback")
    assert kept.clip_id.tolist() == ["a", "b", "c", "d"]
    assert kept.present.tolist() == [[True, False], [True, True], [True, True], [False, True]]
    assert kept.label.tolist() == [0, 1, 2, 2]
    fused = MeanFuser().predict(kept.probs, kept.present)
    np.testing.assert_allclose(fused[0], [0.8, 0.1, 0.1], rtol=1e-6)  # video only
    np.testing.assert_allclose(fused[3], [0.1, 0.1, 0.8], rtol=1e-6)  # audio only


def test_a_different_class_order_is_mapped_by_name_and_another_set_refused() -> None:
    video = clip_preds(["a"], np.array([[0.7, 0.2, 0.1]]), labels=[0])
    reordered = Predictions.build(
        ["sad", "angry", "happy"],
        np.array([[0.1, 0.7, 0.2]]),
        np.array(["a"]),
        label=np.array([1]),  # 'angry' in this artifact's order
        clip_id=np.array(["a"]),
        split=np.array(["train"]),
    )
    mapped = align_classes(reordered, CLASSES)
    np.testing.assert_allclose(mapped.probs, video.probs)
    assert mapped.label.tolist() == [0]
    other = Predictions.build(["angry", "happy", "contempt"], np.eye(3)[:1], np.array(["a"]))
    with pytest.raises(InputError, match=r"missing \['sad'\], extra \['contempt'\]"):
        align_classes(other, CLASSES)


# --------------------------------------------------------------------------- fusers


def _sklearn_reference(features: np.ndarray, labels: np.ndarray, c: float, gamma: float):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import PredefinedSplit
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    fold_of = np.empty(len(labels), dtype=np.int64)
    for f, (_, held) in enumerate(stratified_folds(labels, 5, 0)):
        fold_of[held] = f
    scaler = StandardScaler().fit(features)
    model = CalibratedClassifierCV(
        SVC(kernel="rbf", C=c, gamma=gamma),
        method="sigmoid",
        ensemble=False,
        cv=PredefinedSplit(fold_of),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(scaler.transform(features), labels)
    return lambda x: model.predict_proba(scaler.transform(x))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_svm_numpy_decision_matches_scikit_learn(n_classes: int) -> None:
    rng = np.random.default_rng(n_classes)
    k = 5  # the fuser's class list; class 1 never occurs in training
    present = [c for c in range(k) if c != 1][:n_classes]
    labels = rng.choice(present, 160)  # shuffled: class order != order of first appearance
    features = rng.normal(size=(160, 6)) + 0.8 * np.eye(k)[labels][:, :6].repeat(2, axis=1)[:, :6]
    fuser = fit_svm(features, labels, k, c_grid=(0.3, 1.0), gamma_grid=(0.1, 0.5), seed=0)
    reference = _sklearn_reference(features, labels, fuser.C, fuser.gamma)
    test = rng.normal(size=(40, 6))
    mine = fuser.predict_features(test)
    theirs = reference(test)
    np.testing.assert_allclose(mine[:, present], theirs, atol=1e-9)
    assert np.all(mine[:, 1] == 0)
    np.testing.assert_allclose(mine.sum(axis=1), 1.0)
    assert (mine.argmax(axis=1) == np.array(present)[theirs.argmax(axis=1)]).all()


def _store(tmp_path: Path, fuser, modalities: list[str]) -> Path:
    path = tmp_path / f"fuser-{fuser.method}.h5"
    writer = ArtifactWriter(
        path, "model", stage="test", params={}, inputs=[], fingerprint=fuser.method
    )
    write_fuser(
        writer,
        fuser,
        modalities=modalities,
        classes=CLASSES,
        train_split="train",
        fitted_split=np.array(["train"]),
        fitted_clip=np.array(["00001"]),
    )
    writer.close()
    writer.commit()
    return path


def test_svm_fuser_round_trips_through_hdf5_with_identical_predictions(tmp_path: Path) -> None:
    video, audio = synthetic_modalities()
    joined = join_modalities([video, audio], ["video", "audio"])
    train = joined.split == "train"
    fuser = fit_svm(
        joined.features()[train], joined.label[train], 3, c_grid=(1.0,), gamma_grid=(0.1,)
    )
    before = fuser.predict(joined.probs, joined.present)
    path = _store(tmp_path, fuser, ["video", "audio"])
    with open_artifact(path, "model") as art:
        assert art.attrs["fuser"] == "svm"
        assert art.h5["fuser/support_vectors"].shape[1] == 6
        assert float(art.h5["fuser"].attrs["C"]) == 1.0
    stored = read_fuser(path)
    assert stored.modalities == ["video", "audio"]
    assert stored.fitted == {("train", "00001")}
    after = stored.fuser.predict(joined.probs, joined.present)
    np.testing.assert_array_equal(before, after)


def test_mlp_fuser_is_seeded_and_round_trips_with_identical_predictions(tmp_path: Path) -> None:
    from emocli.fusion.mlp import MlpConfig, fit_mlp

    video, audio = synthetic_modalities()
    joined = join_modalities([video, audio], ["video", "audio"])
    train = joined.split == "train"
    config = MlpConfig(max_epochs=40, patience=10, seed=3)
    fuser = fit_mlp(joined.features()[train], joined.label[train], 3, config)
    again = fit_mlp(joined.features()[train], joined.label[train], 3, config)
    before = fuser.predict(joined.probs, joined.present)
    np.testing.assert_array_equal(before, again.predict(joined.probs, joined.present))
    assert 1 <= fuser.best_epoch <= len(fuser.history["epoch"]) <= 40
    assert set(fuser.history) >= {"train_loss", "holdout_loss", "holdout_accuracy"}
    val = joined.split == "val"
    assert (before[val].argmax(1) == joined.label[val]).mean() > 0.6  # it learnt something
    stored = read_fuser(_store(tmp_path, fuser, ["video", "audio"]))
    np.testing.assert_array_equal(before, stored.fuser.predict(joined.probs, joined.present))


def test_weighted_fuser_prefers_the_informative_modality(tmp_path: Path) -> None:
    video, audio = synthetic_modalities(seed=1)
    joined = join_modalities([video, audio], ["video", "audio"])
    train = joined.split == "train"
    fuser = fit_weighted(joined.probs[train], joined.label[train], step=0.1)
    assert fuser.weights.sum() == pytest.approx(1.0)
    assert fuser.weights[0] > fuser.weights[1]
    assert len(fuser.grid["weights"]) == 11
    stored = read_fuser(_store(tmp_path, fuser, ["video", "audio"]))
    np.testing.assert_array_equal(
        fuser.predict(joined.probs, joined.present),
        stored.fuser.predict(joined.probs, joined.present),
    )


# --------------------------------------------------------------------------- the stage / CLI


def _workspace_inputs(workdir: Path) -> tuple[Path, Path]:
    video, audio = synthetic_modalities()
    folder = workdir / "predictions"
    folder.mkdir(parents=True)
    return write_preds(folder / "video.h5", video), write_preds(folder / "audio.h5", audio)


def test_fuse_mean_with_workspace_defaults_and_cache(workdir: Path) -> None:
    video_path, audio_path = _workspace_inputs(workdir)
    result = runner.invoke(app, ["fuse"])
    assert result.exit_code == 0, result.output
    out = workdir / "predictions" / "fused-mean.h5"
    fused = load_predictions(out)
    video, audio = load_predictions(video_path), load_predictions(audio_path)
    np.testing.assert_allclose(fused.probs, (video.probs + audio.probs) / 2, rtol=1e-6)
    assert fused.modality == "fused" and fused.level == "clip"
    assert fused.label.tolist() == video.label.tolist()
    again = runner.invoke(app, ["fuse"])
    assert "up to date" in again.output
    # the fused output is not taken for an input the next time
    assert runner.invoke(app, ["fuse", "--method", "weighted"]).exit_code == 0


def test_fuse_says_what_it_looked_for_when_it_cannot_decide(workdir: Path) -> None:
    _workspace_inputs(workdir)
    video, _ = synthetic_modalities(seed=5)
    write_preds(workdir / "predictions" / "video2.h5", video)
    result = runner.invoke(app, ["fuse", "--method", "svm"])
    assert result.exit_code == 2
    for text in ("face or video", "audio", "video.h5 (video)", "video2.h5 (video)", "audio.h5"):
        assert text in result.output


def test_fuse_svm_learns_from_the_training_split_only(tmp_path: Path, workdir: Path) -> None:
    video_path, audio_path = _workspace_inputs(workdir)
    result = runner.invoke(app, ["fuse", "--method", "svm"])
    assert result.exit_code == 0, result.output
    out = workdir / "predictions" / "fused-svm.h5"
    model = workdir / "models" / "fuser-svm.h5"
    assert "fitted on 120 labelled train clips" in result.output
    with open_artifact(out, "predictions") as art:
        fitted = art.column("fitted").astype(bool)
        split = art.column("split")
        assert art.attrs["model"] == str(model)
    assert (fitted == (split == "train")).all()
    # scrambling the val labels changes nothing the fuser learnt
    video, audio = load_predictions(video_path), load_predictions(audio_path)
    val = video.split == "val"
    for preds in (video, audio):
        preds.label[val] = (preds.label[val] + 1) % 3
    other = tmp_path / "other"
    (other / "predictions").mkdir(parents=True)
    write_preds(other / "predictions" / "v.h5", video)
    write_preds(other / "predictions" / "a.h5", audio)
    assert runner.invoke(app, ["fuse", "--method", "svm", "--workdir", str(other)]).exit_code == 0
    first = load_predictions(out)
    second = load_predictions(other / "predictions" / "fused-svm.h5")
    np.testing.assert_array_equal(first.probs, second.probs)


def test_fuse_warns_when_a_trained_fuser_learns_from_in_sample_predictions(
    tmp_path: Path,
) -> None:
    video, audio = synthetic_modalities()
    train = video.split == "train"
    audio.fold[train] = np.arange(int(train.sum())) % 5  # audio: out of fold (stacking)
    paths = [write_preds(tmp_path / "v.h5", video), write_preds(tmp_path / "a.h5", audio)]
    args = ["fuse", *map(str, paths), "--method", "svm", "--workdir", str(tmp_path / "w")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "in-sample predictions of video " in text and "--stacking" in text
    video.fold[train] = np.arange(int(train.sum())) % 5  # both out of fold: no warning
    args[1] = str(write_preds(tmp_path / "v2.h5", video))
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "in-sample predictions" not in result.output


def test_a_stored_fuser_is_reapplied_with_identical_predictions(
    tmp_path: Path, workdir: Path
) -> None:
    video_path, audio_path = _workspace_inputs(workdir)
    assert runner.invoke(app, ["fuse", "--method", "svm"]).exit_code == 0
    model = workdir / "models" / "fuser-svm.h5"
    again = tmp_path / "again.h5"
    # inputs given in the other order: matched to the fuser by modality
    result = runner.invoke(
        app, ["fuse", str(audio_path), str(video_path), "--fuser", str(model), "-o", str(again)]
    )
    assert result.exit_code == 0, result.output
    original = load_predictions(workdir / "predictions" / "fused-svm.h5")
    np.testing.assert_array_equal(original.probs, load_predictions(again).probs)
    with open_artifact(again, "predictions") as art:
        assert art.column("fitted").sum() == 120  # marked in-sample from the stored record
    wrong = runner.invoke(
        app, ["fuse", str(video_path), "--fuser", str(model), "-o", str(tmp_path / "x.h5")]
    )
    assert wrong.exit_code == 2 and "trained on the modalities" in wrong.output


def test_fuse_frame_level_input_with_clip_labels(tmp_path: Path, workdir: Path) -> None:
    frames = write_preds(tmp_path / "frames.h5", frames_example())
    labels = tmp_path / "labels.csv"
    labels.write_text("clip_id,split,label\n007,val,sad\n008,val,sad\nstill,val,angry\n")
    out = tmp_path / "clips.h5"
    result = runner.invoke(app, ["fuse", str(frames), "--labels", str(labels), "-o", str(out)])
    assert result.exit_code == 0, result.output
    clips = load_predictions(out)
    assert clips.clip_id.tolist() == ["007", "008", "still"]
    assert clips.label.tolist() == [2, 2, 0]
    np.testing.assert_allclose(clips.probs[0], [0.85 / 3, 1.45 / 3, 0.70 / 3], rtol=1e-6)


def test_trained_fusers_refuse_inputs_without_training_clips(tmp_path: Path) -> None:
    video, audio = synthetic_modalities()
    video.split[:] = "val"
    audio.split[:] = "val"
    v = write_preds(tmp_path / "v.h5", video)
    a = write_preds(tmp_path / "a.h5", audio)
    result = runner.invoke(
        app,
        [
            "fuse",
            str(v),
            str(a),
            "--method",
            "mlp",
            "-o",
            str(tmp_path / "o.h5"),
            "--model-output",
            str(tmp_path / "m.h5"),
        ],
    )
    assert result.exit_code == 2
    assert "learns from the labelled clips of split 'train'" in result.output


@pytest.mark.real_data
def test_thesis_mean_fusion_is_exactly_77_of_188(shared_datasets: Path, workdir: Path) -> None:
    folder = shared_datasets / "afew_thesis_predictions"
    if not folder.is_dir():
        pytest.skip(f"{folder} not available")
    labels = folder / "labels.csv"
    for name in ("audio_vgg16_spectrogram_images.csv", "video_vgg16_sfew_frames.csv"):
        result = runner.invoke(
            app, ["import-predictions", str(folder / name), "--labels", str(labels)]
        )
        assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["fuse", "--method", "mean"]).exit_code == 0
    fused = load_predictions(workdir / "predictions" / "fused-mean.h5")
    val = fused.split == "val"
    assert int(val.sum()) == 188
    assert int((fused.probs[val].argmax(axis=1) == fused.label[val]).sum()) == 77
