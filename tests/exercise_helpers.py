"""Helpers for the tests of the graded exercises (``from exercise_helpers import ...``).

tests/test_exercises.py holds what every exercise must do; the
tests/test_exercises_nbXX.py files hold each notebook's own cases (wrong
solutions, answers that pass the visible check but not the hidden calls,
references). Both use:

* ``SECRETS``: three instructor secrets; ``EXERCISES``: every exercise by grade_id;
  ``NOTEBOOKS``: the source notebook of ``nb00`` ... ``nb09``;
* ``PROBLEM``: what a hidden verdict may say (a property, never a value);
* ``encoded``: everything a list of calls sends, as text, to compare draws;
* ``numbers``: the numbers inside a call's inputs;
* ``hidden_failures``: run a solution; check that the failed hidden verdicts name a
  property and no input value; return the failed public and hidden verdicts;
* ``check_wrong``: a wrong solution fails the hidden calls for every secret;
* ``memorizer``: a "solution" that returns the visible answers it has seen.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import torch

from coursekit.checks.framework import collect_cases
from coursekit.grading.exercises import all_exercises, evaluate
from coursekit.grading.plaindata import Function, encode
from coursekit.grading.spec import Call, Exercise, Verdict

ROOT = Path(__file__).resolve().parents[1]
SECRETS = (b"first secret", b"second secret", b"third secret")
EXERCISES = all_exercises()


def _notebook(number: int) -> Path:
    (path,) = (ROOT / "notebooks").glob(f"{number:02d}_*.ipynb")
    return path


NOTEBOOKS = {f"nb{i:02d}": _notebook(i) for i in range(10)}

# What a hidden verdict may say: a property, never a value (an index or a key at most).
PROBLEM = re.compile(
    r"(wrong (value|values|type|dtype|shape|length|keys)( at (\[\d+\]|\['\w+'\])+)?"
    r"|raised [A-Za-z_]+|the answer has the wrong structure)"
)


def encoded(calls: list[Call]) -> str:
    """Everything the calls send (inputs, driver, after, label) as text, to compare draws."""
    return json.dumps(
        [[encode(c.args), encode(dict(c.kwargs)), c.driver, c.after, c.label] for c in calls]
    )


def numbers(x, out: list | None = None) -> list:
    """The numbers inside an input (arrays flattened, function parameters included)."""
    out = [] if out is None else out
    if isinstance(x, Function):
        numbers(x.params, out)
    elif isinstance(x, np.ndarray):
        out.extend(x.ravel().tolist())
    elif isinstance(x, torch.Tensor):
        out.extend(x.detach().ravel().tolist())
    elif isinstance(x, tuple | list):
        for v in x:
            numbers(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            numbers(v, out)
    elif isinstance(x, int | float | np.number) and not isinstance(x, bool):
        out.append(x)
    return out


def _value_texts(calls: list[Call]) -> set[str]:
    """How the numbers of the calls' inputs could be written in a verdict."""
    texts = set()
    for v in numbers([(c.args, dict(c.kwargs)) for c in calls]):
        f = float(v)
        if f.is_integer() and abs(f) <= 9:  # one digit, as an index in "at [1]"
            continue
        if isinstance(v, float | np.floating):
            texts |= {repr(f), f"{f:.3g}", f"{f:.6f}"}
            if f.is_integer():
                texts.add(str(int(f)))
        else:
            texts.add(str(int(v)))
    return texts


def hidden_failures(
    exercise: Exercise, fn, secret: bytes, problem: re.Pattern = PROBLEM
) -> tuple[list[Verdict], list[Verdict]]:
    """The failed public and hidden verdicts of ``fn``.

    On the way: one hidden verdict per hidden call, and every failed hidden
    verdict matches ``problem`` and names no number of any hidden input.
    """
    verdicts = evaluate(exercise, fn, secret)
    calls = exercise.hidden_calls(secret)
    assert sum(not v.public for v in verdicts) == len(calls)
    hidden = [v for v in verdicts if not v.public and v.problem]
    texts = _value_texts(calls) if hidden else set()
    for v in hidden:
        assert problem.fullmatch(v.problem), v.problem
        leaked = sorted(t for t in texts if t in v.problem)
        assert not leaked, (v.problem, leaked)
    return [v for v in verdicts if v.public and v.problem], hidden


def check_wrong(grade_id: str, fn, prop: str, passes_visible: bool) -> None:
    """For every secret, ``fn`` fails a hidden call with a problem starting with ``prop``.

    With ``passes_visible``, it passes every public call (the visible check) as well.
    """
    exercise = EXERCISES[grade_id]
    for secret in SECRETS:
        public, hidden = hidden_failures(exercise, fn, secret)
        if passes_visible:
            assert not public, [v.problem for v in public]
        assert hidden, f"{grade_id}: a wrong solution passed the hidden calls"
        assert any(v.problem.startswith(prop) for v in hidden), [v.problem for v in hidden]


def memorizer(exercise: Exercise, fallback):
    """A 'solution' that returns the visible answers it has seen, else calls ``fallback``."""
    cases = collect_cases(exercise.check).cases
    seen = {json.dumps(encode((c.args, dict(c.kwargs)))): c.expected for c in cases}

    def fn(*args, **kwargs):
        key = json.dumps(encode((args, kwargs)))
        return copy.deepcopy(seen[key]) if key in seen else fallback(*args, **kwargs)

    return fn
