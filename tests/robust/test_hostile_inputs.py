"""A catalogue of hostile but realistic inputs through the CLI, by family: symlinks, output
paths, small data, layouts (the permission family runs in-process in
tests/test_hostile_datasets.py: root reads every folder whatever its mode).

Each case must end with exit 0 or 2 and no traceback (else: a crash), leave every file that
existed before byte-identical (else: an input lost), and, where a label or a split had to be
guessed, say so in its output (else: a silent guess). The counts go to docs/robustness.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.robust.helpers import record, run_cli

pytestmark = pytest.mark.robust


def _face(path: Path, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    cv2.imwrite(str(path), rng.integers(0, 255, (24, 24), dtype=np.uint8))
    return path


def _faces(root: Path, counts: dict[str, int]) -> Path:
    for label, n in counts.items():
        for k in range(n):
            _face(root / label / f"{label.replace('/', '_')}{k}.png", 7 * k + len(label))
    return root


@dataclass(frozen=True)
class Case:
    """One hostile input: ``setup(folder)`` builds it and returns the CLI arguments; the run
    must exit with ``code`` and print ``says`` (stdout + stderr, case-insensitive)."""

    family: str
    name: str
    setup: Callable[[Path], list[str]]
    code: int
    says: str = ""


NONE = ["--detector", "none", "-j", "1", "--no-preview"]
TINY_MODEL = ["--model", "resnet_small", "--model-kwargs", '{"widths": [4, 8], "blocks": [1, 1]}']
TINY_MODEL += ["--epochs", "1", "--batch-size", "8", "--threads", "1"]


def _dangling(d: Path) -> list[str]:
    _faces(d / "ds", {"happy": 1, "sad": 1})
    (d / "ds" / "sad" / "notes.txt").symlink_to("/nonexistent/notes.txt")
    return ["preprocess-faces", "ds", *NONE, "-o", "f.h5"]


def _self_loop(d: Path) -> list[str]:
    _faces(d / "ds", {"happy": 1, "sad": 1})
    (d / "ds" / "sad" / "loop.png").symlink_to("loop.png")
    return ["preprocess-faces", "ds", *NONE, "-o", "f.h5"]


def _parent_loop(d: Path) -> list[str]:
    _faces(d / "ds", {"happy": 1, "sad": 1})
    (d / "ds" / "happy" / "up").symlink_to("..")
    return ["preprocess-faces", "ds", *NONE, "-o", "f.h5"]


def _linked_splits(d: Path) -> list[str]:
    _faces(d / "store" / "Train", {"happy": 1, "sad": 1})
    _faces(d / "store" / "Val", {"happy": 1})
    (d / "mine").mkdir()
    (d / "mine" / "Train").symlink_to(d / "store" / "Train")
    (d / "mine" / "Val").symlink_to(d / "store" / "Val")
    return ["preprocess-faces", "mine", *NONE, "-o", "f.h5"]


def _two_links_one_file(d: Path) -> list[str]:
    _faces(d / "ds", {"happy": 1, "sad": 1})
    (d / "ds" / "sad" / "again.png").symlink_to(d / "ds" / "happy" / "happy0.png")
    return ["preprocess-faces", "ds", *NONE, "-o", "f.h5"]


def _audio_dangling(d: Path) -> list[str]:
    import soundfile as sf

    (d / "au" / "happy").mkdir(parents=True)
    sf.write(d / "au" / "happy" / "a.wav", np.zeros(1600, np.float32), 16000)
    (d / "au" / "happy" / "b.wav").symlink_to("/nonexistent/b.wav")
    return ["extract-audio", "au", "-j", "1", "-o", "a.h5"]


def _faces_artifact(d: Path, counts: dict[str, int]) -> Path:
    _faces(d / "ds", counts)
    proc = run_cli(["preprocess-faces", "ds", *NONE, "--size", "16", "-o", "f.h5"], cwd=d)
    assert proc.returncode == 0, proc.stderr
    return d / "f.h5"


def _finetune(counts: dict[str, int], *extra: str) -> Callable[[Path], list[str]]:
    def setup(d: Path) -> list[str]:
        _faces_artifact(d, counts)
        base = ["finetune", "f.h5", *TINY_MODEL]
        return [*base, "-o", "m.h5", "--predictions", "p.h5", *extra]

    return setup


def _output_is_input(d: Path) -> list[str]:
    _faces_artifact(d, {"happy": 3, "sad": 3})
    return ["finetune", "f.h5", *TINY_MODEL, "-o", "f.h5"]


def _output_is_folder(d: Path) -> list[str]:
    _faces_artifact(d, {"happy": 3, "sad": 3})
    (d / "models").mkdir()
    return ["finetune", "f.h5", *TINY_MODEL, "-o", "models"]


def _two_outputs_one_path(d: Path) -> list[str]:
    _faces_artifact(d, {"happy": 3, "sad": 3})
    return ["finetune", "f.h5", *TINY_MODEL, "-o", "x.h5", "--predictions", "x.h5"]


def _same_default_name(d: Path) -> list[str]:
    _faces(d / "a" / "sfew", {"happy": 1})
    _faces(d / "b" / "sfew", {"sad": 1})
    proc = run_cli(["preprocess-faces", "a/sfew", *NONE, "--workdir", "w"], cwd=d)
    assert proc.returncode == 0, proc.stderr
    return ["preprocess-faces", "b/sfew", *NONE, "--workdir", "w"]


def _layout(counts: dict[str, int], *extra: str) -> Callable[[Path], list[str]]:
    def setup(d: Path) -> list[str]:
        _faces(d / "ds", counts)
        return ["preprocess-faces", "ds", *NONE, "-o", "f.h5", *extra]

    return setup


def _loose_files(d: Path) -> list[str]:
    _faces(d / "ds", {"happy": 2, "sad": 2})
    for k in range(5):
        _face(d / "ds" / f"stray{k}.png", k)
    return ["preprocess-faces", "ds", *NONE, "-o", "f.h5"]


CASES = [
    Case("symlinks", "dangling link", _dangling, 0, "dangling symlink"),
    Case("symlinks", "link to itself", _self_loop, 0, "symlink loop"),
    Case("symlinks", "link to a parent folder", _parent_loop, 0, "a link to a parent folder"),
    Case("symlinks", "split folders linked in", _linked_splits, 0, "3 faces"),
    Case("symlinks", "two links to one file", _two_links_one_file, 0, "read once"),
    Case("symlinks", "dangling audio link", _audio_dangling, 0, "dangling symlink"),
    Case("output paths", "-o is the input", _output_is_input, 2, "also an input"),
    Case("output paths", "-o is a folder", _output_is_folder, 2, "is a folder"),
    Case("output paths", "one path for two outputs", _two_outputs_one_path, 2, "both"),
    Case("output paths", "two inputs, one default name", _same_default_name, 2, "pass -o"),
    Case("small data", "9 + 9", _finetune({"happy": 9, "sad": 9}), 0, "note: validation"),
    Case("small data", "1 + 2", _finetune({"happy": 1, "sad": 2}), 2, "'happy' has only 1"),
    Case("small data", "6 + 2", _finetune({"happy": 6, "sad": 2}), 0, "note: validation"),
    Case("small data", "3 + 3", _finetune({"happy": 3, "sad": 3}), 0, "note: validation"),
    Case(
        "small data",
        "10 + 4, 5 folds",
        _finetune({"happy": 10, "sad": 4}, "--folds", "5"),
        0,
        "note: fold",
    ),
    Case(
        "layouts", "classes that are not emotions", _layout({"cats": 1, "dogs": 1}), 0, "cats, dogs"
    ),
    Case(
        "layouts", "... with --strict", _layout({"cats": 1, "dogs": 1}, "--strict"), 2, "--strict"
    ),
    Case("layouts", "a typo folder", _layout({"happy": 1, "hapy": 1}), 0, "did you mean happy"),
    Case("layouts", "<emotion>/<subject>/", _layout({"happy/s01": 1, "sad/s02": 1}), 0, "happy"),
    Case("layouts", "stray images at the root", _loose_files, 0, "5 files directly in"),
    Case(
        "layouts",
        "declared classes",
        _layout({"happy": 1, "hapy": 1}, "--classes", "happy"),
        0,
        "not one of --classes",
    ),
]


def _snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under ``folder`` (links not followed)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}: {c.name}" for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    argv = case.setup(tmp_path)
    before = _snapshot(tmp_path)
    proc = run_cli(argv, cwd=tmp_path, workdir=tmp_path / "work")  # defaults stay inside
    text = proc.stdout + proc.stderr
    crashed = proc.returncode not in (0, 2) or "Traceback" in text
    lost = [name for name, digest in before.items() if _snapshot(tmp_path).get(name) != digest]
    guessed_silently = case.says.lower() not in text.lower()
    record(
        hostile_cases=1,
        crashes=int(crashed),
        inputs_lost=len(lost),
        silent_guesses=int(guessed_silently),
    )
    assert not crashed, text
    assert proc.returncode == case.code, text
    assert not lost, f"changed or removed: {lost}"
    assert not guessed_silently, f"expected {case.says!r} in:\n{text}"
