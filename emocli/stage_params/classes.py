"""How a reading stage (preprocess-faces, extract-audio) names its classes: the parameters of
:mod:`emocli.datasets.classes`, declared once for both stages and their commands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from emocli.params import param, require, runtime_field


def parse_class_option(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"Angry, happy"`` (or a config's array) -> ``("angry", "happy")``: normalised names,
    order kept."""
    from emocli.labels import normalise_class_name  # numpy: not at import

    parts = value.split(",") if isinstance(value, str) else value
    return tuple(normalise_class_name(c) for c in parts if c.strip())


@dataclass(frozen=True)
class ClassListParams:
    """How a reading stage names its classes.

    classes : the class list, declared (``--classes angry,happy``); empty: from the dataset.
    strict : stop with an error instead of a warning where a label would be guessed.
    """

    classes: tuple[str, ...] = param(
        (),
        "The class list, comma-separated (e.g. angry,happy,sad): files of other class folders "
        "are rejected \\[default: the dataset's classes].",
        parser=parse_class_option,
        show_default=False,
    )
    strict: bool = runtime_field(
        False,
        "Stop with an error where a label would be guessed (odd class folders, loose files).",
        "--strict/",
    )

    def __post_init__(self) -> None:
        from emocli.labels import normalise_class_name  # numpy: not at import

        names = [normalise_class_name(c) for c in self.classes]
        require(all(names), "--classes: empty class name (give names separated by commas)")
        require(len(set(names)) == len(names), "--classes: a class is named twice")
