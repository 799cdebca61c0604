"""Visible checks for notebook 07 (convolutional networks).

The expected values come from the reference code: shapes and parameter counts
from ``coursekit.models.LeNet`` itself, filtered images from the vectorised
NumPy convolution ``coursekit.conv.conv2d_forward``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit.checks.framework import Case, CheckResult, run_check

__all__ = [
    "lenet_trace_reference",
    "lenet_params_reference",
    "check_lenet_trace",
    "check_lenet_params",
    "check_filter2d",
]


# --------------------------------------------------------------------------- exercise 1
def lenet_trace_reference(input_size: int) -> list[tuple[int, int, int]]:
    """Shapes (C, H, W) after conv1, pool1, conv2 and pool2 of a LeNet, from the model itself.

    Parameters
    ----------
    input_size : int
        Side of the square input image (>= 16).

    Returns
    -------
    list of 4 tuples (C, H, W)
    """
    from coursekit.models import LeNet
    from coursekit.summary import summary

    model = LeNet(in_channels=1, input_size=input_size)
    trace = summary(model, (1, input_size, input_size)).trace
    # trace: conv1, pool1, conv2, pool2, flatten, fc1, fc2, fc3 (top-level children)
    return [tuple(int(d) for d in shape) for shape in trace[:4]]


def check_lenet_trace(fn: Callable) -> CheckResult:
    """Check ``lenet_trace(input_size)`` -> ``[(6, H1, W1), (6, H2, W2), (16, ...), (16, ...)]``.

    Parameters
    ----------
    fn : callable (int) -> list of 4 tuples (C, H, W)
        Output shapes of conv1 (5x5, no padding), pool1 (2x2, stride 2), conv2
        (5x5) and pool2 (2x2) for a square input of side ``input_size``.

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(
            args=(32,),
            expected=lenet_trace_reference(32),
            name="CIFAR-10 size, 32x32",
            hint="a 5x5 convolution without padding gives N - 5 + 1 = N - 4; "
            "a 2x2 pool with stride 2 halves (rounding down)",
        ),
        Case(
            args=(28,),
            expected=lenet_trace_reference(28),
            name="MNIST size, 28x28",
            hint="28 -> 24 -> 12 -> 8 -> 4: use the formula, not the numbers of the 32x32 case",
        ),
        Case(
            args=(33,),
            expected=lenet_trace_reference(33),
            name="odd size, 33x33",
            hint="max-pooling rounds down: floor((29 - 2) / 2) + 1 = 14",
        ),
    ]
    return run_check("lenet_trace", fn, cases, compare="equal")


# --------------------------------------------------------------------------- exercise 2
def lenet_params_reference(in_channels: int, num_classes: int, input_size: int) -> int:
    """Number of parameters of ``LeNet(in_channels, num_classes, input_size)``, counted by torch."""
    from coursekit.models import LeNet, count_parameters

    return count_parameters(LeNet(in_channels, num_classes, input_size))


def check_lenet_params(fn: Callable) -> CheckResult:
    """Check ``lenet_params(in_channels, num_classes, input_size)`` -> int.

    Parameters
    ----------
    fn : callable (int, int, int) -> int
        Weights plus biases of the LeNet of section 2 for these sizes.

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(
            args=(3, 10, 32),
            expected=lenet_params_reference(3, 10, 32),
            name="the CIFAR-10 LeNet",
            hint="conv: C_out * (C_in * 5 * 5 + 1); linear: out * (in + 1); "
            "fc1 takes 16 * 5 * 5 = 400 inputs",
        ),
        Case(
            args=(1, 10, 28),
            expected=lenet_params_reference(1, 10, 28),
            name="1-channel digits, 28x28",
            hint="one input channel makes conv1 smaller, and 28x28 ends at 16x4x4 = 256 "
            "features into fc1",
        ),
        Case(
            args=(3, 100, 32),
            expected=lenet_params_reference(3, 100, 32),
            name="100 classes",
            hint="only the last layer depends on the number of classes: 84 * K + K",
        ),
    ]
    return run_check("lenet_params", fn, cases, compare="equal")


# --------------------------------------------------------------------------- exercise 3
def _filter_reference(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    from coursekit.conv import conv2d_forward

    out, _ = conv2d_forward(image[None, None], kernel[None, None])
    return out[0, 0]


def _filter_case(image: np.ndarray, kernel: np.ndarray, name: str, hint: str) -> Case:
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    return Case(
        args=(image, kernel), expected=_filter_reference(image, kernel), name=name, hint=hint
    )


def check_filter2d(fn: Callable) -> CheckResult:
    """Check ``filter2d(image, kernel)``: "valid" cross-correlation of one grey image.

    Parameters
    ----------
    fn : callable (ndarray (H, W), ndarray (kh, kw)) -> ndarray (H - kh + 1, W - kw + 1)

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(7)
    binary = np.array(
        [
            [1, 1, 1, 0, 0],
            [0, 1, 1, 1, 0],
            [0, 0, 1, 1, 1],
            [0, 0, 1, 1, 0],
            [0, 1, 1, 0, 0],
        ]
    )
    cases = [
        _filter_case(
            binary,
            np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]]),
            "5x5 binary image, 3x3 kernel (notebook 06's worked example)",
            "out[i, j] = sum over p, q of image[i + p, j + q] * kernel[p, q]; "
            "the top-left output is 4",
        ),
        _filter_case(
            rng.normal(size=(6, 9)),
            np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),
            "6x9 image, Sobel kernel (not symmetric)",
            "no kernel flip: PyTorch's 'convolution' is cross-correlation; and a "
            "non-square image needs its own height and width",
        ),
        _filter_case(
            rng.normal(size=(7, 5)),
            rng.normal(size=(2, 4)),
            "7x5 image, 2x4 kernel",
            "the output has shape (H - kh + 1, W - kw + 1) = (6, 2)",
        ),
    ]
    return run_check("filter2d", fn, cases, rtol=1e-10, atol=1e-12)
