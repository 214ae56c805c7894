"""Hostile but realistic dataset folders: symlinks, permissions, odd class folders, bad
cascades, default outputs of two inputs with one name. Each case failed (traceback, silent
loss or silent guess) before the fix it names."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.artifacts import fingerprint_raw, open_artifact, read_group
from emocli.cli import app
from emocli.datasets.audio_sources import list_audio_inputs
from emocli.datasets.classes import ClassListParams
from emocli.datasets.detect import read_face_source
from emocli.errors import InputError
from emocli.labels import EMOTIONS
from emocli.walk import walk_tree
from tests.test_audio import tone, write_audio, write_video

runner = CliRunner()


def _face(path: Path, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((32, 32), value, np.uint8))
    return path


def _reasons(path: Path) -> list[str]:
    with open_artifact(path, "faces") as art:
        return [str(r) for r in read_group(art, "rejects")["reason"]]


def _preprocess(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["preprocess-faces", *args, "-j", "1", "--no-preview"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


# --------------------------------------------------------------------------- symlinks


def test_dangling_and_looping_symlinks_are_rejects_not_tracebacks(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    _face(ds / "happy" / "a.png")
    _face(ds / "sad" / "b.png")
    (ds / "sad" / "notes.txt").symlink_to("/nonexistent/notes.txt")
    (ds / "sad" / "loop.png").symlink_to("loop.png")
    fingerprint_raw(ds)  # raised FileNotFoundError on the dangling link
    code, output = _preprocess(str(ds), "--detector", "none", "-o", str(tmp_path / "f.h5"))
    assert code == 0, output
    reasons = _reasons(tmp_path / "f.h5")
    assert any("dangling symlink" in r for r in reasons), reasons
    assert any("symlink loop" in r for r in reasons), reasons
    audio = tmp_path / "audio"
    write_audio(audio / "happy" / "a.wav", tone(0.1, 200))
    (audio / "happy" / "gone.wav").symlink_to(audio / "nowhere.wav")
    listing = list_audio_inputs(audio)
    assert len(listing.items) == 1 and "dangling symlink" in listing.rejects[0][2]


def test_symlinked_split_folders_are_followed_once(tmp_path: Path) -> None:
    store = tmp_path / "drive" / "SFEW"
    _face(store / "Train" / "Happy" / "Movie_000000001_00000001.png")
    _face(store / "Val" / "Sad" / "Movie_000000002_00000001.png")
    mine = tmp_path / "mysfew"
    mine.mkdir()
    (mine / "Train").symlink_to(store / "Train")
    (mine / "Val").symlink_to(store / "Val")
    (store / "Train" / "Happy" / "again").symlink_to(store / "Train")  # a cycle
    source = read_face_source(mine)
    assert source.format == "sfew"
    assert sorted((i.split, i.label) for i in source.items) == [("train", "happy"), ("val", "sad")]
    assert [r[2] for r in source.rejects] == [
        f"same folder as {mine / 'Train'} (a link to a parent folder)"
    ]
    tree = walk_tree(mine)
    assert len(tree.files) == 2 and len(tree.problems) == 1


def test_unsupported_images_are_counted(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    _face(ds / "happy" / "a.png")
    (ds / "happy" / "b.gif").write_bytes(b"GIF89a")
    (ds / "sad").mkdir()
    (ds / "sad" / "c.svg").write_text("<svg/>")
    source = read_face_source(ds)
    assert sorted(r[2].split(" (")[0] for r in source.rejects) == [
        "unsupported image format .gif",
        "unsupported image format .svg",
    ]


# --------------------------------------------------------------------------- permissions


def _deny(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``folder`` unreadable: ``chmod 000``, and, for root (who reads whatever the
    mode), the same errors from the calls that list or search it."""
    os.chmod(folder, 0)
    if os.geteuid() != 0:
        return
    import emocli.walk

    real_scandir, real_stat = os.scandir, os.stat

    def scandir(path: Any) -> Any:
        if Path(path) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if folder in Path(path).parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(emocli.walk.os, "scandir", scandir)
    monkeypatch.setattr(os, "stat", stat)


