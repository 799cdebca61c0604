"""CIFAR ResNets and ResNet-18: blocks, shortcuts, parameter counts, shapes, MACs."""

import pytest
import torch
from torch import nn

from coursekit.models import count_parameters
from coursekit.resnet import (
    BasicBlock,
    CifarResNet,
    PadShortcut,
    ResNet18,
    plain20,
    plain56,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet110,
)
from coursekit.summary import count_macs


def block_params(c_in: int, c_out: int, projection: bool) -> int:
    """Two 3x3 convs (no bias) with BN (gamma, beta), plus a 1x1 conv + BN projection."""
    body = 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out
    return body + (c_in * c_out + 2 * c_out if projection else 0)


def cifar_params(
    n: int, option_b: bool = False, width: int = 16, in_channels: int = 3, num_classes: int = 10
) -> int:
    """Stem conv + BN, three stages of n blocks (w, 2w, 4w channels), FC 4w -> classes."""
    w = width
    total = 9 * in_channels * w + 2 * w + 4 * w * num_classes + num_classes
    for c_in, c_out in [(w, w), (w, 2 * w), (2 * w, 4 * w)]:
        total += block_params(c_in, c_out, option_b and c_in != c_out)
        total += (n - 1) * block_params(c_out, c_out, False)
    return total


# ----------------------------------------------------------------- blocks


def test_basic_block_matches_its_definition():
    torch.manual_seed(0)
    block = BasicBlock(8, 8).eval()
    x = torch.randn(2, 8, 6, 6)
    f = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(f + x))  # H(x) = F(x) + x
    plain = BasicBlock(8, 8, residual=False).eval()
    assert plain.shortcut is None
    f = plain.bn2(plain.conv2(torch.relu(plain.bn1(plain.conv1(x)))))
    torch.testing.assert_close(plain(x), torch.relu(f))


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 4, 6, 6)
    out = PadShortcut(4, 8, stride=2)(x)
    assert out.shape == (2, 8, 3, 3)
    torch.testing.assert_close(out[:, :4], x[:, :, ::2, ::2])
    assert torch.all(out[:, 4:] == 0)
    block = BasicBlock(4, 8, stride=2, shortcut="A")
    assert isinstance(block.shortcut, PadShortcut)
    assert count_parameters(block) == block_params(4, 8, projection=False)
    assert block(x).shape == (2, 8, 3, 3)


def test_option_b_projection_only_when_shape_changes():
    block = BasicBlock(4, 8, stride=2, shortcut="B")
    assert isinstance(block.shortcut[0], nn.Conv2d) and block.shortcut[0].kernel_size == (1, 1)
    assert count_parameters(block) == block_params(4, 8, projection=True)
    assert isinstance(BasicBlock(8, 8, shortcut="B").shortcut, nn.Identity)
    assert block(torch.randn(2, 4, 6, 6)).shape == (2, 8, 3, 3)


def test_block_argument_errors():
    with pytest.raises(ValueError, match="shortcut must be one of \\['A', 'B'\\], got 'C'"):
        BasicBlock(4, 4, shortcut="C")
    with pytest.raises(ValueError, match="planes must be >= in_planes.*shortcut='B'"):
        BasicBlock(8, 4, shortcut="A")


# ----------------------------------------------------------------- networks


@pytest.mark.parametrize(
    "make, n, approx",
    [(resnet20, 3, 0.27e6), (resnet32, 5, 0.46e6), (resnet44, 7, 0.66e6), (resnet56, 9, 0.85e6),
     (resnet110, 18, 1.7e6)],
)  # fmt: skip
def test_cifar_resnet_parameter_counts(make, n, approx):
    model = make()
    assert count_parameters(model) == cifar_params(n)
    assert count_parameters(make(shortcut="B")) == cifar_params(n, option_b=True)
    assert abs(count_parameters(model) - approx) / approx < 0.02  # the paper's table


def test_resnet20_exact_counts():
    # option A adds no parameters; option B adds two 1x1 projections with BN
    assert count_parameters(resnet20()) == 269_722
    assert count_parameters(resnet20(shortcut="B")) == 269_722 + (16 * 32 + 64) + (32 * 64 + 128)
    assert count_parameters(resnet20(shortcut="B")) == 272_474


def test_plain_nets_have_no_shortcuts_and_same_count():
    plain = plain20()
    blocks = [m for m in plain.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 9 and all(b.shortcut is None for b in blocks)
    assert not any(isinstance(m, (PadShortcut, nn.Identity)) for m in plain.modules())
    # option-A shortcuts are parameter-free: same weights, only the wiring differs
    assert count_parameters(plain) == count_parameters(resnet20())
    assert not plain56().residual
    with pytest.raises(TypeError, match="residual="):
        plain20(residual=True)


def test_stage_shapes_and_forward():
    torch.manual_seed(0)
    model = resnet20(num_classes=7, in_channels=1)
    x = torch.randn(2, 1, 32, 32)
    h = model.relu(model.bn1(model.conv1(x)))
    assert model.layer1(h).shape == (2, 16, 32, 32)
    assert model.layer2(model.layer1(h)).shape == (2, 32, 16, 16)
    assert model.layer3(model.layer2(model.layer1(h))).shape == (2, 64, 8, 8)
    assert model(x).shape == (2, 7)
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3)] == [3, 3, 3]


