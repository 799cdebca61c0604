"""Graded exercises of notebook 02: wrong solutions fail.

The hidden calls are drawn from the secret and judged by the grader's own
reference; a wrong answer's verdict names a property, never an input value.
What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from exercise_helpers import EXERCISES, SECRETS, check_wrong


# --------------------------------------------------------------------------- wrong solutions
def gradient_descent_in_place(grad, theta0, lr, steps):
    # Steps theta0 itself: the trajectory is right, but the caller's theta0 is changed.
    theta = theta0
    path = [theta.copy()]
    for _ in range(steps):
        theta -= lr * grad(theta)
        path.append(theta.copy())
    return np.stack(path)


def gradient_descent_without_start(grad, theta0, lr, steps):
    path, theta = [], np.array(theta0, dtype=float)
    for _ in range(steps):
        theta = theta - lr * grad(theta)
        path.append(theta)
    return np.array(path).reshape(steps, len(theta0))


def momentum_step_dampened(theta, grad, buf, lr, momentum):
    buf = momentum * buf + (1 - momentum) * grad
    return theta - lr * buf, buf


def momentum_step_old_buffer(theta, grad, buf, lr, momentum):
    return theta - lr * buf, momentum * buf + grad


def adam_step_no_bias_correction(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def adam_step_eps_inside(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v


@pytest.mark.parametrize(
    "grade_id, fn, prop, passes_visible",
    [
        ("nb02-gradient-descent-tests", gradient_descent_in_place, "wrong values at [1]", True),
        ("nb02-gradient-descent-tests", gradient_descent_without_start, "wrong shape", False),
        ("nb02-momentum-tests", momentum_step_dampened, "wrong values", False),
        ("nb02-momentum-tests", momentum_step_old_buffer, "wrong values", False),
        ("nb02-adam-tests", adam_step_no_bias_correction, "wrong values at [0]", False),
        ("nb02-adam-tests", adam_step_eps_inside, "wrong values at [0]", False),
    ],
)
def test_a_wrong_solution_fails(grade_id, fn, prop, passes_visible):
    check_wrong(grade_id, fn, prop, passes_visible)


def test_gradient_descent_covers_zero_steps_and_divergence():
    calls = EXERCISES["nb02-gradient-descent-tests"].hidden_calls(SECRETS[0])
    assert any(c.args[3] == 0 for c in calls)
    assert any(c.args[2] * c.args[0].params[0].max() > 2 for c in calls)  # |1 - lr c| > 1
    assert all(c.after for c in calls)


def test_adam_hidden_calls_vary_the_hyper_parameters():
    calls = EXERCISES["nb02-adam-tests"].hidden_calls(SECRETS[0])
    assert any(not c.kwargs for c in calls)  # the defaults
    assert len({c.kwargs.get("beta1") for c in calls if c.kwargs}) > 1
    assert {1} < {c.args[4] for c in calls}  # t = 1 and later steps
