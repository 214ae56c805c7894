"""`emocli predict ARTIFACT.h5 --face-model|--audio-model M.h5`: train once, predict many.

The predictions of an artifact equal the model's own predictions (finetune, pretrain-gan) for
the same rows; a rerun is up to date; an artifact made differently is refused naming the
difference; labels the model does not know are kept unlabelled and counted; evaluate reads
the written artifact.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.artifacts import open_artifact
from emocli.cli import app
from emocli.contract import check_artifact, stats_bridge
from emocli.errors import ArtifactError
from emocli.predictions import Predictions, load_predictions
from stages import predict_artifact as stage
from tests.test_training import make_faces, make_spectrograms

TINY = ["--model", "resnet_small", "--model-kwargs", '{"widths": [4, 8], "blocks": [1, 1]}']
FAST = ["--epochs", "1", "--batch-size", "8", "--accelerator", "cpu", "--devices", "1"]
FAST += ["--threads", "1", "--validation", "none"]
#: Probabilities of the same rows by the same model: finetune's own vs predict's.
PARITY = 1e-6


def _splits(n: int) -> list[str]:
    """By subject (8 rows each): S000-S003 train, S004 val, S005 test."""
    return ["train" if i < 32 else "val" if i < 40 else "test" for i in range(n)]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """One torch thread for every test here (tests/conftest.py)."""


@pytest.fixture(scope="module")
def face_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A tiny faces artifact and a tiny model finetuned on it (with its own predictions)."""
    root = tmp_path_factory.mktemp("face")
    faces = make_faces(root / "faces.h5", splits=_splits)
    model, own = root / "model.h5", root / "own.h5"
    args = ["finetune", str(faces), *TINY, *FAST, "-o", str(model), "--predictions", str(own)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return SimpleNamespace(root=root, faces=faces, model=model, own=own)


def _by_sample(preds: Predictions) -> dict[str, int]:
    return {str(s): i for i, s in enumerate(preds.sample_id)}


def _parity(mine: Predictions, own: Predictions) -> float:
    """Largest |difference| of the probabilities, row by row by sample_id (same rows, labels)."""
    assert mine.classes == own.classes
    rows = _by_sample(own)
    assert sorted(rows) == sorted(_by_sample(mine))
    order = [rows[str(s)] for s in mine.sample_id]
    assert np.array_equal(mine.label, own.label[order])
    assert np.array_equal(mine.split, own.split[order])
    return float(np.abs(mine.probs.astype(np.float64) - own.probs[order]).max())


def test_face_predictions_equal_finetunes_own_and_rerun_is_up_to_date(
    face_run: SimpleNamespace, workdir: Path
) -> None:
    runner = CliRunner()
    args = ["predict", str(face_run.faces), "--face-model", str(face_run.model)]
    result = runner.invoke(app, [*args, "--threads", "1"])
    assert result.exit_code == 0, result.output
    out = workdir / "predictions" / "faces-model.h5"  # <input name>-<model name>
    assert out.is_file(), result.output
    assert "48 rows predicted" in result.output
    mine = load_predictions(out)
    assert mine.modality == "face" and mine.level == "frame"
    diff = _parity(mine, load_predictions(face_run.own))
    print(f"face model: max |predict - finetune's own| = {diff:.2e}")
    assert diff <= PARITY

    again = runner.invoke(app, [*args, "--threads", "1"])
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output
    skipped = stage.run(stage.PredictArtifactParams(threads=1), face_run.faces, face_run.model, out)
    assert skipped.up_to_date and skipped.seconds < 1.0

    evaluated = runner.invoke(app, ["evaluate", str(out), "--split", "test", "--no-plots"])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads((workdir / "reports" / "faces-model" / "metrics.json").read_text())
    (entry,) = metrics["inputs"]
    assert entry["split"] == "test" and entry["n"] == 8 and entry["modality"] == "face"
    test = mine.split == "test"
    accuracy = float((mine.probs[test].argmax(1) == mine.label[test]).mean())
    assert entry["accuracy"] == pytest.approx(accuracy)


def test_the_fingerprint_follows_the_model_the_input_and_the_params(
    face_run: SimpleNamespace, tmp_path: Path
) -> None:
    out = tmp_path / "p.h5"
    params = stage.PredictArtifactParams(threads=1)
    first = stage.run(params, face_run.faces, face_run.model, out)
    assert not first.up_to_date
    assert stage.run(params, face_run.faces, face_run.model, out).up_to_date
    flipped = stage.run(
        stage.PredictArtifactParams(tta="flip"), face_run.faces, face_run.model, out
    )
    assert not flipped.up_to_date and flipped.fingerprint != first.fingerprint
    with open_artifact(out, "predictions") as art:
        inputs = [i["path"] for i in art.attrs["inputs"]]
    assert inputs == [str(face_run.faces), str(face_run.model)]


def test_a_differently_sized_artifact_is_refused_naming_the_difference(
    face_run: SimpleNamespace, tmp_path: Path
) -> None:
    bigger = make_faces(tmp_path / "big.h5", size=24, seed=3)
    out = tmp_path / "p.h5"
    args = ["predict", str(bigger), "--face-model", str(face_run.model), "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "model expects 16 px faces; this artifact holds 24 px faces" in result.output
    assert not out.exists()


def test_labels_the_model_does_not_know_are_kept_and_counted(
    face_run: SimpleNamespace, tmp_path: Path
) -> None:
    other = make_faces(tmp_path / "other.h5", seed=4, classes=["sad", "contempt", "angry", "happy"])
    out = tmp_path / "p.h5"
    args = ["predict", str(other), "--face-model", str(face_run.model), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "16 rows kept unlabelled" in result.output and "contempt (16)" in result.output
    preds = load_predictions(out)
    assert len(preds) == 48 and preds.classes == ["angry", "happy", "sad"]
    with open_artifact(other, "faces") as art:
        names = [art.classes[k] for k in art.column("label")]
    expected = [preds.classes.index(n) if n in preds.classes else -1 for n in names]
    assert preds.label.tolist() == expected
    with open_artifact(out, "predictions") as art:
        summary = art.attrs["summary"]
    assert summary["unknown_labels"] == 16
    assert summary["unknown_label_classes"] == {"contempt": 16}


def test_mixing_artifacts_and_media_or_the_wrong_model_option_is_refused(
    face_run: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    mixed = runner.invoke(app, ["predict", str(face_run.faces), str(clip), "--face-model", "m.h5"])
    assert mixed.exit_code != 0 and "cannot mix artifacts" in mixed.output
    wrong = runner.invoke(
        app, ["predict", str(face_run.faces), "--audio-model", str(face_run.model)]
    )
    assert wrong.exit_code != 0 and "give its model as --face-model" in wrong.output
    bundled = runner.invoke(app, ["predict", str(face_run.faces)])  # the bundled face model
    assert bundled.exit_code != 0 and "model expects 48 px faces" in bundled.output
    monkeypatch.setenv("EMOCLI_ZOO_DIR", str(tmp_path / "no-zoo"))
    lacking = runner.invoke(app, ["predict", str(face_run.faces)])
    assert lacking.exit_code != 0 and "--face-model M.h5" in lacking.output


def test_gan_predictions_equal_pretrain_gans_own(tmp_path: Path) -> None:
    from stages import pretrain_gan
    from tests.test_gan import TINY_RUN, _faces

    lab = _faces(tmp_path / "lab.h5", 48, 32, True, 1)
    unl = _faces(tmp_path / "unl.h5", 64, 32, False, 2)
    params = pretrain_gan.PretrainGanParams(**TINY_RUN, epochs=1)  # type: ignore[arg-type]
    pretrain_gan.run(params, lab, [unl], tmp_path / "gan.h5", tmp_path / "own.h5")
    out = tmp_path / "p.h5"
    stage.run(stage.PredictArtifactParams(threads=1), lab, tmp_path / "gan.h5", out)
    diff = _parity(load_predictions(out), load_predictions(tmp_path / "own.h5"))
    print(f"GAN model: max |predict - pretrain-gan's own| = {diff:.2e}")
    assert diff <= PARITY


def test_audio_predictions_equal_finetunes_own(tmp_path: Path) -> None:
    specs = make_spectrograms(tmp_path / "specs.h5", splits=lambda n: ["train"] * n)
    model, own = tmp_path / "audio.h5", tmp_path / "own.h5"
    args = ["finetune", str(specs), *TINY, *FAST, "-o", str(model), "--predictions", str(own)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "p.h5"
    args = ["predict", str(specs), "--audio-model", str(model), "-o", str(out), "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    mine = load_predictions(out)
    assert mine.modality == "audio" and mine.level == "clip"
    diff = _parity(mine, load_predictions(own))
    print(f"audio model: max |predict - finetune's own| = {diff:.2e}")
    assert diff <= PARITY


@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnx / onnxruntime not installed",
)
def test_onnx_runtime_matches_torch(face_run: SimpleNamespace, tmp_path: Path) -> None:
    torch_out, onnx_out = tmp_path / "torch.h5", tmp_path / "onnx.h5"
    for runtime, out in (("torch", torch_out), ("onnx", onnx_out)):
        params = stage.PredictArtifactParams(runtime=runtime, threads=1)
        result = stage.run(params, face_run.faces, face_run.model, out)
        assert result.summary["runtime"] == runtime
    diff = _parity(load_predictions(onnx_out), load_predictions(torch_out))
    print(f"onnx vs torch: max |diff| = {diff:.2e}")
    assert diff <= 1e-4


@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnx / onnxruntime not installed",
)
def test_exported_onnx_files_float_and_int8_predict_like_the_model(
    face_run: SimpleNamespace, tmp_path: Path
) -> None:
    from emocli.onnx_runtime import OnnxClassifier

    runner = CliRunner()
    float_onnx, int8_onnx = tmp_path / "model.onnx", tmp_path / "model-int8.onnx"
    done = runner.invoke(app, ["export", str(face_run.model), "-o", str(float_onnx)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["export", str(face_run.model), "-o", str(int8_onnx),
                               "--calibration", str(face_run.faces), "--calibration-rows", "32"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "int8 vs float32 on 32 calibration rows" in " ".join(done.output.split())
    recipe = OnnxClassifier(int8_onnx).metadata["quantization"]
    assert recipe["calibration"] == {"artifact": "faces.h5", "rows": 32, "of": 32}  # train rows
    ops = {node.op_type for node in __import__("onnx").load(str(int8_onnx)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops

    own = load_predictions(face_run.own)
    for path, tolerance in ((float_onnx, 1e-4), (int8_onnx, 0.1)):
        out = tmp_path / f"pred-{path.stem}.h5"
        result = stage.run(stage.PredictArtifactParams(threads=1), face_run.faces, path, out)
        assert result.summary["runtime"] == "onnx"
        assert _parity(load_predictions(out), own) <= tolerance
        again = stage.run(stage.PredictArtifactParams(threads=1), face_run.faces, path, out)
        assert again.up_to_date
    mismatched = runner.invoke(app, ["export", str(face_run.model), "-o", str(tmp_path / "x.onnx"),
                                     "--calibration", str(make_faces(tmp_path / "big.h5", size=24))])  # fmt: skip
    assert mismatched.exit_code != 0 and "model expects 16 px faces" in mismatched.output
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnx / onnxruntime not installed",
)
def test_a_packed_int8_graph_runs_by_default_and_torch_still_uses_the_weights(
    face_run: SimpleNamespace, tmp_path: Path
) -> None:
    from emocli.int8_graph import read_graph
    from emocli.zoo import pack
    from tests.test_zoo import CARD

    packed = pack(face_run.model, "face", CARD, tmp_path / "face.h5", face_run.faces)
    assert read_graph(face_run.model) is None and read_graph(packed) is not None
    check = json.loads(__import__("h5py").File(packed, "r").attrs["card"])["int8"]
    assert check["rows"] == 32 and 0.5 <= check["agreement"] <= 1.0
    exported = tmp_path / "same.onnx"
    assert CliRunner().invoke(app, ["export", str(face_run.model), "-o", str(exported),
                                    "--calibration", str(face_run.faces)]).exit_code == 0  # fmt: skip
    runs = {}
    for runtime, model in (("auto", packed), ("torch", packed), ("auto", exported)):
        out = tmp_path / f"{runtime}-{model.suffix[1:]}.h5"
        params = stage.PredictArtifactParams(runtime=runtime, threads=1)
        runs[runtime, model.suffix] = (stage.run(params, face_run.faces, model, out), out)
    assert runs["auto", ".h5"][0].summary["runtime"] == "onnx-int8"
    assert runs["torch", ".h5"][0].summary["runtime"] == "torch"
    int8 = load_predictions(runs["auto", ".h5"][1])
    assert _parity(int8, load_predictions(runs["auto", ".onnx"][1])) == 0.0  # the same graph
    assert (
        _parity(load_predictions(runs["torch", ".h5"][1]), load_predictions(face_run.own)) <= PARITY
    )
    assert _parity(int8, load_predictions(face_run.own)) <= 0.1


# --------------------------------------------------------------------------- checks


def _info(kind: str, shape: tuple[int, int, int], **upstream: object) -> SimpleNamespace:
    return SimpleNamespace(
        input={"kind": kind, "upstream": dict(upstream)},
        channels=shape[0],
        input_size=shape[1:],
    )


def _table(kind: str, shape: tuple[int, int, int], column: str, **upstream: object) -> object:
    return SimpleNamespace(kind=kind, shape=shape, column=column, upstream=dict(upstream))


def test_face_alignment_differences_are_refused_detection_ones_noted() -> None:
    prep = {"size": 16, "align": True, "detector": "haar", "min_neighbors": 3}
    info = _info("faces", (1, 16, 16), preprocessing=prep)
    same = _table("faces", (1, 16, 16), "images", preprocessing=dict(prep))
    assert check_artifact(info, same, "x") == []
    unaligned = _table("faces", (1, 16, 16), "images", preprocessing={**prep, "align": False})
    with pytest.raises(ArtifactError, match="align True \\(model\\) vs False \\(artifact\\)"):
        check_artifact(info, unaligned, "x")
    looser = _table("faces", (1, 16, 16), "images", preprocessing={**prep, "min_neighbors": 5})
    (note,) = check_artifact(info, looser, "x")
    assert "min_neighbors 3 (model) vs 5 (artifact)" in note and "predicted anyway" in note
    colour = _table("faces", (3, 16, 16), "images", preprocessing=dict(prep))
    with pytest.raises(ArtifactError, match="1-channel faces; this artifact holds 3-channel"):
        check_artifact(info, colour, "x")


def test_spectrogram_front_end_and_size_differences_are_refused_stats_bridged() -> None:
    front = {"n_mels": 16, "hop_length": 160, "n_fft": 400}
    stats = {"mean": [0.0], "std": [1.0]}
    info = _info("spectrograms", (1, 16, 24), frontend=front, stats=stats)
    longer = _table("spectrograms", (1, 16, 30), "features", frontend=front, stats=stats)
    with pytest.raises(ArtifactError, match="model expects 16 x 24 mel bands x frames; this "):
        check_artifact(info, longer, "x")
    hop = _table("spectrograms", (1, 16, 24), "features", frontend={**front, "hop_length": 80})
    with pytest.raises(ArtifactError, match="hop_length 160 \\(model\\) vs 80 \\(artifact\\)"):
        check_artifact(info, hop, "x")
    other = _table("spectrograms", (1, 16, 24), "features", stats={"mean": [1.0], "std": [2.0]})
    bridge, (note,) = stats_bridge(info, other, "x")
    assert "re-standardised" in note
    scale, shift = bridge
    raw = np.full((1, 1, 16, 24), 3.0, np.float32)  # (3 - 1) / 2 = 1 in the artifact
    artifact_x = (raw - 1.0) / 2.0
    assert np.allclose(artifact_x * scale + shift, raw)  # the model's (x - 0) / 1


def test_a_gan_model_is_checked_on_the_preprocess_faces_params_it_records() -> None:
    """pretrain-gan records the faces' stage params, not their ``preprocessing`` attribute."""
    params = {"size": 16, "align": True, "detector": "haar", "fps": 5.0, "on_miss": "auto"}
    info = _info("faces", (1, 16, 16), stage="preprocess-faces", params=params)
    prep = {"size": 16, "align": True, "detector": "none", "on_miss": "keep"}
    whole = _table("faces", (1, 16, 16), "images", preprocessing=prep)
    with pytest.raises(ArtifactError, match="detector 'haar' \\(model\\) vs 'none' \\(artifact\\)"):
        check_artifact(info, whole, "x")
    assert check_artifact(info, _table("faces", (1, 16, 16), "images"), "x") == [
        "the face preprocessing of this artifact is not recorded: only size and "
        "channels were checked"
    ]