@pytest.mark.parametrize("make", [resnet20, resnet56, plain20, plain56])
def test_width_16_is_the_default_and_the_paper(make):
    assert make().width == 16
    assert count_parameters(make(width=16)) == count_parameters(make())
    assert count_parameters(make()) == cifar_params((make().depth - 2) // 6)


@pytest.mark.parametrize("width, n", [(4, 1), (8, 3), (8, 9), (24, 3)])
def test_width_scales_every_stage(width, n):
    depth = 6 * n + 2
    model = CifarResNet(depth, width=width, in_channels=1, num_classes=7)
    assert count_parameters(model) == cifar_params(n, width=width, in_channels=1, num_classes=7)
    plain = CifarResNet(depth, residual=False, width=width, in_channels=1, num_classes=7)
    assert count_parameters(plain) == count_parameters(model)  # option A adds nothing
    option_b = CifarResNet(depth, width=width, shortcut="B", in_channels=1, num_classes=7)
    assert count_parameters(option_b) == cifar_params(
        n, option_b=True, width=width, in_channels=1, num_classes=7
    )


def test_width_forward_shapes():
    torch.manual_seed(0)
    model = resnet20(width=8, in_channels=1, num_classes=5)
    x = torch.randn(2, 1, 12, 12)
    h = model.relu(model.bn1(model.conv1(x)))
    assert h.shape == (2, 8, 12, 12)
    h = model.layer1(h)
    assert h.shape == (2, 8, 12, 12)
    h = model.layer2(h)
    assert h.shape == (2, 16, 6, 6)
    h = model.layer3(h)
    assert h.shape == (2, 32, 3, 3)
    assert model.fc.in_features == 32
    assert model(x).shape == (2, 5)
    assert plain56(width=4)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_width_keeps_the_kaiming_initialisation():
    torch.manual_seed(0)
    model = plain56(width=8)
    w = model.layer3[4].conv1.weight  # 32 -> 32, 3x3, fan_out = 32 * 9
    expected_std = (2.0 / (32 * 9)) ** 0.5
    assert abs(w.std().item() - expected_std) / expected_std < 0.05
    assert torch.all(model.layer2[0].bn2.weight == 1)


def test_width_errors():
    with pytest.raises(ValueError, match="width must be an integer >= 1, got 0"):
        CifarResNet(20, width=0)
    with pytest.raises(TypeError, match="width must be an integer >= 1, got 8.0"):
        resnet20(width=8.0)
    with pytest.raises(TypeError):
        resnet20(8)  # width is keyword-only: resnet20(8) would read as a depth


def test_bad_depth_explains_6n_plus_2():
    for depth in (21, 2, 14 + 1):
        with pytest.raises(ValueError, match=rf"depth must be 6n \+ 2 .*got {depth}"):
            CifarResNet(depth)
    assert len(CifarResNet(8).layer1) == 1  # smallest: n = 1


def test_kaiming_initialisation():
    torch.manual_seed(0)
    model = resnet56()
    w = model.layer3[4].conv1.weight  # 64 -> 64, 3x3, fan_out = 64 * 9
    expected_std = (2.0 / (64 * 9)) ** 0.5
    assert abs(w.std().item() - expected_std) / expected_std < 0.05
    assert torch.all(model.layer3[4].bn1.weight == 1) and torch.all(model.layer3[4].bn1.bias == 0)


def test_resnet18_cifar_variant():
    torch.manual_seed(0)
    model = ResNet18()
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    expected = (
        9 * 3 * 64 + 2 * 64
        + 2 * block_params(64, 64, False)
        + block_params(64, 128, True) + block_params(128, 128, False)
        + block_params(128, 256, True) + block_params(256, 256, False)
        + block_params(256, 512, True) + block_params(512, 512, False)
        + 512 * 10 + 10
    )  # fmt: skip
    assert count_parameters(model) == expected
    assert abs(expected - 11.17e6) < 0.01e6
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def cifar_macs(n: int) -> int:
    """Conv + FC multiply-accumulates of a CIFAR ResNet on one 32x32 image (option A)."""
    macs = 32 * 32 * 16 * 3 * 9  # stem
    for c, side in [(16, 32), (32, 16), (64, 8)]:
        macs += 2 * n * side * side * c * c * 9  # every conv of the stage at full width...
    # ...except the first conv of stages 2 and 3, whose input has half the channels
    macs -= 16 * 16 * 32 * 16 * 9 + 8 * 8 * 64 * 32 * 9
    return macs + 64 * 10


def test_macs_per_image():
    assert count_macs(resnet20(), (3, 32, 32)) == cifar_macs(3)
    assert count_macs(resnet20()) == 40_551_040  # 40.55M, the figure notebooks 08 and 09 quote
    assert abs(count_macs(resnet56()) / 1e6 - 125.8) < 0.5
    assert count_macs(resnet56()) == cifar_macs(9)
    assert abs(count_macs(ResNet18()) / 1e9 - 0.56) < 0.01
