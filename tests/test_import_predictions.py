"""import-predictions: CSV -> predictions artifact (ids, classes by name, labels, rejects, CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.artifacts import open_artifact, read_group
from emocli.cli import app
from emocli.errors import InputError
from emocli.importing import read_labels, read_predictions_csv
from emocli.predictions import load_predictions

runner = CliRunner()


def write_csv(path: Path, text: str) -> Path:
    path.write_text("\n".join(line.strip() for line in text.strip().splitlines()) + "\n")
    return path


def test_ids_keep_leading_zeros_and_classes_are_matched_by_name(tmp_path: Path) -> None:
    # columns in a foreign order and spelling: they end up in canonical order, by name
    csv_path = write_csv(
        tmp_path / "video.csv",
        """
        clip_id,split,Happy,anger,Sadness
        000123,train,0.7,0.2,0.1
        004560,val,0.1,0.3,0.6
        """,
    )
    got = read_predictions_csv(csv_path).predictions
    assert got.classes == ["angry", "happy", "sad"]
    assert got.sample_id.tolist() == ["000123", "004560"]
    assert got.clip_id.tolist() == ["000123", "004560"]
    np.testing.assert_allclose(got.probs, [[0.2, 0.7, 0.1], [0.3, 0.1, 0.6]], rtol=1e-6)
    assert got.level == "clip"
    assert got.label.tolist() == [-1, -1]


def test_labels_join_on_split_and_clip_even_when_ids_repeat_across_splits(tmp_path: Path) -> None:
    # AFEW reuses clip ids between Train and Val: the (split, clip) pair identifies a clip
    csv_path = write_csv(
        tmp_path / "audio.csv",
        """
        clip_id,split,angry,happy
        0017,train,0.9,0.1
        0017,val,0.2,0.8
        0099,val,0.5,0.5
        """,
    )
    labels = write_csv(
        tmp_path / "labels.csv",
        """
        clip_id,split,label
        0017,train,Angry
        0017,val,happy
        0099,val,
        """,
    )
    got = read_predictions_csv(csv_path, labels=labels, modality="audio").predictions
    assert got.label.tolist() == [0, 1, -1]
    assert got.sample_id.tolist() == ["train/0017", "val/0017", "val/0099"]
    assert got.clip_id.tolist() == ["0017", "0017", "0099"]
    assert got.modality == "audio"


def test_labels_fill_in_a_missing_split_when_unambiguous(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "p.csv", "clip_id,angry,happy\n01,0.4,0.6\n02,1,0\n")
    labels = write_csv(
        tmp_path / "labels.csv", "clip_id,split,label\n01,val,happy\n02,train,angry\n02,val,happy\n"
    )
    imported = read_predictions_csv(csv_path, labels=labels)
    assert imported.predictions.split.tolist() == ["val"]
    assert imported.predictions.label.tolist() == [1]
    assert len(imported.rejects) == 1
    assert "several splits" in imported.rejects[0].reason


def test_bad_rows_are_rejected_with_reasons(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv",
        """
        sample_id,angry,happy,sad
        ok,0.2,0.3,0.5
        missing,0.2,,0.8
        negative,-0.1,0.6,0.5
        badsum,0.2,0.2,0.2
        nan,nan,0.5,0.5
        ok,0.1,0.1,0.8
        """,
    )
    imported = read_predictions_csv(csv_path)
    assert imported.predictions.sample_id.tolist() == ["ok"]
    reasons = {r.sample_id: r.reason for r in imported.rejects}
    assert "missing" in reasons["missing"] and "'happy'" in reasons["missing"]
    assert "negative" in reasons["negative"]
    assert "sum to 0.6" in reasons["badsum"] and "--renormalize" in reasons["badsum"]
    assert "missing" in reasons["nan"]
    assert "duplicate" in [r.reason for r in imported.rejects if r.sample_id == "ok"][0]
    assert imported.rejects[0].where == "p.csv:3"

    renormalised = read_predictions_csv(csv_path, renormalize=True)
    assert "badsum" in renormalised.predictions.sample_id.tolist()
    row = renormalised.predictions.sample_id.tolist().index("badsum")
    np.testing.assert_allclose(renormalised.predictions.probs[row], [1 / 3] * 3, rtol=1e-6)
    assert renormalised.n_renormalised == 1


def test_unusable_files_are_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="clip_id"):
        read_predictions_csv(write_csv(tmp_path / "a.csv", "id,angry,happy\n1,0.5,0.5\n"))
    with pytest.raises(InputError, match="one probability column per class"):
        read_predictions_csv(write_csv(tmp_path / "b.csv", "clip_id,angry\n1,1.0\n"))
    with pytest.raises(InputError, match="no usable rows"):
        read_predictions_csv(write_csv(tmp_path / "c.csv", "clip_id,angry,happy\n1,0.9,0.9\n"))
    with pytest.raises(InputError, match="both mean class 'angry'"):
        read_predictions_csv(write_csv(tmp_path / "d.csv", "clip_id,angry,Anger\n1,0.5,0.5\n"))


def test_a_label_outside_the_classes_is_rejected(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv", "clip_id,label,angry,happy\n1,contempt,0.5,0.5\n2,angry,1,0\n"
    )
    imported = read_predictions_csv(csv_path)
    assert imported.predictions.label.tolist() == [0]
    assert "contempt" in imported.rejects[0].reason


def test_frame_level_is_detected_when_clip_ids_repeat(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "frames.csv",
        "sample_id,clip_id,split,angry,happy\nf1,c1,val,0.5,0.5\nf2,c1,val,0.1,0.9\nf3,,val,1,0\n",
    )
    assert read_predictions_csv(csv_path).predictions.level == "frame"
    assert read_predictions_csv(csv_path, level="clip").predictions.level == "clip"


def test_conflicting_labels_are_refused(tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "l.csv", "clip_id,label\n1,angry\n1,happy\n")
    with pytest.raises(InputError, match="labelled both"):
        read_labels(labels)


def test_cli_writes_the_workspace_default_and_guesses_the_modality(
    tmp_path: Path, workdir: Path
) -> None:
    csv_path = write_csv(
        tmp_path / "my_audio_model.csv",
        "clip_id,split,angry,happy\n001,train,0.9,0.1\n002,val,0.3,0.7\n003,val,0.3,0.3\n",
    )
    labels = write_csv(
        tmp_path / "labels.csv", "clip_id,split,label\n001,train,angry\n002,val,happy\n"
    )
    result = runner.invoke(app, ["import-predictions", str(csv_path), "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    out = workdir / "predictions" / "my_audio_model.h5"
    assert "2 of 3 rows imported" in result.output
    assert "1 rows rejected" in result.output and "my_audio_model.csv:4" in result.output
    preds = load_predictions(out)
    assert preds.modality == "audio" and preds.level == "clip"
    assert preds.sample_id.tolist() == ["001", "002"]
    assert preds.label.tolist() == [0, 1]
    with open_artifact(out, "predictions") as art:
        rejects = read_group(art, "rejects")
        assert rejects["sample_id"].tolist() == ["003"]
        assert art.attrs["stage"] == "import-predictions"
    again = runner.invoke(app, ["import-predictions", str(csv_path), "--labels", str(labels)])
    assert "up to date" in again.output

    video = write_csv(tmp_path / "faces_model.csv", "clip_id,angry,happy\n1,0.5,0.5\n")
    runner.invoke(app, ["import-predictions", str(video)])
    assert load_predictions(workdir / "predictions" / "faces_model.h5").modality == "video"
    forced = runner.invoke(
        app, ["import-predictions", str(video), "--modality", "face", "-o", str(tmp_path / "f.h5")]
    )
    assert forced.exit_code == 0, forced.output
    assert load_predictions(tmp_path / "f.h5").modality == "face"


def test_cli_error_is_one_line(tmp_path: Path, workdir: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", "clip_id,angry,happy\n1,2,2\n")
    result = runner.invoke(app, ["import-predictions", str(bad)])
    assert result.exit_code == 2
    assert "no usable rows" in result.output
    assert not (workdir / "predictions" / "bad.h5").exists()
