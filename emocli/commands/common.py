"""Options shared by every stage command, and the options generated from a params dataclass."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from emocli.config import use_config
from emocli.params import FLAGS, HELP
from emocli.workspace import WORKDIR_ENV

Command = TypeVar("Command", bound=Callable[..., Any])


def with_params(params_cls: type) -> Callable[[Command], Command]:
    """Give the decorated command one option per field of ``params_cls`` declared with
    :func:`emocli.params.param` (its help, option names and default, declared there once),
    listed after the command's arguments and before its own options; the command receives
    them in its ``**values``, so ``params_cls(**values)`` builds the stage's parameters.
    A field the command declares itself is left to it."""

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        kinds = typing.get_type_hints(params_cls)
        generated = []
        for field in dataclasses.fields(params_cls):
            text = field.metadata.get(HELP)
            if not text or field.name in signature.parameters:
                continue
            kind = kinds[field.name]
            flags = field.metadata.get(FLAGS) or ("--" + field.name.replace("_", "-"),)
            if kind is bool and "/" not in flags[0]:
                flags = (f"{flags[0]}/--no-{flags[0][2:]}", *flags[1:])
            option = typer.Option(*flags, help=text)
            generated.append(
                inspect.Parameter(
                    field.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=field.default,
                    annotation=Annotated[kind, option],
                )
            )
        arguments = [p for p in own if _is_argument(p)]
        options = [p for p in own if not _is_argument(p)]
        keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in arguments]
        keyword += generated + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in options]
        setattr(command, "__signature__", signature.replace(parameters=keyword))  # noqa: B010
        return command

    return decorate


def _is_argument(parameter: inspect.Parameter) -> bool:
    return any(
        isinstance(meta, typer.models.ArgumentInfo)
        for meta in typing.get_args(parameter.annotation)[1:]
    )


#: Old spellings of option names, kept so that existing scripts still run: accepted on the
#: command line beside the option's first name, left out of ``--help``
#: (:func:`emocli.cli.readable_help`).
HIDDEN_ALIASES = frozenset({"--labeled-batch-size", "--max-unlabeled", "--unlabeled"})

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
