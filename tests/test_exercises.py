"""What every graded exercise of notebooks 00-09 must do.

Each is registered for a graded cell of its notebook; the instructor's solution
passes its public and hidden calls for every secret, without the forbidden
modules; the hidden calls depend only on the secret, and their labels name the
kind of case, never a drawn value. Each notebook's own cases (wrong solutions,
references) are in tests/test_exercises_nbXX.py.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys

import nbformat
import pytest
from exercise_helpers import EXERCISES, NOTEBOOKS, SECRETS, encoded

import coursekit
from coursekit.grading.exercises import all_exercises, evaluate, solution_namespace

BY_NOTEBOOK = {
    notebook: importlib.import_module(f"coursekit.grading.exercises.{notebook}").EXERCISES
    for notebook in NOTEBOOKS
}
NOTEBOOK_OF = {ex.grade_id: nb for nb, exercises in BY_NOTEBOOK.items() for ex in exercises}
GRADE_IDS = sorted(EXERCISES)
DRAW_SECRETS = (*SECRETS, b"s1", b"s2")

# ------------------------------------------------------------------ the documented exceptions
MIN_HIDDEN = 4  # hidden calls of an exercise, at least
FEWER_HIDDEN = {
    "nb04-xor-weights-tests": 1,  # no input: one call judges the returned weights
}
# xor_weights() takes no input: nothing to draw, every secret gives the same call.
NO_INPUTS = {"nb04-xor-weights-tests"}
# Notebooks whose exercises may use any module (the others forbid the library's answers).
FORBID_NOTHING = {"nb00", "nb04"}
# Labels with digits that name a fixed kind of case (the same for every secret), not a draw.
FIXED_LABELS_WITH_DIGITS = {
    "nb05-dropout-tests": {"p = 0"},
    "nb05-early-stopping-tests": {"patience 1"},
    "nb06-output-size-tests": {"stride 1, no padding"},
    "nb06-conv-params-tests": {"1x1 convolution"},
    "nb06-conv2d-single-tests": {"1x1 kernel, stride 2 or more", "stride 1, no padding"},
    "nb06-receptive-field-tests": {"stride 1 layers"},
    "nb07-maxpool2d-tests": {"size 1"},
    "nb08-residual-block-tests": {"stride 2", "stride 2, same channels"},
}


@functools.cache
def _solutions(notebook: str) -> dict:
    return solution_namespace(nbformat.read(NOTEBOOKS[notebook], as_version=4))


def test_every_notebook_has_exercises():
    assert list(NOTEBOOKS) == [f"nb{i:02d}" for i in range(10)]
    assert all(BY_NOTEBOOK.values())
    assert set(NOTEBOOK_OF) == set(EXERCISES)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_registered_for_the_notebooks_graded_cells(notebook):
    nb = nbformat.read(NOTEBOOKS[notebook], as_version=4)
    graded = {
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert {ex.grade_id for ex in BY_NOTEBOOK[notebook]} == graded
    registry = all_exercises()
    for ex in BY_NOTEBOOK[notebook]:
        assert registry[ex.grade_id] is ex
        assert callable(_solutions(notebook)[ex.target])


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("grade_id", GRADE_IDS)
def test_the_instructor_solution_passes(grade_id, secret):
    ex = EXERCISES[grade_id]
    verdicts = evaluate(ex, _solutions(NOTEBOOK_OF[grade_id])[ex.target], secret)
    assert [(v.label, v.problem) for v in verdicts if v.problem] == []
    assert sum(v.public for v in verdicts) == len(ex.visible().cases)
    assert sum(not v.public for v in verdicts) >= FEWER_HIDDEN.get(grade_id, MIN_HIDDEN)
    assert all(v.label for v in verdicts)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_solutions_need_no_forbidden_module(monkeypatch, notebook):
    """The sandbox hides the forbidden modules: the instructor's solutions do without them."""
    forbidden = {m for ex in BY_NOTEBOOK[notebook] for m in ex.forbid}
    if notebook in FORBID_NOTHING:
        assert forbidden == set()
        return
    assert forbidden
    for module in forbidden:
        monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
        monkeypatch.delattr(coursekit, module.rsplit(".", 1)[-1], raising=False)
    with pytest.raises(ImportError):
        exec(f"import {sorted(forbidden)[0]}", {})
    namespace = solution_namespace(nbformat.read(NOTEBOOKS[notebook], as_version=4))
    monkeypatch.undo()
    for ex in BY_NOTEBOOK[notebook]:
        verdicts = evaluate(ex, namespace[ex.target], SECRETS[0])
        assert [v.problem for v in verdicts if v.problem] == []


@pytest.mark.parametrize("grade_id", GRADE_IDS)
def test_hidden_calls_depend_only_on_the_secret(grade_id):
    ex = EXERCISES[grade_id]
    draws = [ex.hidden_calls(secret) for secret in DRAW_SECRETS]
    texts = [encoded(calls) for calls in draws]
    assert texts == [encoded(ex.hidden_calls(secret)) for secret in DRAW_SECRETS]
    if grade_id in NO_INPUTS:
        assert len(set(texts)) == 1
    else:  # every secret draws its own calls
        assert len(set(texts)) == len(texts)
    # labels describe the kind of case, not the drawn values
    labels = [[c.label for c in calls] for calls in draws]
    assert all(each == labels[0] for each in labels)
    assert all(labels[0])


@pytest.mark.parametrize("grade_id", GRADE_IDS)
def test_labels_reveal_no_values(grade_id):
    fixed = FIXED_LABELS_WITH_DIGITS.get(grade_id, set())
    for secret in SECRETS:
        for call in EXERCISES[grade_id].hidden_calls(secret):
            # Fixed dtype names ("float32 images", "64-bit integers") are not drawn values.
            rest = re.sub(r"\b(b?float|u?int|complex)\d+\b|\b\d+-bit\b", "", call.label)
            assert call.label, call
            assert not re.search(r"\d", rest) or call.label in fixed, call.label
