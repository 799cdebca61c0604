"""Graded exercises of notebook 03: the instructor's solutions pass, wrong ones fail.

The hidden calls are drawn from the secret and judged by the grader's own
reference; a wrong answer's verdict names a property, never an input value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from coursekit.grading.exercises import evaluate, solution_namespace
from coursekit.grading.exercises import nb03 as module
from coursekit.grading.plaindata import Function, encode
from coursekit.grading.spec import Call

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_backprop.ipynb"
EXERCISES = {ex.grade_id: ex for ex in module.EXERCISES}
GRADE_IDS = sorted(EXERCISES)
NO_INPUTS: set[str] = set()  # exercises whose object takes no input (nothing to draw)
# --------------------------------------------------------------------------- helpers
SECRETS = (b"first secret", b"second secret", b"third secret")
_PROBLEM = re.compile(
    r"(wrong (value|values|type|dtype|shape|length|keys)( at (\[[^\]]+\])+)?"
    r"|raised [A-Za-z_]+|the answer has the wrong structure)"
)


@pytest.fixture(scope="module")
def solutions() -> dict:
    return solution_namespace(nbformat.read(NOTEBOOK, as_version=4))


def _fingerprint(calls: list[Call]) -> str:
    """Everything a call sends (inputs, driver, label) as text, to compare draws."""
    return json.dumps(
        [[encode(c.args), encode(dict(c.kwargs)), c.driver, c.after, c.label] for c in calls]
    )


def _scalars(x, out: list) -> list:
    """The numbers inside an input (arrays flattened, function parameters included)."""
    if isinstance(x, Function):
        _scalars(x.params, out)
    elif isinstance(x, np.ndarray):
        out.extend(x.ravel().tolist())
    elif isinstance(x, torch.Tensor):
        out.extend(x.detach().ravel().tolist())
    elif isinstance(x, (tuple, list)):
        for v in x:
            _scalars(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _scalars(v, out)
    elif isinstance(x, (int, float, np.number)) and not isinstance(x, bool):
        out.append(x)
    return out


def _assert_reveals_nothing(problem: str, call: Call) -> None:
    assert _PROBLEM.fullmatch(problem), problem
    for v in _scalars((call.args, dict(call.kwargs)), []):
        if float(v).is_integer() and abs(v) <= 9:  # one digit, as an index in "at [1]"
            continue
        if isinstance(v, float) or isinstance(v, np.floating):
            for text in (repr(float(v)), f"{float(v):.3g}", f"{float(v):.6f}"):
                assert text not in problem, (problem, v)
        else:
            assert str(int(v)) not in problem, (problem, v)


def _hidden_failures(exercise, fn, secret: bytes) -> list[tuple[Call, str]]:
    calls = exercise.hidden_calls(secret)
    verdicts = [v for v in evaluate(exercise, fn, secret) if not v.public]
    assert len(verdicts) == len(calls)
    return [(c, v.problem) for c, v in zip(calls, verdicts, strict=True) if v.problem]


def _check_wrong(grade_id: str, fn, prop: str, passes_visible: bool) -> None:
    exercise = EXERCISES[grade_id]
    for secret in SECRETS:
        verdicts = evaluate(exercise, fn, secret)
        public = [v for v in verdicts if v.public]
        if passes_visible:
            assert all(not v.problem for v in public), [v.problem for v in public]
        failures = _hidden_failures(exercise, fn, secret)
        assert failures, f"{grade_id}: a wrong solution passed the hidden calls"
        for call, problem in failures:
            _assert_reveals_nothing(problem, call)
        assert any(p.startswith(prop) for _, p in failures), [p for _, p in failures]


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("grade_id", GRADE_IDS)
@pytest.mark.parametrize("secret", SECRETS)
def test_the_instructor_solution_passes(solutions, grade_id, secret):
    exercise = EXERCISES[grade_id]
    verdicts = evaluate(exercise, solutions[exercise.target], secret)
    assert sum(v.public for v in verdicts) == len(exercise.visible().cases)
    assert any(not v.public for v in verdicts)
    assert [(v.label, v.problem) for v in verdicts if v.problem] == []
    assert all(v.label for v in verdicts)


@pytest.mark.parametrize("grade_id", GRADE_IDS)
def test_hidden_calls_are_drawn_from_the_secret(grade_id):
    exercise = EXERCISES[grade_id]
    first = _fingerprint(exercise.hidden_calls(SECRETS[0]))
    assert first == _fingerprint(exercise.hidden_calls(SECRETS[0]))
    if grade_id in NO_INPUTS:
        assert first == _fingerprint(exercise.hidden_calls(SECRETS[1]))
    else:
        assert first != _fingerprint(exercise.hidden_calls(SECRETS[1]))
        assert first != _fingerprint(exercise.hidden_calls(SECRETS[2]))


@pytest.mark.parametrize("grade_id", GRADE_IDS)
def test_labels_reveal_no_values(grade_id):
    for call in EXERCISES[grade_id].hidden_calls(SECRETS[0]):
        # Fixed dtype names ("float32 images", "64-bit integers") are not drawn values.
        rest = re.sub(r"\b(b?float|u?int|complex)\d+\b|\b\d+-bit\b", "", call.label)
        assert call.label and not re.search(r"\d", rest), call.label


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
            True,
        ),
    ],
)
def test_a_wrong_solution_fails(grade_id, fn, prop, passes_visible):
    _check_wrong(grade_id, fn, prop, passes_visible)


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
