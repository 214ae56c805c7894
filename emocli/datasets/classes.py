"""A dataset's class list, decided in one place for every reader (faces and audio agree).

The classes of a format with a fixed label set (AFEW, SFEW, FER2013: the seven emotions;
RAVDESS: its eight) are that set, whether or not every class occurs; other formats take the
classes their folders name. ``--classes a,b,c`` declares the list instead: items of other
classes are rejected with the reason. Guesses are never silent: class folders that are not
emotion names (a typo such as ``hapy/``, or ``cats/``), files with no class folder, and
class folders read as unlabelled are reported as warnings, which ``--strict`` turns into an
error.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from emocli.datasets.common import MediaItem, Rejects, normalise_split
from emocli.datasets.ravdess import RAVDESS_EMOTIONS
from emocli.errors import InputError
from emocli.labels import EMOTIONS, KNOWN_EMOTIONS, normalise_class_name, sort_classes
from emocli.stage_params.classes import ClassListParams

#: Formats whose label set is fixed by the dataset, whatever classes the files hold.
FORMAT_CLASSES: dict[str, tuple[str, ...]] = {
    "afew": EMOTIONS,
    "sfew": EMOTIONS,
    "fer2013": EMOTIONS,
    "ravdess": tuple(RAVDESS_EMOTIONS.values()),
    "ravdess-video": tuple(RAVDESS_EMOTIONS.values()),
}
#: Names shown in one warning before "and N more".
SHOWN_NAMES = 8


@dataclass
class ClassList:
    """The classes of a dataset, its items (those of undeclared classes removed), the rejects
    of those items, and the warnings about guessed labels."""

    classes: list[str]
    items: list[MediaItem]
    rejects: Rejects = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_classes(
    fmt: str, items: list[MediaItem], root: Path, params: ClassListParams, guessed: bool = False
) -> ClassList:
    """The class list of ``items`` read from ``root`` in format ``fmt`` (see the module doc);
    ``guessed``: the format was detected, not given.

    Raises :class:`InputError` with the warnings when ``params.strict`` and any was raised.
    """
    present = sort_classes([i.label for i in items if i.label])
    fixed = FORMAT_CLASSES.get(fmt, ())
    result = ClassList(sort_classes([*fixed, *present]) if fixed or present else [], items)
    if params.classes:
        result.classes = [normalise_class_name(c) for c in params.classes]
        result.items = [i for i in items if not i.label or i.label in result.classes]
        for item in items:
            if item.label and item.label not in result.classes:
                reason = f"class {item.label!r} is not one of --classes"
                result.rejects.append((item.sample_id, str(item.path), reason))
    else:
        odd = [c for c in present if c not in KNOWN_EMOTIONS and c not in fixed]
        if odd:
            result.warnings.append(
                f"class folders that are not emotion names, kept as classes: {_named(odd)}; "
                "declare the classes with --classes to reject others"
            )
    loose = sum(1 for i in items if not i.label and i.path.parent == root)
    if present and loose:
        result.warnings.append(
            f"{loose} file{'s' if loose > 1 else ''} directly in {root} with no class folder: "
            "read as unlabelled"
        )
    if fmt == "unlabelled" and guessed:
        folders = sorted({f for f in (_class_folder(i.path, root) for i in items) if f})
        if folders:
            result.warnings.append(
                f"no emotion-named class folders under {root}, so its faces are read as "
                f"unlabelled (folders: {_named(folders, suggest=False)}); pass --format folder "
                "to use the folders as classes"
            )
    if params.strict and result.warnings:
        raise InputError("--strict: " + "; ".join(result.warnings))
    return result


def _class_folder(path: Path, root: Path) -> str:
    """The first folder of ``path`` under ``root`` that is not a split name ('' if none)."""
    folders = path.relative_to(root).parts[:-1]
    return next((f for f in folders if not normalise_split(f)), "")


def _named(names: list[str], suggest: bool = True) -> str:
    """``hapy (did you mean happy?), cats`` for at most :data:`SHOWN_NAMES` names."""
    shown = []
    for name in names[:SHOWN_NAMES]:
        close = difflib.get_close_matches(name, sorted(KNOWN_EMOTIONS), n=1, cutoff=0.75)
        shown.append(f"{name} (did you mean {close[0]}?)" if suggest and close else name)
    more = f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
    return ", ".join(shown) + more
