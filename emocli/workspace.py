"""The workspace: where stages read and write artifacts by default.

Layout (default root ``./emocli-work``, overridden by ``--workdir`` or ``EMOCLI_WORKDIR``)::

    faces/  audio/  spectrograms/  models/  predictions/  reports/

Each stage derives its default output path from its input's name, so stages chain without
naming files: ``emocli preprocess-faces sfew/`` writes ``faces/sfew.h5``, and later stages
find their inputs in the matching folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from emocli.errors import InputError, ParamsError

DEFAULT_WORKDIR = "emocli-work"
WORKDIR_ENV = "EMOCLI_WORKDIR"

#: Sub-folder of the workspace for each artifact kind.
KIND_DIRS: dict[str, str] = {
    "faces": "faces",
    "audio": "audio",
    "spectrograms": "spectrograms",
    "model": "models",
    "predictions": "predictions",
    "evaluation": "reports",
}

_SPLIT_NAMES = {"train", "val", "valid", "validation", "test", "dev"}


@dataclass(frozen=True)
class Workspace:
    root: Path

    def dir_for(self, kind: str) -> Path:
        """The folder that holds artifacts of ``kind`` (not created)."""
        return self.root / KIND_DIRS[kind]

    def default_output(self, kind: str, source: Path | str, suffix: str = "") -> Path:
        """``<root>/<kind dir>/<name of source><suffix>.h5``.

        Raises :class:`~emocli.errors.ParamsError` if that file holds the artifact of another
        input that still exists (``a/sfew`` and ``b/sfew`` share the name ``sfew``): a run
        of one would replace the other's artifact. The message names the ``-o`` to pass.
        """
        path = self.dir_for(kind) / f"{source_name(source)}{suffix}.h5"
        made_from = _first_input(path)
        if made_from and Path(made_from).exists() and not _same_path(made_from, source):
            other = Path(str(source).rstrip("/\\")).resolve()
            wider = path.with_name(f"{other.parent.name}-{path.name}")
            raise ParamsError(
                f"the default output {path} holds the {kind} artifact of {made_from}, another "
                f"input named like {source}; pass -o to keep both, e.g. -o {wider}"
            )
        return path

    def artifacts(self, kind: str) -> list[Path]:
        """Artifacts present in the folder of ``kind``, sorted by name."""
        folder = self.dir_for(kind)
        return sorted(folder.glob("*.h5")) if folder.is_dir() else []

    def only_artifact(self, kind: str, made_by: str) -> Path:
        """The one artifact in the folder of ``kind``: a stage's default input.

        Raises :class:`~emocli.errors.InputError` when there are none or several, listing
        them and naming the command that makes one (``made_by``, e.g. ``extract-audio DATASET``).
        """
        found = self.artifacts(kind)
        if len(found) != 1:
            listing = ", ".join(str(p) for p in found) or "none"
            raise InputError(
                f"give the {kind} artifact to use: {len(found)} found in {self.dir_for(kind)} "
                f"({listing}); run `emocli {made_by}` first if none"
            )
        return found[0]


def resolve_workspace(workdir: Path | str | None = None) -> Workspace:
    """``workdir``, else ``$EMOCLI_WORKDIR``, else ``./emocli-work``."""
    root = workdir or os.environ.get(WORKDIR_ENV) or DEFAULT_WORKDIR
    return Workspace(Path(root))


def _first_input(artifact: Path) -> str:
    """The path of the first input recorded in ``artifact`` ('' if none, or not readable)."""
    if not artifact.is_file():
        return ""
    import h5py

    try:
        with h5py.File(artifact, "r") as h5:
            inputs = json.loads(h5.attrs.get("inputs", "[]"))
    except (OSError, ValueError, TypeError):
        return ""
    return str(inputs[0].get("path", "")) if inputs and isinstance(inputs[0], dict) else ""


def _same_path(a: Path | str, b: Path | str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def source_name(source: Path | str) -> str:
    """A short name for an input: ``sfew/`` -> ``sfew``; ``data/sfew2/Train`` -> ``sfew2-Train``;
    ``faces/sfew.h5`` -> ``sfew``; ``fer2013.csv`` -> ``fer2013``."""
    text = str(source).rstrip("/\\")
    path = Path(text).resolve() if text in ("", ".") else Path(text)
    name = (
        path.stem if path.suffix.lower() in {".h5", ".hdf5", ".csv", ".mp4", ".avi"} else path.name
    )
    if name.lower() in _SPLIT_NAMES and path.parent.name:
        name = f"{path.parent.name}-{name}"
    return name or "input"
