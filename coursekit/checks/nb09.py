"""Visible checks for notebook 09 (training fast on a GPU).

Throughput and FLOP/s follow ``coursekit.fast`` (warm-up excluded; a training
step costs about three forward passes, two FLOPs per multiply-accumulate); the
data shards follow ``torch.utils.data.DistributedSampler`` without shuffling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from coursekit.checks.framework import Case, CheckResult, run_check

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.fast",)

__all__ = [
    "images_per_second_reference",
    "shard_reference",
    "check_images_per_second",
    "check_training_tflops",
    "check_shard_indices",
]


# --------------------------------------------------------------------------- exercise 1
def images_per_second_reference(
    step_seconds: Sequence[float], batch_size: int, warmup: int
) -> float:
    """Images per second over the steps after the first ``warmup`` ones."""
    timed = np.asarray(step_seconds, dtype=np.float64)[warmup:]
    return float(batch_size * len(timed) / timed.sum())


def _ips_case(step_seconds: list[float], batch_size: int, warmup: int, name: str, hint: str):
    times = np.array(step_seconds, dtype=np.float64)
    return Case(
        args=(times, batch_size, warmup),
        expected=images_per_second_reference(times, batch_size, warmup),
        name=name,
        hint=hint,
    )


def check_images_per_second(fn: Callable) -> CheckResult:
    """Check ``images_per_second(step_seconds, batch_size, warmup)`` -> float.

    Parameters
    ----------
    fn : callable (ndarray of shape (S,), int, int) -> float
        Throughput of the steps after the first ``warmup`` (whose times include
        one-off costs such as cuDNN autotuning or compilation).

    Returns
    -------
    CheckResult
    """
    cases = [
        _ips_case(
            [2.0, 0.5, 0.1, 0.1, 0.1, 0.1],
            256,
            2,
            "two slow warm-up steps",
            "drop the first `warmup` step times, then divide the images processed in "
            "the remaining steps (batch_size per step) by the time they took",
        ),
        _ips_case(
            [0.025, 0.025, 0.025, 0.025],
            512,
            0,
            "no warm-up",
            "with warmup = 0 every step counts",
        ),
        _ips_case(
            [1.0, 0.25, 0.2, 0.3, 0.25, 0.5],
            64,
            1,
            "uneven steps",
            "use the total time of the timed steps, not the mean of per-step rates",
        ),
    ]
    return run_check("images_per_second", fn, cases, rtol=1e-12, atol=0.0, forbid=FORBID)


# --------------------------------------------------------------------------- exercise 2
def check_training_tflops(fn: Callable) -> CheckResult:
    """Check ``training_tflops(macs_per_image, images_per_s)`` -> float (TFLOP/s).

    Parameters
    ----------
    fn : callable (float, float) -> float
        ``2 * 3 * macs_per_image * images_per_s / 1e12``.

    Returns
    -------
    CheckResult
    """
    from coursekit.fast import achieved_tflops

    cases = [
        Case(
            args=(40.55e6, 20_000.0),
            expected=achieved_tflops(40.55e6, 20_000.0),
            name="ResNet-20 at 20,000 images/s",
            hint="one multiply-accumulate is 2 FLOPs, and a training step (forward + "
            "backward) costs about 3 forward passes",
        ),
        Case(
            args=(0.56e9, 5_000.0),
            expected=achieved_tflops(0.56e9, 5_000.0),
            name="ResNet-18 at 5,000 images/s",
            hint="1 TFLOP/s is 1e12 FLOP/s",
        ),
        Case(
            args=(652_000.0, 1_500.0),
            expected=achieved_tflops(652_000.0, 1_500.0),
            name="LeNet on a CPU",
            hint="2 * 3 * macs_per_image * images_per_s / 1e12",
        ),
    ]
    return run_check("training_tflops", fn, cases, rtol=1e-12, atol=0.0, forbid=FORBID)


# --------------------------------------------------------------------------- exercise 3
def shard_reference(n: int, rank: int, world_size: int) -> list[int]:
    """Indices of rank ``rank`` under ``DistributedSampler(shuffle=False, drop_last=True)``."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(
        range(n), num_replicas=world_size, rank=rank, shuffle=False, drop_last=True
    )
    return [int(i) for i in sampler]


def check_shard_indices(fn: Callable) -> CheckResult:
    """Check ``shard_indices(n, rank, world_size)`` -> list of int.

    Parameters
    ----------
    fn : callable (int, int, int) -> list of int
        The examples rank ``rank`` trains on (no shuffling, the leftover
        ``n % world_size`` examples dropped so every rank gets as many).

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(
            args=(10, 0, 2),
            expected=shard_reference(10, 0, 2),
            name="10 examples, rank 0 of 2",
            hint="the ranks deal the examples like cards: rank r takes r, r + W, r + 2W, ...",
        ),
        Case(
            args=(10, 1, 2),
            expected=shard_reference(10, 1, 2),
            name="10 examples, rank 1 of 2",
            hint="rank 1 starts at index 1",
        ),
        Case(
            args=(11, 2, 4),
            expected=shard_reference(11, 2, 4),
            name="11 examples, rank 2 of 4",
            hint="only the first W * floor(n / W) = 8 examples are used, so every rank "
            "takes the same number of steps",
        ),
        Case(
            args=(3, 3, 4),
            expected=shard_reference(3, 3, 4),
            name="fewer examples than ranks",
            hint="floor(3 / 4) = 0 examples per rank: return an empty list",
        ),
    ]
    return run_check("shard_indices", fn, cases, compare="equal", forbid=FORBID)
