"""Building a dataclass from another object's attributes of the same names.

The stages turn their parameters into the settings of their building blocks this way
(``OptimConfig`` from ``FinetuneParams``: ``lr``, ``epochs`` ...), so a setting is named once,
in both places alike, and never copied by hand field by field.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def from_attributes(cls: type[T], source: object, prefix: str = "", /, **given: Any) -> T:
    """``cls(**given)``, every other field of the dataclass ``cls`` taken from ``source``'s
    attribute ``prefix + name`` where ``source`` has one (with the prefix ``"mlp_"``, ``hidden``
    from ``mlp_hidden``); the fields it lacks keep their defaults."""
    values = {
        f.name: getattr(source, prefix + f.name)
        for f in dataclasses.fields(cls)
        if f.init and f.name not in given and hasattr(source, prefix + f.name)
    }
    return cls(**values, **given)
