"""Options shared by every stage command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from emocli.config import use_config
from emocli.workspace import WORKDIR_ENV

Workdir = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(
        "--workdir",
        envvar=WORKDIR_ENV,
        help="Workspace folder for default inputs and outputs \\[default: ./emocli-work].",
        show_default=False,
    ),
]
Output = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--output",
        "-o",
        help="Output artifact path \\[default: derived from the input, in the workspace].",
    ),
]
Config = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--config",
        callback=use_config,
        is_eager=True,
        help="TOML file of this command's parameters (emocli inspect ARTIFACT --as-config "
        "writes one); options given here override it.",
        show_default=False,
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Rerun even if the output is up to date.")]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume/--no-resume",
        help="Go on from the last completed epoch of a killed run of the same command (its "
        "resume point beside the output); --no-resume starts over.",
    ),
]
Workers = Annotated[
    int, typer.Option("--workers", "-j", min=0, help="Worker processes (0 = all cores).")
]

Classes = Annotated[
    str,
    typer.Option(
        "--classes",
        help="The class list, comma-separated (e.g. angry,happy,sad): files of other class "
        "folders are rejected \\[default: the dataset's classes].",
        show_default=False,
    ),
]
Strict = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Stop with an error where a label would be guessed (odd class folders, loose files).",
    ),
]


def print_warnings(summary: dict[str, object]) -> None:
    """Print a reading stage's ``warnings`` (labels guessed), one ``warning:`` line each."""
    from rich.markup import escape

    from emocli.console import err_console

    for warning in summary.get("warnings") or []:  # type: ignore[attr-defined]
        err_console.print(f"[bold yellow]warning:[/] {escape(str(warning))}", soft_wrap=True)


def print_notice(text: str) -> None:
    """Print a stage's notice (``resuming from epoch 3 of 10 ...``) to stderr, as it is."""

    from emocli.console import err_console

    err_console.print(text, markup=False, soft_wrap=True, highlight=False)
