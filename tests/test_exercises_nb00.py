"""Graded exercises of notebook 00: the instructor's solutions pass, wrong ones fail.

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
from coursekit.grading.exercises import nb00 as module
from coursekit.grading.plaindata import Function, encode
from coursekit.grading.spec import Call

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "00_start_here.ipynb"
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
def to_nchw_float64(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).double()


def to_nchw_reshape(images):
    n, h, w, c = images.shape
    return torch.from_numpy(images).reshape(n, c, h, w).float()


def to_nchw_through_float16(images):
    # Saves memory on the way; exact for the visible cases (small integer pixel values).
    return torch.from_numpy(images).half().permute(0, 3, 1, 2).float()


def memory_mib_in_mb(shape, dtype):
    return float(np.prod(shape)) * dtype.itemsize / 1e6


def memory_mib_bytes_table(shape, dtype):
    # Knows the visible dtypes and assumes 4 bytes for every other one.
    size = {torch.float64: 8, torch.float16: 2, torch.uint8: 1}.get(dtype, 4)
    return float(np.prod(shape)) * size / 2**20


def standardize_sample_std(x):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / x.std(axis=(0, 2, 3), ddof=1, keepdims=True)


def standardize_per_image(x):
    mean = x.mean(axis=(2, 3), keepdims=True)
    return (x - mean) / x.std(axis=(2, 3), keepdims=True)


@pytest.mark.parametrize(
    "grade_id, fn, prop, passes_visible",
    [
        ("nb00-to-nchw-tests", to_nchw_float64, "wrong dtype", False),
        ("nb00-to-nchw-tests", to_nchw_reshape, "wrong values", False),
        ("nb00-to-nchw-tests", to_nchw_through_float16, "wrong values", True),
        ("nb00-memory-tests", memory_mib_in_mb, "wrong value", False),
        ("nb00-memory-tests", memory_mib_bytes_table, "wrong value", True),
        ("nb00-standardize-tests", standardize_sample_std, "wrong values", False),
        ("nb00-standardize-tests", standardize_per_image, "wrong values", False),
    ],
)
def test_a_wrong_solution_fails(grade_id, fn, prop, passes_visible):
    _check_wrong(grade_id, fn, prop, passes_visible)


def test_to_nchw_must_return_a_tensor():
    def as_array(images):
        return images.transpose(0, 3, 1, 2).astype(np.float32)

    failures = _hidden_failures(EXERCISES["nb00-to-nchw-tests"], as_array, SECRETS[0])
    assert failures and all(p == "wrong type" for _, p in failures)


def test_memory_mib_covers_the_dtypes_of_the_old_hidden_tests():
    calls = EXERCISES["nb00-memory-tests"].hidden_calls(SECRETS[0])
    assert {torch.int64, torch.bfloat16, torch.float32} <= {c.args[1] for c in calls}
