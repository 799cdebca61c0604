"""Visible checks for notebook 07 (convolutional networks).

The expected values come from the reference code: shapes and parameter counts
from ``coursekit.models.LeNet`` itself, pooled feature maps from the NumPy
reference ``coursekit.pooling.maxpool2d_forward``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit.checks.framework import Case, CheckResult, run_check

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.models", "coursekit.pooling")

__all__ = [
    "lenet_trace_reference",
    "lenet_params_reference",
    "check_lenet_trace",
    "check_lenet_params",
    "check_maxpool2d",
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
    return run_check("lenet_trace", fn, cases, compare="equal", forbid=FORBID)


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
    return run_check("lenet_params", fn, cases, compare="equal", forbid=FORBID)


# --------------------------------------------------------------------------- exercise 3
def _pool_case(x: np.ndarray, size: int, name: str, hint: str) -> Case:
    from coursekit.pooling import maxpool2d_forward

    x = np.asarray(x, dtype=np.float64)
    expected = maxpool2d_forward(x[None], size)[0][0]
    return Case(args=(x, size), expected=expected, name=name, hint=hint)


def check_maxpool2d(fn: Callable) -> CheckResult:
    """Check ``maxpool2d(x, size)``: non-overlapping max pooling of one feature map.

    Parameters
    ----------
    fn : callable (ndarray (C, H, W), int) -> ndarray (C, H // size, W // size)
        Each output is the largest value of one ``size x size`` window of its own
        channel; windows do not overlap (stride = size) and rows or columns that
        do not fill a window are dropped, as in ``torch.nn.MaxPool2d(size)``.

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(7)
    worked = np.array(
        [[[1.0, 3.0, 2.0, 0.0], [4.0, 2.0, 1.0, 5.0], [0.0, 1.0, 7.0, 2.0], [6.0, 2.0, 3.0, 4.0]]]
    )
    cases = [
        _pool_case(
            worked,
            2,
            "4x4 map, 2x2 windows",
            "each output is the max of one 2x2 block: [[4, 5], [6, 7]]",
        ),
        _pool_case(
            -rng.uniform(1.0, 2.0, size=(2, 4, 6)),
            2,
            "two channels of negative activations",
            "start each window's maximum from its first value (or -inf), not from 0; "
            "and pool every channel on its own",
        ),
        _pool_case(
            rng.normal(size=(3, 7, 5)),
            3,
            "3 channels, 7x5 map, 3x3 windows",
            "the window moves by its own size; rows and columns that do not fill a "
            "window are dropped: the output is (C, 7 // 3, 5 // 3) = (3, 2, 1)",
        ),
    ]
    return run_check("maxpool2d", fn, cases, rtol=0, atol=0, forbid=FORBID)
