"""`emocli export`: every classifier of the registry and pretrain-gan's discriminator -> ONNX
that onnxruntime runs to the same class probabilities as torch, with emocli's metadata;
refusals (not a model, overwriting the input); the onnxruntime wrapper."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emocli.artifacts import ArtifactWriter, open_artifact
from emocli.cli import app
from emocli.errors import ArtifactError, InputError, ParamsError
from emocli.models import MODELS, TINY_CONFIGS, build_classifier, build_model
from emocli.training.model_store import MINUS_ONE_TO_ONE, ModelInfo, load_model, write_model
from emocli.weights import write_state_dict
from tests.test_artifacts import write_faces

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (emocli[onnx])")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (emocli[onnx])")

from emocli import __version__  # noqa: E402
from emocli.export import export_onnx  # noqa: E402
from emocli.onnx_graph import (  # noqa: E402
    OPSET,
    _exportable,
    export_module,
    metadata,
    with_metadata,
)
from emocli.onnx_runtime import OnnxClassifier  # noqa: E402

runner = CliRunner()
CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
TOLERANCE = 1e-4

#: (architecture, extra kwargs, channels, (H, W)) for each case: every registered classifier
#: at its tiny size, plus variants whose graphs differ (batch norm + torchvision head with the
#: adaptive pooling the legacy exporter cannot take, mean/std time pooling, deeper D).
CASES: list[tuple[str, dict[str, Any], int, tuple[int, int]]] = [
    *((name, {}, 1, (48, 48)) for name in sorted(MODELS)),
    ("vgg16", {"head": "torchvision", "batch_norm": True}, 3, (32, 48)),
    ("audio_urbansound", {"time_pool": "meanstd"}, 1, (40, 98)),
    ("audio_fayek", {}, 1, (40, 98)),
    ("resnet_small", {}, 1, (40, 98)),
    (
        "dcgan_d",
        {"block_depth": 1, "dropout": 0.3, "input_noise": 0.1, "block_dropout": 0.2},
        1,
        (32, 32),
    ),
    ("static_cnn", {}, 3, (32, 32)),
]


def _tiny(name: str, extra: dict[str, Any], channels: int, size: tuple[int, int]) -> Any:
    torch.manual_seed(0)
    kwargs = {**TINY_CONFIGS[name], **extra}
    model = build_classifier(
        name, in_channels=channels, input_size=list(size), n_classes=len(CLASSES), **kwargs
    )
    # batch-norm statistics away from (0, 1), so that eval mode differs from an identity
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            assert module.running_mean is not None and module.running_var is not None
            n = module.running_mean.shape
            module.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
    return model.eval()


def _write(path: Path, fill: Any, stage: str = "finetune") -> Path:
    writer = ArtifactWriter(
        path, "model", stage=stage, params={}, inputs=[], fingerprint=f"fp-{path.stem}"
    )
    fill(writer)
    writer.close()
    writer.commit()
    return path


def face_model(path: Path) -> Path:
    """A finetune-style face model: static_cnn on 32 px grey faces, (x/255 - 0.5) / 0.5."""
    kwargs = {
        "in_channels": 1,
        "input_size": [32, 32],
        "n_classes": 7,
        **TINY_CONFIGS["static_cnn"],
    }
    model = _tiny("static_cnn", {}, 1, (32, 32))
    inp = {
        "kind": "faces",
        "column": "images",
        "size": [32, 32],
        "channels": 1,
        "normalisation": {"scale": 255.0, "mean": [0.5], "std": [0.5]},
        "upstream": {"stage": "preprocess-faces", "fingerprint": "up"},
    }
    info = ModelInfo("static_cnn", kwargs, CLASSES, inp)
    return _write(path, lambda w: write_model(w, model, info))


def gan_model(path: Path) -> Path:
    """A pretrain-gan artifact as that stage writes it: D (dcgan_d) as the model's weights with
    the "minus_one_to_one" scaling, G under generator/."""
    kwargs = {"in_channels": 1, "input_size": 16, "n_classes": 7, **TINY_CONFIGS["dcgan_d"]}
    d = _tiny("dcgan_d", {}, 1, (16, 16))
    gen = build_model("dcgan_g", **{**TINY_CONFIGS["dcgan_g"], "output_size": 16})
    inp = {
        "kind": "faces",
        "column": "images",
        "size": [16, 16],
        "channels": 1,
        "normalisation": MINUS_ONE_TO_ONE,
        "upstream": {"stage": "preprocess-faces", "fingerprint": "up"},
    }
    info = ModelInfo("dcgan_d", kwargs, CLASSES, inp)

    def fill(writer: ArtifactWriter) -> None:
        write_model(writer, d, info)
        write_state_dict(writer, gen.state_dict(), "generator")
        writer.write_group("generator", {}, {"architecture": "dcgan_g", "model_kwargs": {}})

    return _write(path, fill, stage="pretrain-gan")


def _props(path: Path) -> dict[str, Any]:
    proto = onnx.load(str(path))
    return {p.key: json.loads(p.value) for p in proto.metadata_props}


@pytest.mark.parametrize(
    ("name", "extra", "channels", "size"),
    CASES,
    ids=[
        f"{c[0]}-{'-'.join(map(str, c[1].values())) or 'tiny'}-{c[2]}x{c[3][0]}x{c[3][1]}"
        for c in CASES
    ],
)
def test_every_architecture_exports_with_parity(
    name: str, extra: dict[str, Any], channels: int, size: tuple[int, int]
) -> None:
    model = _tiny(name, extra, channels, size)
    data = export_module(model, (channels, *size))
    runtime = OnnxClassifier(
        with_metadata(data, {"emocli.classes": json.dumps(CLASSES), "emocli.normalisation": "{}"})
    )
    assert runtime.input_shape == (channels, *size)
    x = torch.randn(5, channels, *size)  # exported with a batch of 2: the axis is dynamic
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=1).double().numpy()
    got = runtime.predict_proba(x.numpy())
    assert got.shape == (5, len(CLASSES))
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(got - expected).max() < TOLERANCE
    assert not model.training  # left as it was
    assert runtime.predict_proba(x.numpy()[:1]).shape == (1, len(CLASSES))


def test_unexportable_adaptive_pooling_is_swapped_only_during_the_export() -> None:
    model = _tiny("vgg16", {"head": "torchvision"}, 1, (32, 32))
    pool = model.avgpool
    with _exportable(model, torch.zeros(1, 1, 32, 32)):
        assert not isinstance(model.avgpool, torch.nn.AdaptiveAvgPool2d)
        with torch.no_grad():
            swapped = model(torch.randn(2, 1, 32, 32))
    assert model.avgpool is pool
    assert swapped.shape == (2, 7)


def test_cli_exports_a_face_model_next_to_it_with_its_metadata(tmp_path: Path) -> None:
    path = face_model(tmp_path / "face.h5")
    result = runner.invoke(app, ["export", str(path)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "face.onnx"
    assert out.is_file()
    assert "export: wrote" in result.output and "(x / 255 - 0.5) / 0.5" in result.output
    assert not list(tmp_path.glob(".*tmp-*"))
    proto = onnx.load(str(out))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= OPSET
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 1, 32, 32]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    props = _props(out)
    with open_artifact(path, "model") as art:
        stored_input, fingerprint = art.attrs["input"], art.fingerprint
    assert props["emocli.classes"] == CLASSES
    assert props["emocli.input"] == stored_input
    assert props["emocli.architecture"] == "static_cnn"
    assert props["emocli.fingerprint"] == fingerprint == "fp-face"
    assert props["emocli.emocli_version"] == __version__
    assert props["emocli.exported_by"] == f"emocli {__version__}"
    assert props["emocli.normalisation"]["scale"] == 255.0
    assert props["emocli.normalisation"]["mean"] == [0.5]
    assert props["emocli.output"]["name"] == "probabilities"


def test_gan_discriminator_gives_the_probabilities_of_emocli_predict(tmp_path: Path) -> None:
    from emocli.training.classify import classify

    path = gan_model(tmp_path / "gan.h5")
    out = tmp_path / "exported" / "d.onnx"
    result = export_onnx(path, out)
    assert result.path == out and result.architecture == "dcgan_d"
    assert result.max_abs_diff is not None and result.max_abs_diff < TOLERANCE
    runtime = OnnxClassifier(out, threads=1)
    assert runtime.classes == CLASSES
    assert runtime.input_contract["normalisation"] == MINUS_ONE_TO_ONE
    assert (runtime.scale, runtime.mean.tolist(), runtime.std.tolist()) == (255.0, [0.5], [0.5])
    assert _props(out)["emocli.stage"] == "pretrain-gan"
    model, info = load_model(path)
    rows = np.random.default_rng(3).integers(0, 256, (70, 1, 16, 16)).astype(np.float32)
    expected = classify(model, info, rows)  # what `emocli predict` computes (2 batches of 64)
    got = runtime.predict_proba_raw(rows)
    assert np.abs(got - expected).max() < TOLERANCE
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_refuses_a_non_model_artifact_and_writes_nothing(tmp_path: Path) -> None:
    faces = write_faces(tmp_path / "faces.h5")
    result = runner.invoke(app, ["export", str(faces)])
    assert result.exit_code == 2
    assert "error:" in result.output and "'faces' artifact" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "faces.onnx").exists()
    fuser = _write(
        tmp_path / "fuser.h5", lambda w: w.set_attr("architecture", "fusion-svm"), "fuse"
    )
    result = runner.invoke(app, ["export", str(fuser)])
    assert result.exit_code == 2 and "not one of emocli's neural classifiers" in result.output


def test_refuses_to_overwrite_the_input_or_another_artifact(tmp_path: Path) -> None:
    path = face_model(tmp_path / "face.h5")
    before = path.read_bytes()
    for target in (path, tmp_path / "." / "face.h5"):
        result = runner.invoke(app, ["export", str(path), "-o", str(target)])
        assert result.exit_code == 2, result.output
        assert "refusing to overwrite" in result.output
    other = write_faces(tmp_path / "faces.h5")
    result = runner.invoke(app, ["export", str(path), "-o", str(other)])
    assert result.exit_code == 2 and "HDF5" in result.output
    assert path.read_bytes() == before


def test_a_failed_check_leaves_the_previous_output_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emocli.export

    path = face_model(tmp_path / "face.h5")
    out = tmp_path / "face.onnx"
    out.write_bytes(b"previous")
    monkeypatch.setattr(emocli.export, "check_parity", lambda *_a, **_k: 0.5)
    with pytest.raises(ArtifactError, match="differ from torch's"):
        export_onnx(path)
    assert out.read_bytes() == b"previous"
    assert not list(tmp_path.glob(".*tmp-*"))


def test_missing_onnx_packages_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = face_model(tmp_path / "face.h5")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(ParamsError, match=r'pip install "emocli\[onnx\]"'):
        OnnxClassifier(tmp_path / "face.h5")
    # without onnxruntime the export still works, unchecked
    result = runner.invoke(app, ["export", str(path)])
    assert result.exit_code == 0, result.output
    assert "not checked" in result.output
    monkeypatch.setitem(sys.modules, "onnx", None)
    result = runner.invoke(app, ["export", str(path), "-o", str(tmp_path / "again.onnx")])
    assert result.exit_code == 2
    assert 'pip install "emocli[onnx]"' in result.output
    assert not (tmp_path / "again.onnx").exists()


def test_runtime_refuses_bad_files_and_shapes(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        OnnxClassifier(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(ArtifactError, match="not a loadable ONNX model"):
        OnnxClassifier(junk)
    model = _tiny("static_cnn", {}, 1, (32, 32))
    with pytest.raises(ArtifactError, match="no emocli metadata"):
        OnnxClassifier(export_module(model, (1, 32, 32)))
    info = ModelInfo("static_cnn", {}, CLASSES, {"size": [32, 32], "channels": 1})
    runtime = OnnxClassifier(with_metadata(export_module(model, (1, 32, 32)), metadata(info)))
    with pytest.raises(InputError, match=r"\(N, 1, 32, 32\)"):
        runtime.predict_proba(np.zeros((2, 3, 32, 32), np.float32))
    assert runtime.predict_proba(np.zeros((0, 1, 32, 32), np.float32)).shape == (0, 7)
    with pytest.raises(ParamsError, match="threads"):
        OnnxClassifier(junk, threads=-1)
