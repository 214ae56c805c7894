"""Fixtures of the robustness suite: the tiny demo data and a reference run of every stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.robust.helpers import artifact_content, make_demo, run_cli
from tests.robust.pipeline import PREDICTIONS_CSV, STEPS


@dataclass
class Reference:
    """The uninterrupted run: data folder, workspace, per-step seconds and artifact contents."""

    data: Path
    work: Path
    seconds: dict[str, float] = field(default_factory=dict)
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo dataset (read-only for the tests)."""
    return make_demo(tmp_path_factory.mktemp("robust") / "data")


@pytest.fixture(scope="session")
def reference(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """Every step run once, uninterrupted, in one workspace."""
    work = tmp_path_factory.mktemp("robust-work")
    (work / "imported.csv").write_text(PREDICTIONS_CSV)
    ref = Reference(demo_data, work)
    for step in STEPS:
        started = time.perf_counter()
        proc = run_cli(step.argv(work), cwd=demo_data, workdir=work)
        assert proc.returncode == 0, f"{step.name}: {proc.stderr}"
        ref.seconds[step.name] = time.perf_counter() - started
        for out in step.outputs:
            ref.contents[out] = artifact_content(work / out)
    return ref
