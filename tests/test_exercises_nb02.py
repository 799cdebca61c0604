"""Graded exercises of notebook 02: the instructor's solutions pass, wrong ones fail.

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
from coursekit.grading.exercises import nb02 as module
from coursekit.grading.plaindata import Function, encode
from coursekit.grading.spec import Call

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_gradient_descent.ipynb"
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
    _check_wrong(grade_id, fn, prop, passes_visible)


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
