"""NaN/Inf in training, forced with an absurd learning rate: a clear message, exit 2, and no
artifact (model or predictions) and no temporary left."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robust.helpers import record, run_cli

pytestmark = pytest.mark.robust


@pytest.fixture(scope="module")
def faces(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nan-faces") / "sfew.h5"
    proc = run_cli(["preprocess-faces", "sfew/", "-o", str(out)], cwd=demo_data)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("stage", ["finetune", "pretrain-gan"])
def test_diverging_training_stops_with_a_message_and_no_artifact(
    stage: str, faces: Path, demo_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "models" / "model.h5"
    args = [stage, str(faces), "--epochs", "2", "-o", str(out)]
    if stage == "finetune":
        args += ["--lr", "1e30", "--predictions", str(tmp_path / "pred.h5")]
    else:
        args += ["-u", str(faces), "--lr-d", "1e30", "--lr-g", "1e30", "--size", "32"]
        args += ["--predictions-output", str(tmp_path / "pred.h5")]
    proc = run_cli(args, cwd=demo_data)
    text = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stderr
    assert "error:" in text and ("nan" in text.lower() or "inf" in text.lower()), text
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "pred.h5").exists()
    assert not list(tmp_path.rglob(".*tmp-*"))
    record(faults_nan_training=1, crashes=0)
