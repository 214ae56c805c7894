"""Configs that reproduce an artifact: ``inspect --as-config`` then ``<stage> --config``.

A tiny demo chain (preprocess-faces, extract-audio -> build-spectrograms -> finetune of a tiny
audio model for one epoch -> fuse -> evaluate) runs once from inside the data folder with
relative paths, as a user would; each artifact's config, written elsewhere, must make its
command find the artifact up to date, rewriting nothing.
"""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emocli.artifacts import open_artifact
from emocli.cli import app
from emocli.config import toml_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TRAIN = ["--accelerator", "cpu", "--devices", "1", "--threads", "1", "--batch-size", "8"]
TRAIN += ["--epochs", "1", "--patience", "0", "--model", "audio_urbansound", "--model-kwargs"]
TRAIN += ['{"widths": [4, 8, 8], "hidden": 16}']

runner = CliRunner()


def invoke(*args: str) -> str:
    """Run ``emocli args``; fail with its output (and traceback) unless it exits 0."""
    result = runner.invoke(app, list(args))
    if result.exit_code != 0:
        trace = ""
        if result.exc_info is not None and not isinstance(result.exception, SystemExit):
            trace = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(f"emocli {' '.join(args)} exited {result.exit_code}:\n{result.output}{trace}")
    return " ".join(result.output.split())


