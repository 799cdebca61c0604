"""Blocks built from several NumPy layers of different modules (notebook 08).

``ResidualBlock`` combines convolution, batch norm and ReLU, so it lives here,
above ``conv`` and ``normalization``, rather than in ``layers`` (which both of
them build on).
"""

from __future__ import annotations

from coursekit._validate import check_positive_int, check_rng
from coursekit.base import RNG
from coursekit.conv import Conv2d
from coursekit.layers import ReLU, Residual, Sequential
from coursekit.normalization import BatchNorm2d

__all__ = ["ResidualBlock"]


class ResidualBlock(Residual):
    """The basic ResNet block (He et al. 2015): conv3x3-BN-ReLU-conv3x3-BN, + shortcut, ReLU.

    The shortcut is the identity when the shape is kept, otherwise a 1x1
    convolution with the block's stride followed by batch norm (projection).

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int, stride of the first 3x3 convolution (2 halves H and W)
    rng : seed or Generator

    Input (N, in_channels, H, W) -> output (N, out_channels, H', W'),
    H' = floor((H - 1) / stride) + 1.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, rng: RNG = None):
        in_channels = check_positive_int(in_channels, "in_channels")
        out_channels = check_positive_int(out_channels, "out_channels")
        stride = check_positive_int(stride, "stride")
        gen = check_rng(rng)
        block = Sequential(
            Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, rng=gen),
            BatchNorm2d(out_channels),
            ReLU(),
            Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, rng=gen),
            BatchNorm2d(out_channels),
        )
        shortcut = None
        if stride != 1 or in_channels != out_channels:
            shortcut = Sequential(
                Conv2d(in_channels, out_channels, 1, stride, 0, bias=False, rng=gen),
                BatchNorm2d(out_channels),
            )
        super().__init__(block, shortcut, ReLU())
