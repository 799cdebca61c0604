"""Graded exercises of notebook 06 (convolution arithmetic).

None may use ``coursekit.conv_arithmetic`` or ``coursekit.conv``.
"""

from __future__ import annotations

import numpy as np

from coursekit import conv_arithmetic as ca
from coursekit.checks import nb06
from coursekit.grading.spec import Call, Exercise

FORBID = nb06.FORBID  # the rule the visible checks state


# --------------------------------------------------------------------------- output size
def _output_size_reference(n, f, stride=1, padding=0):
    return ca.conv_output_size(n, f, stride=stride, padding=padding)


def _size_call(rng: np.random.Generator, stride: int, padding: int, rest: int, label: str):
    """A call whose ``n + 2 padding - f`` is ``q * stride + rest`` for a random q."""
    f = int(rng.integers(1, 12))
    q_min = max(0, -(-(2 * padding - f + 1 - rest) // stride))  # so that n >= 1
    covered = int(rng.integers(q_min, q_min + 40)) * stride + rest
    n = covered + f - 2 * padding
    return Call((n, f), {"stride": stride, "padding": padding}, label=label)


def _output_size_calls(rng: np.random.Generator) -> list[Call]:
    calls = [_size_call(rng, 1, 0, 0, "stride 1, no padding")]
    s = int(rng.integers(2, 5))
    calls.append(_size_call(rng, s, int(rng.integers(1, 4)), 0, "stride and padding, exact fit"))
    # a remainder of more than half the stride: rounding to nearest is not the floor
    s = int(rng.integers(3, 7))
    rest = int(rng.integers(s // 2 + 1, s))
    calls.append(_size_call(rng, s, int(rng.integers(0, 4)), rest, "stride does not fit"))
    s = int(rng.integers(2, 5))
    rest = int(rng.integers(1, s))
    calls.append(_size_call(rng, s, int(rng.integers(0, 4)), rest, "stride does not fit"))
    # the filter covers the whole padded input: one output
    f = int(rng.integers(2, 12))
    p = int(rng.integers(0, (f - 1) // 2 + 1))
    calls.append(
        Call(
            (f - 2 * p, f),
            {"stride": int(rng.integers(1, 4)), "padding": p},
            label="filter as large as the padded input",
        )
    )
    # ImageNet-sized input with the defaults
    n, f = int(rng.integers(100, 300)), int(rng.integers(1, 12))
    calls.append(Call((n, f), label="default stride and padding"))
    return calls


# --------------------------------------------------------------------------- parameters
def _conv_params_reference(c_in, c_out, f, bias=True):
    return ca.conv_params(c_in, c_out, f, bias=bias)


def _conv_params_calls(rng: np.random.Generator) -> list[Call]:
    def ints() -> tuple[int, int, int]:
        return int(rng.integers(1, 513)), int(rng.integers(1, 513)), int(rng.integers(1, 8))

    return [
        Call(ints(), {"bias": True}, label="with bias"),
        Call(ints(), {"bias": False}, label="without bias"),
        Call(ints(), label="default bias"),
        Call(
            (int(rng.integers(1, 9)), int(rng.integers(1, 9)), 1),
            {"bias": True},
            label="1x1 convolution",
        ),
        Call((1, int(rng.integers(1, 33)), int(rng.integers(2, 12))), label="one input channel"),
    ]


# --------------------------------------------------------------------------- convolution
def _conv2d_reference(x, k, stride=1, padding=0):
    import torch
    import torch.nn.functional as F

    out = F.conv2d(
        torch.from_numpy(x)[None, None],
        torch.from_numpy(k)[None, None],
        stride=stride,
        padding=padding,
    )
    return out[0, 0].numpy()


def _conv_call(rng, kh: int, kw: int, stride: int, padding: int, label: str, extra: int = 8):
    """A random image at least as large as the kernel once padded."""
    h = max(1, kh - 2 * padding + int(rng.integers(0, extra)))
    w = max(1, kw - 2 * padding + int(rng.integers(0, extra)))
    x, k = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
    return Call((x, k), {"stride": stride, "padding": padding}, label=label)


def _conv2d_calls(rng: np.random.Generator) -> list[Call]:
    def side() -> int:
        return int(rng.integers(1, 6))

    return [
        _conv_call(rng, side(), side(), 1, 0, "stride 1, no padding"),
        _conv_call(rng, side(), side(), 1, int(rng.integers(1, 3)), "padding"),
        _conv_call(
            rng,
            side(),
            side(),
            int(rng.integers(2, 4)),
            int(rng.integers(1, 3)),
            "stride and padding",
        ),
        _conv_call(rng, 1, 1, int(rng.integers(2, 4)), 0, "1x1 kernel, stride 2 or more"),
        _conv_call(rng, side(), side(), 1, 0, "kernel as large as the image", extra=1),
        Call(
            (
                rng.normal(size=(int(rng.integers(4, 10)), int(rng.integers(4, 10)))),
                rng.normal(size=(3, 3)),
            ),
            label="default stride and padding",
        ),
    ]


# --------------------------------------------------------------------------- receptive field
def _receptive_field_calls(rng: np.random.Generator) -> list[Call]:
    def layers(n: int, strides: tuple[int, ...]) -> list[tuple[int, int]]:
        return [(int(rng.integers(1, 8)), int(rng.choice(strides))) for _ in range(n)]

    # several strided layers, then a wide one: the jump is the product of the strides
    strided = layers(int(rng.integers(2, 4)), (2, 3)) + [(int(rng.integers(3, 8)), 1)]
    return [
        Call(([],), label="no layers"),
        Call((layers(int(rng.integers(1, 7)), (1,)),), label="stride 1 layers"),
        Call((strided,), label="several strided layers"),
        Call((layers(int(rng.integers(3, 9)), (1, 2, 3)),), label="mixed strides"),
        Call(([(int(rng.integers(1, 8)), int(rng.integers(1, 4)))],), label="one layer"),
    ]


EXERCISES = [
    Exercise(
        grade_id="nb06-output-size-tests",
        target="output_size",
        check=nb06.check_output_size,
        hidden=_output_size_calls,
        reference=_output_size_reference,
        exact=True,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb06-conv-params-tests",
        target="conv_params",
        check=nb06.check_conv_params,
        hidden=_conv_params_calls,
        reference=_conv_params_reference,
        exact=True,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb06-conv2d-single-tests",
        target="conv2d_single",
        check=nb06.check_conv2d_single,
        hidden=_conv2d_calls,
        reference=_conv2d_reference,
        rtol=1e-10,
        atol=1e-12,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb06-receptive-field-tests",
        target="receptive_field",
        check=nb06.check_receptive_field,
        hidden=_receptive_field_calls,
        reference=ca.receptive_field,
        exact=True,
        forbid=FORBID,
    ),
]
