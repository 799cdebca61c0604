"""Graded exercises of notebook 04: the instructor's solutions pass, wrong ones fail.

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
from coursekit.grading.exercises import nb04 as module
from coursekit.grading.plaindata import Function, encode
from coursekit.grading.spec import Call

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_mlp.ipynb"
EXERCISES = {ex.grade_id: ex for ex in module.EXERCISES}
GRADE_IDS = sorted(EXERCISES)
NO_INPUTS = {"nb04-xor-weights-tests"}  # xor_weights() takes no input: nothing to draw
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
    _check_wrong(grade_id, fn, prop, passes_visible)


def test_xor_weights_hidden_check_names_a_wrong_shape():
    def w2_as_row():
        p = xor_weights_approximate()
        p["w2"] = np.array([[1.0, -2.0]])
        return p

    failures = _hidden_failures(EXERCISES["nb04-xor-weights-tests"], w2_as_row, SECRETS[0])
    assert [p for _, p in failures] == ["wrong shape at ['w2']"]


def test_xor_weights_may_be_lists():
    def as_lists():
        return {"W1": [[1.0, 1.0], [1.0, 1.0]], "b1": [0.0, -1.0], "w2": [1.0, -2.0], "b2": 0}

    verdicts = evaluate(EXERCISES["nb04-xor-weights-tests"], as_lists, SECRETS[0])
    assert [v.problem for v in verdicts if v.problem] == []
