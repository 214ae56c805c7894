"""The HDF5 artifact contract: round trip, validation errors, checksums, fingerprints."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from emocli.artifacts import (
    SCHEMA_VERSION,
    ArtifactWriter,
    InputRef,
    fingerprint_of,
    fingerprint_raw,
    open_artifact,
    read_group,
)
from emocli.errors import ArtifactError


def write_faces(path: Path, n: int = 10, fingerprint: str = "abc") -> Path:
    writer = ArtifactWriter(
        path,
        "faces",
        stage="test",
        params={"size": 8},
        inputs=[InputRef("raw/", "f00", "folder")],
        fingerprint=fingerprint,
    )
    writer.set_classes(["angry", "happy"])
    writer.create_column("images", (8, 8), np.uint8)
    writer.create_column("sample_id", (), str)
    writer.create_column("label", (), np.int64)
    rng = np.random.default_rng(0)
    for start in range(0, n, 4):
        rows = min(4, n - start)
        writer.append(
            {
                "images": rng.integers(0, 255, (rows, 8, 8), dtype=np.uint8),
                "sample_id": [f"s{start + i:03d}" for i in range(rows)],
                "label": np.arange(start, start + rows) % 2,
            }
        )
    writer.add_column("split", ["train"] * (n - 2) + ["val"] * 2)
    writer.write_group("rejects", {"sample_id": ["bad"], "reason": ["no face"]})
    writer.set_attr("size", 8)
    writer.close()
    writer.commit()
    return path


def test_round_trip_keeps_columns_attrs_and_groups(tmp_path: Path) -> None:
    path = write_faces(tmp_path / "faces.h5", n=10)
    with open_artifact(path, "faces") as art:
        assert art.kind == "faces"
        assert art.n_samples == 10
        assert art.classes == ["angry", "happy"]
        assert art.params == {"size": 8}
        assert art.attrs["schema_version"] == SCHEMA_VERSION
        assert art.attrs["inputs"] == [
            {"path": "raw/", "fingerprint": "f00", "kind": "folder", "role": ""}
        ]
        assert art.attrs["size"] == 8
        assert art.column("images").shape == (10, 8, 8)
        assert art.column("sample_id")[3] == "s003"
        assert art.column("label").tolist() == [0, 1] * 5
        assert art.column("split")[-1] == "val"
        assert read_group(art, "rejects")["reason"].tolist() == ["no face"]
        blocks = list(art.iter_rows("label", 4))
        assert [start for start, _ in blocks] == [0, 4, 8]
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_uneven_columns_are_refused(tmp_path: Path) -> None:
    writer = ArtifactWriter(
        tmp_path / "x.h5", "faces", stage="t", params={}, inputs=[], fingerprint="f"
    )
    writer.add_column("label", [0, 1, 2])
    writer.add_column("sample_id", ["a", "b"])
    with pytest.raises(ArtifactError, match="differ in length"):
        writer.close()
    writer.discard()
    assert not (tmp_path / "x.h5").exists()


def test_a_process_started_during_the_stage_does_not_lock_the_artifact(tmp_path: Path) -> None:
    """A process forked while the stage computes (before its first write) must not inherit the
    temporary file: it would keep HDF5's lock, and the finished artifact could not be reopened."""
    writer = ArtifactWriter(
        tmp_path / "m.h5", "model", stage="t", params={}, inputs=[], fingerprint="f"
    )
    helper = os.fork()
    if helper == 0:  # a process started during the stage that outlives the write
        time.sleep(5)
        os._exit(0)
    try:
        writer.set_classes(["a", "b"])
        writer.write_group("weights", {"w": np.ones((4, 4), np.float32)})
        writer.close()
        writer.commit()
        with open_artifact(tmp_path / "m.h5", "model") as art:
            assert art.classes == ["a", "b"]
    finally:
        os.kill(helper, signal.SIGKILL)
        os.waitpid(helper, 0)


