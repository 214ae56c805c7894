"""The command line: help, version, inspect, errors, start-up time."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emocli import __version__
from emocli.cli import app
from tests.test_artifacts import write_faces

runner = CliRunner()

STAGES = (
    "extract-audio",
    "preprocess-faces",
    "build-spectrograms",
    "pretrain-gan",
    "finetune",
    "fuse",
    "evaluate",
)


def test_help_lists_every_stage_and_tool() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in (*STAGES, "inspect", "demo-data"):
        assert name in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"emocli {__version__}"


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t = time.perf_counter();"
        "from emocli.cli import app;"
        "heavy = [m for m in ('torch', 'cv2', 'librosa', 'h5py', 'sklearn', 'matplotlib', 'numpy') "
        "if m in sys.modules];"
        "print(heavy, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, _seconds = out.stdout.rsplit(" ", 1)
    assert heavy == "[]"
    # CPU time, not wall time: the test must not fail because the machine is busy
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "emocli.cli", "--help"], capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) < 1.0


COMMANDS = (*STAGES, "predict", "export", "models", "inspect", "import-predictions", "demo-data")


def test_every_help_is_whole_at_80_columns() -> None:
    """No option name, type or default cut short (rich's ellipsis) on an 80-column terminal."""
    env = {"COLUMNS": "80", "PATH": str(Path(sys.executable).parent)}
    for name in ("", *COMMANDS):
        args = [sys.executable, "-m", "emocli.cli", *([name] if name else []), "--help"]
        out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
        assert max(len(line) for line in out.splitlines()) <= 80, name
        assert "…" not in out, (name, [line for line in out.splitlines() if "…" in line])
        if name == "pretrain-gan":
            for option in ("--supervised-weight", "--labelled-batch-size", "--predictions-output"):
                assert option in out


def test_every_hidden_alias_is_the_second_name_of_an_option() -> None:
    """The old spellings the help leaves out name an option that the help shows by another
    name (no typo'd alias, no option left without a shown name)."""
    import typer.main

    from emocli.commands.common import HIDDEN_ALIASES

    found = set()
    for command in typer.main.get_command(app).commands.values():  # type: ignore[attr-defined]
        for param in command.params:
            hidden = HIDDEN_ALIASES.intersection(getattr(param, "opts", ()))
            if hidden:
                assert param.opts[0].startswith("--") and param.opts[0] not in hidden
                found |= hidden
    assert found == HIDDEN_ALIASES


def test_every_stage_command_ends_with_the_shared_options() -> None:
    """The options every stage command takes (common.py's ``_shared_options``) come last, in
    one order, after the command's own and its stage's parameters."""
    import typer.main

    shared = ("workdir", "workers", "force", "resume", "config")
    for name in (*STAGES, "import-predictions", "predict"):
        command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
        names = [p.name for p in command.params]
        tail = names[names.index("workdir") :]
        assert tail == [n for n in shared if n in tail], (name, tail)
        assert {"workdir", "force", "config"} <= set(tail), (name, tail)


def test_every_stage_has_help() -> None:
    for name in STAGES:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_inspect_prints_provenance(tmp_path: Path) -> None:
    path = write_faces(tmp_path / "faces.h5", n=6)
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    for text in ("faces", "fingerprint", "images", "6x8x8", "uint8", "angry", "train", "val"):
        assert text in result.output
    as_json = runner.invoke(app, ["inspect", str(path), "--json"])
    info = json.loads(as_json.output)
    assert info["counts"] == {"train": {"angry": 2, "happy": 2}, "val": {"angry": 1, "happy": 1}}
    assert info["inputs"][0]["path"] == "raw/"


def test_inspect_of_a_bad_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    result = runner.invoke(app, ["inspect", str(bad)])
    assert result.exit_code == 2
    assert "error:" in result.output and "not a readable HDF5" in result.output
    assert "Traceback" not in result.output


def test_finished_tasks_print_one_line_without_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In a log file (no terminal, no bar) each finished task still says it is done, once."""
    from emocli.console import rich_progress

    with rich_progress() as hook:
        hook("counting", 1, 2)
        hook("counting", 2, 2)
        hook("counting", 2, 2)
        hook("open-ended", 5, None)
    err = capsys.readouterr().err
    assert err.count("counting: 2/2 done in") == 1
    assert "open-ended" not in err


def test_long_tasks_report_now_and_then_without_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from emocli import console

    monkeypatch.setattr(console, "LOG_PROGRESS_EVERY_S", 0.0)
    with console.rich_progress() as hook:
        hook("training", 0, 4)
        hook("training", 1, 4)
        hook("training", 4, 4)
        hook("reading", 7, None)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("training: 0/4 (0 %) after")
    assert lines[1].startswith("training: 1/4 (25 %) after")
    assert lines[2].startswith("training: 4/4 done in")
    assert lines[3].startswith("reading: 7 after")


def test_a_ctrl_c_during_a_preload_is_held_until_the_import_ends() -> None:
    """Ctrl-C inside torch's C++ start-up would abort the process: it is delivered after."""
    import os
    import signal

    from emocli.held_signals import ctrl_c_held

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached_the_end_of_the_block = False
    try:
        with pytest.raises(KeyboardInterrupt), ctrl_c_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # Python runs signal handlers here: the Ctrl-C is only held
            reached_the_end_of_the_block = True
        assert reached_the_end_of_the_block
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
