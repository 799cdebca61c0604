"""Learning-rate schedules (notebooks 02 and 05).

Each schedule is a plain function ``step -> learning rate`` in closed form, so
it can be plotted directly. :class:`LRScheduler` applies any such function to
an optimiser from :mod:`coursekit.optimizers` (or anything with an ``lr``
attribute). The values agree with ``torch.optim.lr_scheduler``'s ``StepLR``,
``CosineAnnealingLR`` and ``LinearLR`` (``SequentialLR`` for warm-up + cosine).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from coursekit._validate import check_nonneg_int, check_positive, check_positive_int

__all__ = ["step_lr", "cosine_lr", "linear_warmup", "warmup_cosine", "LRScheduler"]


def step_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Step decay: multiply by ``gamma`` every ``step_size`` steps (``StepLR``).

    ``lr(t) = base_lr * gamma ** floor(t / step_size)``

    Parameters
    ----------
    step : int >= 0
    base_lr : float >= 0
    step_size : int >= 1
    gamma : float > 0

    Returns
    -------
    float
    """
    step = check_nonneg_int(step, "step")
    base_lr = check_positive(base_lr, "base_lr", allow_zero=True)
    step_size = check_positive_int(step_size, "step_size")
    gamma = check_positive(gamma, "gamma")
    return base_lr * gamma ** (step // step_size)


def cosine_lr(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Cosine annealing from ``base_lr`` at step 0 to ``min_lr`` at ``total_steps``.

    ``lr(t) = min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2`` for
    t <= T, and ``min_lr`` after that. (torch's ``CosineAnnealingLR`` keeps
    following the cosine back up after T; a schedule that ends should stay at
    its floor.)

    Parameters
    ----------
    step : int >= 0
    base_lr : float >= 0
    total_steps : int >= 1
        T, the number of steps to reach ``min_lr``.
    min_lr : float >= 0

    Returns
    -------
    float
    """
    step = check_nonneg_int(step, "step")
    base_lr = check_positive(base_lr, "base_lr", allow_zero=True)
    total_steps = check_positive_int(total_steps, "total_steps")
    min_lr = check_positive(min_lr, "min_lr", allow_zero=True)
    t = min(step, total_steps)
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * t / total_steps)) / 2


def _check_start_factor(start_factor: Any) -> float:
    f = check_positive(start_factor, "start_factor")
    if f > 1:
        raise ValueError(f"start_factor must lie in (0, 1], got {f}")
    return f


def linear_warmup(
    step: int, base_lr: float, warmup_steps: int, start_factor: float = 1.0 / 3.0
) -> float:
    """Linear warm-up from ``start_factor * base_lr`` to ``base_lr`` (``LinearLR``).

    ``lr(t) = base_lr * (s + (1 - s) * min(t, W) / W)`` with s = ``start_factor``
    and W = ``warmup_steps``; constant at ``base_lr`` after W. The default
    s = 1/3 is torch's. Warm-up lets Adam's moment estimates and batch-norm
    statistics settle before the large steps.

    Parameters
    ----------
    step : int >= 0
    base_lr : float >= 0
    warmup_steps : int >= 1
    start_factor : float in (0, 1]

    Returns
    -------
    float
    """
    step = check_nonneg_int(step, "step")
    base_lr = check_positive(base_lr, "base_lr", allow_zero=True)
    warmup_steps = check_positive_int(warmup_steps, "warmup_steps")
    s = _check_start_factor(start_factor)
    return base_lr * (s + (1.0 - s) * min(step, warmup_steps) / warmup_steps)


def warmup_cosine(
    step: int,
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    start_factor: float = 1.0 / 3.0,
) -> float:
    """Linear warm-up for ``warmup_steps``, then cosine decay to ``min_lr`` at ``total_steps``.

    Equivalent to torch's ``SequentialLR([LinearLR(start_factor, total_iters=W),
    CosineAnnealingLR(T_max=total_steps - W, eta_min=min_lr)], milestones=[W])``.

    Parameters
    ----------
    step : int >= 0
    base_lr : float >= 0
    warmup_steps : int >= 0
        W; 0 means no warm-up.
    total_steps : int > warmup_steps
    min_lr : float >= 0
    start_factor : float in (0, 1]

    Returns
    -------
    float
    """
    step = check_nonneg_int(step, "step")
    warmup_steps = check_nonneg_int(warmup_steps, "warmup_steps")
    total_steps = check_positive_int(total_steps, "total_steps")
    if total_steps <= warmup_steps:
        raise ValueError(
            f"total_steps must be larger than warmup_steps={warmup_steps}, got {total_steps}"
        )
    # check every argument whichever phase `step` falls in: a bad min_lr must not
    # pass during warm-up and fail afterwards
    check_positive(min_lr, "min_lr", allow_zero=True)
    _check_start_factor(start_factor)
    if step < warmup_steps:
        return linear_warmup(step, base_lr, warmup_steps, start_factor)
    return cosine_lr(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


class LRScheduler:
    """Drive ``optimizer.lr`` with a schedule function, like torch's schedulers.

    On construction ``optimizer.lr = fn(0)``; each :meth:`step` (call it once
    per epoch or iteration, after ``optimizer.step()``) advances t and sets
    ``optimizer.lr = fn(t)``.

    Parameters
    ----------
    optimizer : object with a float attribute ``lr``
        E.g. a :class:`coursekit.optimizers.Optimizer`.
    fn : callable, int -> float
        E.g. ``functools.partial(cosine_lr, base_lr=0.1, total_steps=100)``
        or ``lambda t: cosine_lr(t, 0.1, 100)``.
    """

    def __init__(self, optimizer: Any, fn: Callable[[int], float]) -> None:
        if not hasattr(optimizer, "lr"):
            raise TypeError(
                f"optimizer must have an 'lr' attribute, got {type(optimizer).__name__}"
            )
        if not callable(fn):
            raise TypeError(f"fn must be a callable step -> lr, got {fn!r}")
        self.optimizer = optimizer
        self.fn = fn
        self.last_step = 0
        self._set(0)

    def _set(self, t: int) -> None:
        lr = self.fn(t)
        self.optimizer.lr = check_positive(lr, f"fn({t})", allow_zero=True)

    def step(self) -> None:
        """Advance one step and update ``optimizer.lr``."""
        self.last_step += 1
        self._set(self.last_step)

    def get_last_lr(self) -> float:
        """The learning rate set by the latest step."""
        return self.optimizer.lr