def test_a_locked_file_is_named_as_such(tmp_path: Path) -> None:
    path = write_faces(tmp_path / "faces.h5")
    ready, told = os.pipe()
    writer = os.fork()
    if writer == 0:  # another process with the file open for writing
        with h5py.File(path, "a"):
            os.write(told, b"1")
            time.sleep(30)
        os._exit(0)
    try:
        os.read(ready, 1)
        with pytest.raises(ArtifactError, match="another process holds"):
            open_artifact(path, "faces")
    finally:
        os.kill(writer, signal.SIGKILL)
        os.waitpid(writer, 0)
        os.close(ready)
        os.close(told)


def test_wrong_kind_names_file_and_both_kinds(tmp_path: Path) -> None:
    path = write_faces(tmp_path / "faces.h5")
    with pytest.raises(ArtifactError) as err:
        open_artifact(path, "spectrograms")
    message = str(err.value)
    assert str(path) in message and "'faces'" in message and "spectrograms" in message


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = write_faces(tmp_path / "faces.h5")
    with h5py.File(path, "a") as h5:
        h5.attrs["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ArtifactError, match="newer than this emocli"):
        open_artifact(path)


@pytest.mark.parametrize("attr", ["fingerprint", "params", "classes"])
def test_missing_attribute_is_named(tmp_path: Path, attr: str) -> None:
    path = write_faces(tmp_path / "faces.h5")
    with h5py.File(path, "a") as h5:
        del h5.attrs[attr]
    with pytest.raises(ArtifactError, match=attr):
        open_artifact(path)


def test_not_hdf5_and_truncated_files_are_reported(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(ArtifactError, match="not a readable HDF5"):
        open_artifact(text)
    path = write_faces(tmp_path / "faces.h5", n=200)
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArtifactError), open_artifact(truncated) as art:
        art.column("images")
    with pytest.raises(ArtifactError, match="no such file"):
        open_artifact(tmp_path / "missing.h5")


def test_plain_hdf5_is_not_an_artifact(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = np.arange(3)
    with pytest.raises(ArtifactError, match="not an emocli artifact"):
        open_artifact(path)


def test_flipped_bytes_are_caught_by_the_checksum(tmp_path: Path) -> None:
    path = write_faces(tmp_path / "faces.h5", n=64)
    with h5py.File(path, "r") as h5:
        offset = h5["images"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    for i in range(offset + 20, offset + 60):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with open_artifact(path) as art, pytest.raises(ArtifactError, match="corrupt"):
        art.column("images")


def test_json_attributes_are_parsed_as_json_only(tmp_path: Path) -> None:
    path = write_faces(tmp_path / "faces.h5")
    with h5py.File(path, "a") as h5:
        h5.attrs["params"] = "__import__('os').system('echo pwned')"
    with pytest.raises(ArtifactError, match="not valid JSON"):
        open_artifact(path)


def test_fingerprint_is_canonical() -> None:
    assert fingerprint_of({"a": 1, "b": [1, 2]}) == fingerprint_of({"b": [1, 2], "a": 1})
    assert fingerprint_of({"a": 1}) != fingerprint_of({"a": 2})
    assert len(fingerprint_of(json.dumps({}))) == 64


def test_raw_fingerprint_follows_the_listing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "happy").mkdir(parents=True)
    (root / "happy" / "a.png").write_bytes(b"x" * 10)
    first = fingerprint_raw(root)
    assert first.kind == "folder"
    assert fingerprint_raw(root).fingerprint == first.fingerprint
    (root / "happy" / "b.png").write_bytes(b"y")
    second = fingerprint_raw(root)
    assert second.fingerprint != first.fingerprint
    (root / ".hidden").write_text("ignored")
    assert fingerprint_raw(root).fingerprint == second.fingerprint
    with pytest.raises(ArtifactError, match="not found"):
        fingerprint_raw(tmp_path / "nope")
