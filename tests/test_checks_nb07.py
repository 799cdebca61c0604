"""The visible checks of notebook 07 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks import nb07


# --------------------------------------------------------------------------- reference solutions
def lenet_trace(input_size):
    shapes, side = [], input_size
    for channels in (6, 16):
        side = side - 5 + 1
        shapes.append((channels, side, side))
        side = (side - 2) // 2 + 1
        shapes.append((channels, side, side))
    return shapes


def lenet_params(in_channels, num_classes, input_size):
    side = ((input_size - 4) // 2 - 4) // 2
    conv = 6 * (in_channels * 25 + 1) + 16 * (6 * 25 + 1)
    fc = 120 * (16 * side * side + 1) + 84 * (120 + 1) + num_classes * (84 + 1)
    return conv + fc


def maxpool2d(x, size):
    c, h, w = x.shape
    blocks = x[:, : h // size * size, : w // size * size].reshape(
        c, h // size, size, w // size, size
    )
    return blocks.max(axis=(2, 4))


def test_maxpool2d_matches_torch_max_pool2d():
    x = np.random.default_rng(0).normal(size=(3, 9, 7))
    expected = F.max_pool2d(torch.from_numpy(x)[None], 2)[0].numpy()
    np.testing.assert_array_equal(maxpool2d(x, 2), expected)


# --------------------------------------------------------------------------- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn"),
    [
        (nb07.check_lenet_trace, lenet_trace),
        (nb07.check_lenet_params, lenet_params),
        (nb07.check_maxpool2d, maxpool2d),
    ],
)
def test_correct_solution_passes(check, fn, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == 3
    assert "3/3 cases passed" in capsys.readouterr().out


# --------------------------------------------------------------------------- wrong answers get specific feedback
def test_trace_with_same_padding_fails_with_hint(capsys):
    def same_padding(input_size):
        return [(6, input_size, input_size), (6, input_size // 2, input_size // 2)] * 2

    with pytest.raises(AssertionError, match=r"lenet_trace: case 1 \(CIFAR-10 size, 32x32\)"):
        nb07.check_lenet_trace(same_padding)
    out = capsys.readouterr().out
    assert "item 0: item 1: values differ" in out
    assert "N - 5 + 1 = N - 4" in out


def test_trace_hard_coded_for_32_fails_on_28(capsys):
    with pytest.raises(AssertionError, match=r"case 2 \(MNIST size, 28x28\)"):
        nb07.check_lenet_trace(lambda s: lenet_trace(32))
    assert "use the formula" in capsys.readouterr().out


def test_params_without_biases_fails(capsys):
    def no_bias(c, k, s):
        side = ((s - 4) // 2 - 4) // 2
        return 6 * c * 25 + 16 * 6 * 25 + 120 * 16 * side * side + 84 * 120 + k * 84

    with pytest.raises(AssertionError, match="lenet_params"):
        nb07.check_lenet_params(no_bias)
    out = capsys.readouterr().out
    assert "expected: 62006" in out and "C_out * (C_in * 5 * 5 + 1)" in out


def test_params_as_float_fails_type_check(capsys):
    with pytest.raises(AssertionError):
        nb07.check_lenet_params(lambda c, k, s: float(lenet_params(c, k, s)))
    assert "expected an integer, got float" in capsys.readouterr().out


def test_max_started_from_zero_fails_on_negative_activations(capsys):
    def from_zero(x, size):
        return np.maximum(maxpool2d(x, size), 0.0)

    with pytest.raises(AssertionError, match=r"case 2 \(two channels of negative activations\)"):
        nb07.check_maxpool2d(from_zero)
    assert "not from 0" in capsys.readouterr().out


def test_pooling_across_channels_fails(capsys):
    def mixes_channels(x, size):
        return np.broadcast_to(maxpool2d(x, size).max(axis=0), maxpool2d(x, size).shape)

    with pytest.raises(AssertionError, match=r"case 2"):
        nb07.check_maxpool2d(mixes_channels)
    assert "every channel on its own" in capsys.readouterr().out


def test_keeping_partial_windows_fails_with_shape_message(capsys):
    def ceil_mode(x, size):
        return F.max_pool2d(torch.from_numpy(x)[None], size, ceil_mode=True)[0].numpy()

    with pytest.raises(AssertionError, match=r"case 3"):
        nb07.check_maxpool2d(ceil_mode)
    assert "expected shape (3, 2, 1), got shape (3, 3, 2)" in capsys.readouterr().out
