"""Helpers for the frozen parameter dataclasses of the stages.

Each stage declares ``@dataclass(frozen=True) class <Stage>Params`` with defaults that
reproduce the source papers and a ``__post_init__`` that validates values (raising
:class:`emocli.errors.ParamsError`). Fields that cannot change the result (workers,
device, verbosity) are declared with :func:`runtime_field`, so they are stored in the
artifact but left out of its fingerprint.

A parameter is declared once: :func:`param` (and :func:`runtime_field`) give the field its
``--help`` text and, where it differs from ``--<name-with-dashes>``, its option names; the
command's options are generated from the fields (:func:`emocli.commands.common.with_params`).
Such a dataclass lives in a light module of :mod:`emocli.stage_params` (no numpy, no h5py),
so ``emocli --help`` stays instant.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from emocli.errors import ParamsError

_AFFECTS_RESULT = "affects_result"
_OMIT_AT_DEFAULT = "omit_at_default"
#: Field metadata of a parameter's command-line option: help text, option names, the
#: ``--help`` panel it is listed under, and further ``typer.Option`` arguments (``min`` ...).
HELP, FLAGS, GROUP, OPTION = "help", "flags", "group", "option"


def param(
    default: Any,
    help: str,
    *flags: str,
    group: str | None = None,
    affects_result: bool = True,
    omit_at_default: bool = False,
    **option: Any,
) -> Any:
    """A stage parameter and its option: ``help`` is its ``--help`` text, ``flags`` its option
    names (default ``--<name-with-dashes>``; a bool gets ``--x/--no-x``), ``group`` the
    ``--help`` panel that lists it (default: Options), ``option`` further ``typer.Option``
    arguments (e.g. ``min=1``: click refuses a smaller value and ``--help`` shows the range).

    ``omit_at_default``: left out of the fingerprint while it has its default value, so a
    parameter added to a stage keeps the artifacts made before it up to date (its default
    must then never change: bump the stage's version instead)."""
    metadata = {
        _AFFECTS_RESULT: affects_result,
        _OMIT_AT_DEFAULT: omit_at_default,
        HELP: help,
        FLAGS: flags,
        GROUP: group,
    }
    return dataclasses.field(default=default, metadata={**metadata, OPTION: option})


def runtime_field(
    default: Any, help: str = "", *flags: str, group: str | None = None, **option: Any
) -> Any:
    """A parameter that cannot change a stage's result (e.g. ``workers``): not fingerprinted.
    With ``help``, the command's option is generated from it as :func:`param`'s."""
    if not help:
        return dataclasses.field(default=default, metadata={_AFFECTS_RESULT: False})
    return param(default, help, *flags, group=group, affects_result=False, **option)


def params_dict(params: Any) -> dict[str, Any]:
    """All parameters as a JSON-ready dict (paths and tuples become strings and lists)."""
    return {f.name: _jsonable(getattr(params, f.name)) for f in dataclasses.fields(params)}


def result_params(params: Any) -> dict[str, Any]:
    """The parameters that affect the result: what goes into the fingerprint (less those
    declared ``omit_at_default`` that have their default value)."""
    return {
        f.name: _jsonable(getattr(params, f.name))
        for f in dataclasses.fields(params)
        if f.metadata.get(_AFFECTS_RESULT, True)
        and not (f.metadata.get(_OMIT_AT_DEFAULT) and getattr(params, f.name) == f.default)
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def require(condition: bool, message: str) -> None:
    """Raise :class:`ParamsError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ParamsError(message)
