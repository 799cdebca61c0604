"""Timing code honestly (notebooks 03, 06 and 09).

Two rules make a measurement worth reading: run the code once before timing it
(first calls pay for memory allocation, caches and lazy imports), and on a GPU
wait for the device to finish, because CUDA calls return before the work is
done. The best of several repeats is the run least disturbed by other programs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from coursekit._validate import check_nonneg_int, check_positive_int

__all__ = ["best_time", "synchronize"]


def synchronize(device: Any = None) -> None:
    """Wait until all work queued on ``device`` is done (no-op for None and the CPU)."""
    if device is None:
        return
    import torch

    from coursekit.device import _as_device

    device = _as_device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def best_time(
    fn: Callable[[], Any], repeats: int = 3, warmup: int = 0, device: Any = None
) -> float:
    """Return the shortest wall-clock time of ``fn()`` over ``repeats`` calls, in seconds.

    Parameters
    ----------
    fn : callable taking no arguments
    repeats : int
        Timed calls (>= 1).
    warmup : int
        Untimed calls first (>= 0).
    device : str or torch.device, optional
        Synchronise this device before and after each call, so GPU work counts.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    repeats = check_positive_int(repeats, "repeats")
    if device is not None:  # an unknown device fails here, before fn runs
        from coursekit.device import _as_device

        _as_device(device)
    for _ in range(check_nonneg_int(warmup, "warmup")):
        fn()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best
