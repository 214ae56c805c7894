"""What the commands share: the declaration of a command's own arguments and options
(:func:`argument`, :func:`option`), the options of a stage command generated from its params
dataclass plus those every stage command takes (:func:`with_params`, :class:`StageCall`), and
running a stage then reporting its result (:func:`run_and_report`)."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from emocli.config import use_config
from emocli.params import FLAGS, GROUP, HELP, OPTION
from emocli.workspace import WORKDIR_ENV, Workspace, resolve_workspace

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult

KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY


def argument(help: str, default: Any = ..., **extra: Any) -> Any:
    """A command's positional argument, as its parameter's default (``source: Path =
    argument("Dataset folder.")``): required unless it has a ``default``; ``extra`` are further
    ``typer.Argument`` arguments."""
    return typer.Argument(default, help=help, **extra)


def option(
    help: str, *flags: str, default: Any = None, group: str | None = None, **extra: Any
) -> Any:
    """A command's option, as its parameter's default (``labels: Optional[Path] =
    option("Labels CSV.")`` is ``--labels``): ``flags`` are its names where they are not
    ``--<name-with-dashes>`` (a bool without them is ``--<name>/--no-<name>``), ``group`` the
    ``--help`` panel that lists it (default: Options), ``extra`` further ``typer.Option``
    arguments (``min=0`` ...)."""
    return typer.Option(default, *flags, help=help, rich_help_panel=group, **extra)


#: ``--output``: the artifact a stage command writes.
OUTPUT = option(
    "Output artifact path \\[default: derived from the input, in the workspace].", "--output", "-o"
)


@dataclasses.dataclass(frozen=True)
class StageCall:
    """What a stage command receives beside its own arguments and options (:func:`with_params`):
    the values of its stage's parameters and of the options every stage command shares."""

    params_cls: type
    values: dict[str, Any]
    workspace: Workspace
    force: bool
    workers: int = 0
    resume: bool | None = None  # None: the command has no --resume

    def params(self, **computed: Any) -> Any:
        """The stage's parameters, from the options' values and the ones the command
        ``computed`` (evaluate's ``names`` ...); an invalid one raises ``ParamsError``."""
        return self.params_cls(**{**self.values, **computed})

    def options(self, progress: ProgressHook) -> dict[str, Any]:
        """The keyword arguments of ``stage.run`` that every stage takes: ``force`` and
        ``progress`` (and ``resume`` where the command has ``--resume``)."""
        resume = {} if self.resume is None else {"resume": self.resume}
        return {"force": self.force, "progress": progress, **resume}


def _shared_options(
    workdir: Optional[Path] = option(
        "Workspace folder for default inputs and outputs \\[default: ./emocli-work].",
        envvar=WORKDIR_ENV,
        show_default=False,
    ),
    workers: int = option("Worker processes (0 = all cores).", "--workers", "-j", default=0, min=0),
    force: bool = option("Rerun even if the output is up to date.", "--force", default=False),
    resume: bool = option(
        "Go on from the last completed epoch of a killed run of the same command (its resume "
        "point beside the output); --no-resume starts over.",
        "--resume/--no-resume",
        default=True,
    ),
    config: Optional[Path] = option(
        "TOML file of this command's parameters (emocli inspect ARTIFACT --as-config writes "
        "one); options given here override it.",
        callback=use_config,
        is_eager=True,
        show_default=False,
    ),
) -> None:
    """The options every stage command takes, declared as parameters like a command's own:
    :func:`with_params` lists them last, in this order (``--workers`` and ``--resume`` only
    where it is asked for them)."""


def with_params(
    params_cls: type, *, workers: bool = False, resume: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make the decorated function a stage command of ``params_cls``. Its options are the
    function's own arguments and options, one per field of ``params_cls`` declared with
    :func:`emocli.params.param` (its help, option names and default, declared there once; a
    field the function declares itself is left to it; a tuple field is given comma-separated,
    ``--d-widths 64,128``), then the shared ones (:func:`_shared_options`). The function is
    called with its own parameters and a :class:`StageCall` (the parameter annotated so) that
    holds the values of the others."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.annotation is not StageCall]
        generated = _generated(params_cls, {p.name for p in own})
        every = inspect.signature(_shared_options, eval_str=True).parameters.values()
        shared = [p for p in every if {"workers": workers, "resume": resume}.get(p.name, True)]
        parameters = [p for p in own if _is_argument(p)] + generated
        parameters += [p for p in own if not _is_argument(p)] + shared

        @functools.wraps(command)
        def run(**given: Any) -> None:
            values = {p.name: given.pop(p.name) for p in generated}
            common = {p.name: given.pop(p.name) for p in shared}
            del common["config"]  # read by its callback, use_config
            workspace = resolve_workspace(common.pop("workdir"))
            command(StageCall(params_cls, values, workspace, **common), **given)

        keyword = [p.replace(kind=KEYWORD_ONLY) for p in parameters]
        setattr(run, "__signature__", inspect.Signature(keyword))  # noqa: B010
        return run

    return decorate


def _generated(params_cls: type, declared: set[str]) -> list[inspect.Parameter]:
    """One option per field of ``params_cls`` with ``--help`` text not in ``declared``."""
    kinds = typing.get_type_hints(params_cls)
    generated = []
    for field in dataclasses.fields(params_cls):
        text = field.metadata.get(HELP)
        if not text or field.name in declared:
            continue
        kind, default = kinds[field.name], typing.cast(Any, field.default)
        extra = dict(field.metadata.get(OPTION, {}))
        if typing.get_origin(kind) is tuple:  # given comma-separated: --widths 64,128
            extra.setdefault("parser", _comma_separated(typing.get_args(kind)[0]))
            kind, default = str, ",".join(map(str, default))
        flags = field.metadata.get(FLAGS) or ("--" + field.name.replace("_", "-"),)
        if kind is bool and "/" not in flags[0]:
            flags = (f"{flags[0]}/--no-{flags[0][2:]}", *flags[1:])
        given = option(text, *flags, default=default, group=field.metadata.get(GROUP), **extra)
        generated.append(
            inspect.Parameter(field.name, KEYWORD_ONLY, default=given, annotation=kind)
        )
    return generated


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
    return isinstance(parameter.default, typer.models.ArgumentInfo)


#: Old spellings of option names, kept so that existing scripts still run: accepted on the
#: command line beside the option's first name, left out of ``--help``
#: (:func:`emocli.cli.readable_help`).
HIDDEN_ALIASES = frozenset({"--labeled-batch-size", "--max-unlabeled", "--unlabeled"})


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
