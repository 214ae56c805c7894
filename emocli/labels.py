"""Emotion class names and the mapping between label sets, always by name, never by position.

SPEC's seven classes (AFEW / SFEW / FER2013) use the names in :data:`EMOTIONS`. Dataset
readers normalise their own spellings (``anger``, ``sadness``, ``Angry`` ...) with
:func:`normalise_class_name`; classes outside the seven (``contempt``, ``calm``) keep
their own (lower-case) name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emocli.errors import EmocliError, InputError

#: The seven classes of AFEW / SFEW / FER2013, in alphabetical order (the default class order).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
#: Class names recognised as emotions: the seven, and CK+'s and RAVDESS's extra ones.
KNOWN_EMOTIONS: frozenset[str] = frozenset(EMOTIONS) | {"contempt", "calm"}

#: FER2013's integer labels 0..6, in the CSV's order.
FER2013_ORDER: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: CK+'s integer labels 0..7 in ``*_emotion.txt``.
CKPLUS_ORDER: tuple[str, ...] = (
    "neutral",
    "angry",
    "contempt",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
)

#: Label value of an unlabelled sample.
UNLABELLED = -1

_SYNONYMS = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
}


def normalise_class_name(name: str) -> str:
    """Map a dataset's spelling of a class (``Anger``, ``sadness``) to SPEC's name (``angry``, ``sad``).

    Unknown classes (``contempt``, ``calm``) are returned lower-cased and stripped.
    """
    key = name.strip().lower()
    return _SYNONYMS.get(key, key)


def sort_classes(names: Sequence[str]) -> list[str]:
    """Order class names: SPEC's seven first in :data:`EMOTIONS` order, then any others alphabetically."""
    unique = {normalise_class_name(n) for n in names}
    known = [e for e in EMOTIONS if e in unique]
    return known + sorted(unique - set(EMOTIONS))


def column_order(
    source: Sequence[str],
    target: Sequence[str],
    what: str,
    error: type[EmocliError] = EmocliError,
    subset: bool = False,
) -> list[int]:
    """Indices into ``source`` that put its classes (probability columns) in the order of
    ``target``, by name. Raises ``error`` naming ``what``, the missing and the extra classes
    when the two are not the same set (with ``subset``: when ``target`` is not a subset of
    ``source``): probabilities over different classes cannot be combined or compared."""
    same = sorted(source) == sorted(target)
    if subset:
        same = set(target) <= set(source) and len(set(target)) == len(target)
    if not same or len(set(source)) != len(source):
        missing = sorted(set(target) - set(source))
        extra = sorted(set(source) - set(target))
        raise error(
            f"{what}: its classes {list(source)} are not the classes {list(target)} "
            f"(missing {missing}, extra {extra}); probabilities are combined and compared by "
            "class name, over the same set of classes"
        )
    return [list(source).index(name) for name in target]


def map_labels_by_name(
    labels: np.ndarray, source: Sequence[str], target: Sequence[str]
) -> tuple[np.ndarray, int]:
    """Re-index integer labels from the class list ``source`` to ``target``, by name.

    labels : (N,) int, indices into ``source`` (``-1`` stays ``-1``). Returns (N,) int64
    indices into ``target``, where a class ``target`` lacks becomes ``-1`` (unlabelled), and
    how many labelled rows lost their label that way.
    """
    position = {name: i for i, name in enumerate(target)}
    table = np.array([position.get(n, UNLABELLED) for n in source] + [UNLABELLED], np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    mapped = table[np.where(labels < 0, len(source), labels)]
    return mapped, int(((labels >= 0) & (mapped < 0)).sum())


def remap_labels(labels: np.ndarray, source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """:func:`map_labels_by_name`, but a labelled sample whose class is absent from ``target``
    raises :class:`EmocliError` naming the class."""
    mapped, lost = map_labels_by_name(labels, source, target)
    if lost:
        labels = np.asarray(labels, dtype=np.int64)
        used_missing = sorted({source[i] for i in np.unique(labels[(labels >= 0) & (mapped < 0)])})
        raise EmocliError(
            f"classes {used_missing} are not among the target classes {list(target)}; "
            "map or drop them first"
        )
    return mapped


class LabelTable:
    """Labels read from a CSV, looked up by ``(split, id)`` or by id alone.

    id_column : ``clip_id`` or ``sample_id``; has_split : whether the CSV had a split column.
    """

    def __init__(self, path: Path, id_column: str, has_split: bool) -> None:
        self.path = path
        self.id_column = id_column
        self.has_split = has_split
        self.by_key: dict[tuple[str, str], str] = {}
        self.by_id: dict[str, list[tuple[str, str]]] = {}

    def add(self, split: str, key: str, label: str, line: int) -> None:
        previous = self.by_key.get((split, key))
        if previous is not None and previous != label:
            raise InputError(
                f"{self.path}:{line}: {self.id_column} {key!r} (split {split!r}) is labelled "
                f"both {previous!r} and {label!r}; fix the labels file"
            )
        if previous is None:
            self.by_key[(split, key)] = label
            self.by_id.setdefault(key, []).append((split, label))

    def lookup(self, split: str, key: str) -> tuple[str, str] | None:
        """``(split, label)`` for an id, or ``None`` if absent or ambiguous.

        With a split (non-empty) and a split column the pair must match; otherwise the id
        must occur once in the table.
        """
        if split and self.has_split:
            label = self.by_key.get((split, key))
            return None if label is None else (split, label)
        matches = self.by_id.get(key, [])
        return matches[0] if len(matches) == 1 else None

    def is_ambiguous(self, key: str) -> bool:
        return len(self.by_id.get(key, [])) > 1

    @property
    def classes(self) -> list[str]:
        return sort_classes([label for label in self.by_key.values() if label])
