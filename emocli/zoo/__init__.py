"""Models shipped inside the package, so ``emocli predict clip.mp4`` works offline from the
first command: ``face`` (7 emotions from grey face crops) and ``voice`` (RAVDESS's 8 emotions
from 16 kHz speech).

Each is an ordinary model artifact, ``emocli/zoo/<name>.h5``, trained by emocli's own
recipes (``make zoo``) and packed by :func:`pack` with its model card in the attribute
``card`` (JSON: training data and its terms, command, figures, limits). A name of
:data:`BUNDLED` is accepted wherever a model path is (``--face-model face``); an
installation without the file says how to build it. ``EMOCLI_ZOO_DIR`` points at another
folder of bundled models (the smoke recipe and the tests use it).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emocli.errors import ArtifactError, InputError

#: Environment variable naming another folder of bundled models.
ZOO_DIR_ENV = "EMOCLI_ZOO_DIR"
#: Largest bundled model file (bytes): the wheel stays small.
MAX_BYTES = 10 * 2**20
#: Card fields every bundled model has.
CARD_FIELDS = ("summary", "training_data", "terms", "command", "figures", "limits")


@dataclass(frozen=True)
class Bundled:
    """A bundled model's name, the artifact kind it takes and the predict option it fills."""

    name: str
    kind: str
    option: str
    summary: str


BUNDLED: dict[str, Bundled] = {
    "face": Bundled("face", "faces", "--face-model", "7 emotions from grey face crops"),
    "voice": Bundled("voice", "spectrograms", "--audio-model", "8 emotions from 16 kHz speech"),
}


def zoo_dir() -> Path:
    """The folder of bundled models (``EMOCLI_ZOO_DIR``, else this package's folder)."""
    return Path(os.environ.get(ZOO_DIR_ENV) or Path(__file__).parent)


def bundled_path(name: str) -> Path:
    return zoo_dir() / f"{name}.h5"


def installed(name: str) -> Path | None:
    """The bundled model ``name``'s file, when this installation has it."""
    path = bundled_path(name)
    return path if path.is_file() else None


def resolve_model(value: Path | str, option: str) -> Path:
    """A model path: ``value`` itself, or the bundled model it names (``face``, ``voice``).

    Raises :class:`InputError` for a bundled name whose file this installation lacks.
    """
    path = Path(value)
    if path.exists() or str(value) not in BUNDLED:
        return path
    bundled = bundled_path(str(value))
    if not bundled.is_file():
        raise InputError(
            f"{option} {value}: the bundled {str(value)!r} model is not in this installation "
            f"({bundled} is missing); build it with `make zoo` or give a model artifact path"
        )
    return bundled


def read_card(path: Path) -> dict[str, Any]:
    """The model card of a bundled model artifact (``{}`` when it has none)."""
    from emocli.artifacts import open_artifact

    with open_artifact(path, "model") as art:
        card = art.attrs.get("card")  # JSON attributes come back decoded
    if isinstance(card, str):
        card = json.loads(card)
    return dict(card) if isinstance(card, dict) else {}


def load_card(path: Path) -> dict[str, Any]:
    """A model card from its JSON file (``models pack --card``); :class:`InputError` when it
    is not a readable JSON object."""
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"--card {path}: not a readable JSON file ({exc})") from exc
    if not isinstance(card, dict):
        raise InputError(f"--card {path}: expected a JSON object")
    return card


def list_models() -> list[dict[str, Any]]:
    """One entry per bundled model: name, whether installed, path, size, classes, card."""
    from emocli.training.model_store import read_model_info

    out = []
    for entry in BUNDLED.values():
        path = bundled_path(entry.name)
        row: dict[str, Any] = {"name": entry.name, "summary": entry.summary, "path": str(path)}
        row["installed"] = path.is_file()
        if row["installed"]:
            info = read_model_info(path)
            row.update(
                size_mb=round(path.stat().st_size / 2**20, 2),
                classes=list(info.classes),
                architecture=info.architecture,
                card=read_card(path),
            )
        out.append(row)
    return out


def pack(
    model: Path,
    name: str,
    card: dict[str, Any],
    output: Path | None = None,
    int8_calibration: Path | None = None,
) -> Path:
    """Copy the model artifact ``model`` to the bundled model ``name`` with its ``card``.

    int8_calibration : a faces/spectrograms artifact made like the model's training input; the
    model's int8 graph, calibrated on its training rows, is stored in the copy
    (:mod:`emocli.int8_graph`: what ``predict`` runs by default) and its check recorded
    in the card (``int8``).

    Refuses a model of the wrong kind, a card lacking a field of :data:`CARD_FIELDS`, and a
    file over :data:`MAX_BYTES`. Written to a temporary name, then moved into place.
    """
    import h5py

    from emocli.training.model_store import read_model_info

    if name not in BUNDLED:
        raise InputError(f"unknown bundled model {name!r}; choose one of {', '.join(BUNDLED)}")
    info = read_model_info(model)
    kind = str(info.input.get("kind", ""))
    if kind != BUNDLED[name].kind:
        raise ArtifactError(f"{model}: a {kind or 'non-'} model cannot be the {name!r} model")
    missing = [f for f in CARD_FIELDS if not card.get(f)]
    if missing:
        raise InputError(f"the model card lacks {', '.join(missing)}")
    if model.stat().st_size > MAX_BYTES:  # the int8 graph only adds to it
        raise ArtifactError(f"{model}: {model.stat().st_size / 2**20:.1f} MB, over the 10 MB limit")
    out = Path(output) if output is not None else bundled_path(name)
    if out.resolve() == model.resolve():
        raise InputError(f"{out}: is the model being packed; give another output")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    graph = None
    if int8_calibration is not None:  # quantized from the model itself: its metadata names it
        from emocli.int8_graph import quantized_graph, store_graph

        graph, check = quantized_graph(model, Path(int8_calibration))
        card = {**card, "int8": check}
    try:
        shutil.copyfile(model, tmp)
        if graph is not None:
            store_graph(tmp, graph, check)
        size = tmp.stat().st_size
        if size > MAX_BYTES:
            raise ArtifactError(f"{model}: {size / 2**20:.1f} MB packed, over the 10 MB limit")
        with h5py.File(tmp, "a") as h5:
            h5.attrs["card"] = json.dumps({"name": name, **card}, sort_keys=True)
            h5.attrs["bundled_name"] = name
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
