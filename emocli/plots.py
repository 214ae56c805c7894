"""PNG pictures of evaluation results: confusion matrices, per-class F1, class distributions,
training curves.

matplotlib is imported inside each function and used through its object API
(:class:`matplotlib.figure.Figure` with the Agg canvas), so importing this module costs
nothing, no display is needed and no global pyplot state is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Resolution of every PNG (dots per inch).
DPI = 110
#: Colour map of confusion matrices.
CONFUSION_CMAP = "Blues"


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    # format given explicitly: the sidecar paths of an artifact writer end in .tmp-<pid>
    fig.savefig(path, format="png")
    return path


def _grouped_bars(
    series: Mapping[str, np.ndarray], classes: Sequence[str], width: float, counts: bool = False
) -> tuple[Any, Any]:
    """A ``width`` x 3.4 inch figure of grouped bars and its axes: at each of the K classes'
    ticks one bar per series (K,) value, one colour per series (a group spans 0.8 of a tick,
    centred on it); ``counts`` writes each bar's value on top."""
    names = list(series)
    bar = 0.8 / max(1, len(names))
    fig = _figure(width, 3.4)
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    for i, name in enumerate(names):
        offset = (i - (len(names) - 1) / 2) * bar
        bars = ax.bar(x + offset, series[name], bar, label=name)
        if counts:
            ax.bar_label(bars, fontsize=6)
    ax.set_xticks(x, classes, rotation=30, ha="right")
    return fig, ax


def plot_confusion(
    path: Path, confusion: np.ndarray, classes: Sequence[str], title: str = ""
) -> Path:
    """Confusion matrix (K, K) counts: colour = row-normalised share, text = count and %."""
    counts = np.asarray(confusion, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    k = len(classes)
    fig = _figure(1.1 + 0.75 * k, 0.9 + 0.7 * k)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap=CONFUSION_CMAP, vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{counts[i, j]}\n{100 * share[i, j]:.0f}%",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if share[i, j] > 0.55 else "black",
            )
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_f1_bars(
    path: Path, f1: Mapping[str, np.ndarray], classes: Sequence[str], title: str = ""
) -> Path:
    """Per-class F1 (K,) of one or more inputs, as grouped bars (one colour per input)."""
    k = len(classes)
    fig, ax = _grouped_bars(f1, classes, 2.0 + 0.6 * k + 0.2 * k * len(f1))
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.grid(axis="y", alpha=0.3)
    if len(f1) > 1:
        ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_class_distribution(
    path: Path, distribution: Mapping[str, np.ndarray], classes: Sequence[str], title: str = ""
) -> Path:
    """Labelled samples per class (K,) in each split, as grouped bars with counts on top."""
    fig, ax = _grouped_bars(distribution, classes, 2.0 + 0.8 * len(classes), counts=True)
    ax.set_ylabel("samples")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_history(path: Path, history: Mapping[str, np.ndarray], title: str = "") -> Path:
    """Training curves: every ``*loss`` series on the left, every ``*accuracy`` on the right.

    history : per-epoch arrays; ``epoch`` (if present) is the x axis.
    """
    n = max((len(v) for v in history.values()), default=0)
    epochs = np.asarray(history.get("epoch", np.arange(1, n + 1)))
    fig = _figure(8.0, 3.2)
    axes = fig.subplots(1, 2)
    for ax, suffix, label in ((axes[0], "loss", "loss"), (axes[1], "accuracy", "accuracy")):
        for name, values in sorted(history.items()):
            if name.endswith(suffix) and len(values) == len(epochs):
                ax.plot(epochs, values, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)
