"""Several modalities' clip-level predictions joined on ``(split, clip id)``
(:func:`join_modalities`), and how input modalities are matched to a stored fuser's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emocli.errors import InputError, ParamsError
from emocli.fusion.clips import clip_keys, qualified_ids
from emocli.predictions import Predictions
from emocli.stage_params.fuse import MISSING_POLICIES


@dataclass
class Joined:
    """Clip-level predictions of M modalities on the same clips.

    probs : (N, M, K) float64, 0 where a modality is missing; present : (N, M) bool.
    label, fold : (N,) int64; sample_id, clip_id, split, subject : (N,) str.
    missing : clips (before the missing policy) lacking each modality, per split.
    """

    classes: list[str]
    modalities: list[str]
    probs: np.ndarray
    present: np.ndarray
    label: np.ndarray
    fold: np.ndarray
    sample_id: np.ndarray
    clip_id: np.ndarray
    split: np.ndarray
    subject: np.ndarray
    missing: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped: int = 0
    label_conflicts: int = 0

    def __len__(self) -> int:
        return int(self.probs.shape[0])

    @property
    def complete(self) -> np.ndarray:
        """(N,) bool: clips that have every modality."""
        return np.asarray(self.present.all(axis=1), dtype=bool)

    def features(self) -> np.ndarray:
        """(N, M*K) float64: the modalities' probability vectors concatenated, in modality order."""
        return self.probs.reshape(len(self), -1)


def join_modalities(
    inputs: Sequence[Predictions], modalities: Sequence[str], missing: str = "drop"
) -> Joined:
    """Join clip-level predictions (same classes, same order) on ``(split, clip id)``.

    Clips are keyed by ``(split, clip id)`` when every input knows every row's split (AFEW
    reuses clip ids across Train and Val), otherwise by clip id alone. Labels come from the
    first input that has one (disagreements are counted). ``missing="drop"`` keeps only clips
    every modality has; ``"fallback"`` keeps all.
    """
    if missing not in MISSING_POLICIES:
        raise ParamsError(f"--missing must be one of {list(MISSING_POLICIES)}, not {missing!r}")
    if not inputs:
        raise InputError("nothing to join: no predictions given")
    if len(set(modalities)) != len(modalities):
        raise InputError(f"two inputs have the same modality name: {list(modalities)}")
    classes = list(inputs[0].classes)
    use_split = all(bool((np.asarray(p.split, dtype=str) != "").all()) for p in inputs)
    index: dict[tuple[str, str], int] = {}
    rows: list[dict[str, Any]] = []
    m, k = len(inputs), len(classes)
    for j, preds in enumerate(inputs):
        if preds.classes != classes:
            raise InputError("join_modalities needs inputs with the same class order")
        keys = clip_keys(preds)
        splits = np.asarray(preds.split, dtype=str)
        seen: set[tuple[str, str]] = set()
        for r in range(len(preds)):
            key = (splits[r] if use_split else "", str(keys[r]))
            if key in seen:
                raise InputError(
                    f"{preds.source or modalities[j]}: clip {key[1]!r} occurs twice"
                    + ("" if use_split else "; give every row a split so clips can be told apart")
                )
            seen.add(key)
            at = index.get(key)
            if at is None:
                at = index[key] = len(rows)
                rows.append(
                    {
                        "probs": np.zeros((m, k)),
                        "present": np.zeros(m, dtype=bool),
                        "label": -1,
                        "fold": -1,
                        "split": str(splits[r]),
                        "clip": key[1],
                        "subject": str(preds.subject[r]),
                        "labels": set(),
                    }
                )
            row = rows[at]
            row["probs"][j] = preds.probs[r]
            row["present"][j] = True
            lab = int(preds.label[r])
            if lab >= 0:
                row["labels"].add(lab)
                if row["label"] < 0:
                    row["label"] = lab
            if row["fold"] < 0:
                row["fold"] = int(preds.fold[r])
            if not row["split"]:
                row["split"] = str(splits[r])
            if not row["subject"]:
                row["subject"] = str(preds.subject[r])
    present = np.array([row["present"] for row in rows], dtype=bool).reshape(len(rows), m)
    split = np.array([row["split"] for row in rows], dtype=str)
    missing_counts: dict[str, dict[str, int]] = {}
    for j, name in enumerate(modalities):
        lacking = ~present[:, j]
        missing_counts[name] = {
            s: int((lacking & (split == s)).sum()) for s in sorted(set(split.tolist()))
        }
    keep = np.asarray(present.all(axis=1) if missing == "drop" else np.ones(len(rows), bool))
    kept = [row for row, ok in zip(rows, keep, strict=True) if ok]
    clip = np.array([row["clip"] for row in kept], dtype=str)
    split = np.array([row["split"] for row in kept], dtype=str)
    return Joined(
        classes=classes,
        modalities=list(modalities),
        probs=np.array([row["probs"] for row in kept], dtype=np.float64).reshape(len(kept), m, k),
        present=present[keep],
        label=np.array([row["label"] for row in kept], dtype=np.int64),
        fold=np.array([row["fold"] for row in kept], dtype=np.int64),
        sample_id=qualified_ids(split, clip),
        clip_id=clip,
        split=split,
        subject=np.array([row["subject"] for row in kept], dtype=str),
        missing=missing_counts,
        dropped=int((~keep).sum()),
        label_conflicts=sum(len(row["labels"]) > 1 for row in kept),
    )


#: Modality names of the visual channel (one role for matching inputs to a stored fuser).
VISUAL_MODALITIES = ("face", "video")


def modality_role(modality: str) -> str:
    """``face`` and ``video`` play the same role (visual); other names are their own role."""
    return "visual" if modality in VISUAL_MODALITIES else modality


def order_for_fuser(names: Sequence[str], expected: Sequence[str]) -> list[int]:
    """Indices of ``names`` (the inputs' modalities) in the order a stored fuser expects.

    Matches exact names first, then roles (``face`` ~ ``video``). Raises :class:`InputError`
    naming both lists when the inputs do not provide exactly the expected modalities.
    """
    if len(names) == len(expected):
        for key in (lambda s: s, modality_role):
            lookup = {key(n): i for i, n in enumerate(names)}
            if len(lookup) == len(names) and all(key(e) in lookup for e in expected):
                return [lookup[key(e)] for e in expected]
    raise InputError(
        f"the fuser was trained on the modalities {list(expected)} but the inputs are "
        f"{list(names)}; give one predictions artifact per modality (set --modality when "
        "importing)"
    )
