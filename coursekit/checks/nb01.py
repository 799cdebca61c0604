"""Visible checks for notebook 01 (learning and loss functions).

Each ``check_*`` runs the student's function on a few inputs, prints which
case failed (input, expected vs got, hint) and raises ``AssertionError`` on a
failure; an exercise that still raises ``NotImplementedError`` is reported as
"not attempted". The expected values come from :mod:`coursekit.losses`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit import losses
from coursekit.checks.framework import Case, CheckResult, run_check

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.losses",)

__all__ = ["check_softmax_rows", "check_bce_with_logits", "check_cross_entropy_and_grad"]


def _softmax_case(z: list, name: str, hint: str) -> Case:
    z = np.array(z, dtype=np.float64)
    return Case(args=(z,), expected=losses.softmax(z, axis=1), name=name, hint=hint)


def check_softmax_rows(fn: Callable) -> CheckResult:
    """Check ``softmax_rows(z)``: row-wise softmax of z of shape (N, K), stable for large logits.

    Parameters
    ----------
    fn : callable (ndarray of shape (N, K)) -> ndarray of shape (N, K)

    Returns
    -------
    CheckResult
    """
    cases = [
        _softmax_case(
            [[0.0, 0.0]],
            "two equal logits",
            "equal logits get equal probabilities: exp each entry, divide by the row's sum",
        ),
        _softmax_case(
            [[2.0, 1.0, 0.1], [0.0, -1.0, 3.0]],
            "small logits, two rows",
            "normalise each row separately: sum with axis=1 and keepdims=True",
        ),
        _softmax_case(
            [[1000.0, 1001.0, 1002.0]],
            "large logits",
            "exp(1000) overflows to inf; subtract the row's maximum before exponentiating",
        ),
        _softmax_case(
            [[-1000.0, -1001.0], [0.0, 1.0]],
            "rows on very different scales",
            "subtract each row's own maximum (max over axis=1, keepdims=True), "
            "not the maximum of the whole array",
        ),
        _softmax_case(
            [[3.0], [-7.0]],
            "a single class",
            "with K = 1 every row is [1.0]",
        ),
    ]
    return run_check("softmax_rows", fn, cases, rtol=1e-9, atol=1e-12, forbid=FORBID)


def _bce_case(z: list, y: list, name: str, hint: str) -> Case:
    z_arr, y_arr = np.array(z, dtype=np.float64), np.array(y, dtype=np.float64)
    expected = losses.binary_cross_entropy_with_logits(z_arr, y_arr)
    return Case(args=(z_arr, y_arr), expected=expected, name=name, hint=hint)


def check_bce_with_logits(fn: Callable) -> CheckResult:
    """Check ``bce_with_logits(z, y)``: mean binary cross-entropy from logits, as a float.

    Parameters
    ----------
    fn : callable (ndarray of shape (N,), ndarray of shape (N,)) -> float

    Returns
    -------
    CheckResult
    """
    cases = [
        _bce_case(
            [0.0],
            [1.0],
            "z = 0",
            "sigmoid(0) = 0.5, so the loss is log 2 = 0.6931",
        ),
        _bce_case(
            [2.0, -1.0, 0.0],
            [1.0, 0.0, 1.0],
            "worked example",
            "max(z, 0) - z * y + log1p(exp(-|z|)), averaged with np.mean",
        ),
        _bce_case(
            [1000.0, -1000.0],
            [1.0, 1.0],
            "large logits",
            "never exponentiate a large positive number: exp(-|z|) is always <= 1",
        ),
        _bce_case(
            [-3.0, 0.5, 4.0, -0.25],
            [0.0, 0.0, 1.0, 1.0],
            "mixed labels",
            "the - z * y term uses the label; check the sign of each term",
        ),
    ]
    return run_check("bce_with_logits", fn, cases, rtol=1e-9, atol=1e-12, forbid=FORBID)


def _ce_case(logits: np.ndarray, y: list, name: str, hint: str) -> Case:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.array(y, dtype=np.int64)
    expected = (losses.cross_entropy(logits, labels), losses.cross_entropy_grad(logits, labels))
    return Case(args=(logits, labels), expected=expected, name=name, hint=hint)


def check_cross_entropy_and_grad(fn: Callable) -> CheckResult:
    """Check ``cross_entropy_and_grad(logits, y)`` -> ``(loss, dlogits)``.

    Parameters
    ----------
    fn : callable (ndarray of shape (N, K), int ndarray of shape (N,))
        -> tuple (float, ndarray of shape (N, K))

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(0)
    cases = [
        _ce_case(
            np.zeros((2, 3)),
            [0, 2],
            "uniform logits",
            "every class gets 1/3, so the loss is log 3 and the gradient is (1/3 - one_hot) / N",
        ),
        _ce_case(
            [[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]],
            [0, 2],
            "worked example",
            "return a tuple (loss, dlogits); divide the gradient by N, the number of rows",
        ),
        _ce_case(
            rng.normal(size=(5, 4)),
            [3, 0, 1, 1, 2],
            "random logits",
            "pick each row's log-probability of its own label: log_p[np.arange(N), y]",
        ),
        _ce_case(
            [[1000.0, 0.0, -1000.0], [0.0, 800.0, 0.0]],
            [2, 1],
            "large logits",
            "compute log-softmax as shifted - log(sum(exp(shifted))) with shifted = z - row max",
        ),
    ]
    return run_check("cross_entropy_and_grad", fn, cases, rtol=1e-8, atol=1e-12, forbid=FORBID)
