"""Building a dataclass from another object's attributes of the same names.

The stages turn their parameters into the settings of their building blocks this way
(``OptimConfig`` from ``FinetuneParams``: ``lr``, ``epochs`` ...), so a setting is named once,
in both places alike, and never copied by hand field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def from_attributes(
    cls: type[T],
    source: object,
    prefix: str = "",
    /,
    *,
    defaults: Iterable[str] = (),
    **given: Any,
) -> T:
    """``cls(**given)``, every other field of the dataclass ``cls`` taken from ``source``'s
    attribute ``prefix + name`` (with the prefix ``"mlp_"``, ``hidden`` from ``mlp_hidden``).

    A field that ``source`` lacks is an error (a renamed parameter must not fall back on a
    default unseen), unless ``defaults`` names it: those keep the dataclass's default.
    Raises ``TypeError`` naming the missing attributes, or a name in ``defaults`` that is no
    field of ``cls``.
    """
    kept = set(defaults)
    unknown = kept - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    missing = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name in given:
            continue
        if hasattr(source, prefix + f.name):
            values[f.name] = getattr(source, prefix + f.name)
        elif f.name not in kept:
            missing.append(prefix + f.name)
    if missing:
        raise TypeError(
            f"{cls.__name__} needs {', '.join(missing)} from {type(source).__name__}: give them "
            "or name them in defaults="
        )
    return cls(**values, **given)
