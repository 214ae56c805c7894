"""Contact sheets: a few faces per class in one PNG, to eyeball a preprocessing run."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: Width of the class-name column, pixels.
LABEL_WIDTH = 120
#: Gap between faces, pixels.
GAP = 2
#: Background grey level.
BACKGROUND = 32


def contact_sheet(rows: Sequence[tuple[str, Sequence[np.ndarray]]], columns: int) -> np.ndarray:
    """One row per class: its name, then up to ``columns`` faces.

    rows : (name, faces) pairs; faces are (S, S) uint8, all of the same S.
    Returns a (H, W) uint8 image (encode it with ``cv2.imencode(".png", sheet)``).
    """
    side = next((f.shape[0] for _, faces in rows for f in faces), 64)
    height = max(1, len(rows)) * (side + GAP) + GAP
    width = LABEL_WIDTH + columns * (side + GAP) + GAP
    sheet = np.full((height, width), BACKGROUND, dtype=np.uint8)
    for r, (name, faces) in enumerate(rows):
        top = GAP + r * (side + GAP)
        cv2.putText(
            sheet,
            name[:14],
            (4, top + side // 2 + 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            230,
            1,
            cv2.LINE_AA,
        )
        for c, face in enumerate(list(faces)[:columns]):
            left = LABEL_WIDTH + GAP + c * (side + GAP)
            sheet[top : top + side, left : left + side] = face
    return sheet


class ClassSampler:
    """A uniform random sample of up to ``k`` faces per class, kept while streaming
    (reservoir sampling: memory does not grow with the number of faces)."""

    def __init__(self, k: int, seed: int = 0) -> None:
        self.k = k
        self.rng = np.random.default_rng(seed)
        self.samples: dict[str, list[np.ndarray]] = {}
        self.seen: dict[str, int] = {}

    def add(self, name: str, face: np.ndarray) -> None:
        n = self.seen.get(name, 0) + 1
        self.seen[name] = n
        kept = self.samples.setdefault(name, [])
        if len(kept) < self.k:
            kept.append(face.copy())
        else:
            j = int(self.rng.integers(n))
            if j < self.k:
                kept[j] = face.copy()

    def rows(self, order: Sequence[str]) -> list[tuple[str, list[np.ndarray]]]:
        """(name, faces) in ``order``, then any other names seen, alphabetically."""
        names = [n for n in order if n in self.samples]
        names += sorted(set(self.samples) - set(names))
        return [(n, self.samples[n]) for n in names]
