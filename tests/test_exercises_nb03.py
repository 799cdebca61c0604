"""Graded exercises of notebook 03: wrong solutions fail.

The hidden calls are drawn from the secret and judged by the grader's own
reference; a wrong answer's verdict names a property, never an input value.
What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from exercise_helpers import EXERCISES, SECRETS, check_wrong

from coursekit.checks import nb03
from coursekit.grading.exercises import evaluate


# --------------------------------------------------------------------------- wrong solutions
def backward_221_outer_swapped(x, y, params):
    a2 = np.tanh(params["W2"] @ x + params["b2"])
    y_hat = 1 / (1 + np.exp(-(params["w3"] @ a2 + params["b3"])))
    delta3 = y_hat - y
    delta2 = delta3 * params["w3"] * (1 - a2**2)
    return {"W2": np.outer(x, delta2), "b2": delta2, "w3": delta3 * a2, "b3": float(delta3)}


def backward_221_b3_array(x, y, params):
    a2 = np.tanh(params["W2"] @ x + params["b2"])
    y_hat = 1 / (1 + np.exp(-(params["w3"] @ a2 + params["b3"])))
    delta3 = y_hat - y
    delta2 = delta3 * params["w3"] * (1 - a2**2)
    return {"W2": np.outer(delta2, x), "b2": delta2, "w3": delta3 * a2, "b3": np.array([delta3])}


def linear_tanh_backward_mean_db(dout, x, w, b):
    dz = dout * (1 - np.tanh(x @ w.T + b) ** 2)
    return dz @ w, dz.T @ x, dz.mean(axis=0)


def linear_tanh_backward_at_output(dout, x, w, b):
    dz = dout * (1 - np.tanh(np.tanh(x @ w.T + b)) ** 2)  # tanh' evaluated at the output
    return dz @ w, dz.T @ x, dz.sum(axis=0)


def numerical_gradient_one_sided(f, x, h=1e-5):
    grad, f0 = np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        grad[i] = (f(x) - f0) / h
        x[i] = old
    return grad


def numerical_gradient_not_restored(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        f_plus = f(x)
        x[i] -= 2 * h
        grad[i] = (f_plus - f(x)) / (2 * h)
    return grad


def numerical_gradient_restored_by_arithmetic(f, x, h=1e-5):
    # x[i] + h - 2h + h is not always x[i] in floating point: x comes back off by an ulp.
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        f_plus = f(x)
        x[i] -= 2 * h
        grad[i] = (f_plus - f(x)) / (2 * h)
        x[i] += h
    return grad


def topological_order_recursive(inputs, root):
    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for parent in inputs[node]:
                visit(parent)
            order.append(node)

    visit(root)
    return order


def topological_order_every_key(inputs, root):
    order, visited = [], set()
    for start in inputs:  # every node, not only those root depends on
        stack = [(start, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((parent, False) for parent in inputs[node])
    return order


def topological_order_preorder(inputs, root):
    order, visited, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if node not in visited:
            visited.add(node)
            order.append(node)
            stack.extend(inputs[node])
    return order


@pytest.mark.parametrize(
    "grade_id, fn, prop, passes_visible",
    [
        ("nb03-backward-221-tests", backward_221_outer_swapped, "wrong values at ['W2']", False),
        ("nb03-backward-221-tests", backward_221_b3_array, "wrong type at ['b3']", False),
        ("nb03-linear-tanh-backward-tests", linear_tanh_backward_mean_db, "wrong values", False),
        ("nb03-linear-tanh-backward-tests", linear_tanh_backward_at_output, "wrong values", False),
        (
            "nb03-numerical-gradient-tests",
            numerical_gradient_one_sided,
            "wrong values at [0]",
            False,
        ),
        (
            "nb03-numerical-gradient-tests",
            numerical_gradient_not_restored,
            "wrong values at [1]",
            False,
        ),
        (
            "nb03-numerical-gradient-tests",
            numerical_gradient_restored_by_arithmetic,
            "wrong values at [1]",
            False,  # the visible check compares x exactly too
        ),
        (
            "nb03-iterative-topological-order-tests",
            topological_order_recursive,
            "raised RecursionError",
            False,
        ),
        (
            "nb03-iterative-topological-order-tests",
            topological_order_every_key,
            "wrong length",
            False,
        ),
        (
            "nb03-iterative-topological-order-tests",
            topological_order_preorder,
            "wrong values",
            False,
        ),
    ],
)
def test_a_wrong_solution_fails(grade_id, fn, prop, passes_visible):
    check_wrong(grade_id, fn, prop, passes_visible)


def test_numerical_gradient_public_calls_see_x_after_the_call():
    # The visible check wraps the function to return (grad, x after the call): the public
    # verdicts must catch an x that is not restored, as the notebook's check does.
    exercise = EXERCISES["nb03-numerical-gradient-tests"]
    assert all(c.after for c in exercise.public_calls())
    public = [
        v for v in evaluate(exercise, numerical_gradient_not_restored, SECRETS[0]) if v.public
    ]
    assert public and all(v.problem for v in public)


def test_backward_221_covers_both_labels():
    calls = EXERCISES["nb03-backward-221-tests"].hidden_calls(SECRETS[0])
    assert {0.0, 1.0} <= {c.args[1] for c in calls}


def test_topological_order_accepts_any_valid_order():
    # Inputs pushed in the other order give another, equally valid, order: it passes.
    def other_valid(inputs, root):
        # Kahn's algorithm over the nodes root depends on: inputs first, breadth first
        needed, stack = set(), [root]
        while stack:
            node = stack.pop()
            if node not in needed:
                needed.add(node)
                stack.extend(inputs[node])
        waiting = {n: len(set(inputs[n])) for n in needed}
        users = {n: [m for m in needed if n in inputs[m]] for n in needed}
        ready = sorted(n for n, k in waiting.items() if k == 0)
        order = []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for user in users[node]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    ready.append(user)
        return order

    graph = {"f": ["q", "z"], "q": ["x", "y"], "x": [], "y": [], "z": []}
    assert other_valid(graph, "f") != nb03.topological_order_reference(graph, "f")
    exercise = EXERCISES["nb03-iterative-topological-order-tests"]
    for secret in SECRETS:
        assert not [v.problem for v in evaluate(exercise, other_valid, secret) if v.problem]
