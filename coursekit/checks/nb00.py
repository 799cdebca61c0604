"""Visible checks for notebook 00 (tensors, devices and the course toolkit)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from coursekit.checks.framework import Case, CheckResult, run_check

__all__ = ["check_to_nchw", "check_memory_mib", "check_standardize_channels"]


def _same_tensor(got: object, expected: torch.Tensor) -> bool:
    """Compare a tensor exactly, raising AssertionError with what differs."""
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"expected a torch.Tensor, got {type(got).__name__}")
    if got.dtype != expected.dtype:
        raise AssertionError(f"expected dtype {expected.dtype}, got dtype {got.dtype}")
    if tuple(got.shape) != tuple(expected.shape):
        raise AssertionError(
            f"expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
        )
    if got.device.type != "cpu":
        raise AssertionError(f"expected a tensor on the cpu, got one on {got.device}")
    if not torch.equal(got, expected):
        bad = int((got != expected).sum())
        raise AssertionError(
            f"{bad} of {got.numel()} values differ: the right shape with the values in "
            "the wrong places"
        )
    return True


def _nchw_case(shape: tuple[int, int, int, int], dtype: type, name: str, hint: str) -> Case:
    n = int(np.prod(shape))
    images = (np.arange(n) % 251).reshape(shape).astype(dtype)
    expected = torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32)
    return Case(args=(images,), expected=expected, name=name, hint=hint)


def check_to_nchw(fn: Callable) -> CheckResult:
    """Check ``to_nchw(images)``: (N, H, W, C) NumPy images -> float32 tensor (N, C, H, W).

    Parameters
    ----------
    fn : callable (ndarray of shape (N, H, W, C)) -> Tensor of shape (N, C, H, W)

    Returns
    -------
    CheckResult
    """
    cases = [
        _nchw_case(
            (1, 2, 3, 3),
            np.float32,
            "one 2x3 RGB image",
            "move the channel axis from position 3 to position 1: .permute(0, 3, 1, 2)",
        ),
        _nchw_case(
            (2, 4, 4, 3),
            np.float64,
            "float64 input",
            "convert to 32-bit floats with .float() (or .to(torch.float32))",
        ),
        _nchw_case(
            (3, 5, 2, 1),
            np.uint8,
            "grey uint8 images",
            "C = 1 still needs its own axis; reshape would scramble the pixels, permute does not",
        ),
        _nchw_case(
            (2, 3, 4, 2),
            np.float32,
            "H, W and C all different",
            "reshape keeps the memory order and mixes pixels up; permute reorders the axes",
        ),
    ]
    return run_check("to_nchw", fn, cases, compare=_same_tensor)


def check_memory_mib(fn: Callable) -> CheckResult:
    """Check ``memory_mib(shape, dtype)``: MiB (2**20 bytes) taken by a tensor's elements.

    Parameters
    ----------
    fn : callable (tuple of int, torch.dtype) -> float

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(
            args=((256, 3, 32, 32), torch.float32),
            expected=3.0,
            name="a batch of 256 CIFAR-10 images in float32",
            hint="elements = 256 * 3 * 32 * 32; each float32 takes 4 bytes; 1 MiB = 2**20 bytes",
        ),
        Case(
            args=((1000, 784), torch.float64),
            expected=1000 * 784 * 8 / 2**20,
            name="1000 flattened MNIST images in float64",
            hint="float64 takes 8 bytes per element: use dtype.itemsize",
        ),
        Case(
            args=((64, 3, 224, 224), torch.float16),
            expected=64 * 3 * 224 * 224 * 2 / 2**20,
            name="ImageNet-sized batch in float16",
            hint="float16 takes 2 bytes per element",
        ),
        Case(
            args=((10, 1, 28, 28), torch.uint8),
            expected=10 * 28 * 28 / 2**20,
            name="raw uint8 pixels",
            hint="uint8 takes 1 byte per element; divide by 2**20, not 10**6",
        ),
    ]
    return run_check("memory_mib", fn, cases, rtol=1e-12, atol=0.0)


def _standardize_reference(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    std = x.std(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / std


def _std_case(x: np.ndarray, name: str, hint: str) -> Case:
    return Case(args=(x,), expected=_standardize_reference(x), name=name, hint=hint)


def check_standardize_channels(fn: Callable) -> CheckResult:
    """Check ``standardize_channels(x)``: per-channel zero mean and unit variance.

    Parameters
    ----------
    fn : callable (ndarray of shape (N, C, H, W)) -> ndarray of shape (N, C, H, W)

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(0)
    scales = np.array([1.0, 10.0, 100.0])[None, :, None, None]
    offsets = np.array([0.0, 5.0, -50.0])[None, :, None, None]
    cases = [
        _std_case(
            np.array([[[[0.0, 2.0]]], [[[4.0, 6.0]]]]),
            "one channel, four pixels",
            "the mean is 3 and the (population) standard deviation sqrt(5): use x.std(), ddof=0",
        ),
        _std_case(
            rng.normal(size=(4, 3, 5, 5)) * scales + offsets,
            "three channels on different scales",
            "reduce over the batch and both spatial axes: axis=(0, 2, 3), keepdims=True",
        ),
        _std_case(
            rng.uniform(size=(1, 2, 3, 4)),
            "a single image",
            "each channel gets its own mean and std; keepdims=True makes them broadcast "
            "against (N, C, H, W)",
        ),
    ]
    return run_check("standardize_channels", fn, cases, rtol=1e-9, atol=1e-12)
