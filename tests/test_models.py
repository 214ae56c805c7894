"""The model registry: forward passes and parameter counts, torchvision parameter names."""

from __future__ import annotations

import pytest
import torch

from emocli.errors import ParamsError
from emocli.models import (
    GENERATORS,
    MODELS,
    TINY_CONFIGS,
    build_classifier,
    build_model,
    parameter_count,
)

#: Parameter counts of the tiny configurations on 48x48 grey input with 7 classes (regression).
TINY_COUNTS = {
    "vgg16": 58403,
    "vgg_m_2048": 17453,
    "squeezenet1_1": 3255,
    "dcgan_d": 8667,
    "static_cnn": 13295,
    "audio_urbansound": 5663,
    "audio_fayek": 9795,
    "resnet_small": 1355,
}


def test_every_model_has_a_tiny_configuration() -> None:
    assert set(TINY_CONFIGS) == set(MODELS) | set(GENERATORS)
    assert set(TINY_COUNTS) == set(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiny_forward_and_parameter_count(name: str) -> None:
    torch.manual_seed(0)
    model = build_classifier(name, in_channels=1, input_size=48, n_classes=7, **TINY_CONFIGS[name])
    assert parameter_count(model) == TINY_COUNTS[name]
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 48, 48))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()
    # the classifier named by classifier_prefix is the layer that outputs the classes
    layer = model.classifier_layer()
    weight = layer.weight
    assert weight.shape[0] == 7
    # and it is not part of the base
    base = {id(p) for block in model.base_blocks() for p in block.parameters()}
    assert id(weight) not in base
    assert base, "every model has a convolutional base"


@pytest.mark.parametrize(
    "name", ["dcgan_d", "static_cnn", "audio_urbansound", "audio_fayek", "resnet_small"]
)
def test_non_square_spectrogram_input(name: str) -> None:
    model = build_classifier(
        name, in_channels=1, input_size=(16, 40), n_classes=8, **TINY_CONFIGS[name]
    )
    model.eval()
    assert model(torch.randn(3, 1, 16, 40)).shape == (3, 8)


def test_rgb_input_and_backward() -> None:
    model = build_classifier(
        "vgg16", in_channels=3, input_size=32, n_classes=4, **TINY_CONFIGS["vgg16"]
    )
    loss = model(torch.randn(2, 3, 32, 32)).sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_full_size_counts_match_the_published_networks() -> None:
    with torch.device("meta"):
        vgg = build_classifier(
            "vgg16", in_channels=3, input_size=224, n_classes=1000, head="torchvision"
        )
        squeeze = build_classifier("squeezenet1_1", in_channels=3, input_size=224, n_classes=1000)
        static = build_classifier("static_cnn", in_channels=1, input_size=128, n_classes=7)
        dcgan = build_classifier("dcgan_d", in_channels=1, input_size=64, n_classes=7)
    assert parameter_count(vgg) == 138_357_544  # torchvision vgg16
    assert parameter_count(squeeze) == 1_235_496  # torchvision squeezenet1_1
    # static CNN, by hand: conv 1->32, BN, conv 32->64, BN, dense 64*30*30 -> 512 -> 7
    assert parameter_count(static) == 320 + 64 + 18_496 + 128 + (57_600 * 512 + 512) + (512 * 7 + 7)
    # DCGAN D: 4x4 convs 1-64-128-256-512 (BN after all but the first), linear 512*4*4 -> 7
    convs = 16 * (1 * 64 + 64 * 128 + 128 * 256 + 256 * 512) + 64
    assert parameter_count(dcgan) == convs + 2 * (128 + 256 + 512) + 8192 * 7 + 7


def test_fayek_regularisation_and_generator() -> None:
    fayek = build_classifier(
        "audio_fayek", in_channels=1, input_size=16, n_classes=3, **TINY_CONFIGS["audio_fayek"]
    )
    with torch.no_grad():
        reg = fayek.regularization_loss()
        kernels = [m.weight for m in fayek.modules() if isinstance(m, torch.nn.Conv2d)]
        expected = 0.01 * float(sum(k.pow(2).sum() for k in kernels))
    assert reg is not None and float(reg) > 0
    assert float(reg) == pytest.approx(expected, rel=1e-5)
    gen = build_model("dcgan_g", **TINY_CONFIGS["dcgan_g"])
    with torch.no_grad():
        images = gen(torch.randn(4, 8))
    assert images.shape == (4, 1, 16, 16)
    assert float(images.abs().max()) <= 1.0


def test_registry_errors_are_actionable() -> None:
    with pytest.raises(ParamsError, match="unknown model 'resnet9000'.*vgg16"):
        build_model("resnet9000")
    with pytest.raises(ParamsError, match="no option.*'depth'"):
        build_model("vgg16", depth=3)
    with pytest.raises(ParamsError, match="at least 32x32"):
        build_model("vgg16", input_size=16)
    with pytest.raises(ParamsError, match="unknown classifier"):
        build_classifier("dcgan_g")


