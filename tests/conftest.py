"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# torch 2.13.0's oneDNN corrupts the heap ("corrupted double-linked list", then an abort) in
# the weight gradient of convolutions with 4 channels on CPUs without AVX-512 (seen on an
# AVX2 AMD EPYC); the tests' tiny networks have such layers, real ones (>= 8) do not. Its
# SSE4.1 kernels are unaffected, and the speed of these tiny networks does not matter. Set
# before any oneDNN primitive is created; the CLI subprocesses of the tests inherit it.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "SSE41")

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo dataset (:data:`tests.tiny_demo.TINY_DEMO`), generated once a session.

    Shared by the tests that run the whole chain on it: copy it (``shutil.copytree``) before
    writing anything into it.
    """
    from emocli.demo import generate_demo_data
    from tests.tiny_demo import TINY_DEMO

    data = tmp_path_factory.mktemp("tiny-demo") / "demo"
    generate_demo_data(data, TINY_DEMO)
    return data


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


@pytest.fixture()
def one_torch_thread() -> Iterator[None]:
    """One torch thread: much faster than two on a busy 2-core machine; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
