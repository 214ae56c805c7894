"""The ``emocli`` command line: one command per pipeline stage, plus ``inspect`` and ``demo-data``.

The CLI only parses options and calls a stage (``stages.<name>.run``); each command lives in
its own module of :mod:`emocli.commands`. Heavy libraries are imported inside commands so
that ``emocli --help`` returns at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from emocli import __version__
from emocli.commands import (
    build_spectrograms,
    evaluate,
    export,
    extract_audio,
    finetune,
    fuse,
    import_predictions,
    models,
    predict,
    preprocess_faces,
    pretrain_gan,
)
from emocli.commands.common import argument, option
from emocli.console import ignore_ctrl_c_from_now_on

app = typer.Typer(
    name="emocli",
    help="Emotion recognition in the wild from faces and voices: raw datasets -> HDF5 artifacts "
    "-> trained models -> evaluated predictions, one cached stage at a time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _register(name: str, module: Any, panel: str) -> None:
    app.command(name, rich_help_panel=panel)(module.command)


_register("extract-audio", extract_audio, "Stages")
_register("preprocess-faces", preprocess_faces, "Stages")
_register("build-spectrograms", build_spectrograms, "Stages")
_register("pretrain-gan", pretrain_gan, "Stages")
_register("finetune", finetune, "Stages")
_register("fuse", fuse, "Stages")
_register("evaluate", evaluate, "Stages")
_register("import-predictions", import_predictions, "Tools")
_register("predict", predict, "Tools")
_register("export", export, "Tools")
app.add_typer(models.app, name="models", rich_help_panel="Tools")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"emocli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Optional[bool] = option(  # noqa: UP045 - typer needs Optional on Python 3.10
        "Print the version and exit.", "--version", callback=_version, is_eager=True
    ),
) -> None:
    """Emotion recognition in the wild from faces and voices."""


@app.command("inspect", rich_help_panel="Tools")
def inspect_command(
    artifact: Path = argument("An emocli HDF5 artifact."),
    as_json: bool = option("Print machine-readable JSON.", "--json", default=False),
    as_config: bool = option(
        "Print the TOML config of the command that made the artifact (for its --config).",
        "--as-config",
        default=False,
    ),
) -> None:
    """Print an artifact's provenance: stage, schema, version, fingerprint, params, inputs,
    datasets with shapes and dtypes, classes and per-split counts.

    Example: emocli inspect emocli-work/faces/sfew.h5

    Example: emocli inspect emocli-work/audio/afew.h5 --as-config > afew.toml
    """
    from emocli.console import console, execute
    from emocli.provenance import describe_artifact

    if as_config:
        from emocli.config import artifact_config

        commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
        typer.echo(execute(lambda _progress: artifact_config(artifact, commands)), nl=False)
        return

    info = execute(lambda _progress: describe_artifact(artifact))
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    from emocli.render import render_provenance

    render_provenance(console, info)


@app.command("demo-data", rich_help_panel="Tools")
def demo_data_command(
    out_dir: Path = argument("Folder to create the demo dataset in.", default=Path("emocli-demo")),
    seed: int = option("Random seed; the same seed gives the same bytes.", default=0),
) -> None:
    """Generate the small synthetic audio-visual demo dataset (AFEW-style clips with audio,
    SFEW-style stills, unlabelled faces) so the whole pipeline runs with nothing downloaded.

    Example: emocli demo-data emocli-demo --seed 0
    """
    from emocli.console import console, execute
    from emocli.progress import ProgressHook

    def action(progress: ProgressHook) -> dict:
        from emocli.demo import DemoSpec, generate_demo_data
        from emocli.errors import InputError

        try:
            return generate_demo_data(out_dir, DemoSpec(seed=seed), progress=progress)
        except FileExistsError as exc:
            raise InputError(str(exc)) from exc

    summary = execute(action)
    clips = sum(n for split in summary["afew"].values() for n in split.values())
    stills = sum(n for split in summary["sfew"].values() for n in split.values())
    console.print(
        f"demo data written to [bold]{out_dir}[/]: {clips} clips (afew/), {stills} stills "
        f"(sfew/), {summary['unlabelled']} unlabelled faces (unlabelled/)"
    )


def readable_help() -> None:
    """Make ``--help`` whole at 80 columns: option names are never cut (the type and help
    columns wrap at words instead), and a word too long for its cell (a default path) folds
    onto the next line rather than ending in an ellipsis; the old spellings of option names
    (:data:`~emocli.commands.common.HIDDEN_ALIASES`) are left out. Patched into typer's rich
    help only when help is shown, so other commands start without importing rich's tables."""
    import typer.rich_utils
    from rich.table import Table

    class HelpTable(Table):
        def add_row(self, *renderables: Any, **kwargs: Any) -> None:
            renderables = tuple(_stacked(r) for r in renderables)
            super().add_row(*renderables, **kwargs)
            for i, column in enumerate(self.columns):  # names..., type, help
                column.no_wrap = i < len(self.columns) - 2
                column.overflow = "fold"

    typer.rich_utils.Table = HelpTable  # type: ignore[misc]
    options_panel = typer.rich_utils._print_options_panel

    def without_aliases(*, params: list[Any], **kwargs: Any) -> None:
        options_panel(params=[_without_hidden_aliases(p) for p in params], **kwargs)

    typer.rich_utils._print_options_panel = without_aliases


def _without_hidden_aliases(param: Any) -> Any:
    """``param`` as the help shows it: a copy without its hidden alias names, if it has any."""
    import copy

    from emocli.commands.common import HIDDEN_ALIASES

    if not HIDDEN_ALIASES.intersection(getattr(param, "opts", ())):
        return param
    shown = copy.copy(param)
    shown.opts = [name for name in param.opts if name not in HIDDEN_ALIASES]
    return shown


def _stacked(renderable: Any) -> Any:
    """typer's help cell (a help text and its default as rich ``Columns``, whose cells cut
    long words) as the same texts one under the other, folding words too long for a line."""
    from rich.columns import Columns
    from rich.console import Group
    from rich.text import Text

    if not isinstance(renderable, Columns):
        return renderable
    for item in renderable.renderables:
        if isinstance(item, Text):
            item.overflow = "fold"
    return Group(*renderable.renderables)


def main() -> None:
    """Console-script entry point."""
    from emocli.errors import EmocliError

    if "--help" in sys.argv[1:] or len(sys.argv) == 1:
        readable_help()
    try:
        app()
    except EmocliError as exc:  # raised while a command resolves its paths, before it runs
        from rich.markup import escape

        from emocli.console import err_console

        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(exc.exit_code)
    finally:
        ignore_ctrl_c_from_now_on()


if __name__ == "__main__":
    main()
