"""The graded exercises of notebook 09: hidden calls, references and verdicts."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.checks.framework import collect_cases
from coursekit.grading.exercises import all_exercises, evaluate, nb09, solution_namespace
from coursekit.grading.plaindata import encode

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "09_fast_gpu_training.ipynb"
SECRETS = (b"first secret", b"second secret", b"third secret")
EXERCISES = {ex.grade_id: ex for ex in nb09.EXERCISES}
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


# --------------------------------------------------------------------------- throughput
IPS = EXERCISES["nb09-images-per-second-tests"]


def _ips_mean_of_rates(step_seconds, batch_size, warmup):
    return float(np.mean(batch_size / np.asarray(step_seconds)[warmup:]))


def _ips_with_warmup(step_seconds, batch_size, warmup):
    return float(batch_size * len(step_seconds) / np.sum(step_seconds))


def test_images_per_second_wrong_solutions_fail():
    public, hidden = _hidden_failures(IPS, _ips_mean_of_rates, SECRETS[0])
    assert public and hidden and {v.problem for v in hidden} == {"wrong value"}
    public, hidden = _hidden_failures(IPS, _ips_with_warmup, SECRETS[0])
    assert public and {v.label for v in hidden} == {
        "warm-up steps",
        "one timed step",
        "any batch size",
    }


def test_images_per_second_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(IPS, _memorizer(IPS, _ips_with_warmup), SECRETS[1])
    assert not public and hidden


# --------------------------------------------------------------------------- TFLOP/s
TFLOPS = EXERCISES["nb09-training-tflops-tests"]


def test_training_tflops_wrong_solutions_fail():
    # the forward pass only
    public, hidden = _hidden_failures(TFLOPS, lambda m, i: 2.0 * m * i / 1e12, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong value"}
    assert {v.label for v in hidden} == {"a CNN on a GPU", "a small model", "a large model"}


def test_training_tflops_memorized_visible_answers_fail_hidden():
    wrong = _memorizer(TFLOPS, lambda m, i: 6.0 * m * i / 1e9)
    public, hidden = _hidden_failures(TFLOPS, wrong, SECRETS[1])
    assert not public and hidden


# --------------------------------------------------------------------------- shards
SHARD = EXERCISES["nb09-shard-indices-tests"]


def _shard_keep_leftover(n, rank, world_size):
    return list(range(rank, n, world_size))


def test_shard_indices_wrong_solutions_fail():
    public, hidden = _hidden_failures(SHARD, _shard_keep_leftover, SECRETS[0])
    assert public and hidden
    assert {v.problem for v in hidden} <= {"wrong length"}
    public, hidden = _hidden_failures(SHARD, lambda n, r, w: range(r, n // w * w, w), SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong type"}


def test_shard_indices_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(SHARD, _memorizer(SHARD, _shard_keep_leftover), SECRETS[1])
    assert not public and hidden


def test_shard_indices_cover_the_used_examples_once():
    for secret in SECRETS:
        for call in SHARD.hidden_calls(secret):
            n, _, world = call.args
            shards = [SHARD.reference(n, r, world) for r in range(world)]
            assert sorted(i for s in shards for i in s) == list(range(n // world * world))
