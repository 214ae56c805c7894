"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` (the team's real data); the test is skipped when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not available at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace, also exported as ``EMOCLI_WORKDIR`` for CLI tests."""
    work = tmp_path / "work"
    monkeypatch.setenv("EMOCLI_WORKDIR", str(work))
    return work
