"""Data augmentation on whole batches of tensors (CPU or GPU), before normalisation.

SPEC's defaults reproduce the thesis's Keras ``ImageDataGenerator``: brightness factor in
[0.5, 1.0], shear 0.2, zoom 0.1, horizontal flip. Keras takes the shear in degrees since
2.2 (making 0.2 a no-op) but in radians before; emocli uses radians (an 11-degree shear),
the intent of the setting. ``strong`` adds rotation, translation, contrast and random erasing
(used by emocli's own FER2013 recipe); ``light`` keeps only flips and small rotations,
shifts and zooms. Spectrograms get none by default: flipping time or
shearing frequency changes what they say; ``specaugment`` (Park et al. 2019: random time
shift, frequency and time masks) is the opt-in that suits them, and ``speech`` adds speed and
pitch perturbation to it (Ko et al. 2015; Jaitly & Hinton 2013's vocal tract length
perturbation), approximated on the log-mel spectrogram: a time stretch of up to 10 % and a
shift of up to 2 mel bands, so a model hears voices a little faster, slower, higher or lower
than its training speakers'.

Every transform samples its parameters per image from ``torch`` (seeded by the trainer), in a
handful of vectorised operations per batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F

from emocli.stage_params.choices import AUGMENT_PRESETS


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms (all off when zero / (1, 1) / False).

    brightness : multiplicative factor range on [0, 1] pixels (Keras ``brightness_range``);
    shear : max shear angle, radians; zoom : max relative zoom (0.1 -> 0.9 .. 1.1);
    hflip : mirror half the images; rotation : max angle, degrees; shift : max translation,
    fraction of the side; contrast : factor range around each image's mean;
    erase : probability of blanking one random rectangle (2 - 20 % of the area).
    time_shift : max circular shift along the last (time) axis, fraction of its length;
    freq_masks / time_masks : how many bands of rows / columns to blank (SpecAugment), each up
    to ``mask_width`` of the axis, filled with the sample's mean.
    stretch : max relative time stretch (0.1 -> 0.9 .. 1.1 times as fast, centred, edges
    repeated); band_shift : max shift along the frequency (row) axis, in rows (mel bands).
    """

    brightness: tuple[float, float] = (0.5, 1.0)
    shear: float = 0.2
    zoom: float = 0.1
    hflip: bool = True
    rotation: float = 0.0
    shift: float = 0.0
    contrast: tuple[float, float] = (1.0, 1.0)
    erase: float = 0.0
    time_shift: float = 0.0
    freq_masks: int = 0
    time_masks: int = 0
    mask_width: float = 0.15
    stretch: float = 0.0
    band_shift: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def geometric(self) -> bool:
        return bool(self.shear or self.zoom or self.hflip or self.rotation or self.shift)


#: No transform at all: the presets below each name only what they turn on.
_OFF = AugmentConfig(brightness=(1.0, 1.0), shear=0.0, zoom=0.0, hflip=False)
_LIGHT = replace(_OFF, zoom=0.1, hflip=True, rotation=10.0, shift=0.08)
_SPECAUGMENT = replace(_OFF, time_shift=0.1, freq_masks=2, time_masks=2, mask_width=0.15)
#: ``strong``: ``light`` plus brightness, contrast, shear and random erasing.
STRONG = replace(_LIGHT, brightness=(0.7, 1.3), shear=0.1, contrast=(0.7, 1.3), erase=0.1)
#: The augmentation presets by name (:data:`AUGMENT_PRESETS`); ``none`` is no augmentation.
PRESETS: dict[str, AugmentConfig | None] = {
    "spec": AugmentConfig(),
    "light": _LIGHT,
    "strong": STRONG,
    "specaugment": _SPECAUGMENT,
    "speech": replace(_SPECAUGMENT, stretch=0.1, band_shift=2.0),
    "none": None,
}


def preset(name: str) -> AugmentConfig | None:
    """The configuration called ``name`` (``spec``, ``strong`` ...: :data:`PRESETS`), or
    ``None`` for ``none``. Raises ``ValueError`` for an unknown name."""
    if name not in PRESETS:
        raise ValueError(
            f"unknown augmentation preset {name!r}; choose one of {', '.join(AUGMENT_PRESETS)}"
        )
    return PRESETS[name]


def _uniform(n: int, low: float, high: float, ref: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, device=ref.device, dtype=ref.dtype) * (high - low) + low