# --------------------------------------------------------------------------- torchvision names


def torchvision_vgg16_shapes(classes: int = 1000) -> dict[str, tuple[int, ...]]:
    """torchvision.models.vgg16's state-dict keys and shapes, written out independently."""
    convs = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256),
             (14, 256, 256), (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512),
             (26, 512, 512), (28, 512, 512)]  # fmt: skip
    shapes: dict[str, tuple[int, ...]] = {}
    for i, cin, cout in convs:
        shapes[f"features.{i}.weight"] = (cout, cin, 3, 3)
        shapes[f"features.{i}.bias"] = (cout,)
    for i, cin, cout in [(0, 25088, 4096), (3, 4096, 4096), (6, 4096, classes)]:
        shapes[f"classifier.{i}.weight"] = (cout, cin)
        shapes[f"classifier.{i}.bias"] = (cout,)
    return shapes


def torchvision_squeezenet11_shapes(classes: int = 1000) -> dict[str, tuple[int, ...]]:
    """torchvision.models.squeezenet1_1's state-dict keys and shapes, written out independently."""
    shapes: dict[str, tuple[int, ...]] = {
        "features.0.weight": (64, 3, 3, 3),
        "features.0.bias": (64,),
    }
    fires = [(3, 64, 16, 64, 64), (4, 128, 16, 64, 64), (6, 128, 32, 128, 128), (7, 256, 32, 128, 128),
             (9, 256, 48, 192, 192), (10, 384, 48, 192, 192), (11, 384, 64, 256, 256),
             (12, 512, 64, 256, 256)]  # fmt: skip
    for i, cin, s, e1, e3 in fires:
        shapes[f"features.{i}.squeeze.weight"] = (s, cin, 1, 1)
        shapes[f"features.{i}.squeeze.bias"] = (s,)
        shapes[f"features.{i}.expand1x1.weight"] = (e1, s, 1, 1)
        shapes[f"features.{i}.expand1x1.bias"] = (e1,)
        shapes[f"features.{i}.expand3x3.weight"] = (e3, s, 3, 3)
        shapes[f"features.{i}.expand3x3.bias"] = (e3,)
    shapes["classifier.1.weight"] = (classes, 512, 1, 1)
    shapes["classifier.1.bias"] = (classes,)
    return shapes


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_vgg16_and_squeezenet_use_torchvision_names_and_shapes() -> None:
    with torch.device("meta"):
        vgg = build_model(
            "vgg16", in_channels=3, input_size=224, n_classes=1000, head="torchvision"
        )
        squeeze = build_model("squeezenet1_1", in_channels=3, input_size=224, n_classes=1000)
        vgg_thesis = build_model("vgg16", in_channels=1, input_size=64, n_classes=7)
    assert _shapes(vgg) == torchvision_vgg16_shapes()
    assert _shapes(squeeze) == torchvision_squeezenet11_shapes()
    # the thesis head keeps torchvision's feature names and uses classifier keys torchvision lacks
    thesis = _shapes(vgg_thesis)
    reference = torchvision_vgg16_shapes()
    assert {k for k in thesis if k.startswith("features.")} == {
        k for k in reference if k.startswith("features.")
    }
    assert thesis["classifier.1.weight"] == (1024, 512 * 2 * 2)
    assert thesis["classifier.4.weight"] == (7, 1024)
    assert not {k for k in thesis if k.startswith("classifier.")} & set(reference)


def test_statistics_pooling_over_time_takes_any_clip_length() -> None:
    """``time_pool="meanstd"``: mean and std of each row over the frames, whatever their number;
    the flattening head is tied to the training length."""
    from emocli.models.audio_cnns import TimePool

    kwargs = dict(in_channels=1, input_size=(40, 96), n_classes=7, widths=[4, 8], hidden=16)
    pooled = build_classifier("audio_urbansound", time_pool="meanstd", **kwargs).eval()
    flat = build_classifier("audio_urbansound", **kwargs).eval()
    with torch.no_grad():
        for frames in (96, 250, 31):
            assert pooled(torch.randn(2, 1, 40, frames)).shape == (2, 7)
        with pytest.raises(RuntimeError):
            flat(torch.randn(2, 1, 40, 250))
    x = torch.arange(24, dtype=torch.float32).reshape(1, 2, 3, 4)
    stats = TimePool("meanstd")(x).reshape(2, 2, 3)  # (mean | std, channel, frequency)
    torch.testing.assert_close(stats[0], x.mean(dim=3)[0])
    torch.testing.assert_close(stats[1], x.std(dim=3, unbiased=False)[0])
    with pytest.raises(ValueError, match="time_pool"):
        TimePool("max")
