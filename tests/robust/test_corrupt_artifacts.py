"""Corrupt artifacts through the CLI: every consumer names the file and the problem, exit 2.

tests/test_artifacts.py checks the library (open_artifact); here the same faults reach real
stages (inspect, build-spectrograms, pretrain-gan, finetune, fuse, evaluate) through the command line,
on artifacts that real stages wrote: truncated, zero bytes, flipped bytes inside a
checksummed dataset, wrong ``kind``, newer ``schema_version``, a missing attribute, an
attribute that is not JSON, a per-sample column of the wrong length.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from emocli.cli import app
from tests.robust.helpers import record

runner = CliRunner()


def _largest_checksummed(path: Path) -> str:
    found: list[tuple[int, str]] = []
    with h5py.File(path, "r") as h5:

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.fletcher32:
                found.append((obj.id.get_storage_size(), name))

        h5.visititems(visit)
    return max(found)[1]


def truncate(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "not a readable HDF5"


def zero_bytes(path: Path) -> str:
    path.write_bytes(b"")
    return "not a readable HDF5"


def flip_bytes(path: Path) -> str:
    name = _largest_checksummed(path)
    with h5py.File(path, "r") as h5:
        info = h5[name].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    for i in range(info.byte_offset + 8, info.byte_offset + min(info.size, 64)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return "corrupt"


def _set_attr(name: str, value: object) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        with h5py.File(path, "r+") as h5:
            h5.attrs[name] = value

    return change


def wrong_kind(path: Path) -> str:
    _set_attr("kind", "evaluation")(path)
    return "'evaluation' artifact"


def newer_schema(path: Path) -> str:
    _set_attr("schema_version", 99)(path)
    return "schema version 99 is newer"


def missing_attribute(path: Path) -> str:
    with h5py.File(path, "r+") as h5:
        del h5.attrs["fingerprint"]
    return "missing attributes ['fingerprint']"


def not_json(path: Path) -> str:
    _set_attr("classes", "[not json")(path)
    return "'classes' is not valid JSON"


def short_column(path: Path) -> str:
    _set_attr("n_samples", 10_000)(path)
    return "n_samples"


CORRUPTIONS = [
    truncate,
    zero_bytes,
    flip_bytes,
    wrong_kind,
    newer_schema,
    missing_attribute,
    not_json,
    short_column,
]


@pytest.fixture(scope="module")
def artifacts(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real faces, audio and predictions artifacts of the tiny demo data."""
    work = tmp_path_factory.mktemp("corrupt-src")
    out = {
        "faces": work / "faces.h5",
        "audio": work / "audio.h5",
        "predictions": work / "pred.h5",
    }
    csv = work / "pred.csv"
    csv.write_text("clip_id,split,label,Angry,Happy\nc1,val,Angry,0.9,0.1\nc2,val,Happy,0.2,0.8\n")
    for args in (
        ["preprocess-faces", str(demo_data / "sfew"), "-o", str(out["faces"])],
        ["extract-audio", str(demo_data / "afew"), "-o", str(out["audio"])],
        ["import-predictions", str(csv), "-o", str(out["predictions"])],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return out


def _consumers(kind: str, path: Path, out: Path) -> list[list[str]]:
    if kind == "faces":
        return [
            ["inspect", str(path)],
            ["finetune", str(path), "--epochs", "1", "-o", str(out / "m.h5")],
            ["pretrain-gan", str(path), "--epochs", "1", "--size", "32", "-o", str(out / "g.h5")],
        ]
    if kind == "audio":
        return [["inspect", str(path)], ["build-spectrograms", str(path), "-o", str(out / "s.h5")]]
    return [
        ["inspect", str(path)],
        ["evaluate", str(path), "-o", str(out / "report")],
        ["fuse", str(path), "--method", "mean", "-o", str(out / "f.h5")],
    ]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=[c.__name__ for c in CORRUPTIONS])
@pytest.mark.parametrize("kind", ["faces", "audio", "predictions"])
def test_a_corrupt_artifact_is_named_with_its_problem(
    kind: str, corrupt: Callable[[Path], str], artifacts: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / f"bad {kind}.h5"
    shutil.copy(artifacts[kind], path)
    problem = corrupt(path)
    tried = 0
    for args in _consumers(kind, path, tmp_path / "out"):
        if corrupt in (flip_bytes, wrong_kind) and args[0] == "inspect":
            continue  # inspect shows any kind, and reads attributes and shapes, not the data
        result = runner.invoke(app, args)
        tried += 1
        text = " ".join(result.output.split())
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert "error:" in text and "Traceback" not in result.output, (args, result.output)
        assert str(path) in text and problem in text, (args, text)
        assert not list((tmp_path / "out").rglob("*.h5")), "a stage wrote from a corrupt input"
    record(faults_corrupt_artifact=tried, crashes=0)
