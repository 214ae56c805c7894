"""`emocli preprocess-faces` (not implemented yet: issue #3)."""

from __future__ import annotations

import typer

from emocli.commands.common import not_implemented

CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def command(ctx: typer.Context) -> None:
    """Not implemented yet."""
    not_implemented("preprocess-faces", "#3")
