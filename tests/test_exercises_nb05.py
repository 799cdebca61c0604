"""The graded exercises of notebook 05: hidden calls, references and verdicts."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from unittest import mock

import nbformat
import numpy as np
import pytest
import torch

from coursekit import training
from coursekit.checks.framework import collect_cases
from coursekit.grading.exercises import all_exercises, evaluate, nb05, solution_namespace
from coursekit.grading.plaindata import encode

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_training_deep_networks.ipynb"
SECRETS = (b"first secret", b"second secret", b"third secret")
EXERCISES = {ex.grade_id: ex for ex in nb05.EXERCISES}
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


# --------------------------------------------------------------------------- batch norm
BN = EXERCISES["nb05-batchnorm-tests"]


def _bn_without_eps(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gamma * (x - mu) / np.sqrt(var) + beta


def _bn_unbiased(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta


def test_batchnorm_wrong_solutions_fail():
    public, hidden = _hidden_failures(BN, _bn_unbiased, SECRETS[0])
    assert public and hidden
    assert {v.problem for v in hidden} == {"wrong values"}
    # forgetting eps: the constant unit becomes 0 / 0
    _, hidden = _hidden_failures(BN, _bn_without_eps, SECRETS[0])
    assert "constant unit" in {v.label for v in hidden}


def test_batchnorm_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(BN, _memorizer(BN, _bn_without_eps), SECRETS[1])
    assert not public and hidden


def test_batchnorm_constant_unit_gives_beta(solutions):
    for secret in SECRETS:
        call = next(c for c in BN.hidden_calls(secret) if c.label == "constant unit")
        x, gamma, beta = call.args
        out = BN.reference(*call.args, **call.kwargs)
        col = [j for j in range(x.shape[1]) if np.all(x[:, j] == x[0, j])]
        assert col and np.all(out[:, col] == beta[col])


# --------------------------------------------------------------------------- dropout
DROPOUT = EXERCISES["nb05-dropout-tests"]


def _dropout_no_rescale(x, p, u, training=True):
    return x * (u >= p) if training else x


def _dropout_strict_mask(x, p, u, training=True):
    return x * (u > p) / (1.0 - p) if training else x


def test_dropout_wrong_solutions_fail():
    public, hidden = _hidden_failures(DROPOUT, _dropout_no_rescale, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong values"}
    for secret in SECRETS:  # a unit with u == p is kept: the hidden tie case catches u > p
        public, hidden = _hidden_failures(DROPOUT, _dropout_strict_mask, secret)
        assert public and [v.label for v in hidden] == ["u equal to p"]


def test_dropout_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(DROPOUT, _memorizer(DROPOUT, _dropout_no_rescale), b"x")
    assert not public and hidden


# --------------------------------------------------------------------------- early stopping
STOP = EXERCISES["nb05-early-stopping-tests"]


def _stop_ties_improve(val_losses, patience):
    best, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch + 1
    return best_epoch, len(val_losses)


def _stop_as_list(val_losses, patience):
    return list(STOP.reference(val_losses, patience))


def test_early_stopping_wrong_solutions_fail():
    public, hidden = _hidden_failures(STOP, _stop_as_list, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong type"}
    # hidden curves with equal losses catch a tie counted as an improvement
    failing = set()
    for secret in SECRETS:
        public, hidden = _hidden_failures(STOP, _stop_ties_improve, secret)
        failing |= {v.label for v in hidden}
    assert public and {"equal losses", "tie with the best"} <= failing
    for secret in SECRETS:
        _, hidden = _hidden_failures(STOP, _stop_ties_improve, secret)
        assert "tie with the best" in {v.label for v in hidden}


def test_early_stopping_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(STOP, _memorizer(STOP, lambda v, p: (0, len(v))), b"x")
    assert not public and hidden


def test_early_stopping_reference_is_the_rule_of_fit():
    """The reference stops where coursekit.training.fit stops, on the hidden loss curves."""
    x, y = torch.zeros(2, 1), torch.zeros(2, dtype=torch.int64)
    for call in STOP.hidden_calls(SECRETS[0])[:4]:
        losses, patience = call.args
        scripted = iter(losses)
        with mock.patch.object(
            training, "_run_epoch_eval", lambda *a, _it=scripted: (next(_it), 0.0)
        ):
            history = training.fit(
                torch.nn.Linear(1, 2),
                [(x, y)],
                [(x, y)],
                epochs=len(losses),
                lr=0.0,
                device="cpu",
                early_stopping_patience=patience,
                progress=False,
            )
        assert STOP.reference(losses, patience) == (history.best_epoch("val_loss"), history.epochs)
