"""The training options' choices and their pure parsers, declared once for the params
dataclasses, the commands' ``--help`` and the modules that train (light: no numpy, no torch,
so validating parameters before an up-to-date check stays instant)."""

from __future__ import annotations

import re

from emocli.errors import ParamsError

#: Classifier architectures of :data:`emocli.models.MODELS`, by command-line name.
MODEL_NAMES = (
    "vgg16",
    "vgg_m_2048",
    "squeezenet1_1",
    "dcgan_d",
    "static_cnn",
    "audio_urbansound",
    "audio_fayek",
    "resnet_small",
)
#: Model used when neither --model nor an artifact --init names one (the sources' VGG16).
DEFAULT_MODEL = "vgg16"
#: Prefix of ``--init imagenet:PATH`` (a torchvision ImageNet checkpoint).
INIT_IMAGENET = "imagenet:"
#: Columns that keep related rows together (dev splits, folds), tried in this order by
#: ``--group-by auto``: the person, then e.g. SFEW's movie, then the clip.
GROUP_COLUMNS = ("subject", "group", "clip_id")
#: Values of ``--group-by``.
GROUP_CHOICES = ("auto", *GROUP_COLUMNS, "none")
#: Augmentation presets (:mod:`emocli.training.augment`), and those for pictures in [0, 1].
AUGMENT_PRESETS = ("spec", "light", "strong", "specaugment", "speech", "none")
IMAGE_AUGMENTS = ("spec", "light", "strong")
#: Test-time augmentation: ``flip`` averages each prediction with the mirror image's.
TTAS = ("none", "flip")
#: Optimisers accepted by ``--optimizer``.
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
#: Learning-rate schedules accepted by ``--scheduler``.
SCHEDULERS = ("none", "onecycle", "cosine", "plateau")

_FREEZE_PATTERN = re.compile(r"^(none|base|all-but-last-(\d+))$")


def parse_freeze(policy: str) -> int | None:
    """``none`` -> ``None`` (train all); ``base`` -> ``0``; ``all-but-last-N`` -> ``N``."""
    match = _FREEZE_PATTERN.match(policy.strip())
    if not match:
        raise ParamsError(
            f"--freeze must be none, base or all-but-last-N (e.g. all-but-last-2), got {policy!r}"
        )
    if match.group(1) == "none":
        return None
    return int(match.group(2)) if match.group(2) else 0


def parse_subjects(text: str) -> tuple[set[str], list[tuple[int, int]]]:
    """``"01,03,10-12"`` -> ({"01", "03"}, [(10, 12)]): exact names and inclusive numeric ranges."""
    names: set[str] = set()
    ranges: list[tuple[int, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, sep, high = part.partition("-")
        if sep and low.strip().isdigit() and high.strip().isdigit():
            if int(low) > int(high):
                raise ParamsError(f"subject range {part!r} is empty (start > end)")
            ranges.append((int(low), int(high)))
        elif sep:
            raise ParamsError(f"subject range {part!r} must be two numbers, e.g. 17-20")
        else:
            names.add(part)
    if not names and not ranges:
        raise ParamsError(f"no subjects in {text!r}; give names or ranges such as 17-20")
    return names, ranges
