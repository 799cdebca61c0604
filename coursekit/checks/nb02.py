"""Visible checks for notebook 02 (gradient descent and its variants).

The expected values follow ``torch.optim``'s update rules (momentum buffer
``b <- mu b + g``, Adam with bias correction), the same rules as
:mod:`coursekit.optimizers`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit.checks.framework import Case, CheckResult, run_check
from coursekit.checks.inputs import grad_bowl, grad_parabola

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.optimizers",)

__all__ = [
    "grad_parabola",
    "grad_bowl",
    "check_gradient_descent",
    "check_momentum_step",
    "check_adam_step",
]


def _gd_reference(grad: Callable, theta0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    path = [np.array(theta0, dtype=np.float64)]
    for _ in range(steps):
        path.append(path[-1] - lr * grad(path[-1]))
    return np.stack(path)


def _gd_case(grad: Callable, theta0: list, lr: float, steps: int, name: str, hint: str) -> Case:
    theta0 = np.array(theta0, dtype=np.float64)
    expected = _gd_reference(grad, theta0, lr, steps)
    return Case(args=(grad, theta0, lr, steps), expected=expected, name=name, hint=hint)


def check_gradient_descent(fn: Callable) -> CheckResult:
    """Check ``gradient_descent(grad, theta0, lr, steps)`` -> trajectory of shape (steps + 1, D).

    Parameters
    ----------
    fn : callable (grad, ndarray of shape (D,), float, int) -> ndarray of shape (steps + 1, D)

    Returns
    -------
    CheckResult
    """
    cases = [
        _gd_case(
            grad_parabola,
            [2.0],
            0.3,
            3,
            "1-D parabola",
            "row 0 is theta0; each next row is the previous one minus lr * grad(previous)",
        ),
        _gd_case(
            grad_bowl,
            [-9.0, 3.0],
            0.05,
            4,
            "2-D bowl",
            "theta has D = 2 entries, so the result has shape (steps + 1, 2)",
        ),
        _gd_case(
            grad_parabola,
            [1.0, -1.0],
            0.1,
            0,
            "zero steps",
            "with steps = 0 the trajectory is just the start: shape (1, D)",
        ),
        _gd_case(
            grad_parabola,
            [1.0],
            1.5,
            3,
            "too large a learning rate",
            "no clipping or stopping: with lr = 1.5 each step multiplies theta by -2",
        ),
    ]
    return run_check("gradient_descent", fn, cases, rtol=1e-12, atol=1e-12, forbid=FORBID)


def _momentum_case(theta, grad, buf, lr, momentum, name, hint) -> Case:
    theta, grad, buf = (np.array(a, dtype=np.float64) for a in (theta, grad, buf))
    new_buf = momentum * buf + grad
    expected = (theta - lr * new_buf, new_buf)
    return Case(args=(theta, grad, buf, lr, momentum), expected=expected, name=name, hint=hint)


def check_momentum_step(fn: Callable) -> CheckResult:
    """Check ``momentum_step(theta, grad, buf, lr, momentum)`` -> ``(new_theta, new_buf)``.

    Parameters
    ----------
    fn : callable (ndarray (D,), ndarray (D,), ndarray (D,), float, float)
        -> tuple (ndarray (D,), ndarray (D,))

    Returns
    -------
    CheckResult
    """
    cases = [
        _momentum_case(
            [1.0, 2.0],
            [0.5, -1.0],
            [0.0, 0.0],
            0.1,
            0.9,
            "first step (empty buffer)",
            "new_buf = momentum * buf + grad; new_theta = theta - lr * new_buf",
        ),
        _momentum_case(
            [0.95, 2.1],
            [0.5, -1.0],
            [0.5, -1.0],
            0.1,
            0.9,
            "second step",
            "the buffer keeps 0.9 of the previous step's direction and adds the new gradient "
            "(no (1 - momentum) factor, as in torch.optim.SGD)",
        ),
        _momentum_case(
            [3.0],
            [2.0],
            [7.0],
            0.01,
            0.0,
            "momentum = 0 is plain SGD",
            "with momentum 0 the buffer is just the gradient",
        ),
        _momentum_case(
            [0.0, 0.0, 1.0],
            [1.0, -2.0, 0.0],
            [-1.0, 1.0, 4.0],
            0.5,
            0.5,
            "buffer and gradient disagree",
            "update the buffer first, then step theta with the new buffer",
        ),
    ]
    return run_check("momentum_step", fn, cases, rtol=1e-12, atol=1e-12, forbid=FORBID)


def _adam_reference(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_case(theta, grad, m, v, t, name, hint, **hyper) -> Case:
    theta, grad, m, v = (np.array(a, dtype=np.float64) for a in (theta, grad, m, v))
    h = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8} | hyper
    expected = _adam_reference(theta, grad, m, v, t, **h)
    return Case(args=(theta, grad, m, v, t), kwargs=hyper, expected=expected, name=name, hint=hint)


def check_adam_step(fn: Callable) -> CheckResult:
    """Check ``adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)`` -> ``(theta, m, v)``.

    Parameters
    ----------
    fn : callable (ndarray (D,), ndarray (D,), ndarray (D,), ndarray (D,), int, **hyper)
        -> tuple of three ndarrays of shape (D,)

    Returns
    -------
    CheckResult
    """
    cases = [
        _adam_case(
            [1.0],
            [4.0],
            [0.0],
            [0.0],
            1,
            "worked example, t = 1",
            "m = 0.9 m + 0.1 g = 0.4 and v = 0.999 v + 0.001 g^2 = 0.016; the bias "
            "corrections divide them by 1 - 0.9^1 and 1 - 0.999^1, so the step is about lr",
        ),
        _adam_case(
            [0.5, -0.2, 3.0],
            [0.1, -2.0, 0.0],
            [0.05, -0.5, 0.01],
            [0.001, 0.3, 1e-4],
            3,
            "t = 3 with history",
            "bias-correct with t, the step number (starting at 1): 1 - beta1**t and 1 - beta2**t",
        ),
        _adam_case(
            [2.0, -1.0],
            [1e-3, 5e3],
            [0.0, 0.0],
            [0.0, 0.0],
            1,
            "tiny and huge gradients",
            "Adam's first step has size about lr whatever the gradient's size",
            lr=0.01,
        ),
        _adam_case(
            [1.0, 1.0],
            [0.3, -0.6],
            [0.2, -0.1],
            [0.05, 0.02],
            10,
            "other hyper-parameters",
            "use the lr, beta1, beta2 and eps arguments, not hard-coded defaults",
            lr=0.1,
            beta1=0.5,
            beta2=0.9,
            eps=1e-3,
        ),
    ]
    return run_check("adam_step", fn, cases, rtol=1e-10, atol=1e-13, forbid=FORBID)
