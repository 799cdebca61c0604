"""The visible checks of notebook 08 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.checks import nb08


# --------------------------------------------------------------------------- reference solutions
def cifar_resnet_params(depth, num_classes):
    n = (depth - 2) // 6

    def conv_bn(c_in, c_out):  # 3x3 conv without bias, then BN (gamma, beta)
        return 9 * c_in * c_out + 2 * c_out

    total = conv_bn(3, 16)
    c = 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += conv_bn(c, width) + conv_bn(width, width)
            c = width
    return total + 64 * num_classes + num_classes


class ResidualBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride == 1 and in_planes == planes:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def chain_gradient(weights, residual):
    w = np.asarray(weights, dtype=float)
    return float(np.prod(1 + w) if residual else np.prod(w))


class NotAttemptedBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        raise NotImplementedError()


# --------------------------------------------------------------------------- the references are right
def test_parameter_counts_are_the_papers():
    # He et al. 2015, table 6: 0.27M, 0.46M, 0.66M, 0.85M
    counts = [nb08.cifar_resnet_params_reference(d) for d in (20, 32, 44, 56)]
    assert [round(c / 1e6, 2) for c in counts] == [0.27, 0.46, 0.66, 0.85]


@pytest.mark.parametrize(("depth", "k"), [(20, 10), (32, 10), (110, 100), (14, 3)])
def test_closed_form_matches_torch_count(depth, k):
    assert cifar_resnet_params(depth, k) == nb08.cifar_resnet_params_reference(depth, k)


def test_chain_gradient_matches_autograd():
    w = torch.tensor([0.5, -0.2, 0.9, 0.1], dtype=torch.float64)
    for residual in (False, True):
        x = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
        h = x
        for wi in w:
            h = h + wi * h if residual else wi * h
        h.backward()
        assert chain_gradient(w.numpy(), residual) == pytest.approx(x.grad.item(), rel=1e-14)


# --------------------------------------------------------------------------- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn", "n"),
    [
        (nb08.check_cifar_resnet_params, cifar_resnet_params, 3),
        (nb08.check_residual_block, ResidualBlock, 3),
        (nb08.check_chain_gradient, chain_gradient, 4),
    ],
)
def test_correct_solution_passes(check, fn, n, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n
    assert f"{n}/{n} cases passed" in capsys.readouterr().out


def test_check_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb08.check_residual_block(ResidualBlock)
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------- wrong answers get specific feedback
def test_params_forgetting_batch_norm_fails(capsys):
    def no_bn(depth, k):
        n = (depth - 2) // 6
        total, c = 9 * 3 * 16, 16
        for width in (16, 32, 64):
            for _ in range(n):
                total += 9 * c * width + 9 * width * width
                c = width
        return total + 64 * k + k

    with pytest.raises(AssertionError, match=r"cifar_resnet_params: case 1 \(ResNet-20\)"):
        nb08.check_cifar_resnet_params(no_bn)
    assert "two BNs" in capsys.readouterr().out


def test_block_without_shortcut_fails_on_identity_case(capsys):
    class Plain(ResidualBlock):
        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)))

    with pytest.raises(AssertionError, match=r"case 1 \(same shape: identity shortcut\)"):
        nb08.check_residual_block(Plain)
    out = capsys.readouterr().out
    assert "values differ" in out and "add x before the last ReLU" in out


def test_block_with_relu_before_the_addition_fails(capsys):
    class ReluFirst(ResidualBlock):
        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out))) + self.shortcut(x)

    with pytest.raises(AssertionError, match="ResidualBlock"):
        nb08.check_residual_block(ReluFirst)
    assert "values differ" in capsys.readouterr().out


def test_block_with_other_names_reports_the_missing_keys(capsys):
    class Renamed(nn.Module):
        def __init__(self, in_planes, planes, stride):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False))

        def forward(self, x):
            return self.body(x)

    with pytest.raises(AssertionError):
        nb08.check_residual_block(Renamed)
    out = capsys.readouterr().out
    assert "raised:   ValueError" in out and "missing ['conv1.weight'" in out


def test_block_with_stride_in_conv2_fails_on_stride_case(capsys):
    class LateStride(ResidualBlock):
        def __init__(self, in_planes, planes, stride):
            super().__init__(in_planes, planes, stride)
            self.conv1.stride, self.conv2.stride = (1, 1), (stride, stride)

    with pytest.raises(AssertionError, match=r"case 2 \(stride 2"):
        nb08.check_residual_block(LateStride)
    assert "conv1 has the stride" in capsys.readouterr().out


def test_chain_gradient_summing_instead_of_multiplying_fails(capsys):
    with pytest.raises(AssertionError, match=r"case 1 \(20 plain layers"):
        nb08.check_chain_gradient(lambda w, residual: float(np.sum(w)))
    assert "multiplies the local derivatives" in capsys.readouterr().out


def test_chain_gradient_forgetting_the_identity_fails(capsys):
    with pytest.raises(AssertionError, match=r"case 2 \(20 residual layers"):
        nb08.check_chain_gradient(lambda w, residual: float(np.prod(w)))
    assert "derivative 1 + w" in capsys.readouterr().out
