"""Graded exercises of notebook 09 (training fast on a GPU); none may use ``coursekit.fast``."""

from __future__ import annotations

import numpy as np

from coursekit import fast
from coursekit.checks import nb09
from coursekit.grading.spec import Call, Exercise

FORBID = nb09.FORBID  # the rule the visible checks state


# --------------------------------------------------------------------------- throughput
def _step_times(rng: np.random.Generator, steps: int, warmup: int) -> np.ndarray:
    """Per-step times: slow warm-up steps, then uneven timed steps."""
    times = rng.uniform(0.01, 0.5) * rng.uniform(0.8, 1.5, size=steps)
    times[:warmup] = rng.uniform(1.0, 5.0, size=warmup)
    return times


def _images_per_second_calls(rng: np.random.Generator) -> list[Call]:
    def batch() -> int:
        return int(2 ** rng.integers(0, 11))

    calls = []
    steps = int(rng.integers(5, 60))
    warmup = int(rng.integers(1, 5))
    calls.append(Call((_step_times(rng, steps, warmup), batch(), warmup), label="warm-up steps"))
    steps = int(rng.integers(1, 30))
    calls.append(Call((_step_times(rng, steps, 0), batch(), 0), label="no warm-up"))
    steps = int(rng.integers(2, 10))
    calls.append(
        Call((_step_times(rng, steps, steps - 1), batch(), steps - 1), label="one timed step")
    )
    steps = int(rng.integers(3, 40))
    warmup = int(rng.integers(1, steps))
    bs = int(rng.integers(1, 1000))
    calls.append(Call((_step_times(rng, steps, warmup), bs, warmup), label="any batch size"))
    return calls


# --------------------------------------------------------------------------- TFLOP/s
def _training_tflops_reference(macs_per_image, images_per_s):
    return fast.achieved_tflops(macs_per_image, images_per_s)


def _training_tflops_calls(rng: np.random.Generator) -> list[Call]:
    def macs(lo: float, hi: float) -> float:
        return float(10.0 ** rng.uniform(lo, hi))

    return [
        Call((macs(7.0, 9.0), macs(3.0, 5.0)), label="a CNN on a GPU"),
        Call((macs(5.0, 7.0), macs(1.0, 4.0)), label="a small model"),
        Call((macs(9.0, 10.5), macs(2.0, 4.0)), label="a large model"),
        Call((macs(5.0, 9.0), 0.0), label="no throughput"),
    ]


# --------------------------------------------------------------------------- shards
def _shard_indices_calls(rng: np.random.Generator) -> list[Call]:
    def ranks() -> tuple[int, int]:
        world = int(rng.integers(2, 9))
        return int(rng.integers(0, world)), world

    rank, world = ranks()
    calls = [Call((world * int(rng.integers(1, 20)), rank, world), label="divisible")]
    rank, world = ranks()
    leftover = int(rng.integers(1, world))
    n = world * int(rng.integers(1, 20)) + leftover
    calls.append(Call((n, rank, world), label="leftover examples dropped"))
    world = int(rng.integers(2, 9))
    n = world * int(rng.integers(1, 20)) + int(rng.integers(1, world))
    calls.append(Call((n, world - 1, world), label="last rank"))
    world = int(rng.integers(3, 9))
    calls.append(
        Call(
            (int(rng.integers(1, world)), int(rng.integers(0, world)), world), label="few examples"
        )
    )
    calls.append(Call((int(rng.integers(1, 50)), 0, 1), label="a single rank"))
    return calls


EXERCISES = [
    Exercise(
        grade_id="nb09-images-per-second-tests",
        target="images_per_second",
        check=nb09.check_images_per_second,
        hidden=_images_per_second_calls,
        reference=nb09.images_per_second_reference,
        rtol=1e-12,
        atol=0.0,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb09-training-tflops-tests",
        target="training_tflops",
        check=nb09.check_training_tflops,
        hidden=_training_tflops_calls,
        reference=_training_tflops_reference,
        rtol=1e-12,
        atol=0.0,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb09-shard-indices-tests",
        target="shard_indices",
        check=nb09.check_shard_indices,
        hidden=_shard_indices_calls,
        reference=nb09.shard_reference,
        exact=True,
        forbid=FORBID,
    ),
]
