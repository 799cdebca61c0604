"""Residual networks for 32x32 images (notebooks 08 and 09).

* ``CifarResNet``: He et al. 2015 ("Deep Residual Learning for Image Recognition"),
  section 4.2: a 3x3 conv with 16 channels, three stages of ``n`` basic blocks with
  16, 32 and 64 channels (the first block of stages 2 and 3 halves the size with
  stride 2), global average pooling and a fully connected layer: 6n + 2 weighted
  layers (ResNet-20, 32, 44, 56, 110). ``residual=False`` gives the "plain"
  counterpart used to show the degradation problem; ``width`` scales the
  channels (width, 2 width, 4 width) for experiments sized for a CPU.
* ``ResNet18``: the ImageNet ResNet-18 adapted to 32x32 inputs (3x3 stem with
  stride 1 and no max-pool), as in most CIFAR-10 training recipes.

The code follows torchvision's ``resnet.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._validate import check_bool, check_in, check_positive_int

__all__ = [
    "conv3x3",
    "BasicBlock",
    "CifarResNet",
    "ResNet18",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 (no bias: the following BatchNorm has one)."""
    in_planes = check_positive_int(in_planes, "in_planes")
    out_planes = check_positive_int(out_planes, "out_planes")
    stride = check_positive_int(stride, "stride")
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class PadShortcut(nn.Module):
    """Option-A shortcut: identity with stride-``s`` subsampling and zero-padded channels.

    It has no parameters, which is why the paper uses it on CIFAR-10: the residual
    and the plain networks then have exactly the same number of weights.

    Shapes
    ------
    input : (N, in_planes, H, W)
    output : (N, planes, ceil(H / stride), ceil(W / stride)); channels >= in_planes are 0
    """

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = planes - in_planes
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad pads from the last dimension backwards: (W left, W right, H ..., C ...)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


class BasicBlock(nn.Module):
    """Residual block: out = ReLU(F(x) + shortcut(x)), F = conv3x3-BN-ReLU-conv3x3-BN.

    Parameters
    ----------
    in_planes : int
        Input channels.
    planes : int
        Output channels.
    stride : int
        Stride of the first conv (2 halves height and width).
    shortcut : {"A", "B"}
        How the shortcut matches a change of shape: "A" = subsample and zero-pad
        channels (no parameters), "B" = 1x1 conv + BN projection. When the shape
        does not change, both are the identity.
    residual : bool
        False gives the plain block ReLU(F(x)) with no shortcut at all.

    Shapes
    ------
    input : (N, in_planes, H, W)
    output : (N, planes, H / stride, W / stride)
    """

    expansion = 1

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int = 1,
        shortcut: str = "A",
        residual: bool = True,
    ) -> None:
        super().__init__()
        in_planes = check_positive_int(in_planes, "in_planes")
        planes = check_positive_int(planes, "planes")
        stride = check_positive_int(stride, "stride")
        check_in(shortcut, ("A", "B"), "shortcut")
        residual = check_bool(residual, "residual")
        if shortcut == "A" and planes < in_planes:
            raise ValueError(
                f"planes must be >= in_planes for option-A (zero-padding) shortcuts, "
                f"got planes={planes}, in_planes={in_planes}; use shortcut='B'"
            )
        self.residual = residual
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)

        self.shortcut: nn.Module | None
        if not residual:
            self.shortcut = None
        elif stride == 1 and in_planes == planes:
            self.shortcut = nn.Identity()
        elif shortcut == "A":
            self.shortcut = PadShortcut(in_planes, planes, stride)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_planes, H, W) -> (N, planes, H / stride, W / stride)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