@dataclass
class Chain:
    data: Path
    work: Path
    configs: Path
    artifacts: dict[str, Path]  # step -> artifact (relative to data)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, tiny_demo: Path) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("config")
    data, configs = root / "demo", root / "configs"
    shutil.copytree(tiny_demo, data)
    configs.mkdir()
    work = Path("work")  # relative to data: the artifacts record relative paths
    steps = {
        "preprocess-faces": (
            ["preprocess-faces", "sfew/", "--size", "32", "-j", "1", "--no-preview"],
            work / "faces" / "sfew.h5",
        ),
        "extract-audio": (["extract-audio", "afew/", "-j", "1"], work / "audio" / "afew.h5"),
        "build-spectrograms": (
            ["build-spectrograms", str(work / "audio" / "afew.h5"), "-j", "1", "--n-mels", "20"],
            work / "spectrograms" / "afew.h5",
        ),
        "finetune": (
            ["finetune", str(work / "spectrograms" / "afew.h5"), *TRAIN, "-o", "work/m.h5"],
            work / "m.h5",
        ),
        "fuse": (
            ["fuse", "work/predictions/afew-audio_urbansound.h5", "-o", "work/clips.h5"],
            work / "clips.h5",
        ),
        "predict": (  # the stage predict-artifact, run by the command predict
            [
                "predict",
                "work/spectrograms/afew.h5",
                "--audio-model",
                "work/m.h5",
                "-o",
                "work/p.h5",
            ],
            work / "p.h5",
        ),
        "evaluate": (
            ["evaluate", "work/clips.h5", "--no-plots", "-o", "work/report"],
            work / "report" / "evaluation.h5",
        ),
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(data)
        mp.setenv("EMOCLI_WORKDIR", str(work))
        for args, _artifact in steps.values():
            invoke(*args)
        yield Chain(data, data / work, configs, {k: v for k, (_a, v) in steps.items()})


def fingerprint_and_mtime(path: Path) -> tuple[str, int]:
    with open_artifact(path) as art:
        return art.fingerprint, path.stat().st_mtime_ns


def write_config(chain: Chain, name: str) -> tuple[Path, dict]:
    """``inspect --as-config`` of the step's artifact, saved outside the data folder."""
    text = runner.invoke(app, ["inspect", str(chain.data / chain.artifacts[name]), "--as-config"])
    assert text.exit_code == 0, text.output
    path = chain.configs / f"{name}.toml"
    path.write_text(text.output)
    return path, tomllib.loads(text.output)


@pytest.mark.parametrize(
    "name",
    [
        "preprocess-faces",
        "extract-audio",
        "build-spectrograms",
        "finetune",
        "fuse",
        "predict",
        "evaluate",
    ],
)
def test_the_config_of_an_artifact_reproduces_it(chain: Chain, name: str) -> None:
    artifact = chain.data / chain.artifacts[name]
    before = fingerprint_and_mtime(artifact)
    config, values = write_config(chain, name)
    assert values["stage"] == name
    assert config.read_text().startswith(f"# emocli {name} --config this.toml  reproduces ")
    output = invoke(name, "--config", str(config))  # from another folder than the chain's
    assert "up to date" in output, output
    assert fingerprint_and_mtime(artifact) == before


def test_the_config_records_inputs_by_role(chain: Chain) -> None:
    _, values = write_config(chain, "finetune")
    assert values["input"] == str(chain.work / "spectrograms" / "afew.h5")
    assert values["output"] == str(chain.work / "m.h5")
    assert values["predictions"] == str(chain.work / "predictions" / "afew-audio_urbansound.h5")
    assert values["epochs"] == 1 and values["model"] == "audio_urbansound"
    assert json.loads(values["model_kwargs"]) == {"widths": [4, 8, 8], "hidden": 16}
    with open_artifact(chain.data / chain.artifacts["finetune"]) as art:
        assert [i["role"] for i in art.attrs["inputs"]] == ["input"]
    _, values = write_config(chain, "fuse")
    assert values["inputs"] == [str(chain.work / "predictions" / "afew-audio_urbansound.h5")]


def test_an_artifact_without_roles_gets_its_one_positional_input(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Artifacts of earlier versions recorded neither roles nor outputs nor cwd."""
    import shutil

    import h5py

    old = chain.work / "old-audio.h5"
    shutil.copy(chain.work / "audio" / "afew.h5", old)
    with h5py.File(old, "a") as h5:
        inputs = json.loads(h5.attrs["inputs"])
        h5.attrs["inputs"] = json.dumps(
            [{k: v for k, v in i.items() if k != "role"} for i in inputs]
        )
        del h5.attrs["cwd"], h5.attrs["outputs"]
    monkeypatch.chdir(chain.data)  # where its relative input paths start
    result = runner.invoke(app, ["inspect", str(old), "--as-config"])
    assert result.exit_code == 0, result.output
    values = tomllib.loads(result.output)
    assert values["source"] == str(chain.data / "afew")
    assert values["output"] == str(old)
    assert "# note: made before emocli recorded" in result.output
    config = chain.configs / "old.toml"
    config.write_text(result.output)
    monkeypatch.chdir(chain.configs)
    assert "up to date" in invoke("extract-audio", "--config", str(config))


def test_an_option_on_the_command_line_overrides_the_config(chain: Chain) -> None:
    config, _ = write_config(chain, "build-spectrograms")
    other = chain.work / "other.h5"
    output = invoke(
        "build-spectrograms", "--config", str(config), "--n-mels", "16", "-o", str(other)
    )
    assert "up to date" not in output
    with (
        open_artifact(other) as again,
        open_artifact(chain.work / "spectrograms" / "afew.h5") as first,
    ):
        assert again.params["n_mels"] == 16 and first.params["n_mels"] == 20
        assert again.fingerprint != first.fingerprint
        assert again.params["pad"] == first.params["pad"]  # the rest from the config


def test_relative_paths_of_a_config_are_relative_to_its_folder(chain: Chain) -> None:
    config = chain.configs / "relative.toml"
    audio = chain.work / "audio" / "afew.h5"
    output = chain.work / "spectrograms" / "afew.h5"
    config.write_text(
        toml_text(
            {
                "stage": "build-spectrograms",
                "audio": str(Path("..") / audio.relative_to(chain.configs.parent)),
                "output": str(Path("..") / output.relative_to(chain.configs.parent)),
                "n_mels": 20,
                "workers": 1,
            }
        )
    )
    assert "up to date" in invoke("build-spectrograms", "--config", str(config))


def test_an_unknown_key_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('stage = "extract-audio"\nsample_rat = 8000\n')
    result = runner.invoke(app, ["extract-audio", "--config", str(config)])
    assert result.exit_code == 2
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    text = " ".join(result.output.replace("│", " ").split())
    assert "unknown key sample_rat" in text and "sample_rate" in text, text


def test_a_config_of_another_stage_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text('stage = "finetune"\nepochs = 1\n')
    result = runner.invoke(app, ["extract-audio", "--config", str(config)])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert "emocli finetune" in text and "not of `emocli extract-audio`" in text, text


def test_toml_text_round_trips() -> None:
    values = {
        "a": 'x "quoted" \\ é\n',
        "b": 1,
        "c": 1e-05,
        "d": True,
        "e": ["p", "q"],
        "f": [0.1, 2.0],
    }
    assert tomllib.loads(toml_text(values)) == values


def test_config_values_name_parameters_of_their_command() -> None:
    """A command's ``config_values`` renames params to its parameters, and its ``AS_CONFIG``
    maps its parameters to output roles: no typo'd name that ``--as-config`` would silently
    leave out."""
    import inspect as pyinspect

    import typer.main

    from emocli.config import configurable

    outputs = {k: f"/{k}.h5" for k in ("audio", "faces", "model", "predictions", "evaluation")}
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        module = sys.modules[pyinspect.unwrap(command.callback).__module__]
        roles = getattr(module, "AS_CONFIG", {})
        assert set(roles) <= set(configurable(command)), (name, set(roles))
        assert set(roles.values()) <= set(outputs), (name, set(roles.values()))
        translate = getattr(module, "config_values", None)
        if translate is None:
            continue
        params = {"classes": [], "d_widths": [8], "g_widths": [8], "names": ["x"]}
        renamed = set(translate(params, outputs)) - set(params)
        assert renamed <= set(configurable(command)), (name, renamed - set(configurable(command)))


#: The real-data recipes (the Makefile's recipes and the benchmarks run them with --config).
RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_recipe_file_gives_its_stage_exactly_its_values(recipe: Path) -> None:
    import dataclasses

    import typer

    from emocli.stage_params.finetune import FinetuneParams
    from emocli.stage_params.gan import PretrainGanParams

    params_of = {"finetune": FinetuneParams, "pretrain-gan": PretrainGanParams}
    values = tomllib.loads(recipe.read_text(encoding="utf-8"))
    stage = values.pop("stage")
    command = typer.main.get_command(app).commands[stage]  # type: ignore[attr-defined]
    context = command.make_context(stage, ["input.h5", "--config", str(recipe)])
    fields = {f.name for f in dataclasses.fields(params_of[stage])}
    params = params_of[stage](**{k: v for k, v in context.params.items() if k in fields})
    for key, value in values.items():
        got = getattr(params, key)
        if isinstance(got, tuple):  # a comma-separated list of numbers, e.g. d_widths
            value = tuple(int(v) for v in str(value).split(","))
        assert got == value, f"{recipe.name}: {key} = {got!r}, the file says {value!r}"
