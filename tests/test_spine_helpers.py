"""Labels, workspace paths, parameter helpers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from emocli.errors import EmocliError, ParamsError
from emocli.labels import EMOTIONS, normalise_class_name, remap_labels, sort_classes
from emocli.params import params_dict, require, result_params, runtime_field
from emocli.workspace import resolve_workspace, source_name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Anger", "angry"),
        ("sadness", "sad"),
        ("Surprise", "surprise"),
        ("contempt", "contempt"),
        ("Fearful", "fear"),
        (" Happy ", "happy"),
    ],
)
def test_class_names_are_normalised(raw: str, name: str) -> None:
    assert normalise_class_name(raw) == name


def test_sort_classes_puts_spec_names_first() -> None:
    assert sort_classes(["surprise", "contempt", "Anger", "happy"]) == [
        "angry",
        "happy",
        "surprise",
        "contempt",
    ]
    assert sort_classes(list(EMOTIONS)) == list(EMOTIONS)


def test_remap_labels_by_name() -> None:
    source = ["neutral", "angry", "happy"]
    target = ["angry", "happy", "neutral", "sad"]
    assert remap_labels(np.array([0, 1, 2, -1]), source, target).tolist() == [2, 0, 1, -1]
    with pytest.raises(EmocliError, match="contempt"):
        remap_labels(np.array([0]), ["contempt"], target)
    assert remap_labels(np.array([1]), ["contempt", "sad"], target).tolist() == [3]


def test_workspace_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EMOCLI_WORKDIR", raising=False)
    assert resolve_workspace().root == Path("emocli-work")
    monkeypatch.setenv("EMOCLI_WORKDIR", str(tmp_path))
    ws = resolve_workspace()
    assert ws.root == tmp_path
    assert resolve_workspace(tmp_path / "x").root == tmp_path / "x"
    assert ws.default_output("faces", "sfew/") == tmp_path / "faces" / "sfew.h5"
    assert (
        ws.default_output("model", "faces/sfew.h5", "-vgg16")
        == tmp_path / "models" / "sfew-vgg16.h5"
    )
    assert ws.dir_for("evaluation") == tmp_path / "reports"


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("sfew/", "sfew"),
        ("data/sfew2/Train", "sfew2-Train"),
        ("faces/ck.h5", "ck"),
        ("fer2013.csv", "fer2013"),
        ("a/b/clips", "clips"),
    ],
)
def test_source_names(source: str, name: str) -> None:
    assert source_name(source) == name


@dataclasses.dataclass(frozen=True)
class _Params:
    size: int = 64
    root: Path = Path("x")
    workers: int = runtime_field(0)


def test_runtime_fields_are_stored_but_not_fingerprinted() -> None:
    params = _Params()
    assert params_dict(params) == {"size": 64, "root": "x", "workers": 0}
    assert result_params(params) == {"size": 64, "root": "x"}
    with pytest.raises(ParamsError, match="size"):
        require(False, "size must be positive")


@dataclasses.dataclass(frozen=True)
class _Settings:
    size: int
    workers: int = 1
    seed: int = 0
    kept: str = "default"
    derived: int = dataclasses.field(default=5, init=False)


def test_from_attributes_copies_fields_of_the_same_name() -> None:
    from emocli.fields import from_attributes

    params = _Params(size=32, workers=4)
    # size and workers from params; seed given; kept (params lacks it) keeps its default
    assert from_attributes(_Settings, params, seed=3, defaults=["kept"]) == _Settings(
        32, 4, 3, "default"
    )
    # a field the source lacks and the call neither gives nor names in defaults: an error
    with pytest.raises(TypeError, match="kept"):
        from_attributes(_Settings, params, seed=3)

    @dataclasses.dataclass(frozen=True)
    class Prefixed:
        mlp_size: int = 8
        mlp_workers: int = 2

    # with a prefix: size from mlp_size ...; a given value wins over the source's
    assert from_attributes(
        _Settings, Prefixed(), "mlp_", workers=7, defaults=("seed", "kept")
    ) == _Settings(8, 7)
    with pytest.raises(TypeError, match="size"):  # neither the source nor the call gives it
        from_attributes(_Settings, object(), defaults=("workers", "seed", "kept"))
    with pytest.raises(TypeError, match="no field kep"):  # a misspelt name in defaults
        from_attributes(_Settings, params, seed=3, defaults=["kep"])
