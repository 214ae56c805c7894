"""Output paths are checked before any work: never a folder, never an input, never twice.

The reproducers of the hostile-input report: ``build-spectrograms X.h5 -o X.h5``, ``finetune
F.h5 -o F.h5`` and ``fuse P.h5 Q.h5 -o P.h5`` destroyed their input with exit 0; ``finetune -o
DIR`` trained fully, then failed at the final rename; ``finetune -o X --predictions X`` blamed
another process.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emocli.artifacts import InputRef
from emocli.cli import app
from emocli.errors import ParamsError
from emocli.stage import OutputSpec, StageInfo, run_stage
from tests.test_fusion import synthetic_modalities, write_preds
from tests.test_spectrograms import extract, split_dataset
from tests.test_training import make_faces

runner = CliRunner()


def _never(writers: dict) -> dict:
    raise AssertionError("the stage must not start")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"out": "folder"}, "is a folder; give a file path"),
        ({"out": "input.h5"}, "is also an input"),
        ({"out": "link.h5"}, "is also an input"),  # a symlink to the input
        ({"model": "x.h5", "predictions": "x.h5"}, "outputs are both"),
    ],
)
def test_bad_output_paths_are_refused_before_the_stage_starts(
    tmp_path: Path, outputs: dict[str, str], message: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "input.h5").write_bytes(b"data")
    (tmp_path / "link.h5").symlink_to(tmp_path / "input.h5")
    specs = {key: OutputSpec(tmp_path / name, "faces") for key, name in outputs.items()}
    inputs = [InputRef(str(tmp_path / "input.h5"), "fp", "faces")]
    with pytest.raises(ParamsError, match=message):
        run_stage(StageInfo("toy", 1), object(), inputs, specs, _never)
    assert (tmp_path / "input.h5").read_bytes() == b"data"


def _refused(args: list[str], message: str) -> None:
    started = time.perf_counter()
    result = runner.invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert message in text and "Traceback" not in text
    assert time.perf_counter() - started < 10  # refused before any training


def test_finetune_refuses_its_input_a_folder_and_one_path_for_both_outputs(
    tmp_path: Path, workdir: Path
) -> None:
    faces = make_faces(tmp_path / "faces.h5")
    before = _digest(faces)
    base = ["finetune", str(faces), "--model", "static_cnn", "--epochs", "1"]
    _refused([*base, "-o", str(faces)], "is also an input")
    (tmp_path / "out").mkdir()
    _refused([*base, "-o", str(tmp_path / "out")], "is a folder")
    same = str(tmp_path / "x.h5")
    _refused([*base, "-o", same, "--predictions", same], "outputs are both")
    assert _digest(faces) == before and not (tmp_path / "x.h5").exists()


def test_fuse_and_build_spectrograms_refuse_to_overwrite_an_input(tmp_path: Path) -> None:
    video, audio = synthetic_modalities()
    p = write_preds(tmp_path / "p.h5", video)
    q = write_preds(tmp_path / "q.h5", audio)
    before = _digest(p)
    _refused(["fuse", str(p), str(q), "-o", str(p), "--workdir", str(tmp_path)], "also an input")
    assert _digest(p) == before
    audio = extract(split_dataset(tmp_path / "wavs"), tmp_path / "audio.h5")
    before = _digest(audio)
    _refused(["build-spectrograms", str(audio), "-o", str(audio)], "is also an input")
    assert _digest(audio) == before
