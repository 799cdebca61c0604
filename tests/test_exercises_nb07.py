"""The graded exercises of notebook 07: hidden calls, references and verdicts."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.checks.framework import collect_cases
from coursekit.grading.exercises import all_exercises, evaluate, nb07, solution_namespace
from coursekit.grading.plaindata import encode

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_cnn.ipynb"
SECRETS = (b"first secret", b"second secret", b"third secret")
EXERCISES = {ex.grade_id: ex for ex in nb07.EXERCISES}
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


# --------------------------------------------------------------------------- shape trace
TRACE = EXERCISES["nb07-lenet-trace-tests"]


def _trace(input_size, conv=lambda s: s - 4, pool=lambda s: s // 2):
    shapes, side = [], input_size
    for channels in (6, 16):
        side = conv(side)
        shapes.append((channels, side, side))
        side = pool(side)
        shapes.append((channels, side, side))
    return shapes


def test_lenet_trace_wrong_solutions_fail():
    # a 5x5 convolution taken to remove 5 pixels
    public, hidden = _hidden_failures(TRACE, lambda s: _trace(s, conv=lambda n: n - 5), SECRETS[0])
    assert public and hidden and all(v.problem.startswith("wrong value at [") for v in hidden)
    # lists instead of tuples
    public, hidden = _hidden_failures(TRACE, lambda s: [list(t) for t in _trace(s)], SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong type at [0]"}


def test_lenet_trace_rounding_passes_visible_but_fails_hidden():
    def rounded(s):
        return _trace(s, pool=lambda n: round(n / 2))

    for secret in SECRETS:
        public, hidden = _hidden_failures(TRACE, rounded, secret)
        assert not public
        assert "odd size" in {v.label for v in hidden}


# --------------------------------------------------------------------------- parameters
PARAMS = EXERCISES["nb07-lenet-params-tests"]


def _params(in_channels, num_classes, input_size, pool=lambda s: s // 2, bias=1):
    side = pool(pool(input_size - 4) - 4)
    conv = 6 * (in_channels * 25 + bias) + 16 * (6 * 25 + bias)
    return conv + 120 * (16 * side * side + bias) + 84 * (120 + bias) + num_classes * (84 + bias)


def test_lenet_params_wrong_solutions_fail(solutions):
    for secret in SECRETS:  # the helper is right when nothing is changed
        for call in PARAMS.hidden_calls(secret):
            assert _params(*call.args) == PARAMS.reference(*call.args)
    public, hidden = _hidden_failures(PARAMS, lambda c, k, s: _params(c, k, s, bias=0), SECRETS[0])
    assert public and len(hidden) == len(PARAMS.hidden_calls(SECRETS[0]))
    assert {v.problem for v in hidden} == {"wrong value"}


def test_lenet_params_rounding_passes_visible_but_fails_hidden():
    def rounded(c, k, s):
        return _params(c, k, s, pool=lambda n: round(n / 2))

    for secret in SECRETS:
        public, hidden = _hidden_failures(PARAMS, rounded, secret)
        assert not public
        assert "odd size" in {v.label for v in hidden}


# --------------------------------------------------------------------------- max pooling
POOL = EXERCISES["nb07-maxpool2d-tests"]


def _pool_from_zero(x, size):
    c, h, w = x.shape
    out = np.zeros((c, h // size, w // size))
    for i in range(h // size):
        for j in range(w // size):
            window = x[:, i * size : (i + 1) * size, j * size : (j + 1) * size]
            out[:, i, j] = np.maximum(window.max(axis=(1, 2)), 0.0)
    return out


def test_maxpool_wrong_solutions_fail():
    public, hidden = _hidden_failures(POOL, _pool_from_zero, SECRETS[0])
    assert public and "negative activations" in {v.label for v in hidden}
    assert {v.problem for v in hidden} == {"wrong values"}

    # windows that do not fill are kept (ceil mode)
    def ceil_mode(x, size):
        import torch
        import torch.nn.functional as F

        return F.max_pool2d(torch.from_numpy(x)[None], size, ceil_mode=True)[0].numpy()

    public, hidden = _hidden_failures(POOL, ceil_mode, SECRETS[0])
    assert public and "wrong shape" in {v.problem for v in hidden}


def test_maxpool_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(POOL, _memorizer(POOL, _pool_from_zero), SECRETS[1])
    assert not public and hidden
