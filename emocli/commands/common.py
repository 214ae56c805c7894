"""What every command shares: the options generated from a params dataclass, the common
options (workdir, output, config, force ...), and running a stage then reporting its result."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer

from emocli.config import use_config
from emocli.params import FLAGS, GROUP, HELP, OPTION
from emocli.workspace import WORKDIR_ENV

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult

Command = TypeVar("Command", bound=Callable[..., Any])


def with_params(params_cls: type) -> Callable[[Command], Command]:
    """Give the decorated command one option per field of ``params_cls`` declared with
    :func:`emocli.params.param` (its help, option names and default, declared there once),
    listed after the command's arguments and before its own options; the command receives
    them in its ``**values``, so ``params_cls(**values)`` builds the stage's parameters.
    A tuple field is given comma-separated (``--d-widths 64,128``). A field the command
    declares itself is left to it."""

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        kinds = typing.get_type_hints(params_cls)
        generated = []
        for field in dataclasses.fields(params_cls):
            text = field.metadata.get(HELP)
            if not text or field.name in signature.parameters:
                continue
            kind, default = kinds[field.name], typing.cast(Any, field.default)
            extra = dict(field.metadata.get(OPTION, {}))
            if typing.get_origin(kind) is tuple:  # given comma-separated: --widths 64,128
                extra.setdefault("parser", _comma_separated(typing.get_args(kind)[0]))
                kind, default = str, ",".join(map(str, default))
            flags = field.metadata.get(FLAGS) or ("--" + field.name.replace("_", "-"),)
            if kind is bool and "/" not in flags[0]:
                flags = (f"{flags[0]}/--no-{flags[0][2:]}", *flags[1:])
            option = typer.Option(
                *flags,
                help=text,
                rich_help_panel=field.metadata.get(GROUP),
                **extra,
            )
            generated.append(
                inspect.Parameter(
                    field.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=default,
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


def _comma_separated(item: type) -> Callable[[Any], tuple[Any, ...]]:
    """The parser of a tuple field's option: ``"64,128"`` (or a config's array) -> (64, 128)."""

    def parse(value: Any) -> tuple[Any, ...]:
        parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
        try:
            return tuple(item(str(part).strip()) for part in parts if str(part).strip())
        except ValueError:
            raise ValueError(f"comma-separated {item.__name__}s expected, got {value!r}") from None

    return parse


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


def run_and_report(
    action: Callable[[ProgressHook], StageResult],
    describe: Callable[[StageResult], Sequence[object]] | None = None,
    preload: tuple[str, ...] = (),
) -> StageResult:
    """Run a stage, ``action(progress)``, under :func:`emocli.console.execute` (progress bars;
    an :class:`~emocli.errors.EmocliError` becomes an ``error:`` line and exit code 2: the
    action builds the params, so that invalid ones are reported so too), then report it with
    :func:`emocli.console.print_result` and what ``describe(result)`` makes of its summary.
    A DDP worker process (rank > 0) reports nothing: rank 0 does."""
    from emocli.console import execute, print_result

    result: StageResult = execute(action, preload=preload)
    if not result.summary.get("distributed_rank"):
        print_result(result, describe(result) if describe else ())
    return result
