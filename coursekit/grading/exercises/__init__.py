"""The graded exercises of the course, one module per notebook (``nb00`` ... ``nb09``).

Each module lists its :class:`~coursekit.grading.spec.Exercise` objects in
``EXERCISES``. :func:`run_hidden_tests` is what the source notebooks' hidden
test blocks call, so that nbgrader (which runs them in the student's kernel)
and ``coursekit grade`` (which runs the same calls in a sandbox and judges
them outside it) test the same thing.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
from collections.abc import Mapping
from typing import Any

from coursekit.grading import drivers
from coursekit.grading.plaindata import decode, encode
from coursekit.grading.spec import Call, Exercise, Verdict, check_exercises

__all__ = ["all_exercises", "evaluate", "record_of", "run_hidden_tests", "SECRET_ENV"]

NOTEBOOK_MODULES = tuple(f"nb{i:02d}" for i in range(10))
SECRET_ENV = "COURSEKIT_GRADING_SECRET"
_DEFAULT_SECRET = b"coursekit: no secret set"


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the course, by the grade_id of its graded test cell."""
    found: list[Exercise] = []
    for name in NOTEBOOK_MODULES:
        module = importlib.import_module(f"coursekit.grading.exercises.{name}")
        found.extend(module.EXERCISES)
    return check_exercises(found)


def record_of(status: str, result: Any = None, after: Any = None, error: str = "") -> dict:
    """A call's record as the grader sees it: the value decoded from plain data."""
    if status != "ok":
        return {"status": status, "error": error}
    record = {"status": "ok", "value": decode(json.loads(json.dumps(encode(result))))}
    if after is not None:
        record["after_value"] = decode(json.loads(json.dumps(encode(after))))
    return record


def _call_here(obj: Any, call: Call) -> dict:
    """Run one call in this process (nbgrader, tests) and return its record."""
    args = copy.deepcopy(call.args)
    kwargs = copy.deepcopy(dict(call.kwargs))
    try:
        result = drivers.DRIVERS[call.driver](obj, *args, **kwargs)
    except Exception as exc:
        return record_of("error", error=f"{type(exc).__name__}: {exc}")
    return record_of("ok", result, args if call.after else None)


def evaluate(exercise: Exercise, obj: Any, secret: bytes) -> list[Verdict]:
    """Run every public and hidden call on ``obj`` in this process and judge them.

    The grader does the same with the calls run in a sandbox; here the
    student's code shares the process, so this is for nbgrader and tests.
    """
    collected = exercise.visible()
    verdicts = []
    for i, call in enumerate(exercise.public_calls()):
        problem = exercise.judge_public(collected, i, _call_here(obj, call), call)
        label = call.label or collected.cases[i].name or f"case {i + 1}"
        verdicts.append(Verdict(label, problem, public=True))
    for i, call in enumerate(exercise.hidden_calls(secret)):
        problem = exercise.judge_hidden(call, _call_here(obj, call))
        verdicts.append(Verdict(call.label or f"hidden case {i + 1}", problem, public=False))
    return verdicts


def secret_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The instructor's secret from ``COURSEKIT_GRADING_SECRET``, or a fixed default."""
    value = (environ if environ is not None else os.environ).get(SECRET_ENV, "")
    return value.encode() if value else _DEFAULT_SECRET


def run_hidden_tests(grade_id: str, obj: Any) -> None:
    """The hidden tests of one exercise, as the source notebooks call them.

    Silent when every call passes; raises ``AssertionError`` naming the failed
    property (never a hidden input or an expected value) otherwise.
    """
    exercise = all_exercises()[grade_id]
    failed = [v for v in evaluate(exercise, obj, secret_from_env()) if v.problem]
    if failed:
        first = failed[0]
        what = first.problem.splitlines()[0].strip() if first.public else first.problem
        raise AssertionError(f"hidden tests of {exercise.target}: {first.label}: {what}")


def prelude(nb: Any) -> list[str]:
    """The import statements of the notebook's student edition (not in solution cells), in order.

    The sandbox runs them before the solution cells, so a solution may use any
    name the notebook imports; a statement that fails there is skipped.
    """
    from coursekit.grading.harness import import_statements
    from coursekit.grading.release import is_progress_cell, is_solution, release_notebook

    seen: list[str] = []
    for cell in release_notebook(nb).cells:  # the student edition: no hidden tests
        # The progress cell's import serves no solution (and keeps a check's cache key
        # the same with or without that cell).
        if cell.cell_type == "code" and not is_solution(cell) and not is_progress_cell(cell):
            for statement in import_statements(cell.source):
                if statement not in seen:
                    seen.append(statement)
    return seen


def solution_namespace(nb: Any) -> dict[str, Any]:
    """Run ``nb``'s prelude and solution cells in this process; return the namespace.

    For tests and the grader's self-check: the instructor's own solutions must pass.
    """
    from coursekit.grading.release import is_solution

    ns: dict[str, Any] = {"__name__": "__main__"}
    for statement in prelude(nb):
        try:
            exec(statement, ns)
        except Exception:
            pass
    for cell in nb.cells:
        if cell.cell_type == "code" and is_solution(cell):
            exec(compile(cell.source, "<solution>", "exec"), ns)
    return ns
