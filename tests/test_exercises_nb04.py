"""Graded exercises of notebook 04: wrong solutions fail.

The hidden calls are drawn from the secret and judged by the grader's own
reference; a wrong answer's verdict names a property, never an input value.
What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from exercise_helpers import EXERCISES, SECRETS, check_wrong, hidden_failures

from coursekit.grading.exercises import evaluate


# --------------------------------------------------------------------------- wrong solutions
def collapse_linear_forgets_b1(W1, b1, W2, b2):
    return W2 @ W1, b2


def xor_weights_or():
    # Computes OR, not XOR: (1, 1) gives 1.
    return {"W1": np.eye(2), "b1": np.zeros(2), "w2": np.array([1.0, 1.0]), "b2": 0.0}


def xor_weights_approximate():
    return {
        "W1": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "b1": np.array([0.0, -1.0]),
        "w2": np.array([1.0, -2.0 + 1e-6]),
        "b2": 0.0,
    }


def xor_weights_missing_b2():
    return {"W1": np.ones((2, 2)), "b1": np.array([0.0, -1.0]), "w2": np.array([1.0, -2.0])}


def mlp_loss_and_grads_summed(X, y, params):
    # Sums the loss over the batch instead of averaging (no division by N).
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = np.maximum(Z1, 0.0)
    logits = A1 @ params["W2"].T + params["b2"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    dlogits = np.exp(log_p)
    dlogits[np.arange(n), y] -= 1.0
    dZ1 = (dlogits @ params["W2"]) * (Z1 > 0)
    grads = {"W1": dZ1.T @ X, "b1": dZ1.sum(0), "W2": dlogits.T @ A1, "b2": dlogits.sum(0)}
    return float(-log_p[np.arange(n), y].sum()), grads


def count_mlp_params_no_biases(sizes):
    return sum(n * m for n, m in zip(sizes[:-1], sizes[1:], strict=False))


def count_mlp_params_float(sizes):
    return float(sum(n * m + m for n, m in zip(sizes[:-1], sizes[1:], strict=False)))


@pytest.mark.parametrize(
    "grade_id, fn, prop, passes_visible",
    [
        ("nb04-collapse-linear-tests", collapse_linear_forgets_b1, "wrong values at [1]", False),
        ("nb04-xor-weights-tests", xor_weights_or, "wrong values", False),
        ("nb04-xor-weights-tests", xor_weights_approximate, "wrong values", False),
        ("nb04-xor-weights-tests", xor_weights_missing_b2, "wrong keys", False),
        ("nb04-mlp-loss-grads-tests", mlp_loss_and_grads_summed, "wrong value at [0]", False),
        ("nb04-count-params-tests", count_mlp_params_no_biases, "wrong value", False),
        ("nb04-count-params-tests", count_mlp_params_float, "wrong type", False),
    ],
)
def test_a_wrong_solution_fails(grade_id, fn, prop, passes_visible):
    check_wrong(grade_id, fn, prop, passes_visible)


def test_xor_weights_hidden_check_names_a_wrong_shape():
    def w2_as_row():
        p = xor_weights_approximate()
        p["w2"] = np.array([[1.0, -2.0]])
        return p

    _, hidden = hidden_failures(EXERCISES["nb04-xor-weights-tests"], w2_as_row, SECRETS[0])
    assert [v.problem for v in hidden] == ["wrong shape at ['w2']"]


def test_xor_weights_may_be_lists():
    def as_lists():
        return {"W1": [[1.0, 1.0], [1.0, 1.0]], "b1": [0.0, -1.0], "w2": [1.0, -2.0], "b2": 0}

    verdicts = evaluate(EXERCISES["nb04-xor-weights-tests"], as_lists, SECRETS[0])
    assert [v.problem for v in verdicts if v.problem] == []
