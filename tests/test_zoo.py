"""Bundled models (emocli/zoo): names resolved where paths are taken, packing with a model
card, `emocli models`, and `emocli predict` with no model option, offline."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from emocli.cli import app
from emocli.errors import ArtifactError, InputError
from emocli.zoo import ZOO_DIR_ENV, pack, read_card, resolve_model
from tests.test_faces import scene
from tests.test_predict import audio_model, face_model

CARD = {
    "summary": "a tiny test model",
    "training_data": "random weights",
    "terms": "none",
    "command": "tests/test_zoo.py",
    "figures": {"accuracy": "n/a"},
    "limits": "it knows nothing",
}
runner = CliRunner()


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of bundled models (EMOCLI_ZOO_DIR) holding a packed face and voice model."""
    folder = tmp_path / "zoo"
    monkeypatch.setenv(ZOO_DIR_ENV, str(folder))
    pack(face_model(tmp_path / "face-model.h5"), "face", CARD)
    pack(audio_model(tmp_path / "voice-model.h5"), "voice", CARD)
    return folder


def test_names_resolve_to_bundled_files_and_missing_ones_say_how_to_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ZOO_DIR_ENV, str(tmp_path / "empty"))
    assert resolve_model(tmp_path / "any.h5", "--face-model") == tmp_path / "any.h5"
    with pytest.raises(InputError, match="not in this installation.*make zoo"):
        resolve_model("face", "--face-model")
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "not in this installation" in result.output


def test_pack_writes_the_card_and_refuses_what_cannot_be_bundled(zoo: Path, tmp_path: Path) -> None:
    assert resolve_model("face", "--face-model") == zoo / "face.h5"
    assert read_card(zoo / "face.h5") == {"name": "face", **CARD}
    voice = tmp_path / "voice-model.h5"
    with pytest.raises(ArtifactError, match="cannot be the 'face' model"):
        pack(voice, "face", CARD, tmp_path / "x.h5")
    with pytest.raises(InputError, match="lacks terms"):
        pack(voice, "voice", {k: v for k, v in CARD.items() if k != "terms"}, tmp_path / "y.h5")
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "y.h5").exists()
    listed = runner.invoke(app, ["models"])
    assert listed.exit_code == 0
    assert "face: 7 emotions" in listed.output and "random weights" in listed.output
    shown = runner.invoke(app, ["models", "show", "face"])
    assert shown.exit_code == 0 and json.loads(shown.output)["limits"] == "it knows nothing"


def test_predict_with_no_model_option_uses_the_bundled_models_offline(
    zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), scene())
    wav = tmp_path / "speech.wav"
    t = np.arange(16000) / 16000
    soundfile.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)

    def no_network(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("emocli tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(image), str(wav), "-o", str(out)])
    assert result.exit_code == 0, result.output
    clips = json.loads((out / "predictions.json").read_text())["clips"]
    assert [c["modalities"] for c in clips] == [["face"], ["audio"]]

    named = runner.invoke(app, ["predict", str(image), "--face-model", "face", "-o", str(out)])
    assert named.exit_code == 0, named.output


def test_predict_without_models_or_bundled_ones_says_what_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ZOO_DIR_ENV, str(tmp_path / "empty"))
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), scene())
    result = runner.invoke(app, ["predict", str(image)])
    assert result.exit_code != 0
    assert "no bundled face model" in result.output and "--face-model" in result.output


def test_make_zoo_smoke_builds_both_models_with_cards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """make zoo's chain (recipes, evaluation, cards from the measured figures, packing) on the
    tiny demo data; the bundled models it writes then predict a demo clip with no option."""
    import subprocess

    pytest.importorskip("onnx", reason="the face model's int8 graph needs the onnx extra")

    root = Path(__file__).resolve().parents[1]
    work = tmp_path / "smoke"
    done = subprocess.run(
        ["make", "-s", "zoo-smoke", f"ZOO_SMOKE={work}"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("face", "voice"):
        card = read_card(work / "zoo" / f"{name}.h5")
        assert card["name"] == name and card["figures"]["split"] == "val"
        assert 0 <= card["figures"]["accuracy"] <= 100 and "make zoo-" in card["command"]
    assert "CC BY-NC-SA 4.0" in read_card(work / "zoo" / "voice.h5")["terms"]
    monkeypatch.setenv(ZOO_DIR_ENV, str(work / "zoo"))
    clip = sorted((work / "demo" / "afew").rglob("*.mp4"))[0]
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(clip), "-o", str(out)])
    assert result.exit_code == 0, result.output
    (only,) = json.loads((out / "predictions.json").read_text())["clips"]
    assert only["modalities"] == ["face", "audio"] and only["fusion"] == "mean"


@pytest.mark.parametrize("name", ["face", "voice"])
def test_each_shipped_model_loads_with_its_card_and_input_contract(name: str) -> None:
    """The files in the package (not a test zoo): the card's fields, and the input contract
    predict rebuilds from them makes the model's input shape and gives probabilities."""
    import torch

    from emocli.contract.audio import audio_contract, audio_rows
    from emocli.contract.faces import face_contract
    from emocli.training.model_store import load_model
    from emocli.zoo import BUNDLED, CARD_FIELDS

    path = Path(__file__).resolve().parents[1] / "emocli" / "zoo" / f"{name}.h5"
    if not path.is_file():
        pytest.skip(f"no bundled {name} model in this checkout (make zoo-{name})")
    assert path.stat().st_size <= 10 * 1024 * 1024
    card = read_card(path)
    assert set(CARD_FIELDS) <= set(card) and card["figures"]["accuracy"] > 0
    model, info = load_model(path)
    if BUNDLED[name].kind == "spectrograms":
        contract = audio_contract(info, str(path))
        t = np.arange(2 * contract.frontend.sample_rate) / contract.frontend.sample_rate
        rows = audio_rows((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), contract)
    else:
        face = face_contract(info, str(path))
        assert face.media.size in (info.input_size[0], face.resize_to or -1)
        rows = np.random.default_rng(0).random((1, info.channels, *info.input_size))
    assert rows.shape[1:] == (info.channels, *info.input_size)
    with torch.no_grad():
        probs = torch.softmax(model.eval()(torch.as_tensor(rows, dtype=torch.float32)), 1)
    assert probs.shape == (1, len(info.classes)) and abs(float(probs.sum()) - 1) < 1e-5