def _affine(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    n = x.shape[0]
    zero = torch.zeros(n, device=x.device, dtype=x.dtype)
    angle = _uniform(n, -1, 1, x) * math.radians(cfg.rotation) if cfg.rotation else zero
    shear = _uniform(n, -cfg.shear, cfg.shear, x) if cfg.shear else zero
    zoom = _uniform(n, 1 - cfg.zoom, 1 + cfg.zoom, x) if cfg.zoom else zero + 1
    tx = _uniform(n, -2 * cfg.shift, 2 * cfg.shift, x) if cfg.shift else zero
    ty = _uniform(n, -2 * cfg.shift, 2 * cfg.shift, x) if cfg.shift else zero
    flip = (
        torch.where(torch.rand(n, device=x.device) < 0.5, -1.0, 1.0).to(x.dtype)
        if cfg.hflip
        else zero + 1
    )
    cos, sin = torch.cos(angle), torch.sin(angle)
    # output -> input coordinates: rotation @ shear (Keras: [[1, -sin s], [0, cos s]]) * zoom
    a = cos * zoom
    b = (-cos * torch.sin(shear) - sin * torch.cos(shear)) * zoom
    c = sin * zoom
    d = (-sin * torch.sin(shear) + cos * torch.cos(shear)) * zoom
    theta = torch.stack([torch.stack([a * flip, b, tx], 1), torch.stack([c * flip, d, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _erase(x: torch.Tensor, probability: float) -> torch.Tensor:
    n, _, h, w = x.shape
    area = _uniform(n, 0.02, 0.2, x)
    aspect = torch.exp(_uniform(n, math.log(0.3), math.log(3.3), x))
    eh = (torch.sqrt(area * aspect) * h).clamp(1, h)
    ew = (torch.sqrt(area / aspect) * w).clamp(1, w)
    top = torch.rand(n, device=x.device, dtype=x.dtype) * (h - eh)
    left = torch.rand(n, device=x.device, dtype=x.dtype) * (w - ew)
    rows = torch.arange(h, device=x.device, dtype=x.dtype)[None, :, None]
    cols = torch.arange(w, device=x.device, dtype=x.dtype)[None, None, :]
    inside = (
        (rows >= top[:, None, None])
        & (rows < (top + eh)[:, None, None])
        & (cols >= left[:, None, None])
        & (cols < (left + ew)[:, None, None])
    )
    chosen = torch.rand(n, device=x.device) < probability
    mask = (inside & chosen[:, None, None])[:, None]
    fill = x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x)
    return torch.where(mask, fill, x)


def _band_masks(
    x: torch.Tensor, fill: torch.Tensor, count: int, width: float, axis: int
) -> torch.Tensor:
    n, size = x.shape[0], x.shape[axis]
    coords = torch.arange(size, device=x.device, dtype=x.dtype)
    masked = torch.zeros(n, size, dtype=torch.bool, device=x.device)
    for _ in range(count):
        w = torch.floor(torch.rand(n, device=x.device, dtype=x.dtype) * width * size)
        start = torch.rand(n, device=x.device, dtype=x.dtype) * (size - w)
        masked |= (coords[None] >= start[:, None]) & (coords[None] < (start + w)[:, None])
    shape = [n, 1, 1, 1]
    shape[axis] = size
    mask = masked.view(*shape)
    return torch.where(mask, fill, x)


def _time_shift(x: torch.Tensor, fraction: float) -> torch.Tensor:
    n, t = x.shape[0], x.shape[-1]
    shifts = ((torch.rand(n, device=x.device) * 2 - 1) * fraction * t).long()
    index = (torch.arange(t, device=x.device)[None] - shifts[:, None]) % t
    return torch.gather(x, 3, index[:, None, None, :].expand_as(x))


def _stretch_and_shift(x: torch.Tensor, stretch: float, band_shift: float) -> torch.Tensor:
    """Resample each (H, W) map along W by a factor in [1 - stretch, 1 + stretch] about its
    centre and move it along H by up to ``band_shift`` rows; edges repeat (bilinear)."""
    n, _, h, _ = x.shape
    zero = torch.zeros(n, device=x.device, dtype=x.dtype)
    speed = _uniform(n, 1 - stretch, 1 + stretch, x) if stretch else zero + 1
    rows = _uniform(n, -band_shift, band_shift, x) * 2 / h if band_shift else zero
    theta = torch.stack(
        [torch.stack([speed, zero, zero], 1), torch.stack([zero, zero + 1, rows], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """Randomly transform a batch ``x : (B, C, H, W)`` (images: float in [0, 1]; spectrograms:
    any float, H = mel bands, W = frames); same shape back."""
    if cfg.stretch or cfg.band_shift:
        x = _stretch_and_shift(x, cfg.stretch, cfg.band_shift)
    if cfg.time_shift > 0:
        x = _time_shift(x, cfg.time_shift)
    if cfg.freq_masks or cfg.time_masks:
        fill = x.mean(dim=(1, 2, 3), keepdim=True)
        x = _band_masks(x, fill, cfg.freq_masks, cfg.mask_width, axis=2)
        x = _band_masks(x, fill, cfg.time_masks, cfg.mask_width, axis=3)
    if cfg.geometric:
        x = _affine(x, cfg)
    low, high = cfg.brightness
    if (low, high) != (1.0, 1.0):
        x = (x * _uniform(x.shape[0], low, high, x)[:, None, None, None]).clamp(0, 1)
    low, high = cfg.contrast
    if (low, high) != (1.0, 1.0):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        factor = _uniform(x.shape[0], low, high, x)[:, None, None, None]
        x = ((x - mean) * factor + mean).clamp(0, 1)
    if cfg.erase > 0:
        x = _erase(x, cfg.erase)
    return x
