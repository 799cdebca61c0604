"""Graded exercises of notebook 07 (convolutional networks).

None may use ``coursekit.models`` (LeNet) or ``coursekit.pooling``.
"""

from __future__ import annotations

import numpy as np

from coursekit.checks import nb07
from coursekit.grading.spec import Call, Exercise

FORBID = nb07.FORBID  # the rule the visible checks state


def _sizes(rng: np.random.Generator) -> list[tuple[int, str]]:
    """Input sizes of LeNet: smallest, even, and odd ones (s = 4m + 3: (s - 4) / 2 is x.5)."""
    return [
        (16, "smallest input"),
        (2 * int(rng.integers(8, 40)), "even size"),
        (4 * int(rng.integers(4, 20)) + 3, "odd size"),
        (4 * int(rng.integers(4, 20)) + 1, "odd size"),
        (int(rng.integers(81, 200)), "large input"),
    ]


# --------------------------------------------------------------------------- shape trace
def _lenet_trace_calls(rng: np.random.Generator) -> list[Call]:
    return [Call((size,), label=label) for size, label in _sizes(rng)]


# --------------------------------------------------------------------------- parameters
def _lenet_params_calls(rng: np.random.Generator) -> list[Call]:
    calls = []
    for size, label in _sizes(rng)[:4]:
        in_channels, num_classes = int(rng.integers(1, 5)), int(rng.integers(2, 201))
        calls.append(Call((in_channels, num_classes, size), label=label))
    calls.append(Call((1, 1, int(rng.integers(16, 60))), label="one channel, one output"))
    return calls


# --------------------------------------------------------------------------- max pooling
def _maxpool_reference(x, size):
    import torch
    import torch.nn.functional as F

    return F.max_pool2d(torch.from_numpy(x)[None], size)[0].numpy()


def _maxpool_calls(rng: np.random.Generator) -> list[Call]:
    def shape(size: int, exact: bool) -> tuple[int, int, int]:
        h, w = (
            size * int(rng.integers(1, 5)) + (0 if exact else int(rng.integers(0, size)))
            for _ in range(2)
        )
        return int(rng.integers(1, 5)), h, w

    calls = []
    size = int(rng.integers(2, 4))
    calls.append(Call((rng.normal(size=shape(size, True)), size), label="windows fit exactly"))
    size = int(rng.integers(2, 5))
    h, w = size * int(rng.integers(1, 4)) + 1, size * int(rng.integers(1, 4)) + size - 1
    x = rng.normal(size=(int(rng.integers(1, 4)), h, w))
    calls.append(Call((x, size), label="leftover rows and columns"))
    size = int(rng.integers(2, 4))
    x = -rng.uniform(1.0, 100.0, size=shape(size, False))
    calls.append(Call((x, size), label="negative activations"))
    x = rng.normal(size=shape(1, True))
    calls.append(Call((x, 1), label="size 1"))
    size = int(rng.integers(2, 6))
    x = rng.normal(size=(int(rng.integers(1, 4)), size, size))
    calls.append(Call((x, size), label="one window per channel"))
    # many equal values: a ReLU output pooled
    size = int(rng.integers(2, 4))
    x = np.maximum(rng.normal(size=shape(size, False)), 0.0)
    calls.append(Call((x, size), label="after a ReLU"))
    return calls


EXERCISES = [
    Exercise(
        grade_id="nb07-lenet-trace-tests",
        target="lenet_trace",
        check=nb07.check_lenet_trace,
        hidden=_lenet_trace_calls,
        reference=nb07.lenet_trace_reference,
        exact=True,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb07-lenet-params-tests",
        target="lenet_params",
        check=nb07.check_lenet_params,
        hidden=_lenet_params_calls,
        reference=nb07.lenet_params_reference,
        exact=True,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb07-maxpool2d-tests",
        target="maxpool2d",
        check=nb07.check_maxpool2d,
        hidden=_maxpool_calls,
        reference=_maxpool_reference,
        exact=True,
        forbid=FORBID,
    ),
]
