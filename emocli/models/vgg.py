"""VGG16 (Simonyan & Zisserman 2015) and VGG-M-2048 / "CNN-M-2048" (Chatfield et al. 2014).

:class:`VGG16` uses torchvision's parameter names (``features.<i>``, ``classifier.<i>``; with
``batch_norm=True`` those of ``vgg16_bn``), so a local torchvision ImageNet checkpoint loads
into it by name (:func:`emocli.transfer.load_imagenet`). Two heads:

* ``head="thesis"`` (default): flatten -> dense ``hidden`` (1024) ReLU -> dense ``n_classes``,
  the head of the source thesis (``seeds/001``), on the raw feature map (no average pooling);
* ``head="torchvision"``: adaptive average pool to 7x7 -> 4096 -> 4096 -> ``n_classes``, the
  ImageNet classifier, whose first two layers then also load from the checkpoint.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from emocli.models.base import EmotionNet, check_min_size, flat_features, scaled_width

#: torchvision's configuration "D": output channels of each 3x3 convolution, "M" = max pool.
VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip
#: Hidden width of the thesis head (flatten -> dense 1024 ReLU -> dense n).
THESIS_HIDDEN = 1024
#: Width of torchvision's two hidden classifier layers.
TORCHVISION_HIDDEN = 4096
#: torchvision's adaptive pooling size before its classifier.
TORCHVISION_POOL = 7
#: Smallest input VGG-M-2048's strides and pools leave a feature map for.
VGGM_MIN_SIZE = 41


class VGG16(EmotionNet):
    """VGG16; ``x : (B, in_channels, H, W)`` -> logits ``(B, n_classes)``; H, W >= 32.

    width_mult : scales every convolution's channels (1.0 = the real VGG16; small values give
    the tiny test configuration with the same parameter names).
    """

    def __init__(
        self,
        in_channels: int = 3,
        input_size: int | Sequence[int] = 224,
        n_classes: int = 7,
        head: str = "thesis",
        hidden: int = THESIS_HIDDEN,
        dropout: float = 0.5,
        batch_norm: bool = False,
        width_mult: float = 1.0,
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        check_min_size("vgg16", self.input_size, 32)
        if head not in ("thesis", "torchvision"):
            raise ValueError(f"vgg16 head must be 'thesis' or 'torchvision', got {head!r}")
        self.head_kind = head
        layers: list[nn.Module] = []
        self._block_ends: list[int] = []
        channels = in_channels
        for item in VGG16_CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                self._block_ends.append(len(layers))
                continue
            width = scaled_width(int(item), width_mult)
            layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            channels = width
        self.features = nn.Sequential(*layers)
        if head == "torchvision":
            hidden_tv = scaled_width(TORCHVISION_HIDDEN, width_mult)
            self.avgpool: nn.Module = nn.AdaptiveAvgPool2d((TORCHVISION_POOL, TORCHVISION_POOL))
            self.classifier = nn.Sequential(
                nn.Linear(channels * TORCHVISION_POOL**2, hidden_tv),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden_tv, hidden_tv),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden_tv, n_classes),
            )
            self.classifier_prefix = "classifier.6"
        else:
            self.avgpool = nn.Identity()
            flat = flat_features(self.features, in_channels, self.input_size)
            # indices 1 and 4 never collide with torchvision's classifier.0/.3/.6
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(flat, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, n_classes),
            )
            self.classifier_prefix = "classifier.4"
        _init_vgg(self)

    def base_blocks(self) -> list[nn.Module]:
        starts = [0, *self._block_ends[:-1]]
        return [self.features[a:b] for a, b in zip(starts, self._block_ends, strict=True)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class VGGM2048(EmotionNet):
    """CNN-M-2048 (Chatfield et al. 2014, "Return of the devil in the details").

    conv1 96 7x7 stride 2, LRN, max pool 3/2; conv2 256 5x5 stride 2, LRN, max pool 3/2;
    conv3-5 512 3x3; max pool 3/2; fc6 4096, fc7 2048 (ReLU, dropout), fc8 ``n_classes``.
    Pools round up (Caffe), so small faces (48x48, 64x64) keep a 1x1 map; H, W >= 41.
    """

    def __init__(
        self,
        in_channels: int = 3,
        input_size: int | Sequence[int] = 224,
        n_classes: int = 7,
        dropout: float = 0.5,
        width_mult: float = 1.0,
    ) -> None:
        super().__init__(in_channels, input_size, n_classes)
        check_min_size("vgg_m_2048", self.input_size, VGGM_MIN_SIZE)

        def w(n: int) -> int:
            return scaled_width(n, width_mult)

        def lrn() -> nn.Module:
            return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)

        def pool() -> nn.Module:
            return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)

        c1, c2, c3 = w(96), w(256), w(512)
        self.features = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, c1, kernel_size=7, stride=2),
                relu1=nn.ReLU(inplace=True),
                norm1=lrn(),
                pool1=pool(),
                conv2=nn.Conv2d(c1, c2, kernel_size=5, stride=2, padding=1),
                relu2=nn.ReLU(inplace=True),
                norm2=lrn(),
                pool2=pool(),
                conv3=nn.Conv2d(c2, c3, kernel_size=3, padding=1),
                relu3=nn.ReLU(inplace=True),
                conv4=nn.Conv2d(c3, c3, kernel_size=3, padding=1),
                relu4=nn.ReLU(inplace=True),
                conv5=nn.Conv2d(c3, c3, kernel_size=3, padding=1),
                relu5=nn.ReLU(inplace=True),
                pool5=pool(),
            )
        )
        flat = flat_features(self.features, in_channels, self.input_size)
        self.classifier = nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),
                fc6=nn.Linear(flat, w(4096)),
                relu6=nn.ReLU(inplace=True),
                drop6=nn.Dropout(dropout),
                fc7=nn.Linear(w(4096), w(2048)),
                relu7=nn.ReLU(inplace=True),
                drop7=nn.Dropout(dropout),
                fc8=nn.Linear(w(2048), n_classes),
            )
        )
        self.classifier_prefix = "classifier.fc8"
        _init_vgg(self)

    def base_blocks(self) -> list[nn.Module]:
        bounds = [(0, 4), (4, 8), (8, 10), (10, 12), (12, 15)]  # conv1 .. conv5 (+ their pools)
        return [self.features[a:b] for a, b in bounds]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _init_vgg(model: nn.Module) -> None:
    """torchvision's VGG initialisation (Kaiming for convolutions, N(0, 0.01) for dense)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
