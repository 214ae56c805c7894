"""The bad-media catalogue (tests/robust/media_catalogue.py) through every stage that reads media.

preprocess-faces (images and videos) and extract-audio (videos and audio files) each finish
with exit 0, and every catalogue file is either processed (a sample) or rejected with a
reason in the artifact's ``rejects/`` group.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emocli.artifacts import open_artifact, read_group
from tests.robust.helpers import record, run_cli
from tests.robust.media_catalogue import write_catalogue

#: (stage, catalogue folder) pairs: every reading stage on every kind of media it accepts.
RUNS = [
    ("preprocess-faces", "images"),
    ("preprocess-faces", "videos"),
    ("extract-audio", "videos"),
    ("extract-audio", "audio"),
]


@pytest.fixture(scope="module")
def catalogue(
    demo_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("bad media")
    return root, write_catalogue(root, demo_data)


def test_the_catalogue_has_at_least_twenty_files(
    catalogue: tuple[Path, dict[str, list[str]]],
) -> None:
    assert sum(len(v) for v in catalogue[1].values()) >= 20


@pytest.mark.parametrize(("stage", "kind"), RUNS, ids=[f"{s}-{k}" for s, k in RUNS])
def test_each_file_is_processed_or_rejected_with_a_reason(
    stage: str, kind: str, catalogue: tuple[Path, dict[str, list[str]]], tmp_path: Path
) -> None:
    root, names = catalogue
    out = tmp_path / f"{kind}.h5"
    proc = run_cli([stage, kind, "-o", str(out)], cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    with open_artifact(out) as art:
        art.check_columns()
        processed = {str(s).split("/")[1] for s in art.column("sample_id")}
        rejects = read_group(art, "rejects")
    rejected = {
        Path(p).name: str(r) for p, r in zip(rejects["path"], rejects["reason"], strict=True)
    }
    assert all(reason.strip() for reason in rejected.values())
    missing = [n for n in names[kind] if Path(n).stem not in processed and n not in rejected]
    assert not missing, f"neither processed nor rejected: {missing}"
    assert "good face.png" not in rejected and "good clip.mp4" not in rejected
    record(bad_media_files=len(names[kind]), bad_media_rejected=len(rejected), crashes=0)
