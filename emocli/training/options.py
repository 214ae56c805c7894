"""Torch-free names and parsers of training options.

Parameter validation (the params dataclasses' ``__post_init__``) runs before every stage,
including the up-to-date check that should answer in well under a second: it must not import
torch or Lightning. The modules that train import their choices from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

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


def subject_mask(subjects: np.ndarray, text: str) -> np.ndarray:
    """(N,) bool: rows whose subject is named in ``text`` or falls in one of its ranges
    (numeric subjects such as RAVDESS actors ``"17"``, or ``"S017"``; names compare exactly)."""
    names, ranges = parse_subjects(text)

    def selected(subject: str) -> bool:
        if subject in names:
            return True
        digits = subject.lstrip("Ss")
        return digits.isdigit() and any(lo <= int(digits) <= hi for lo, hi in ranges)

    return np.array([selected(str(s)) for s in subjects], dtype=bool)


def pick_groups(
    values_of: Callable[[str], np.ndarray | None], group_by: str
) -> tuple[str, np.ndarray | None]:
    """The grouping column for leakage-free splits: ``auto`` takes the first of
    :data:`GROUP_COLUMNS` that is filled in; ``none`` (or nothing filled in) stratifies by
    class only. ``values_of(name)`` gives a column's (N,) str values, ``None`` when absent.
    Returns (column name or ``"none"``, its values or ``None``)."""
    if group_by == "none":
        return "none", None
    for name in GROUP_COLUMNS if group_by == "auto" else (group_by,):
        values = values_of(name)
        if values is None:
            if group_by != "auto":
                raise ParamsError(
                    f"--group-by {group_by}: the input has no such column "
                    f"(use one of {', '.join(GROUP_COLUMNS)}, auto or none)"
                )
            continue
        if np.any(values != ""):
            return name, values
    if group_by != "auto":
        raise ParamsError(f"--group-by {group_by}: the column is empty in this input")
    return "none", None