@pytest.mark.parametrize("fmt", ["auto", "folder"])
def test_unreadable_class_folder_is_a_reject_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    ds = tmp_path / "ds"
    _face(ds / "angry" / "a.png")
    _face(ds / "sad" / "b.png")
    _deny(ds / "angry", monkeypatch)
    try:
        out = tmp_path / "f.h5"
        code, output = _preprocess(str(ds), "--format", fmt, "--detector", "none", "-o", str(out))
    finally:
        monkeypatch.undo()
        os.chmod(ds / "angry", 0o755)
    assert code == 0, output
    assert "unreadable folder (permission denied)" in output
    assert any("unreadable folder" in r for r in _reasons(out))
    with open_artifact(out, "faces") as art:
        assert art.n_samples == 1


# --------------------------------------------------------------------------- class lists


def test_faces_and_audio_of_one_afew_folder_get_one_class_list(tmp_path: Path) -> None:
    afew = tmp_path / "afew"
    write_video(afew / "Train" / "Happy" / "001.mp4", 0.2, tone(0.2, 200, sr=44100))
    write_video(afew / "Val" / "Sad" / "002.mp4", 0.2, tone(0.2, 300, sr=44100))
    faces, audio = read_face_source(afew), list_audio_inputs(afew)
    assert (faces.format, audio.format) == ("afew", "afew")
    assert faces.classes == audio.classes == list(EMOTIONS)  # audio had only happy, sad


def test_odd_class_folders_are_named_in_a_warning(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    _face(ds / "happy" / "s01" / "x.png")  # <emotion>/<subject>/: the emotion is the class
    _face(ds / "sad" / "session1" / "cam2" / "y.png")
    _face(ds / "hapy" / "z.png")  # a typo
    _face(ds / "loose.png")
    source = read_face_source(ds)
    labels = {i.sample_id: i.label for i in source.items}
    assert labels == {
        "happy/s01/x": "happy",
        "sad/session1/cam2/y": "sad",
        "hapy/z": "hapy",
        "loose": "",
    }
    text = " | ".join(source.warnings)
    assert "hapy (did you mean happy?)" in text and "1 file directly in" in text
    with pytest.raises(InputError, match="--strict"):
        read_face_source(ds, class_list=ClassListParams(strict=True))
    declared = read_face_source(ds, class_list=ClassListParams(classes=("happy", "sad")))
    assert declared.classes == ["happy", "sad"]
    assert [r[2] for r in declared.rejects] == ["class 'hapy' is not one of --classes"]


def test_class_folders_that_are_not_emotions_warn_when_read_as_unlabelled(tmp_path: Path) -> None:
    ds = tmp_path / "pets"
    _face(ds / "cats" / "a.png")
    _face(ds / "dogs" / "b.png")
    code, output = _preprocess(str(ds), "--detector", "none", "-o", str(tmp_path / "f.h5"))
    assert code == 0 and "no emotion-named class folders" in output and "cats, dogs" in output
    code, output = _preprocess(str(ds), "--strict", "-o", str(tmp_path / "g.h5"))
    assert code == 2 and "--format folder" in output and not (tmp_path / "g.h5").exists()
    source = read_face_source(ds, "folder")
    assert source.classes == ["cats", "dogs"]


# --------------------------------------------------------------------------- cascades, outputs


@pytest.mark.parametrize("cascade", ["missing.xml", "face.png"])
def test_a_bad_cascade_is_refused_before_any_work(tmp_path: Path, cascade: str) -> None:
    ds = tmp_path / "ds"
    _face(ds / "happy" / "a.png")
    _face(tmp_path / "face.png")
    out = tmp_path / "f.h5"
    code, output = _preprocess(str(ds), "--cascade", str(tmp_path / cascade), "-o", str(out))
    assert code == 2 and "cannot load the Haar cascade" in output, output
    assert not out.exists()


def test_default_outputs_of_two_inputs_with_one_name_never_collide(tmp_path: Path) -> None:
    _face(tmp_path / "a" / "sfew" / "happy" / "x.png")
    _face(tmp_path / "b" / "sfew" / "sad" / "y.png")

    def run(source: str) -> subprocess.CompletedProcess[str]:
        args = ["preprocess-faces", source, "--workdir", "work", "--detector", "none", "-j", "1"]
        return subprocess.run(
            [sys.executable, "-c", "from emocli.cli import main; main()", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    assert run("a/sfew").returncode == 0
    before = (tmp_path / "work" / "faces" / "sfew.h5").read_bytes()
    refused = run("b/sfew")
    assert refused.returncode == 2 and "-o work/faces/b-sfew.h5" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert (tmp_path / "work" / "faces" / "sfew.h5").read_bytes() == before
    again = run("a/sfew")  # the same input: up to date, not refused
    assert again.returncode == 0 and "up to date" in again.stdout
