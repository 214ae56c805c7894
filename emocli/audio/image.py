"""Spectrograms rendered as colour images, for image networks (the thesis's configuration 2)."""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["spectrogram_image"]


@functools.lru_cache(maxsize=4)
def _colour_table(cmap: str) -> np.ndarray:
    from matplotlib import colormaps

    table = colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(table * 255).astype(np.uint8)


def spectrogram_image(features: np.ndarray, size: int, cmap: str = "viridis") -> np.ndarray:
    """Render a (n_mels, T) spectrogram as a (size, size, 3) uint8 image.

    Scaled to its own min..max (as ``librosa.display.specshow`` shows it), low frequencies
    at the bottom, resized (bilinear) to a square and coloured with the matplotlib
    colour map ``cmap`` (``gray`` repeats one channel three times).
    """
    import cv2

    data = np.asarray(features, dtype=np.float32)[::-1]
    low, high = float(data.min()), float(data.max())
    scaled = (data - low) / (high - low) if high > low else np.zeros_like(data)
    resized = cv2.resize(scaled, (size, size), interpolation=cv2.INTER_LINEAR)
    index = np.clip(np.round(resized * 255), 0, 255).astype(np.uint8)
    return _colour_table(cmap)[index]
