"""``evaluate``'s parameters, declared once for the command and the stage."""

from __future__ import annotations

from dataclasses import dataclass

from emocli.params import param, require

#: ``--split`` values besides a split name.
AUTO, ALL = "auto", "all"
#: Splits tried, in order, by ``--split auto``.
AUTO_ORDER = ("val", "test")


@dataclass(frozen=True)
class EvaluateParams:
    """split : ``auto`` (val, else test, else all labelled rows), ``all`` or a split name.
    names : display name of each input (default: file stems), in input order.
    plots : write the PNG pictures.

    ``names`` and ``plots`` have the command's own options: ``--name`` (repeated; its default,
    the inputs' file stems, is known once the inputs are) and ``--no-plots``.
    """

    split: str = param(AUTO, "Split to evaluate: auto (val, else test, else all), all, or a name.")
    names: tuple[str, ...] = ()
    plots: bool = True

    def __post_init__(self) -> None:
        require(bool(self.split.strip()), "--split must not be empty")
        require(all(n.strip() for n in self.names), "input names must not be empty")
        require(len(set(self.names)) == len(self.names), f"input names repeat: {self.names}")
