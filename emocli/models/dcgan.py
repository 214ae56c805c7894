"""The DCGAN of Radford et al. (2016): a discriminator that classifies, and a generator.

Both follow the paper's rules: strided (transposed) convolutions instead of pooling, batch
norm everywhere but the discriminator's input and the generator's output layer, LeakyReLU 0.2
in the discriminator, ReLU and a final tanh in the generator, no fully connected hidden
layers, weights drawn from N(0, 0.02).

:class:`DCGANDiscriminator` ends in ``n_classes`` logits (Salimans et al. 2016: K real
classes; the "fake" probability comes from the log-sum-exp of the logits), so it serves both
``pretrain-gan`` and ``finetune --model dcgan_d``. :meth:`DCGANDiscriminator.forward_features`
exposes the last feature map (flattened) for feature matching. Salimans et al. regularise
their semi-supervised discriminator with Gaussian noise on its input and dropout between its
layers: ``input_noise`` and ``block_dropout`` (both off by default; neither has parameters, so
the weights' names are the same with or without them). ``block_depth`` deepens the
discriminator the way of Springenberg et al.'s all-convolutional net, which Radford et al.
build on: each strided block gains that many 3x3 convolutions of stride 1 (batch norm,
LeakyReLU), which keep the map's size and add no pooling and no fully connected layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from emocli.models.base import EmotionNet, check_min_size, flat_features

#: Channels of the discriminator's strided convolutions (64x64 input -> 4x4 map).
DISCRIMINATOR_WIDTHS: tuple[int, ...] = (64, 128, 256, 512)
#: Channels of the generator's transposed convolutions, from the 4x4 projection upwards.
GENERATOR_WIDTHS: tuple[int, ...] = (512, 256, 128, 64)
#: Length of the generator's noise vector.
LATENT_DIM = 100
#: Negative slope of the discriminator's LeakyReLU.
LEAKY_SLOPE = 0.2
#: Kernel, stride and padding of every strided convolution: each halves (doubles) the size.
KERNEL, STRIDE, PADDING = 4, 2, 1
#: Kernel of the size-keeping convolutions that ``block_depth`` adds (stride 1, half-kernel padding).
DEPTH_KERNEL = 3


def dcgan_init(model: nn.Module) -> None:
    """Radford et al.'s initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise to ``x`` (any shape, same units as ``x``) in training mode; the
    identity in eval mode or with ``std`` 0."""

    def __init__(self, std: float = 0.0) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"the noise's std must be >= 0, not {std}")
        self.std = float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.std > 0:
            return x + self.std * torch.randn_like(x)
        return x


class DCGANDiscriminator(EmotionNet):
    """``x : (B, in_channels, H, W)`` -> logits ``(B, n_classes)``.

    Each width adds a 4x4 convolution of stride 2 (halving H and W): 64x64 with the default
    four widths ends in a 512 x 4 x 4 map, flattened into the linear classifier.

    dropout : before the classifier. input_noise : std of the Gaussian noise added to the
    input while training (images in [-1, 1]). block_dropout : dropout after every strided
    block but the last (the last is followed by ``dropout``). block_depth : 3x3 stride-1
    convolutions (+ batch norm, LeakyReLU) after each strided one; 0 = Radford et al.'s D.
    """

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | Sequence[int] = 64,
        n_classes: int = 7,
        widths: Sequence[int] = DISCRIMINATOR_WIDTHS,
        dropout: float = 0.0,
        input_noise: float = 0.0,
        block_dropout: float = 0.0,
        block_depth: int = 0,
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        self.widths = tuple(int(w) for w in widths)
        if not self.widths:
            raise ValueError("dcgan_d needs at least one width")
        if not 0.0 <= block_dropout < 1.0:
            raise ValueError(f"dcgan_d's block_dropout must be in [0, 1), not {block_dropout}")
        if block_depth < 0:
            raise ValueError(f"dcgan_d's block_depth must be >= 0, not {block_depth}")
        check_min_size("dcgan_d", self.input_size, 2 ** len(self.widths))
        blocks: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(self.widths):
            layers: list[nn.Module] = [
                nn.Conv2d(channels, width, KERNEL, STRIDE, PADDING, bias=i == 0)
            ]
            if i > 0:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
            for _ in range(block_depth):
                layers += [
                    nn.Conv2d(width, width, DEPTH_KERNEL, 1, DEPTH_KERNEL // 2, bias=False),
                    nn.BatchNorm2d(width),
                    nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
                ]
            if block_dropout > 0 and i < len(self.widths) - 1:
                layers.append(nn.Dropout(block_dropout))
            blocks.append(nn.Sequential(*layers))
            channels = width
        self.input_noise = GaussianNoise(input_noise)
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.n_features = flat_features(self.features, in_channels, self.input_size)
        self.classifier = nn.Linear(self.n_features, n_classes)
        dcgan_init(self)

    def base_blocks(self) -> list[nn.Module]:
        return list(self.features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, flattened: ``(B, n_features)``."""
        return torch.flatten(self.features(self.input_noise(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)))


class DCGANGenerator(nn.Module):
    """``z : (B, latent_dim)`` (or ``(B, latent_dim, 1, 1)``) -> images ``(B, out_channels, S, S)``
    in [-1, 1], S = ``output_size``.

    The noise is projected to a ``widths[0]`` x s x s map (s = S / 2**len(widths)); each width
    after the first, and the output layer, double the size with a 4x4 transposed convolution.
    """

    def __init__(
        self,
        latent_dim: int = LATENT_DIM,
        out_channels: int = 1,
        output_size: int = 64,
        widths: Sequence[int] = GENERATOR_WIDTHS,
    ) -> None:
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.latent_dim = int(latent_dim)
        self.out_channels = int(out_channels)
        self.output_size = int(output_size)
        factor = 2 ** len(self.widths)
        if not self.widths or output_size % factor or output_size < factor:
            raise ValueError(
                f"dcgan_g: output_size {output_size} must be a multiple of 2**len(widths) = {factor}"
            )
        start = output_size // factor
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, self.widths[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(self.widths[0]),
            nn.ReLU(inplace=True),
        ]
        for previous, width in zip(self.widths, self.widths[1:], strict=False):
            layers += [
                nn.ConvTranspose2d(previous, width, KERNEL, STRIDE, PADDING, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
        layers += [
            nn.ConvTranspose2d(self.widths[-1], out_channels, KERNEL, STRIDE, PADDING, bias=False),
            nn.Tanh(),
        ]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.net(z)
