"""Visible checks for notebook 05 (training deep networks).

Batch norm follows :func:`coursekit.normalization.batchnorm_forward` (mean and
variance over the mini-batch with 1/K, normaliser sqrt(var + eps)); early
stopping follows the rule of :func:`coursekit.training.fit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from coursekit.checks.framework import Case, CheckResult, run_check
from coursekit.normalization import batchnorm_forward

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.normalization",)

__all__ = [
    "early_stopping_reference",
    "check_batchnorm_forward",
    "check_inverted_dropout",
    "check_early_stopping",
]


def early_stopping_reference(val_losses: Sequence[float], patience: int) -> tuple[int, int]:
    """Where training with early stopping ends, given the validation loss of each epoch.

    An epoch improves when its loss is strictly below the best so far; training
    stops after ``patience`` epochs in a row without improvement.

    Parameters
    ----------
    val_losses : sequence of float, length E
    patience : int >= 1

    Returns
    -------
    best_epoch : int
        0-based index of the epoch with the lowest loss (the weights we keep).
    epochs_run : int
        How many epochs were trained before stopping (E if it never stops).
    """
    best, best_epoch, bad = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch + 1
    return best_epoch, len(val_losses)


def _bn_case(x, gamma, beta, eps: float, name: str, hint: str) -> Case:
    x, gamma, beta = (np.asarray(a, dtype=np.float64) for a in (x, gamma, beta))
    expected, _ = batchnorm_forward(x, gamma, beta, None, None, training=True, eps=eps)
    return Case(args=(x, gamma, beta), kwargs={"eps": eps}, expected=expected, name=name, hint=hint)


def check_batchnorm_forward(fn: Callable) -> CheckResult:
    """Check ``batchnorm_forward(x, gamma, beta, eps=1e-5)`` in training mode.

    Parameters
    ----------
    fn : callable (ndarray (K, D), ndarray (D,), ndarray (D,), eps=float) -> ndarray (K, D)

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(5)
    cases = [
        _bn_case(
            [[1.0], [3.0]],
            [1.0],
            [0.0],
            1e-12,
            "two values, one feature",
            "statistics go down each column (axis 0, over the K examples): mean 2, variance ((1-2)^2 + (3-2)^2)/2 = 1 (divide by K = 2, not K - 1), "
            "so the outputs are about -1 and +1",
        ),
        _bn_case(
            [[1.0, 10.0], [2.0, 20.0], [6.0, 60.0]],
            [1.0, 1.0],
            [0.0, 0.0],
            1e-12,
            "statistics per feature",
            "take the mean and variance of each column separately (axis=0), over the K "
            "examples of the mini-batch",
        ),
        _bn_case(
            [[0.0], [0.2], [0.4], [0.6]],
            [1.0],
            [0.0],
            0.1,
            "eps inside the square root",
            "divide by sqrt(var + eps), not by sqrt(var) + eps or std + eps, and use the "
            "eps argument",
        ),
        _bn_case(
            rng.normal(3.0, 2.0, size=(8, 3)),
            [2.0, 0.5, -1.0],
            [0.1, -3.0, 4.0],
            1e-12,
            "learned gamma and beta",
            "after normalising, scale each feature by gamma and shift it by beta: "
            "gamma * x_hat + beta",
        ),
    ]
    return run_check("batchnorm_forward", fn, cases, rtol=1e-9, atol=1e-12, forbid=FORBID)


def _dropout_case(x, p: float, u, training: bool, name: str, hint: str) -> Case:
    x, u = np.asarray(x, dtype=np.float64), np.asarray(u, dtype=np.float64)
    expected = x * (u >= p) / (1.0 - p) if training else x.copy()
    return Case(
        args=(x, p, u), kwargs={"training": training}, expected=expected, name=name, hint=hint
    )


def check_inverted_dropout(fn: Callable) -> CheckResult:
    """Check ``inverted_dropout(x, p, u, training=True)``.

    ``u`` holds one uniform random number in [0, 1) per unit; a unit is kept
    when ``u >= p`` (probability 1 - p).

    Parameters
    ----------
    fn : callable (ndarray S, float, ndarray S, training=bool) -> ndarray S

    Returns
    -------
    CheckResult
    """
    u = np.array([[0.05, 0.6, 0.3, 0.9], [0.5, 0.2, 0.75, 0.45]])
    x = np.array([[1.0, -2.0, 3.0, 4.0], [0.5, 6.0, -1.5, 2.0]])
    cases = [
        _dropout_case(
            x,
            0.5,
            u,
            True,
            "training, p = 0.5",
            "keep a unit where u >= p and multiply the kept ones by 1 / (1 - p) = 2",
        ),
        _dropout_case(
            x,
            0.25,
            u,
            True,
            "training, p = 0.25",
            "the survivors are scaled by 1 / (1 - p) = 4/3, so the expected output equals x",
        ),
        _dropout_case(
            x,
            0.5,
            u,
            False,
            "evaluation mode",
            "at test time inverted dropout is the identity: no mask and no scaling",
        ),
        _dropout_case(
            x[0],
            0.0,
            u[0],
            True,
            "p = 0 keeps everything",
            "with p = 0 every u >= 0, so the output is x itself",
        ),
    ]
    return run_check("inverted_dropout", fn, cases, rtol=1e-12, atol=1e-12, forbid=FORBID)


def check_early_stopping(fn: Callable) -> CheckResult:
    """Check ``early_stopping(val_losses, patience)`` -> ``(best_epoch, epochs_run)``.

    Parameters
    ----------
    fn : callable (list of float, int) -> tuple (int, int)

    Returns
    -------
    CheckResult
    """

    def case(losses: list[float], patience: int, name: str, hint: str) -> Case:
        expected = early_stopping_reference(losses, patience)
        return Case(args=(losses, patience), expected=expected, name=name, hint=hint)

    cases = [
        case(
            [1.0, 0.8, 0.7, 0.75, 0.72, 0.9, 0.6],
            3,
            "stops after 3 bad epochs",
            "epochs 3, 4, 5 (0-based) do not beat 0.7, so training stops after epoch 5: "
            "6 epochs run, best epoch 2; the later 0.6 is never seen",
        ),
        case(
            [0.9, 0.8, 0.7, 0.6],
            2,
            "never stops",
            "if the loss keeps improving, all epochs run: (3, 4)",
        ),
        case(
            [0.5, 0.4, 0.4, 0.4, 0.3],
            2,
            "a tie is not an improvement",
            "count an epoch as better only if its loss is strictly lower than the best so far: "
            "the repeated 0.4s are bad epochs",
        ),
        case(
            [0.3, 0.4],
            1,
            "patience 1",
            "with patience 1 the first epoch that does not improve ends training",
        ),
        case(
            [2.0, 1.0, 1.5, 0.9, 1.2, 1.3, 1.4],
            3,
            "the counter resets",
            "reset the count of bad epochs to 0 whenever the loss improves",
        ),
    ]
    return run_check("early_stopping", fn, cases, compare="equal", forbid=FORBID)
