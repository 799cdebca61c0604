"""The visible checks of notebook 06 accept right answers and explain wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks import nb06


# --------------------------------------------------------------------------- reference solutions
def output_size(n, f, stride=1, padding=0):
    return (n + 2 * padding - f) // stride + 1


def conv_params(c_in, c_out, f, bias=True):
    return c_out * (c_in * f * f + (1 if bias else 0))


def conv2d_single(x, k, stride=1, padding=0):
    x = np.pad(x, padding)
    kh, kw = k.shape
    ho = (x.shape[0] - kh) // stride + 1
    wo = (x.shape[1] - kw) // stride + 1
    out = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[i, j] = np.sum(x[i * stride : i * stride + kh, j * stride : j * stride + kw] * k)
    return out


def receptive_field(layers):
    rf, jump = 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump *= s
    return rf


# --------------------------------------------------------------------------- the references are right
def test_binary_image_worked_example_against_torch():
    x = torch.tensor(nb06.BINARY_IMAGE)[None, None]
    w = torch.tensor(nb06.CROSS_KERNEL)[None, None]
    out = F.conv2d(x, w)[0, 0].numpy()
    assert out[0, 0] == 4.0
    np.testing.assert_array_equal(conv2d_single(nb06.BINARY_IMAGE, nb06.CROSS_KERNEL), out)


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), (3, 2)])
def test_reference_conv_matches_torch(stride, padding):
    rng = np.random.default_rng(stride)
    x, k = rng.normal(size=(6, 9)), rng.normal(size=(3, 2))
    want = F.conv2d(
        torch.tensor(x)[None, None], torch.tensor(k)[None, None], stride=stride, padding=padding
    )[0, 0].numpy()
    np.testing.assert_allclose(conv2d_single(x, k, stride, padding), want, rtol=1e-12, atol=1e-12)


def test_reference_params_match_torch_conv2d():
    layer = torch.nn.Conv2d(3, 10, 5)
    assert conv_params(3, 10, 5) == sum(p.numel() for p in layer.parameters()) == 760


def test_reference_output_size_matches_torch_on_lecture_examples():
    for n, f, s, p in [(7, 3, 1, 0), (7, 3, 2, 0), (7, 3, 3, 0), (7, 3, 1, 1), (32, 5, 1, 0)]:
        out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), stride=s, padding=p)
        assert output_size(n, f, s, p) == out.shape[-1]
    assert output_size(7, 3) == 5  # not 4 (Lab 6 erratum)
    assert (7 - 3) / 3 + 1 == pytest.approx(2.333, abs=1e-3) and output_size(7, 3, 3) == 2


# --------------------------------------------------------------------------- correct answers pass
CHECKS = [
    (nb06.check_output_size, output_size, 7),
    (nb06.check_conv_params, conv_params, 5),
    (nb06.check_conv2d_single, conv2d_single, 5),
    (nb06.check_receptive_field, receptive_field, 6),
]


@pytest.mark.parametrize(("check", "fn", "n"), CHECKS)
def test_correct_solution_passes(check, fn, n, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n
    assert f"{n}/{n} cases passed" in capsys.readouterr().out


# --------------------------------------------------------------------------- wrong answers get specific feedback
def test_lab6_erratum_is_caught(capsys):
    def lab6(n, f, stride=1, padding=0):
        return (n + 2 * padding - f) // stride + 1 - (stride == 1)

    with pytest.raises(AssertionError, match=r"case 1 \(7x7 input, 3x3 filter, stride 1\)"):
        nb06.check_output_size(lab6)
    out = capsys.readouterr().out
    assert "expected: 5" in out and "got:      4" in out
    assert "Lab 6 handout's 4 is wrong" in out


def test_manchester_erratum_is_caught(capsys):
    def manchester(n, f, stride=1, padding=0):
        return math.floor((n + 2 * padding - f) / stride - 1)

    with pytest.raises(AssertionError, match="output_size"):
        nb06.check_output_size(manchester)
    assert "expected: 5" in capsys.readouterr().out


def test_float_division_is_caught(capsys):
    def no_floor(n, f, stride=1, padding=0):
        return (n + 2 * padding - f) / stride + 1

    with pytest.raises(AssertionError, match=r"case 1"):
        nb06.check_output_size(no_floor)
    assert "expected an integer, got float" in capsys.readouterr().out


def test_padding_once_is_caught(capsys):
    def one_side(n, f, stride=1, padding=0):
        return (n + padding - f) // stride + 1

    with pytest.raises(AssertionError, match=r"case 4 \(padding 1 keeps the size\)"):
        nb06.check_output_size(one_side)
    assert "N + 2P" in capsys.readouterr().out


def test_params_without_bias_is_caught(capsys):
    def no_bias(c_in, c_out, f, bias=True):
        return c_out * c_in * f * f

    with pytest.raises(AssertionError, match=r"case 1 \(ten 5x5 filters on an RGB image\)"):
        nb06.check_conv_params(no_bias)
    out = capsys.readouterr().out
    assert "expected: 760" in out and "got:      750" in out


def test_params_ignoring_depth_is_caught(capsys):
    def no_depth(c_in, c_out, f, bias=True):
        return c_out * (f * f + (1 if bias else 0))

    with pytest.raises(AssertionError, match="conv_params"):
        nb06.check_conv_params(no_depth)
    assert "got:      260" in capsys.readouterr().out


def test_flipped_kernel_is_caught(capsys):
    def true_convolution(x, k, stride=1, padding=0):
        return conv2d_single(x, k[::-1, ::-1], stride, padding)

    # The X kernel is symmetric, so case 1 passes and case 2 must catch the flip.
    with pytest.raises(AssertionError, match=r"case 2 \(non-symmetric 2x2 kernel\)"):
        nb06.check_conv2d_single(true_convolution)
    out = capsys.readouterr().out
    assert "1/5 cases passed" in out and "do not flip the kernel" in out


def test_conv_ignoring_stride_is_caught(capsys):
    def no_stride(x, k, stride=1, padding=0):
        return conv2d_single(x, k, 1, padding)

    with pytest.raises(AssertionError, match=r"case 4 \(stride 2\)"):
        nb06.check_conv2d_single(no_stride)
    assert "expected shape (3, 3), got shape (5, 5)" in capsys.readouterr().out


def test_receptive_field_ignoring_strides_is_caught(capsys):
    def no_jump(layers):
        return 1 + sum(k - 1 for k, _ in layers)

    with pytest.raises(AssertionError, match=r"case 5 \(stride 2 then 3x3\)"):
        nb06.check_receptive_field(no_jump)
    out = capsys.readouterr().out
    assert "expected: 7" in out and "got:      5" in out