def _make_stage(
    in_planes: int, planes: int, blocks: int, stride: int, shortcut: str, residual: bool
) -> nn.Sequential:
    # only the first block changes the shape; the rest keep (planes, H, W)
    layers = [BasicBlock(in_planes, planes, stride, shortcut, residual)]
    layers += [BasicBlock(planes, planes, 1, shortcut, residual) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def _init_weights(model: nn.Module) -> None:
    # He (Kaiming) initialisation for the ReLU convs, BN as the identity map
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class CifarResNet(nn.Module):
    """The CIFAR-10 ResNet of He et al. 2015, section 4.2, with depth = 6n + 2.

    Parameters
    ----------
    depth : int
        6n + 2 for n >= 1: 20, 32, 44, 56, 110, ...
    num_classes : int
    residual : bool
        False gives the plain network of the same depth (no shortcuts).
    shortcut : {"A", "B"}
        "A" (the paper's CIFAR choice): parameter-free zero-padding shortcuts;
        "B": 1x1 projection where the shape changes.
    in_channels : int
    width : int
        Channels of the stem and the first stage; the stages have ``width``,
        ``2 * width`` and ``4 * width`` channels. The paper's value is 16; a
        narrower network (e.g. 8) keeps the design and trains faster on a CPU.

    Shapes
    ------
    input : (N, in_channels, H, W), H = W = 32 for CIFAR-10
    stages : (N, w, H, W) -> (N, 2w, H/2, W/2) -> (N, 4w, H/4, W/4), w = width
        (for width 16 on CIFAR-10: 16x32x32 -> 32x16x16 -> 64x8x8)
    output : (N, num_classes) logits
    """

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        residual: bool = True,
        shortcut: str = "A",
        in_channels: int = 3,
        width: int = 16,
    ) -> None:
        super().__init__()
        depth = check_positive_int(depth, "depth")
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(
                f"depth must be 6n + 2 for an integer n >= 1 (one stem conv, 3 stages of "
                f"n blocks with 2 convs each, and the FC layer), e.g. 20, 32, 44, 56, 110; "
                f"got {depth}"
            )
        num_classes = check_positive_int(num_classes, "num_classes")
        in_channels = check_positive_int(in_channels, "in_channels")
        w = check_positive_int(width, "width")
        check_in(shortcut, ("A", "B"), "shortcut")
        residual = check_bool(residual, "residual")
        n = (depth - 2) // 6
        self.depth, self.num_classes, self.residual = depth, num_classes, residual
        self.width = w

        self.conv1 = conv3x3(in_channels, w)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_stage(w, w, n, 1, shortcut, residual)
        self.layer2 = _make_stage(w, 2 * w, n, 2, shortcut, residual)
        self.layer3 = _make_stage(2 * w, 4 * w, n, 2, shortcut, residual)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * w, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) -> logits (N, num_classes); w = width."""
        x = self.relu(self.bn1(self.conv1(x)))  # (N, w, H, W)
        x = self.layer1(x)  # (N, w, H, W)
        x = self.layer2(x)  # (N, 2w, H/2, W/2)
        x = self.layer3(x)  # (N, 4w, H/4, W/4)
        x = self.flatten(self.avgpool(x))  # (N, 4w)
        return self.fc(x)  # (N, num_classes)


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 images (about 11.17M parameters for 10 classes).

    The ImageNet stem (7x7 conv stride 2 + max-pool) would shrink a 32x32 image to
    8x8 at once, so it is replaced by one 3x3 conv with stride 1. Four stages of two
    basic blocks with 64, 128, 256, 512 channels, option-B (projection) shortcuts.

    Parameters
    ----------
    num_classes : int
    in_channels : int

    Shapes
    ------
    input : (N, in_channels, 32, 32)
    stages : (N, 64, 32, 32) -> (N, 128, 16, 16) -> (N, 256, 8, 8) -> (N, 512, 4, 4)
    output : (N, num_classes) logits
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        num_classes = check_positive_int(num_classes, "num_classes")
        in_channels = check_positive_int(in_channels, "in_channels")
        self.num_classes = num_classes

        self.conv1 = conv3x3(in_channels, 64)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_stage(64, 64, 2, 1, "B", True)
        self.layer2 = _make_stage(64, 128, 2, 2, "B", True)
        self.layer3 = _make_stage(128, 256, 2, 2, "B", True)
        self.layer4 = _make_stage(256, 512, 2, 2, "B", True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(512, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) -> logits (N, num_classes)."""
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 64, H, W)
        x = self.layer1(x)  # (N, 64, H, W)
        x = self.layer2(x)  # (N, 128, H/2, W/2)
        x = self.layer3(x)  # (N, 256, H/4, W/4)
        x = self.layer4(x)  # (N, 512, H/8, W/8)
        x = self.flatten(self.avgpool(x))  # (N, 512)
        return self.fc(x)  # (N, num_classes)


def resnet20(*, width: int = 16, **kwargs) -> CifarResNet:
    """ResNet-20 (n = 3), about 0.27M parameters at width 16.

    Other keyword arguments (``num_classes``, ``in_channels``, ``shortcut``) go to
    ``CifarResNet``.
    """
    return CifarResNet(20, width=width, **kwargs)


def resnet32(*, width: int = 16, **kwargs) -> CifarResNet:
    """ResNet-32 (n = 5), about 0.46M parameters at width 16.

    Other keyword arguments (``num_classes``, ``in_channels``, ``shortcut``) go to
    ``CifarResNet``.
    """
    return CifarResNet(32, width=width, **kwargs)


def resnet44(*, width: int = 16, **kwargs) -> CifarResNet:
    """ResNet-44 (n = 7), about 0.66M parameters at width 16.

    Other keyword arguments (``num_classes``, ``in_channels``, ``shortcut``) go to
    ``CifarResNet``.
    """
    return CifarResNet(44, width=width, **kwargs)


def resnet56(*, width: int = 16, **kwargs) -> CifarResNet:
    """ResNet-56 (n = 9), about 0.85M parameters at width 16.

    Other keyword arguments (``num_classes``, ``in_channels``, ``shortcut``) go to
    ``CifarResNet``.
    """
    return CifarResNet(56, width=width, **kwargs)


def resnet110(*, width: int = 16, **kwargs) -> CifarResNet:
    """ResNet-110 (n = 18), about 1.7M parameters at width 16.

    Other keyword arguments (``num_classes``, ``in_channels``, ``shortcut``) go to
    ``CifarResNet``.
    """
    return CifarResNet(110, width=width, **kwargs)


def _plain(depth: int, width: int, kwargs: dict) -> CifarResNet:
    if "residual" in kwargs:
        raise TypeError(
            f"residual must not be given: plain networks have no shortcuts, got "
            f"residual={kwargs['residual']!r}"
        )
    return CifarResNet(depth, residual=False, width=width, **kwargs)


def plain20(*, width: int = 16, **kwargs) -> CifarResNet:
    """Plain 20-layer network: ResNet-20 without shortcuts (same parameters)."""
    return _plain(20, width, kwargs)


def plain32(*, width: int = 16, **kwargs) -> CifarResNet:
    """Plain 32-layer network: ResNet-32 without shortcuts (same parameters)."""
    return _plain(32, width, kwargs)


def plain44(*, width: int = 16, **kwargs) -> CifarResNet:
    """Plain 44-layer network: ResNet-44 without shortcuts (same parameters)."""
    return _plain(44, width, kwargs)


def plain56(*, width: int = 16, **kwargs) -> CifarResNet:
    """Plain 56-layer network: ResNet-56 without shortcuts (same parameters)."""
    return _plain(56, width, kwargs)


def plain110(*, width: int = 16, **kwargs) -> CifarResNet:
    """Plain 110-layer network: ResNet-110 without shortcuts (same parameters)."""
    return _plain(110, width, kwargs)
