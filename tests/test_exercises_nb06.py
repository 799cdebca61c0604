"""The graded exercises of notebook 06: hidden calls, references and verdicts."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.checks.framework import collect_cases
from coursekit.grading.exercises import all_exercises, evaluate, nb06, solution_namespace
from coursekit.grading.plaindata import encode

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_conv_arithmetic.ipynb"
SECRETS = (b"first secret", b"second secret", b"third secret")
EXERCISES = {ex.grade_id: ex for ex in nb06.EXERCISES}
# what a hidden verdict may say: a property, never a value
PROBLEM = re.compile(
    r"(wrong (type|dtype|shape|values?|length|keys)( at (\[\d+\]|\['\w+'\])+)?"
    r"|raised \w+|raised an exception|the answer has the wrong structure)"
)


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace(nbformat.read(NOTEBOOK, as_version=4))


def _encoded(calls) -> str:
    return json.dumps([encode((c.args, dict(c.kwargs), c.driver, c.label)) for c in calls])


def _numbers(x) -> list:
    """Every number in a call's inputs."""
    if isinstance(x, np.ndarray):
        return x.ravel().tolist()
    if isinstance(x, dict):
        return [v for item in x.values() for v in _numbers(item)]
    if isinstance(x, list | tuple):
        return [v for item in x for v in _numbers(item)]
    return [x] if isinstance(x, int | float) and not isinstance(x, bool) else []


def _hidden_failures(ex, fn, secret):
    verdicts = evaluate(ex, fn, secret)
    hidden = [v for v in verdicts if not v.public and v.problem]
    calls = ex.hidden_calls(secret)
    for v in hidden:
        assert PROBLEM.fullmatch(v.problem), v.problem
        for value in _numbers([(c.args, dict(c.kwargs)) for c in calls]):
            if isinstance(value, float) and value != int(value):
                assert repr(value) not in v.problem and f"{value:.3g}" not in v.problem
            elif abs(value) >= 10:
                assert str(int(value)) not in v.problem
    return [v for v in verdicts if v.public and v.problem], hidden


def _memorizer(ex, fallback):
    """A 'solution' that returns the visible answers it has seen, else calls ``fallback``."""
    cases = collect_cases(ex.check).cases
    seen = {json.dumps(encode((c.args, dict(c.kwargs)))): c.expected for c in cases}

    def fn(*args, **kwargs):
        key = json.dumps(encode((args, kwargs)))
        return copy.deepcopy(seen[key]) if key in seen else fallback(*args, **kwargs)

    return fn


