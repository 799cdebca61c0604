"""Every visible check of every notebook treats an unattempted exercise the same way.

A function that still raises ``NotImplementedError`` is reported as "not
attempted" (so the student edition runs top to bottom), except in a grading
run, where the check fails so the exercise scores zero.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import coursekit.checks
from coursekit.checks.framework import GRADING_ENV


def _visible_checks():
    found = []
    for info in pkgutil.iter_modules(coursekit.checks.__path__):
        if not info.name.startswith("nb"):
            continue
        module = importlib.import_module(f"coursekit.checks.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and fn.__module__ == module.__name__:
                found.append(pytest.param(fn, id=f"{info.name}.{name}"))
    return found


CHECKS = _visible_checks()


def not_attempted(*args, **kwargs):
    raise NotImplementedError()


def test_every_notebook_has_checks():
    modules = {p.id.split(".")[0] for p in CHECKS}
    assert modules == {f"nb{i:02d}" for i in range(10)}, sorted(modules)


@pytest.mark.parametrize("check", CHECKS)
def test_unattempted_exercise_is_reported_not_raised(check, capsys, monkeypatch):
    monkeypatch.delenv(GRADING_ENV, raising=False)
    result = check(not_attempted)
    assert not result.attempted and not result.passed
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("check", CHECKS)
def test_unattempted_exercise_fails_in_a_grading_run(check, monkeypatch):
    monkeypatch.setenv(GRADING_ENV, "1")
    with pytest.raises(AssertionError, match="not attempted"):
        check(not_attempted)
