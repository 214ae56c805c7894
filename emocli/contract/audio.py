"""The input contract of an audio model: the log-mel front end and training statistics it
records, how a new waveform becomes its input (:func:`audio_rows`), and whether a
spectrograms artifact matches (:func:`check_spectrograms_artifact`, :func:`stats_bridge`).

A model records its spectrograms' front end (``input.upstream.frontend``: sample rate, mel
bands, frames, window, hop ...), the per-band training statistics (``stats``: ``mean``,
``std``) and, for models of rendered spectrogram images, the rendering (``params``:
``as_image``, ``image_cmap``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from emocli.contract.common import differences, params_of, recorded_upstream, refuse
from emocli.errors import ArtifactError


@dataclass(frozen=True)
class AudioContract:
    """How an audio model's inputs are made.

    frontend : the ``FrontEnd`` of its spectrograms; stats : their ``NormStats``.
    image_size : side of the rendered spectrogram images it takes (0: the (n_mels, T) features);
    image_cmap : their colour map.
    """

    frontend: Any
    stats: Any
    image_size: int = 0
    image_cmap: str = "viridis"


def audio_contract(info: Any, where: str, option: str = "") -> AudioContract:
    """The contract an audio model records (``info``: its ModelInfo).

    Raises :class:`ArtifactError` when it is not a spectrogram model, or lacks the front end /
    statistics, or they do not produce the input size it takes.
    """
    from emocli.audio import FrontEnd, NormStats

    upstream = recorded_upstream(info, where, "spectrograms", option)
    frontend_dict, stats = upstream.get("frontend"), upstream.get("stats")
    if not isinstance(frontend_dict, dict) or not isinstance(stats, dict):
        raise ArtifactError(
            f"{where}: its 'input' attribute lacks the log-mel front end or the normalisation "
            "statistics of its spectrograms (input.upstream.frontend / stats); the features it "
            "was trained on cannot be reproduced"
        )
    try:
        frontend = FrontEnd.from_dict(frontend_dict)
        norm = NormStats(
            np.asarray(stats["mean"], np.float32).reshape(-1),
            np.asarray(stats["std"], np.float32).reshape(-1),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{where}: its log-mel front end cannot be rebuilt ({exc})") from exc
    if norm.mean.size not in (1, frontend.n_mels) or norm.std.size != norm.mean.size:
        raise ArtifactError(
            f"{where}: its normalisation statistics have {norm.mean.size} means and "
            f"{norm.std.size} deviations for {frontend.n_mels} mel bands"
        )
    column = info.input.get("column", "features")
    settings = params_of(upstream)
    if column == "features":
        expected, channels, size = (frontend.n_mels, frontend.n_frames), 1, 0
    elif column == "images":
        size = int(settings.get("as_image", 0))
        expected, channels = (size, size), 3
    else:
        raise ArtifactError(f"{where}: trained on an unknown spectrogram column {column!r}")
    if info.input_size != expected or info.channels != channels:
        raise ArtifactError(
            f"{where}: its input is {info.channels}x{info.input_size} but its front end makes "
            f"{channels}x{expected} {column}; the spectrograms cannot be reproduced"
        )
    return AudioContract(frontend, norm, size, str(settings.get("image_cmap", "viridis")))


def audio_rows(waveform: np.ndarray, contract: AudioContract) -> np.ndarray:
    """(1, C, H, W) model input of a mono waveform at the front end's sample rate: standardised
    log-mel features (1, n_mels, T), or their rendered image (3, S, S)."""
    from emocli.audio import logmel_features, spectrogram_image

    frontend = contract.frontend
    features = logmel_features(waveform, frontend.sample_rate, frontend, contract.stats)
    if contract.image_size:
        image = spectrogram_image(features, contract.image_size, contract.image_cmap)
        return np.asarray(image.transpose(2, 0, 1)[None])
    return np.asarray(features[None, None])


def check_spectrograms_artifact(info: Any, table: Any, where: str) -> list[str]:
    """Refuse a spectrograms artifact made differently from the model's training input
    (sizes, channels, front end, rendering); ``table``: its SampleTable. Returns no notes:
    differing statistics are bridged by :func:`stats_bridge`."""
    upstream = info.input.get("upstream") if isinstance(info.input.get("upstream"), dict) else {}
    problems: list[str] = []
    (h, w), c = info.input_size, info.channels
    tc, th, tw = table.shape
    what = "mel bands x frames" if table.column == "features" else "px spectrogram images"
    if (th, tw) != (h, w):
        problems.append(f"model expects {h} x {w} {what}; this artifact holds {th} x {tw} {what}")
    if tc != c:
        problems.append(f"model expects {c} channels; this artifact holds {tc}")
    mine, theirs = upstream.get("frontend"), table.upstream.get("frontend")
    if isinstance(mine, dict) and isinstance(theirs, dict):
        front = differences(mine, theirs)
        if front:
            problems.append("log-mel front end differs: " + "; ".join(front))
    if table.column == "images":
        keys = ("as_image", "image_cmap")
        render = differences(params_of(upstream), params_of(table.upstream), keys)
        if render:
            problems.append("spectrogram rendering differs: " + "; ".join(render))
    refuse(where, problems)
    return []


def stats_bridge(info: Any, table: Any, where: str) -> tuple[Any, list[str]]:
    """``(scale, shift)`` per mel band turning this artifact's standardised features into the
    model's (``x * scale + shift``; None when the statistics agree) and the note saying so.

    Spectrograms are ``(logmel - mean) / std`` with their own training statistics; with the
    model's statistics they are re-standardised exactly. Rendered images cannot be: refused.
    """
    upstream = info.input.get("upstream") if isinstance(info.input.get("upstream"), dict) else {}
    mine, theirs = upstream.get("stats"), table.upstream.get("stats")
    if not (isinstance(mine, dict) and isinstance(theirs, dict)):
        return None, []
    n_mels = table.shape[1]

    def band(values: Any) -> np.ndarray:
        arr = np.asarray(values, np.float64).reshape(-1)
        return np.broadcast_to(arr, (n_mels,)) if arr.size in (1, n_mels) else arr

    m_mean, m_std = band(mine.get("mean", [0.0])), band(mine.get("std", [1.0]))
    a_mean, a_std = band(theirs.get("mean", [0.0])), band(theirs.get("std", [1.0]))
    if m_mean.shape != a_mean.shape or m_std.shape != a_std.shape:
        raise ArtifactError(f"{where}: its normalisation statistics do not fit {n_mels} mel bands")
    if np.allclose(m_mean, a_mean, rtol=0, atol=1e-7) and np.allclose(
        m_std, a_std, rtol=0, atol=1e-7
    ):
        return None, []
    if table.column != "features":
        raise ArtifactError(
            f"{where}: its spectrogram images were rendered from features standardised with "
            "other statistics than the model's; rebuild it with build-spectrograms --stats-from "
            "the model's training spectrograms"
        )
    scale = (a_std / m_std).astype(np.float32)
    shift = ((a_mean - m_mean) / m_std).astype(np.float32)
    note = (
        "the spectrograms were standardised with other statistics than the model's training "
        "spectrograms: re-standardised with the model's (as emocli predict does for new audio)"
    )
    return (scale[None, None, :, None], shift[None, None, :, None]), [note]
