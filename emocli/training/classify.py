"""Classify raw rows with a trained torch model, normalised as in its training: what
``emocli predict`` and the ONNX export's parity check compute."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Rows per forward pass.
BATCH_SIZE = 64


def classify(model: Any, info: Any, rows: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """(N, K) float64 softmax probabilities of raw rows (N, C, H, W), normalised as in training:
    ``(x / scale - mean) / std`` per channel."""
    import torch

    scale, mean, std = info.normalisation()
    mean_t = torch.tensor(mean, dtype=torch.float32)[None, :, None, None]
    std_t = torch.tensor(std, dtype=torch.float32)[None, :, None, None]
    out = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            x = torch.as_tensor(np.asarray(rows[start : start + batch_size]), dtype=torch.float32)
            x = (x / scale - mean_t) / std_t
            out.append(torch.softmax(model(x).float(), dim=1).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(info.classes)))
