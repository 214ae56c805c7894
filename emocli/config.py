"""Configs that reproduce an artifact: a stage command's parameters as a TOML file.

``--config FILE.toml`` (every command that runs a stage): the file's values become the
defaults of the command's parameters, so what the command line gives overrides them. Keys
are the parameters' python names (``sample_rate``, ``stats_from``, the positional ``audio``);
``stage`` names the command the file is for; options given several times and list arguments
are TOML arrays; a relative path of a path parameter is relative to the file's folder.

``emocli inspect ARTIFACT --as-config`` prints the file that made ARTIFACT
(:func:`artifact_config`): its recorded params, its inputs by the command parameter each came
from (the ``role`` of its ``inputs`` records) and its outputs (attrs ``outputs`` and ``cwd``,
see :func:`emocli.stage.record_command`). The recorded params are the values of the
parameters of the same name (a tuple field as the comma-separated text its option takes, an
empty path as none); ``output`` is the only output, or a command module maps its parameters
to the outputs' roles in ``AS_CONFIG`` (``{"output": "model", "predictions": "predictions"}``).
A command module whose parameters are not the params dataclass's fields one to one defines
``config_values(params, outputs)``, which gives the values of the others. A command module
whose parameters were renamed defines ``RENAMED_PARAMETERS`` (old name -> new name): configs
and artifacts written before the rename still give their values under the old names.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from emocli.errors import ArtifactError, EmocliError, InputError, ParamsError

#: Stages whose command has another name.
STAGE_COMMANDS = {"predict-artifact": "predict"}
#: Command parameters a config never sets.
NOT_CONFIGURABLE = ("config", "force", "workdir")
#: What one TOML value may be.
Scalar = str | int | float | bool


def command_of(stage: str) -> str:
    """The command that runs ``stage`` (``predict-artifact`` -> ``predict``)."""
    return STAGE_COMMANDS.get(stage, stage)


# --------------------------------------------------------------------------- --config


def use_config(ctx: Any, param: Any, value: Path | None) -> Path | None:
    """The eager ``--config`` callback: load the file into ``ctx.default_map`` (click's
    defaults of the command's parameters), so options on the command line still win."""
    if value is None:
        return None
    import typer

    try:
        values = load_config(value, ctx.command)
    except EmocliError as exc:
        raise typer.BadParameter(str(exc), ctx=ctx, param=param) from exc
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return value


def load_config(path: Path, command: Any) -> dict[str, Any]:
    """The parameter values of the TOML file ``path`` for the click ``command``.

    Raises :class:`ParamsError` for a file of another command, an unknown key or a value that
    is not a string, number, boolean or array of them; :class:`InputError` for an unreadable
    file.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the config ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: not a valid TOML file ({exc})") from exc
    stage = data.pop("stage", command.name)
    if command_of(str(stage)) != command.name:
        raise ParamsError(
            f"{path} is a config of `emocli {command_of(str(stage))}`, not of "
            f"`emocli {command.name}`: run `emocli {command_of(str(stage))} --config {path}`"
        )
    for old, new in renamed_parameters(command).items():
        if old in data:
            if new in data:
                raise ParamsError(f"{path}: {old} is the old name of {new}; give only {new}")
            data[new] = data.pop(old)
    valid = configurable(command)
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ParamsError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
            f"`emocli {command.name}`; valid keys: stage, {', '.join(valid)}"
        )
    paths = path_parameters(command)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if not _is_value(value):
            raise ParamsError(
                f"{path}: {key} must be a string, number, boolean or an array of them"
            )
        if key in paths:
            value = _in_folder(Path(path).parent, value)
        values[key] = value
    return values


def renamed_parameters(command: Any) -> dict[str, str]:
    """Old parameter names of ``command`` -> their new names (its module's
    ``RENAMED_PARAMETERS``; none for most commands)."""
    module = sys.modules[inspect.unwrap(command.callback).__module__]
    return dict(getattr(module, "RENAMED_PARAMETERS", {}))


def configurable(command: Any) -> list[str]:
    """The names a config of ``command`` may set, in the command's order."""
    return [p.name for p in command.params if p.name not in NOT_CONFIGURABLE]


def path_parameters(command: Any) -> set[str]:
    """The parameters of ``command`` annotated as paths (``Path``, ``list[Path]`` ...)."""
    hints = typing.get_type_hints(inspect.unwrap(command.callback))
    return {name for name, hint in hints.items() if _mentions_path(hint)}


def _mentions_path(hint: Any) -> bool:
    return hint is Path or any(_mentions_path(a) for a in typing.get_args(hint))


def _is_value(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, Scalar) for v in value)
    return isinstance(value, Scalar)


def _in_folder(folder: Path, value: Any) -> Any:
    """``value`` (a path or a list of them) relative to ``folder``. Kept as written when the
    folder is the current one: params that hold a path as text (``--predict-on``) enter the
    fingerprint as that text, so ``x.h5`` must not become ``./x.h5``."""
    if isinstance(value, list):
        return [_in_folder(folder, v) for v in value]
    if Path(value).is_absolute() or folder.resolve() == Path.cwd().resolve():
        return value
    return str(folder / value)


# --------------------------------------------------------------------------- --as-config


