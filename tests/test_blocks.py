"""coursekit.blocks.ResidualBlock: its structure against torchvision's BasicBlock, its seeding
and its argument checks (the numbers against torch are in tests/test_layers.py)."""

import numpy as np
import pytest
import torch
from torchvision.models.resnet import BasicBlock

from coursekit.blocks import ResidualBlock
from coursekit.conv import Conv2d
from coursekit.layers import ReLU
from coursekit.normalization import BatchNorm2d


def _torchvision_block(c_in, c_out, stride):
    downsample = None
    if stride != 1 or c_in != c_out:
        downsample = torch.nn.Sequential(
            torch.nn.Conv2d(c_in, c_out, 1, stride, bias=False), torch.nn.BatchNorm2d(c_out)
        )
    return BasicBlock(c_in, c_out, stride, downsample)


def _convs(block):
    convs = [block.block[0], block.block[3]]
    return convs + ([block.shortcut[0]] if block.shortcut is not None else [])


@pytest.mark.parametrize(
    "c_in, c_out, stride", [(3, 3, 1), (3, 3, 2), (3, 4, 1), (2, 4, 2), (4, 2, 3)]
)
def test_structure_is_torchvision_s_basic_block(c_in, c_out, stride):
    ours = ResidualBlock(c_in, c_out, stride, rng=0)
    theirs = _torchvision_block(c_in, c_out, stride)
    # a projection exactly when the shape changes (stride or channels)
    assert (ours.shortcut is None) == (theirs.downsample is None)
    t_convs = [theirs.conv1, theirs.conv2]
    if theirs.downsample is not None:
        t_convs.append(theirs.downsample[0])
    for mine, t in zip(_convs(ours), t_convs, strict=True):
        assert mine.params["w"].shape == tuple(t.weight.shape)
        assert (mine.kernel_size, mine.stride, mine.padding) == (
            t.kernel_size,
            t.stride,
            t.padding,
        )
        assert set(mine.params) == {"w"} and t.bias is None  # no bias before batch norm
    bns = [ours.block[1], ours.block[4]] + ([ours.shortcut[1]] if ours.shortcut else [])
    assert all(type(bn) is BatchNorm2d and bn.num_features == c_out for bn in bns)
    assert type(ours.block[2]) is ReLU and type(ours.activation) is ReLU
    x = np.random.default_rng(1).standard_normal((2, c_in, 5, 7))
    out = ours(x)
    assert out.shape == tuple(theirs(torch.tensor(x, dtype=torch.float32)).shape)
    assert out.min() >= 0.0  # the ReLU after the sum


def test_default_stride_keeps_the_shape():
    block = ResidualBlock(3, 3, rng=0)
    assert block.shortcut is None and block.block[0].stride == (1, 1)
    assert block(np.ones((1, 3, 4, 5))).shape == (1, 3, 4, 5)


@pytest.mark.parametrize("c_in, c_out, stride", [(3, 3, 1), (2, 4, 2)])
def test_weights_come_from_one_seeded_stream_in_order(c_in, c_out, stride):
    # the 3x3 convolutions, then the projection, each drawing from the same Generator
    gen = np.random.default_rng(7)
    want = [
        Conv2d(c_in, c_out, 3, stride, 1, bias=False, rng=gen),
        Conv2d(c_out, c_out, 3, 1, 1, bias=False, rng=gen),
    ]
    if stride != 1 or c_in != c_out:
        want.append(Conv2d(c_in, c_out, 1, stride, 0, bias=False, rng=gen))
    for rng in (7, np.random.default_rng(7)):
        got = _convs(ResidualBlock(c_in, c_out, stride, rng=rng))
        assert len(got) == len(want)
        for mine, ref in zip(got, want, strict=True):
            np.testing.assert_array_equal(mine.params["w"], ref.params["w"])


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((0, 3), ValueError, r"^in_channels must be an integer >= 1, got 0$"),
        ((3, 2.0), TypeError, r"^out_channels must be an integer >= 1, got 2.0 \(float\)$"),
        ((3, 3, 0), ValueError, r"^stride must be an integer >= 1, got 0$"),
    ],
)
def test_messages_name_the_argument(args, error, message):
    with pytest.raises(error, match=message):
        ResidualBlock(*args)
