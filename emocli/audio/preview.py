"""The preview PNG of a spectrograms artifact: the first few spectrograms of each class."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emocli.audio.frontend import FrontEnd

__all__ = ["PREVIEW_PER_CLASS", "SpectrogramPreview"]

#: Spectrograms per class drawn in the preview PNG.
PREVIEW_PER_CLASS = 4


class SpectrogramPreview:
    """Keeps the first few spectrograms of each class and draws them in a grid (PNG).

    classes : the class names; labels : (N,) int64 label of every row (-1: unlabelled).
    """

    def __init__(self, classes: Sequence[str], labels: np.ndarray) -> None:
        self.classes = list(classes)
        self.labels = labels
        self.kept: dict[int, list[np.ndarray]] = {}

    def offer(self, start: int, features: np.ndarray) -> None:
        """Rows ``start``, ``start + 1`` ... of the artifact: (k, n_mels, T) ``features``."""
        for k, spectrogram in enumerate(features):
            label = int(self.labels[start + k])
            kept = self.kept.setdefault(label, [])
            if len(kept) < PREVIEW_PER_CLASS:
                kept.append(spectrogram.copy())

    def save(self, path: Path, frontend: FrontEnd) -> None:
        """Draw one row per class (time in seconds, mel bands upwards) into the PNG ``path``."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        labels = sorted(self.kept)
        rows = max(1, len(labels))
        fig = Figure(figsize=(3.0 * PREVIEW_PER_CLASS, 1.6 * rows), dpi=80)
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, PREVIEW_PER_CLASS, squeeze=False)
        seconds = frontend.pad_samples / frontend.sample_rate
        for r, label in enumerate(labels):
            name = self.classes[label] if 0 <= label < len(self.classes) else "unlabelled"
            for c in range(PREVIEW_PER_CLASS):
                ax = axes[r][c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(self.kept[label]):
                    ax.imshow(
                        self.kept[label][c],
                        origin="lower",
                        aspect="auto",
                        cmap="viridis",
                        extent=(0.0, seconds, 0.0, float(frontend.n_mels)),
                    )
                else:
                    ax.axis("off")
            axes[r][0].set_ylabel(name)
        fig.suptitle(
            f"log-mel spectrograms ({frontend.n_mels} bands x {frontend.n_frames} frames, "
            f"{seconds:.2f} s), normalised"
        )
        fig.tight_layout()
        fig.savefig(path, format="png")
