"""The visible checks of notebook 00 accept right answers and explain wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coursekit.checks import nb00


# --- reference solutions
def to_nchw(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


def memory_mib(shape, dtype):
    return math.prod(shape) * dtype.itemsize / 2**20


def standardize_channels(x):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / x.std(axis=(0, 2, 3), keepdims=True)


# --- the references agree with torch
def test_memory_mib_agrees_with_real_tensors():
    for shape, dtype in [
        ((7, 3, 5, 2), torch.float32),
        ((11, 13), torch.float64),
        ((4,), torch.uint8),
    ]:
        t = torch.zeros(shape, dtype=dtype)
        assert memory_mib(shape, dtype) == t.numel() * t.element_size() / 2**20


def test_standardize_matches_torch_batch_norm_statistics():
    x = np.random.default_rng(0).normal(size=(4, 3, 5, 6)) * 3 + 1
    bn = torch.nn.functional.batch_norm(
        torch.tensor(x), None, None, training=True, eps=1e-300
    ).numpy()
    np.testing.assert_allclose(standardize_channels(x), bn, rtol=1e-10, atol=1e-12)


def test_to_nchw_matches_numpy_transpose():
    x = np.random.default_rng(1).uniform(size=(2, 4, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(to_nchw(x).numpy(), x.transpose(0, 3, 1, 2))


# --- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn", "n_cases"),
    [
        (nb00.check_to_nchw, to_nchw, 4),
        (nb00.check_memory_mib, memory_mib, 4),
        (nb00.check_standardize_channels, standardize_channels, 3),
    ],
)
def test_correct_solution_passes(check, fn, n_cases, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n_cases
    assert f"{n_cases}/{n_cases} cases passed" in capsys.readouterr().out


# --- wrong answers get specific feedback
def test_reshape_instead_of_permute_is_caught(capsys):
    def reshaped(images):
        n, h, w, c = images.shape
        return torch.from_numpy(images).reshape(n, c, h, w).float()

    with pytest.raises(AssertionError, match=r"case 1 \(one 2x3 RGB image\)"):
        nb00.check_to_nchw(reshaped)
    out = capsys.readouterr().out
    assert "values differ" in out and "permute" in out


def test_forgetting_float32_is_caught(capsys):
    def keeps_dtype(images):
        return torch.from_numpy(images).permute(0, 3, 1, 2)

    with pytest.raises(AssertionError, match=r"case 2 \(float64 input\)"):
        nb00.check_to_nchw(keeps_dtype)
    assert "expected dtype torch.float32, got dtype torch.float64" in capsys.readouterr().out


def test_returning_numpy_is_caught(capsys):
    def as_numpy(images):
        return images.transpose(0, 3, 1, 2).astype(np.float32)

    with pytest.raises(AssertionError):
        nb00.check_to_nchw(as_numpy)
    assert "expected a torch.Tensor, got ndarray" in capsys.readouterr().out


def test_wrong_permutation_is_caught_by_shape(capsys):
    def nhcw(images):
        return torch.from_numpy(images).permute(0, 1, 3, 2).float()

    with pytest.raises(AssertionError):
        nb00.check_to_nchw(nhcw)
    assert "expected shape (1, 3, 2, 3), got shape (1, 2, 3, 3)" in capsys.readouterr().out


def test_megabytes_instead_of_mebibytes_is_caught(capsys):
    def megabytes(shape, dtype):
        return math.prod(shape) * dtype.itemsize / 1e6

    with pytest.raises(AssertionError, match="memory_mib"):
        nb00.check_memory_mib(megabytes)
    assert "1 MiB = 2**20 bytes" in capsys.readouterr().out


def test_assuming_four_bytes_per_element_is_caught(capsys):
    def always_four(shape, dtype):
        return math.prod(shape) * 4 / 2**20

    with pytest.raises(AssertionError, match=r"case 2 \(1000 flattened MNIST images in float64\)"):
        nb00.check_memory_mib(always_four)
    assert "dtype.itemsize" in capsys.readouterr().out


def test_global_statistics_instead_of_per_channel_are_caught(capsys):
    def global_stats(x):
        return (x - x.mean()) / x.std()

    with pytest.raises(AssertionError, match="three channels on different scales"):
        nb00.check_standardize_channels(global_stats)
    assert "axis=(0, 2, 3)" in capsys.readouterr().out


def test_sample_std_is_caught(capsys):
    def sample_std(x):
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        return (x - mean) / x.std(axis=(0, 2, 3), keepdims=True, ddof=1)

    with pytest.raises(AssertionError, match=r"case 1 \(one channel, four pixels\)"):
        nb00.check_standardize_channels(sample_std)
    assert "ddof=0" in capsys.readouterr().out