# --------------------------------------------------------------------------- every exercise
def test_registered_for_the_notebooks_graded_cells(solutions):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    graded = {
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert set(EXERCISES) == graded
    registry = all_exercises()
    for grade_id, ex in EXERCISES.items():
        assert registry[grade_id] is ex
        assert callable(solutions[ex.target])


@pytest.mark.parametrize("grade_id", sorted(EXERCISES))
def test_instructor_solution_passes(solutions, grade_id):
    ex = EXERCISES[grade_id]
    for secret in SECRETS:
        verdicts = evaluate(ex, solutions[ex.target], secret)
        assert [(v.label, v.problem) for v in verdicts if v.problem] == []
        assert sum(v.public for v in verdicts) == len(ex.visible().cases)
        assert sum(not v.public for v in verdicts) >= 4


def test_solutions_need_no_forbidden_module(monkeypatch):
    """The sandbox hides the forbidden modules: the instructor's solutions do without them."""
    import sys

    import coursekit

    forbidden = {m for ex in EXERCISES.values() for m in ex.forbid}
    assert forbidden
    for module in forbidden:
        monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
        monkeypatch.delattr(coursekit, module.rsplit(".", 1)[-1], raising=False)
    with pytest.raises(ImportError):
        exec(f"import {sorted(forbidden)[0]}", {})
    namespace = solution_namespace(nbformat.read(NOTEBOOK, as_version=4))
    monkeypatch.undo()
    for ex in EXERCISES.values():
        verdicts = evaluate(ex, namespace[ex.target], SECRETS[0])
        assert [v.problem for v in verdicts if v.problem] == []


@pytest.mark.parametrize("grade_id", sorted(EXERCISES))
def test_hidden_calls_depend_only_on_the_secret(grade_id):
    ex = EXERCISES[grade_id]
    one, again, other = ex.hidden_calls(b"s1"), ex.hidden_calls(b"s1"), ex.hidden_calls(b"s2")
    assert _encoded(one) == _encoded(again)
    assert _encoded(one) != _encoded(other)
    # labels describe the kind of case, not the drawn values
    assert [c.label for c in one] == [c.label for c in other]
    assert all(c.label for c in one)


# --------------------------------------------------------------------------- output size
SIZE = EXERCISES["nb06-output-size-tests"]


def test_output_size_wrong_solutions_fail():
    # padding on one side only
    public, hidden = _hidden_failures(
        SIZE, lambda n, f, stride=1, padding=0: (n + padding - f) // stride + 1, SECRETS[0]
    )
    assert public and hidden and {v.problem for v in hidden} == {"wrong value"}
    # true division: a float
    public, hidden = _hidden_failures(
        SIZE, lambda n, f, stride=1, padding=0: (n + 2 * padding - f) / stride + 1, SECRETS[0]
    )
    assert public and "wrong type" in {v.problem for v in hidden}


def _size_rounded(n, f, stride=1, padding=0):
    return int(round((n + 2 * padding - f) / stride)) + 1


def test_output_size_rounding_passes_visible_but_fails_hidden():
    for secret in SECRETS:
        public, hidden = _hidden_failures(SIZE, _size_rounded, secret)
        assert not public
        assert "stride does not fit" in {v.label for v in hidden}


def test_output_size_hidden_calls_are_valid_convolutions():
    import torch

    for secret in SECRETS:
        for call in SIZE.hidden_calls(secret):
            (n, f), kw = call.args, call.kwargs
            conv = torch.nn.Conv2d(
                1, 1, f, stride=kw.get("stride", 1), padding=kw.get("padding", 0)
            )
            assert conv(torch.zeros(1, 1, n, n)).shape[-1] == SIZE.reference(*call.args, **kw)


# --------------------------------------------------------------------------- parameters
PARAMS = EXERCISES["nb06-conv-params-tests"]


def _params_bias_ignored(c_in, c_out, f, bias=True):
    return c_out * (c_in * f * f + 1)


def test_conv_params_wrong_solutions_fail():
    public, hidden = _hidden_failures(PARAMS, _params_bias_ignored, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong value"}
    assert {v.label for v in hidden} == {"without bias"}


def test_conv_params_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(PARAMS, _memorizer(PARAMS, _params_bias_ignored), SECRETS[1])
    assert not public and hidden
    # a wrong default for bias passes every visible case (they all pass bias)
    public, hidden = _hidden_failures(
        PARAMS, lambda c_in, c_out, f, bias=False: c_out * (c_in * f * f + bias), SECRETS[1]
    )
    assert not public and {v.label for v in hidden} >= {"default bias"}


# --------------------------------------------------------------------------- convolution
CONV = EXERCISES["nb06-conv2d-single-tests"]


def _conv_flipped(x, k, stride=1, padding=0):
    from coursekit.conv import conv2d_naive

    return conv2d_naive(x[None, None], k[::-1, ::-1][None, None], stride=stride, padding=padding)[
        0, 0
    ]


def _conv_no_padding(x, k, stride=1, padding=0):
    from coursekit.conv import conv2d_naive

    return conv2d_naive(x[None, None], k[None, None], stride=stride, padding=0)[0, 0]


def test_conv2d_wrong_solutions_fail():
    public, hidden = _hidden_failures(CONV, _conv_flipped, SECRETS[0])
    assert public and hidden and {v.problem for v in hidden} <= {"wrong values", "wrong shape"}
    public, hidden = _hidden_failures(CONV, _conv_no_padding, SECRETS[0])
    assert public and "wrong shape" in {v.problem for v in hidden}


def test_conv2d_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(CONV, _memorizer(CONV, _conv_flipped), SECRETS[2])
    assert not public and hidden


# --------------------------------------------------------------------------- receptive field
RF = EXERCISES["nb06-receptive-field-tests"]


def _rf_summed_jump(layers):
    # adds the strides instead of multiplying them: right for at most one strided layer
    rf, jump = 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump += s - 1
    return rf


def test_receptive_field_wrong_solutions_fail():
    # multiplies by the stride before adding the layer's own kernel
    def stride_first(layers):
        rf, jump = 1, 1
        for k, s in layers:
            jump *= s
            rf += (k - 1) * jump
        return rf

    public, hidden = _hidden_failures(RF, stride_first, SECRETS[0])
    assert public and hidden and {v.problem for v in hidden} == {"wrong value"}


def test_receptive_field_summed_jump_passes_visible_but_fails_hidden():
    for secret in SECRETS:
        public, hidden = _hidden_failures(RF, _rf_summed_jump, secret)
        assert not public
        assert "several strided layers" in {v.label for v in hidden}
