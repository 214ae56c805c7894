"""`emocli extract-audio` (not implemented yet: issue #4)."""

from __future__ import annotations

import typer

from emocli.commands.common import not_implemented

CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def command(ctx: typer.Context) -> None:
    """Not implemented yet."""
    not_implemented("extract-audio", "#4")
