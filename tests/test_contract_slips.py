"""Smaller contract slips found by the hostile-input test (defect 11): each refusal is one
line naming what to fix (exit 2, no traceback), and a failure leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from emocli.audio import decode_audio
from emocli.cli import app
from emocli.errors import ArtifactError, InputError
from emocli.importing import read_predictions_csv
from emocli.predictions import Predictions, load_predictions
from stages import evaluate
from tests.test_fusion import CLASSES, write_preds

runner = CliRunner()


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def three_rows(probs: list[list[float]], labelled: bool = True) -> Predictions:
    n = len(probs)
    return Predictions.build(
        CLASSES,
        np.array(probs, dtype=np.float32),
        np.array([f"s{i}" for i in range(n)]),
        label=np.arange(n) % len(CLASSES) if labelled else None,
        split=np.array(["val"] * n),
        modality="video",
        level="clip",
    )


def assert_one_line_error(result: object, *texts: str) -> None:
    """Exit 2, a single ``error:`` line containing ``texts``, no traceback."""
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    error = " ".join(output.split())  # rich wraps long lines at the terminal width
    for text in texts:
        assert text in error, output


# ------------------------------------------------------------------ 1. overflowing row sums


def test_a_row_whose_sum_overflows_is_rejected_naming_its_line(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv",
        ["clip_id,angry,happy,sad", "a,0.2,0.3,0.5", "huge,1e308,1e308,1e308", "b,1,0,0"],
    )
    for renormalize in (False, True):
        imported = read_predictions_csv(csv_path, renormalize=renormalize)
        assert imported.predictions.sample_id.tolist() == ["a", "b"]
        assert np.isfinite(imported.predictions.probs).all()
        (reject,) = imported.rejects
        assert reject.where == "p.csv:3"
        assert "overflow" in reject.reason and "--renormalize" not in reject.reason


def test_an_import_of_only_overflowing_rows_fails_naming_the_rows(
    tmp_path: Path, workdir: Path
) -> None:
    csv_path = write_csv(tmp_path / "big.csv", ["clip_id,angry,happy", "x,1e308,1e308"])
    result = runner.invoke(app, ["import-predictions", str(csv_path), "--renormalize"])
    assert_one_line_error(result, "big.csv", "no usable rows", "big.csv:2", "overflow")
    assert not (workdir / "predictions" / "big.h5").exists()


def test_evaluate_and_fuse_refuse_rows_that_are_not_probabilities(tmp_path: Path) -> None:
    preds = three_rows([[0.2, 0.3, 0.5], [0, 0, 0], [0.1, 0.1, 0.8]])
    path = write_preds(tmp_path / "zeros.h5", preds)
    with pytest.raises(ArtifactError, match=r"zeros\.h5.*row 1 \('s1'\): all zero"):
        load_predictions(path)
    evaluated = runner.invoke(app, ["evaluate", str(path), "-o", str(tmp_path / "report")])
    assert_one_line_error(evaluated, "zeros.h5", "row 1", "all zero")
    other = write_preds(tmp_path / "ok.h5", three_rows([[1, 0, 0], [0, 1, 0], [0, 0, 1]]))
    fused = runner.invoke(
        app, ["fuse", str(other), str(path), "-o", str(tmp_path / "fused.h5"), "--method", "mean"]
    )
    assert_one_line_error(fused, "zeros.h5", "row 1", "all zero")


def test_non_finite_or_negative_probabilities_are_refused_too(tmp_path: Path) -> None:
    preds = three_rows([[np.inf, 0, 0], [0.5, 0.5, 0], [-0.5, 1, 0.5]])
    path = write_preds(tmp_path / "bad.h5", preds)
    with pytest.raises(ArtifactError) as info:
        load_predictions(path)
    message = str(info.value)
    assert "2 rows" in message and "row 0 ('s0'): not finite" in message
    assert "row 2 ('s2'): negative" in message and "\n" not in message


# ------------------------------------------------------------------ 2. --renormalize, all zero


def test_renormalize_on_an_all_zero_row_says_it_cannot_be_renormalised(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "z.csv", ["clip_id,angry,happy", "ok,0.5,0.5", "zero,0,0"])
    for renormalize in (False, True):
        (reject,) = read_predictions_csv(csv_path, renormalize=renormalize).rejects
        assert reject.where == "z.csv:3"
        assert "all probabilities are 0" in reject.reason
        assert "cannot be renormalised" in reject.reason
        assert "pass --renormalize" not in reject.reason
    with pytest.raises(InputError, match=r"z\.csv:2: all probabilities are 0"):
        read_predictions_csv(
            write_csv(tmp_path / "z.csv", ["clip_id,angry,happy", "zero,0,0"]), renormalize=True
        )


# ------------------------------------------------------------------ 3. failed evaluate


def test_a_failed_evaluate_leaves_no_report_folder(tmp_path: Path) -> None:
    path = write_preds(tmp_path / "unlabelled.h5", three_rows([[1, 0, 0]] * 3, labelled=False))
    report = tmp_path / "reports" / "deep" / "unlabelled"
    result = runner.invoke(app, ["evaluate", str(path), "-o", str(report)])
    assert_one_line_error(result, "no labelled rows")
    assert not (tmp_path / "reports").exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(InputError):
        evaluate.run(evaluate.EvaluateParams(), [path], existing / "report")
    assert existing.is_dir() and not any(existing.iterdir())


# ------------------------------------------------------------------ 4. inspect a folder


def test_inspect_a_folder_says_it_is_a_folder_and_lists_artifacts(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["inspect", str(empty)])
    assert_one_line_error(result, "is a folder", ".h5 artifact", "holds none")
    assert "no such file" not in result.output
    work = tmp_path / "work"
    write_preds(work / "predictions" / "video.h5", three_rows([[1, 0, 0]]))
    result = runner.invoke(app, ["inspect", str(work)])
    assert_one_line_error(result, "is a folder", str(work / "predictions" / "video.h5"))


# ------------------------------------------------------------------ 5. loud float WAV


def test_float_wav_beyond_full_scale_is_clipped_to_one(tmp_path: Path) -> None:
    t = np.arange(8000) / 16000
    loud = (9 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    path = tmp_path / "loud.wav"
    sf.write(path, loud, 16000, subtype="FLOAT")
    for rate in (16000, 8000):
        mono = decode_audio(path, rate)
        assert mono.dtype == np.float32
        assert mono.min() >= -1.0 and mono.max() <= 1.0
        assert mono.max() == 1.0 and mono.min() == -1.0


# ------------------------------------------------------------------ 6. OpenCV's own logging


def test_a_corrupt_image_leaves_no_opencv_log_lines_on_stderr(tmp_path: Path) -> None:
    folder = tmp_path / "faces" / "happy"
    folder.mkdir(parents=True)
    image = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    (folder / "truncated.png").write_bytes(encoded.tobytes()[: encoded.size // 2])
    cv2.imwrite(str(folder / "whole.png"), image)
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    command = [sys.executable, "-m", "emocli.cli", "preprocess-faces", str(tmp_path / "faces")]
    done = subprocess.run(
        [*command, "-o", str(tmp_path / "faces.h5"), "--workers", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "[ WARN" not in done.stderr and "[ERROR" not in done.stderr, done.stderr
    assert "unreadable image" in done.stdout
