"""Plain torch models and their registry: architecture name -> class.

Every classifier takes ``in_channels``, ``input_size`` (int or (H, W)) and ``n_classes`` plus
its own keyword arguments, which are stored with the weights (attrs ``architecture`` and
``model_kwargs`` of a model artifact) so a model is rebuilt from the registry, never
unpickled. :data:`TINY_CONFIGS` gives each one a tiny configuration for tests.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from emocli.errors import ParamsError
from emocli.models.audio_cnns import AudioFayek, AudioUrbanSound
from emocli.models.base import EmotionNet
from emocli.models.dcgan import DCGANDiscriminator, DCGANGenerator
from emocli.models.resnet import ResNetSmall
from emocli.models.small_cnns import StaticCNN
from emocli.models.squeezenet import SqueezeNet11
from emocli.models.vgg import VGG16, VGGM2048

#: Emotion classifiers, by the name used on the command line (``finetune --model NAME``).
MODELS: dict[str, type[EmotionNet]] = {
    "vgg16": VGG16,
    "vgg_m_2048": VGGM2048,
    "squeezenet1_1": SqueezeNet11,
    "dcgan_d": DCGANDiscriminator,
    "static_cnn": StaticCNN,
    "audio_urbansound": AudioUrbanSound,
    "audio_fayek": AudioFayek,
    "resnet_small": ResNetSmall,
}

#: Image generators (``pretrain-gan``); not classifiers, so not offered by ``finetune``.
GENERATORS: dict[str, type[nn.Module]] = {"dcgan_g": DCGANGenerator}

#: Architectures whose parameter names follow torchvision (``--init imagenet:PATH``).
TORCHVISION_NAMED: frozenset[str] = frozenset({"vgg16", "squeezenet1_1"})

#: Tiny configurations (constructor kwargs besides in_channels/input_size/n_classes) for tests.
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "vgg16": {"width_mult": 1 / 16, "hidden": 16},
    "vgg_m_2048": {"width_mult": 1 / 32},
    "squeezenet1_1": {"width_mult": 1 / 16},
    "dcgan_d": {"widths": [4, 8]},
    "static_cnn": {"widths": [4, 8], "hidden": 16},
    "audio_urbansound": {"widths": [4, 8, 8], "hidden": 16},
    "audio_fayek": {"widths": [2, 4], "kernel": 3, "hidden": 16},
    "resnet_small": {"widths": [4, 8], "blocks": [1, 1]},
}
TINY_CONFIGS["dcgan_g"] = {"widths": [8, 4], "latent_dim": 8, "output_size": 16}


def architecture_names() -> list[str]:
    """Every name :func:`build_model` accepts."""
    return sorted({*MODELS, *GENERATORS})


def model_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``; :class:`ParamsError` listing the choices otherwise."""
    cls: type[nn.Module] | None = MODELS.get(name) or GENERATORS.get(name)
    if cls is None:
        raise ParamsError(
            f"unknown model {name!r}; choose one of: {', '.join(architecture_names())}"
        )
    return cls


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate architecture ``name`` with ``kwargs`` (JSON values: lists for tuples).

    Raises :class:`ParamsError` for an unknown name or a keyword the architecture lacks.
    """
    cls = model_class(name)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ParamsError(
            f"model {name!r} has no option(s) {unknown}; it accepts: {', '.join(accepted)}"
        )
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ParamsError(f"model {name!r}: {exc}") from exc


def build_classifier(name: str, **kwargs: Any) -> EmotionNet:
    """:func:`build_model` restricted to the emotion classifiers of :data:`MODELS`."""
    if name not in MODELS:
        raise ParamsError(
            f"unknown classifier {name!r}; choose one of: {', '.join(sorted(MODELS))}"
        )
    model = build_model(name, **kwargs)
    assert isinstance(model, EmotionNet)
    return model


def parameter_count(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = [
    "GENERATORS",
    "MODELS",
    "TINY_CONFIGS",
    "TORCHVISION_NAMED",
    "EmotionNet",
    "architecture_names",
    "build_classifier",
    "build_model",
    "model_class",
    "parameter_count",
]
