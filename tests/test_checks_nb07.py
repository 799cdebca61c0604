"""The visible checks of notebook 07 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks import nb07
from coursekit.models import LeNet, count_parameters


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


def filter2d(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


# --------------------------------------------------------------------------- the references are right
def test_trace_reference_is_the_lecture_trace_for_32():
    assert nb07.lenet_trace_reference(32) == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]


def test_params_reference_is_62006_for_the_cifar_lenet():
    assert nb07.lenet_params_reference(3, 10, 32) == 62_006


@pytest.mark.parametrize(("c", "k", "s"), [(3, 10, 32), (1, 10, 28), (2, 7, 40), (1, 3, 16)])
def test_closed_form_matches_torch_count(c, k, s):
    assert lenet_params(c, k, s) == count_parameters(LeNet(c, k, s))


def test_filter2d_matches_torch_conv2d_in_float64():
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(9, 7)), rng.normal(size=(3, 2))
    expected = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None])
    np.testing.assert_allclose(filter2d(image, kernel), expected[0, 0].numpy(), rtol=1e-12)


def test_binary_worked_example_top_left_is_4():
    image = np.array(
        [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
    )
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    assert filter2d(image.astype(float), kernel.astype(float))[0, 0] == 4.0


# --------------------------------------------------------------------------- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn"),
    [
        (nb07.check_lenet_trace, lenet_trace),
        (nb07.check_lenet_params, lenet_params),
        (nb07.check_filter2d, filter2d),
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


def test_flipped_kernel_convolution_fails_on_sobel(capsys):
    def true_convolution(image, kernel):
        return filter2d(image, kernel[::-1, ::-1])

    with pytest.raises(AssertionError, match=r"case 2 \(6x9 image, Sobel kernel"):
        nb07.check_filter2d(true_convolution)
    assert "no kernel flip" in capsys.readouterr().out


def test_same_size_output_fails_with_shape_message(capsys):
    def padded(image, kernel):
        kh, kw = kernel.shape
        xp = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)))
        return filter2d(xp, kernel)

    with pytest.raises(AssertionError):
        nb07.check_filter2d(padded)
    assert "expected shape (3, 3), got shape (5, 5)" in capsys.readouterr().out