def artifact_config(path: Path, commands: Mapping[str, Any]) -> str:
    """The TOML text of the command that made the artifact ``path``, given the click
    ``commands`` by name. Raises :class:`ArtifactError` when the artifact does not record
    enough to rebuild it (a stage without a command, inputs of unknown role)."""
    from emocli.artifacts import open_artifact
    from emocli.provenance import folder_error

    if Path(path).is_dir():
        raise folder_error(Path(path))
    with open_artifact(path) as art:
        attrs = dict(art.attrs)
    stage = str(attrs.get("stage") or "")
    name = command_of(stage)
    if name not in commands:
        raise ArtifactError(f"{path}: made by stage {stage!r}, which no emocli command runs")
    command = commands[name]
    params = dict(attrs.get("params") or {})
    inputs = list(attrs.get("inputs") or [])
    cwd = str(attrs.get("cwd") or os.getcwd())
    outputs = attrs.get("outputs") or {str(attrs.get("kind")): str(Path(path).absolute())}
    notes = []
    if "outputs" not in attrs and "cwd" not in attrs:
        notes.append(
            "made before emocli recorded its outputs and working folder: input paths are "
            "taken as relative to this folder, outputs other than this artifact left out"
        )
    renamed = renamed_parameters(command)  # an artifact written before a rename
    params = {renamed.get(key, key): value for key, value in params.items()}
    if any("role" not in record for record in inputs):
        inputs = _guess_roles(Path(path), inputs, params, command)
    inputs = [{**r, "role": renamed.get(r["role"], r["role"])} for r in inputs]
    values = _command_values(command, params, outputs)
    lists = {p.name for p in command.params if p.multiple or p.nargs == -1}
    for record in inputs:
        role = record.get("role") or ""
        if not role or role in params or role not in configurable(command):
            continue  # found by the stage itself, or given by a param (--init)
        where = os.path.abspath(os.path.join(cwd, str(record["path"])))
        if role in lists:
            values.setdefault(role, []).append(where)
        else:
            values[role] = where
    relative = sorted(
        {r["role"] for r in inputs if r["role"] in params and _relative_text(r.get("path"))}
    )
    if relative:
        notes.append(
            f"{', '.join(relative)}: relative paths, as given in {cwd}; they enter "
            "the fingerprint as written, so keep this file in that folder"
        )
    head = [f"# emocli {name} --config this.toml  reproduces {Path(path).absolute()}"]
    head += [f"# note: {note}" for note in notes]
    order = configurable(command)
    body = {"stage": name, **{k: values[k] for k in order if values.get(k) is not None}}
    return "\n".join(head) + "\n" + toml_text(body)


def _command_values(
    command: Any, params: dict[str, Any], outputs: Mapping[str, str]
) -> dict[str, Any]:
    """The command's parameter values from the recorded params and outputs (see the module's
    docstring): its module's ``AS_CONFIG`` and ``config_values`` where it has them."""
    module = sys.modules[inspect.unwrap(command.callback).__module__]
    roles: Mapping[str, str] | None = getattr(module, "AS_CONFIG", None)
    if roles is None:
        values = {**params, "output": next(iter(outputs.values()), None)}
    else:
        values = {**params, **{name: outputs.get(role) for name, role in roles.items()}}
    translate: Callable[..., dict[str, Any]] | None = getattr(module, "config_values", None)
    if translate is not None:
        values.update(translate(params, outputs))
    lists = {p.name for p in command.params if p.multiple or p.nargs == -1}
    paths = path_parameters(command)
    found = {}
    for name in configurable(command):
        value = values.get(name)
        if isinstance(value, (list, tuple)) and name not in lists:
            value = ",".join(map(str, value))  # a tuple field: --d-widths 64,128
        if value is not None and not (name in paths and value == ""):
            found[name] = value
    return found


def _guess_roles(
    path: Path, inputs: list[dict[str, Any]], params: dict[str, Any], command: Any
) -> list[dict[str, Any]]:
    """Roles for an artifact written before inputs recorded theirs: the inputs a param names
    (``--init``) are that param's; the one input left is the command's one positional
    parameter. Raises :class:`ArtifactError` where that does not decide it."""
    given = {str(v).split(":", 1)[-1] for v in params.values() if isinstance(v, str) and v}
    rest = [r for r in inputs if str(r.get("path")) not in given]
    arguments = [p.name for p in command.params if p.param_type_name == "argument"]
    if len(arguments) != 1 or len(rest) != 1:
        listing = ", ".join(f"{r.get('path')} ({r.get('kind')})" for r in rest) or "none"
        raise ArtifactError(
            f"{path} was written before emocli recorded which option each input came from, "
            f"and its inputs ({listing}) do not tell which parameter of `emocli "
            f"{command.name}` each one is: rerun that command with --force to record them"
        )
    return [{**r, "role": arguments[0] if r in rest else ""} for r in inputs]


def _relative_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not Path(value).is_absolute()


# --------------------------------------------------------------------------- TOML


def toml_text(values: Mapping[str, Any]) -> str:
    """Flat ``key = value`` TOML of strings, numbers, booleans and arrays of them."""
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in values.items())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # 1e-05, inf and nan are TOML as Python writes them
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")
