"""Transfer learning: torchvision checkpoints (grey conversion), head replacement, freezing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emocli.errors import InputError, ParamsError
from emocli.models import TINY_CONFIGS, build_classifier
from emocli.models.base import EmotionNet
from emocli.transfer import apply_freeze, load_imagenet, parse_freeze, transfer_state
from tests.test_models import torchvision_squeezenet11_shapes, torchvision_vgg16_shapes


def _fake_checkpoint(
    path: Path, shapes: dict[str, tuple[int, ...]], skip: tuple[str, ...] = ()
) -> dict:
    torch.manual_seed(0)
    state = {k: torch.randn(s) for k, s in shapes.items() if not k.startswith(skip)}
    torch.save(state, path)
    return state


def test_torchvision_squeezenet_checkpoint_loads_into_grey_model(tmp_path: Path) -> None:
    state = _fake_checkpoint(tmp_path / "squeezenet1_1.pth", torchvision_squeezenet11_shapes())
    model = build_classifier("squeezenet1_1", in_channels=1, input_size=48, n_classes=7)
    report = load_imagenet(model, tmp_path / "squeezenet1_1.pth")
    own = model.state_dict()
    # grey conversion: the RGB filters of the first convolution are summed
    assert torch.allclose(own["features.0.weight"], state["features.0.weight"].sum(1, keepdim=True))
    assert report.converted == ["features.0.weight"]
    for key, value in state.items():
        if key.startswith("features.") and key != "features.0.weight":
            assert torch.equal(own[key], value), key
    # the 1000-class classifier does not fit 7 classes: kept as initialised
    assert sorted(report.kept) == ["classifier.1.bias", "classifier.1.weight"]
    assert report.head_replaced
    assert torch.isfinite(model(torch.rand(1, 1, 48, 48))).all()


def test_torchvision_vgg16_checkpoint_loads_features_and_rgb_stays_rgb(tmp_path: Path) -> None:
    # classifier.0 (4096 x 25088) is left out of the fake file to keep the test light
    state = _fake_checkpoint(
        tmp_path / "vgg16.pth", torchvision_vgg16_shapes(), skip=("classifier.0",)
    )
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "wrapped.pth"
    )
    model = build_classifier("vgg16", in_channels=3, input_size=32, n_classes=5)
    report = load_imagenet(model, tmp_path / "wrapped.pth")
    assert report.converted == []
    assert torch.equal(model.state_dict()["features.0.weight"], state["features.0.weight"])
    assert torch.equal(model.state_dict()["features.28.bias"], state["features.28.bias"])
    assert sorted(report.kept) == [
        "classifier.1.bias",
        "classifier.1.weight",
        "classifier.4.bias",
        "classifier.4.weight",
    ]


def test_wrong_checkpoint_is_refused(tmp_path: Path) -> None:
    _fake_checkpoint(tmp_path / "squeeze.pth", torchvision_squeezenet11_shapes())
    model = build_classifier(
        "vgg16", in_channels=1, input_size=32, n_classes=7, **TINY_CONFIGS["vgg16"]
    )
    with pytest.raises(InputError, match="none of VGG16's convolutional parameters"):
        load_imagenet(model, tmp_path / "squeeze.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="weights-only"):
        load_imagenet(model, tmp_path / "junk.pth")
    with pytest.raises(InputError, match="not found"):
        load_imagenet(model, tmp_path / "missing.pth")


def _tiny(name: str, n_classes: int) -> EmotionNet:
    torch.manual_seed(n_classes)
    return build_classifier(
        name, in_channels=1, input_size=48, n_classes=n_classes, **TINY_CONFIGS[name]
    )


@pytest.mark.parametrize(
    "name", ["vgg16", "squeezenet1_1", "dcgan_d", "resnet_small", "static_cnn"]
)
def test_transfer_replaces_only_the_head(name: str) -> None:
    source = _tiny(name, 7)
    for p in source.parameters():  # make the source's weights unmistakable
        p.data.add_(1.0)
    target = _tiny(name, 8)
    fresh_head = {
        k: v.clone()
        for k, v in target.state_dict().items()
        if k.startswith(target.classifier_prefix + ".")
    }
    report = transfer_state(target, source.state_dict(), list("abcdefg"), list("abcdefgh"))
    assert report.head_replaced
    assert sorted(report.kept) == sorted(fresh_head)
    for key, value in target.state_dict().items():
        if key in fresh_head:
            assert torch.equal(value, fresh_head[key])
        else:
            assert torch.equal(value, source.state_dict()[key]), key


def test_transfer_keeps_the_head_when_the_classes_are_the_same() -> None:
    source, target = _tiny("resnet_small", 7), _tiny("resnet_small", 7)
    torch.nn.init.constant_(source.classifier.weight, 0.5)
    report = transfer_state(target, source.state_dict(), list("abcdefg"), list("abcdefg"))
    assert not report.head_replaced and report.kept == []
    assert torch.equal(target.classifier.weight, source.classifier.weight)


def test_freeze_policies_freeze_exactly_what_they_say() -> None:
    model = _tiny("vgg16", 7)
    frozen = apply_freeze(model, "all-but-last-2")
    blocks = model.base_blocks()
    assert len(blocks) == 5
    for i, block in enumerate(blocks):
        assert all(p.requires_grad == (i >= 3) for p in block.parameters()), i
    assert all(p.requires_grad for p in model.classifier.parameters())
    names = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert set(frozen) == names
    assert {n.split(".")[1] for n in names} == {"0", "2", "5", "7", "10", "12", "14"}  # blocks 1-3

    model = _tiny("resnet_small", 7)
    frozen = apply_freeze(model, "base")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.weight", "classifier.bias"}
    assert set(frozen) | trainable == {n for n, _ in model.named_parameters()}
    assert apply_freeze(_tiny("resnet_small", 7), "none") == []


def test_frozen_batch_norm_keeps_its_statistics() -> None:
    model = build_classifier("dcgan_d", in_channels=1, input_size=48, n_classes=7, widths=[4, 8, 8])
    apply_freeze(model, "all-but-last-1")
    model.train()
    frozen_bn = model.features[1][1]
    live_bn = model.features[-1][1]
    assert isinstance(frozen_bn, torch.nn.BatchNorm2d) and not frozen_bn.training
    assert live_bn.training
    before = frozen_bn.running_mean.clone()
    model(torch.randn(4, 1, 48, 48))
    assert torch.equal(frozen_bn.running_mean, before)


def test_parse_freeze() -> None:
    assert parse_freeze("none") is None
    assert parse_freeze("base") == 0
    assert parse_freeze("all-but-last-3") == 3
    with pytest.raises(ParamsError, match="all-but-last-N"):
        parse_freeze("last-2")
    with pytest.raises(ParamsError, match="only 2 blocks"):
        apply_freeze(_tiny("dcgan_d", 7), "all-but-last-9")
