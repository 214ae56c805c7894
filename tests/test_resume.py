"""Long trainings resume: finetune and pretrain-gan go on from the last completed epoch.

A run is "killed" in-process right after its resume point of epoch k is written (the write
raises); the rerun of the same command must say that it resumes and write artifacts equal to
an uninterrupted run's (weights, history, grids, predictions; wall-clock fields excepted).
``--no-resume`` and a changed command start over; the point is deleted after the commit.
The SIGKILL version of these checks is tests/robust/test_resume_after_kill.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from emocli.cli import app
from emocli.training import resume as resume_mod
from emocli.training.resume import read_header, resume_files, resume_path
from stages import finetune, pretrain_gan
from tests.robust.helpers import artifact_content, same_content
from tests.test_gan import SIZE, TINY_RUN, _faces
from tests.test_training import make_faces

TINY_NET = '{"widths": [4, 8], "blocks": [1, 1]}'
#: A tiny finetune that draws random numbers every step (augmentation) and steps a schedule.
FT = finetune.FinetuneParams(
    model="resnet_small",
    model_kwargs=TINY_NET,
    augment="strong",
    scheduler="onecycle",
    batch_size=8,
    lr=0.01,
    epochs=4,
    patience=2,
    accelerator="cpu",
    devices="1",
    threads=1,
)


class Killed(Exception):
    """Stands for a SIGKILL right after a resume point was written."""


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """One torch thread for every test here (tests/conftest.py)."""


def _kill_after(monkeypatch: pytest.MonkeyPatch, epochs: int, run: int = 0) -> None:
    """The next resume point of ``epochs`` completed epochs of run ``run`` ends the process."""
    real_write = resume_mod.RunResume.write

    def write(self: Any, state: dict[str, Any], epochs_done: int, finished: bool) -> None:
        real_write(self, state, epochs_done, finished)
        if epochs_done == epochs and self.key["run"] == run and not finished:
            monkeypatch.setattr(resume_mod.RunResume, "write", real_write)
            raise Killed

    monkeypatch.setattr(resume_mod.RunResume, "write", write)


def _same(a: Path, b: Path) -> list[str]:
    """Entries that differ between two artifacts (timings and the model path left out)."""
    return [k for k in same_content(artifact_content(a), artifact_content(b)) if k != "@model"]


def _finetune(params: Any, src: Path, out: Path, **kw: Any) -> Any:
    return finetune.run(params, src, out / "m.h5", out / "p.h5", **kw)


def _into(done: list[int]) -> Any:
    """A progress hook that collects the ``completed`` counts."""
    return lambda task, completed, total: done.append(completed)


def _assert_equal_runs(ref: Path, out: Path) -> None:
    assert _same(ref / "m.h5", out / "m.h5") == []
    assert _same(ref / "p.h5", out / "p.h5") == []
    assert resume_files(out / "m.h5") == [], "the resume point outlived the commit"


@pytest.mark.parametrize(
    ("changes", "kill_epochs", "kill_run", "said"),
    [
        ({}, 2, 0, "resuming from epoch 2 of 4"),
        ({"folds": 3, "epochs": 2}, 1, 2, "resuming fold 3/3 from epoch 1 of 2; 2 of 3 runs done"),
    ],
    ids=["one-run", "k-fold"],
)
def test_finetune_resumes_and_equals_an_uninterrupted_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    kill_epochs: int,
    kill_run: int,
    said: str,
) -> None:
    src = make_faces(tmp_path / "faces.h5")
    params = replace(FT, **changes)
    _finetune(params, src, tmp_path / "ref")
    out = tmp_path / "out"
    _kill_after(monkeypatch, kill_epochs, kill_run)
    with pytest.raises(Killed):
        _finetune(params, src, out)
    point = resume_path(out / "m.h5", kill_run, 3 if params.folds else 1)
    header = read_header(point)  # weights-only torch file
    assert header["epochs_done"] == kill_epochs and not header["finished"]
    assert not (out / "m.h5").exists() and not list(out.glob(".*.tmp-*"))
    notes: list[str] = []
    progress: list[tuple[str, int]] = []
    _finetune(
        params, src, out, notice=notes.append, progress=lambda t, d, n: progress.append((t, d))
    )
    assert len(notes) == 1 and notes[0].startswith(said), notes
    assert str(point) in notes[0]
    task = "training fold 3/3" if params.folds else "training"
    assert min(d for t, d in progress if t == task) == kill_epochs  # no epoch trained twice
    _assert_equal_runs(tmp_path / "ref", out)


def test_a_finished_training_killed_while_writing_is_not_trained_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_faces(tmp_path / "faces.h5")
    _finetune(FT, src, tmp_path / "ref")
    out = tmp_path / "out"
    real = finetune.write_model_artifact

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Killed

    monkeypatch.setattr(finetune, "write_model_artifact", crash)
    with pytest.raises(Killed):
        _finetune(FT, src, out)
    monkeypatch.setattr(finetune, "write_model_artifact", real)
    assert read_header(resume_path(out / "m.h5"))["finished"]
    notes: list[str] = []
    epochs: list[int] = []
    _finetune(FT, src, out, notice=notes.append, progress=lambda t, d, n: epochs.append(d))
    assert len(notes) == 1 and "(training had ended)" in notes[0], notes
    assert len(set(epochs)) == 1, "a finished training was trained again"
    _assert_equal_runs(tmp_path / "ref", out)


def test_no_resume_and_a_changed_command_start_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_faces(tmp_path / "faces.h5")
    out = tmp_path / "out"
    for rerun in ("no-resume", "changed"):
        _kill_after(monkeypatch, 2)
        with pytest.raises(Killed):
            _finetune(FT, src, out)
        assert resume_path(out / "m.h5").is_file()
        notes: list[str] = []
        epochs: list[int] = []
        if rerun == "no-resume":
            kw: dict[str, Any] = {"resume": False}
            params = FT
        else:
            kw, params = {}, replace(FT, lr=0.02)
        result = _finetune(params, src, out, notice=notes.append, progress=_into(epochs), **kw)
        assert not result.up_to_date
        assert len(notes) == 1 and not any("resuming" in n for n in notes), notes
        if rerun == "no-resume":
            assert notes[0].startswith("--no-resume: starting over (removed the resume point")
        else:
            assert (
                notes[0].startswith("ignoring the resume point") and "another command" in notes[0]
            )
        assert min(epochs) == 0 and 1 in epochs, "did not start over"
        assert resume_files(out / "m.h5") == []
        (out / "m.h5").unlink()  # the next round trains again


def test_an_unreadable_resume_point_is_ignored(tmp_path: Path) -> None:
    src = make_faces(tmp_path / "faces.h5")
    out = tmp_path / "out"
    out.mkdir()
    resume_path(out / "m.h5").write_bytes(b"PK\x03\x04 not a torch file")
    notes: list[str] = []
    _finetune(replace(FT, epochs=1), src, out, notice=notes.append)
    assert len(notes) == 1 and "unreadable" in notes[0] and "starting over" in notes[0]
    assert resume_files(out / "m.h5") == []


@pytest.mark.parametrize(
    ("changes", "kill_run"),
    [
        ({"d_ema_decay": 0.9, "dev_fraction": 0.2, "d_block_dropout": 0.3, "augment": "spec"}, 0),
        ({"folds": 2, "epochs": 3, "lr_decay_start": 0.5}, 1),
    ],
    ids=["averaged-best-epoch", "k-fold"],
)
def test_pretrain_gan_resumes_and_equals_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], kill_run: int
) -> None:
    lab = _faces(tmp_path / "lab.h5", 48, SIZE, True, 1)
    unl = _faces(tmp_path / "unl.h5", 64, 40, False, 2)
    params = pretrain_gan.PretrainGanParams(**{**TINY_RUN, "epochs": 4, **changes})

    def run(out: Path, **kw: Any) -> Any:
        return pretrain_gan.run(params, lab, [unl], out / "m.h5", out / "p.h5", **kw)

    run(tmp_path / "ref")
    out = tmp_path / "out"
    _kill_after(monkeypatch, 2, kill_run)
    with pytest.raises(Killed):
        run(out)
    notes: list[str] = []
    run(out, notice=notes.append)
    assert len(notes) == 1 and "from epoch 2 of" in notes[0], notes
    _assert_equal_runs(tmp_path / "ref", out)
    ref_pngs = sorted(p.name for p in (tmp_path / "ref" / "m-samples").iterdir())
    assert sorted(p.name for p in (out / "m-samples").iterdir()) == ref_pngs


def test_the_cli_says_it_resumes_and_offers_no_resume(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_faces(tmp_path / "faces.h5")
    args = ["finetune", str(src), "--model", "resnet_small", "--model-kwargs", TINY_NET]
    args += ["--epochs", "3", "--batch-size", "8", "--accelerator", "cpu", "--threads", "1"]
    args += ["-o", str(tmp_path / "m.h5"), "--predictions", str(tmp_path / "p.h5")]
    runner = CliRunner()
    _kill_after(monkeypatch, 1)
    killed = runner.invoke(app, args)
    assert isinstance(killed.exception, Killed)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"resuming from epoch 1 of 3 ({resume_path(tmp_path / 'm.h5')};" in text
    assert "--no-resume" in " ".join(runner.invoke(app, ["finetune", "--help"]).output.split())
