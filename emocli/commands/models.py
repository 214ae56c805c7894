"""`emocli models`: the bundled models (list, card) and how one is packed into the package."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from emocli.commands.common import argument, option

app = typer.Typer(
    help="The models shipped with emocli: list them, show a model card, pack a trained model.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def list_command(ctx: typer.Context) -> None:
    """List the bundled models (name, classes, size, training data, figures).

    Example: emocli models
    """
    if ctx.invoked_subcommand is not None:
        return
    from emocli.console import console, execute
    from emocli.render import model_line
    from emocli.zoo import list_models

    for row in execute(lambda _progress: list_models()):
        console.print(model_line(row), soft_wrap=True)


@app.command("show")
def show_command(name: str = argument("A bundled model: face or voice.")) -> None:
    """Print a bundled model's card: training data and its terms, command, figures, limits.

    Example: emocli models show face
    """
    from emocli.console import execute
    from emocli.zoo import read_card, resolve_model

    card = execute(lambda _progress: read_card(resolve_model(name, "models show")))
    typer.echo(json.dumps(card, indent=2, sort_keys=True))


@app.command("pack")
def pack_command(
    model: Path = argument("A trained model artifact."),
    name: str = option("Bundled name: face or voice.", default=...),
    card: Path = option("The model card, a JSON file (see docs/models.md).", default=...),
    output: Optional[Path] = option(
        "Where to write it \\[default: the package's emocli/zoo/<name>.h5].", "--output", "-o"
    ),
    int8_calibration: Optional[Path] = option(
        "Also store the model's int8 ONNX graph (what predict runs by default), calibrated on "
        "the training rows of this faces/spectrograms artifact."
    ),
) -> None:
    """Copy a trained model into the package as a bundled model, with its model card.

    Example: emocli models pack recipes-work/models/zoo-face.h5 --name face --card face.json
    """
    from emocli.console import console, execute
    from emocli.zoo import load_card, pack

    written = execute(
        lambda _progress: pack(model, name, load_card(card), output, int8_calibration)
    )
    console.print(f"[green]models pack[/]: wrote {written}", soft_wrap=True)
