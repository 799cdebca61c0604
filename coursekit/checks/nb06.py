"""Visible checks for notebook 06 (convolution arithmetic).

Expected values come from :mod:`coursekit.conv_arithmetic` and
:func:`coursekit.conv.conv2d_naive`, which the course tests against PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit import conv_arithmetic as ca
from coursekit.checks.framework import Case, CheckResult, run_check
from coursekit.conv import conv2d_naive

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.conv_arithmetic", "coursekit.conv")

__all__ = [
    "BINARY_IMAGE",
    "CROSS_KERNEL",
    "check_output_size",
    "check_conv_params",
    "check_conv2d_single",
    "check_receptive_field",
]

# The worked example of the lecture: a 5x5 binary image and a 3x3 "X" kernel;
# the top-left output is 1 + 1 + 1 + 1 = 4.
BINARY_IMAGE = np.array(
    [
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 0],
        [0, 1, 1, 0, 0],
    ],
    dtype=np.float64,
)
CROSS_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float64)


def _size_case(n: int, f: int, stride: int, padding: int, name: str, hint: str) -> Case:
    expected = ca.conv_output_size(n, f, stride=stride, padding=padding)
    return Case(
        args=(n, f),
        kwargs={"stride": stride, "padding": padding},
        expected=expected,
        name=name,
        hint=hint,
    )


def check_output_size(fn: Callable) -> CheckResult:
    """Check ``output_size(n, f, stride=1, padding=0)`` -> int.

    Parameters
    ----------
    fn : callable (int, int, stride=int, padding=int) -> int
        floor((n + 2 padding - f) / stride) + 1.

    Returns
    -------
    CheckResult
    """
    cases = [
        _size_case(
            7,
            3,
            1,
            0,
            "7x7 input, 3x3 filter, stride 1",
            "(7 - 3)/1 + 1 = 5: the filter fits at positions 0, 1, 2, 3 and 4 "
            "(the Lab 6 handout's 4 is wrong)",
        ),
        _size_case(7, 3, 2, 0, "stride 2", "(7 - 3)/2 + 1 = 3: positions 0, 2 and 4"),
        _size_case(
            7,
            3,
            3,
            0,
            "stride 3 does not fit",
            "(7 - 3)/3 + 1 = 2.33; round down with // (floor), the last column is dropped",
        ),
        _size_case(
            7,
            3,
            1,
            1,
            "padding 1 keeps the size",
            "padding adds P pixels on both sides, so the padded input is N + 2P wide",
        ),
        _size_case(
            32,
            5,
            1,
            0,
            "32x32 input, 5x5 filter",
            "a 5x5 filter with no padding removes F - 1 = 4 pixels: 32 -> 28",
        ),
        _size_case(
            227,
            11,
            4,
            0,
            "AlexNet's first layer",
            "(227 - 11)/4 + 1 = 55; use integer division and return an int",
        ),
        _size_case(
            6,
            3,
            2,
            1,
            "stride and padding together",
            "floor((6 + 2 - 3)/2) + 1 = floor(2.5) + 1 = 3: add the 1 after the floor, "
            "not inside it (the Manchester slides' '- 1' is wrong too)",
        ),
    ]
    return run_check("output_size", fn, cases, compare="equal", forbid=FORBID)


def check_conv_params(fn: Callable) -> CheckResult:
    """Check ``conv_params(c_in, c_out, f, bias=True)`` -> int.

    Parameters
    ----------
    fn : callable (int, int, int, bias=bool) -> int
        c_out * (c_in * f * f + 1) with a bias, c_out * c_in * f * f without.

    Returns
    -------
    CheckResult
    """

    def case(c_in: int, c_out: int, f: int, bias: bool, name: str, hint: str) -> Case:
        expected = ca.conv_params(c_in, c_out, f, bias=bias)
        return Case(
            args=(c_in, c_out, f), kwargs={"bias": bias}, expected=expected, name=name, hint=hint
        )

    cases = [
        case(
            3,
            10,
            5,
            True,
            "ten 5x5 filters on an RGB image",
            "each filter has 5*5*3 = 75 weights plus 1 bias; there are 10 filters: 760",
        ),
        case(
            3,
            6,
            5,
            True,
            "six 5x5 filters",
            "a filter spans the full input depth: 5 x 5 x C_in weights per filter",
        ),
        case(
            64,
            128,
            3,
            True,
            "64 -> 128 channels, 3x3",
            "C_out x (C_in x F x F + 1): the input size does not matter",
        ),
        case(
            3,
            10,
            5,
            False,
            "no bias",
            "with bias=False there are only the C_out x C_in x F x F weights",
        ),
        case(1, 1, 1, True, "1x1 convolution, one channel", "one weight and one bias"),
    ]
    return run_check("conv_params", fn, cases, compare="equal", forbid=FORBID)


def check_conv2d_single(fn: Callable) -> CheckResult:
    """Check ``conv2d_single(x, k, stride=1, padding=0)`` for one channel.

    Parameters
    ----------
    fn : callable (ndarray (H, W), ndarray (kh, kw), stride=int, padding=int)
        -> ndarray of shape (H_out, W_out), cross-correlation as in PyTorch.

    Returns
    -------
    CheckResult
    """

    def case(x: np.ndarray, k: np.ndarray, stride: int, padding: int, name: str, hint: str):
        x, k = np.asarray(x, dtype=np.float64), np.asarray(k, dtype=np.float64)
        expected = conv2d_naive(x[None, None], k[None, None], stride=stride, padding=padding)[0, 0]
        return Case(
            args=(x, k),
            kwargs={"stride": stride, "padding": padding},
            expected=expected,
            name=name,
            hint=hint,
        )

    rng = np.random.default_rng(6)
    asym = np.array([[1.0, 2.0], [3.0, 4.0]])
    cases = [
        case(
            BINARY_IMAGE,
            CROSS_KERNEL,
            1,
            0,
            "5x5 binary image, 3x3 X kernel",
            "the top-left output is the sum of the image under the kernel's 1s: 4; the "
            "result has (5 - 3)/1 + 1 = 3 rows and columns",
        ),
        case(
            np.arange(9.0).reshape(3, 3),
            asym,
            1,
            0,
            "non-symmetric 2x2 kernel",
            "do not flip the kernel: out[0, 0] = a*j + b*k + d*l + e*m (cross-correlation, "
            "like torch.nn.functional.conv2d)",
        ),
        case(
            rng.normal(size=(4, 6)),
            rng.normal(size=(3, 2)),
            1,
            0,
            "rectangular image and kernel",
            "rows and columns may differ: H_out = H - kh + 1 and W_out = W - kw + 1",
        ),
        case(
            rng.normal(size=(7, 7)),
            rng.normal(size=(3, 3)),
            2,
            0,
            "stride 2",
            "the window moves by stride pixels: output (i, j) reads rows i*stride to "
            "i*stride + kh - 1",
        ),
        case(
            rng.normal(size=(5, 5)),
            rng.normal(size=(3, 3)),
            1,
            1,
            "padding 1",
            "pad with zeros on all four sides first (np.pad), then slide over the padded image",
        ),
    ]
    return run_check("conv2d_single", fn, cases, rtol=1e-10, atol=1e-12, forbid=FORBID)


def check_receptive_field(fn: Callable) -> CheckResult:
    """Check ``receptive_field(layers)`` -> int for a list of ``(kernel, stride)`` pairs.

    Parameters
    ----------
    fn : callable (list of (int, int)) -> int
        Receptive field, in input pixels along one axis, of the last layer's units.

    Returns
    -------
    CheckResult
    """

    def case(layers: list[tuple[int, int]], name: str, hint: str) -> Case:
        return Case(args=(layers,), expected=ca.receptive_field(layers), name=name, hint=hint)

    cases = [
        case([], "no layers", "with no layers a unit sees exactly one input pixel: 1"),
        case([(3, 1)], "one 3x3 layer", "one 3x3 convolution sees 3 pixels"),
        case([(3, 1), (3, 1)], "two 3x3 layers", "each stride-1 3x3 layer adds k - 1 = 2: 3, 5"),
        case(
            [(3, 1), (3, 1), (3, 1)],
            "three 3x3 layers",
            "three stacked 3x3 layers see as much as one 7x7 layer",
        ),
        case(
            [(3, 2), (3, 1)],
            "stride 2 then 3x3",
            "after a stride-2 layer, neighbouring units are 2 input pixels apart, so the "
            "next layer's k - 1 extra units add (k - 1) * 2 pixels",
        ),
        case(
            [(5, 1), (2, 2), (5, 1), (2, 2)],
            "LeNet: conv 5, pool 2, conv 5, pool 2",
            "keep a running 'jump' (product of the strides so far); each layer adds "
            "(k - 1) * jump, then multiply jump by its stride",
        ),
    ]
    return run_check("receptive_field", fn, cases, compare="equal", forbid=FORBID)
