"""Unit tests of the grader's pure functions (no sandbox, no notebook run).

``solution_cells`` decides which code of a submission runs as which exercise:
by ``grade_id``, else by position among the solution cells.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import require_sandbox

from coursekit.grading.autograde import solution_cells

SOURCE = Path(__file__).parent / "fixtures" / "grading" / "source" / "01_sample.ipynb"
IDS = ["ex1-mse", "ex2-relu", "ex3-params"]  # the fixture's code solution cells, in order


@pytest.fixture
def source():
    return nbformat.read(SOURCE, as_version=4)


def _answered(source, drop_ids=()):
    """A submission: each solution cell answered with a marker naming its exercise;
    the cells in ``drop_ids`` lost their grade_id (a student's copy-paste, say)."""
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = f"# answer of {meta['grade_id']}\n"
            if meta["grade_id"] in drop_ids:
                del meta["grade_id"]
    return nb


def _by_id(cells):
    return {c["id"]: c["source"] for c in cells}


def test_the_instructor_notebook_gives_its_own_solutions(source):
    cells, notes = solution_cells(source, source)
    assert [c["id"] for c in cells] == IDS and notes == []
    solutions = {
        c.metadata.nbgrader["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    assert _by_id(cells) == {k: solutions[k] for k in IDS}


@pytest.mark.parametrize("lost", IDS)
def test_one_cell_among_others_lost_its_grade_id(source, lost):
    cells, notes = solution_cells(source, _answered(source, drop_ids=[lost]))
    # Matched by position: every exercise gets its own answer, none is lost or swapped.
    assert _by_id(cells) == {gid: f"# answer of {gid}\n" for gid in IDS}
    assert [c["id"] for c in cells] == IDS and notes == []


def test_every_cell_lost_its_grade_id(source):
    cells, notes = solution_cells(source, _answered(source, drop_ids=IDS + ["q1-sharing"]))
    assert _by_id(cells) == {gid: f"# answer of {gid}\n" for gid in IDS} and notes == []


def test_an_empty_or_non_string_grade_id_counts_as_lost(source):
    sub = _answered(source)
    solutions = [c for c in sub.cells if c.metadata.get("nbgrader", {}).get("solution")]
    solutions[0].metadata.nbgrader["grade_id"] = ""
    solutions[1].metadata.nbgrader["grade_id"] = 7
    cells, notes = solution_cells(source, sub)
    assert _by_id(cells) == {gid: f"# answer of {gid}\n" for gid in IDS} and notes == []


def test_a_deleted_cell_and_a_lost_grade_id_still_run_every_answer(source):
    # ex2's cell is deleted and ex3's lost its id: by position ex3's answer takes ex2's
    # place. Every answer still runs, once: the exercises are judged by calling the
    # names the cells define (harness.py), so the label changes only the notes.
    sub = _answered(source, drop_ids=["ex3-params"])
    sub.cells = [
        c for c in sub.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "ex2-relu"
    ]
    cells, notes = solution_cells(source, sub)
    assert [c["source"] for c in cells] == ["# answer of ex1-mse\n", "# answer of ex3-params\n"]
    assert [c["id"] for c in cells] == ["ex1-mse", "ex2-relu"]
    assert notes == ["solution cell 'ex3-params' is missing: counted as not attempted."]


def test_a_deleted_cell_is_not_attempted_and_the_others_keep_their_answers(source):
    sub = _answered(source)
    sub.cells = [
        c for c in sub.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "ex2-relu"
    ]
    cells, notes = solution_cells(source, sub)
    assert _by_id(cells) == {
        "ex1-mse": "# answer of ex1-mse\n",
        "ex3-params": "# answer of ex3-params\n",
    }
    assert notes == ["solution cell 'ex2-relu' is missing: counted as not attempted."]


def test_a_duplicated_grade_id_keeps_the_first_cell(source):
    sub = _answered(source)
    first = next(
        c for c in sub.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1-mse"
    )
    second = copy.deepcopy(first)
    second.source = "# a later copy\n"
    sub.cells.append(second)
    cells, _ = solution_cells(source, sub)
    assert _by_id(cells)["ex1-mse"] == "# answer of ex1-mse\n"


def test_cells_that_are_not_solutions_never_run(source):
    sub = _answered(source)
    sub.cells.append(nbformat.v4.new_code_cell("import os  # added by the student"))
    test_cell = next(c for c in sub.cells if c.metadata.get("nbgrader", {}).get("grade"))
    test_cell.source = "score = 100"
    cells, _ = solution_cells(source, sub)
    assert not any("student" in c["source"] or "score" in c["source"] for c in cells)
    # The markdown answer (q1-sharing) is graded by hand: it is no code cell to run.
    assert "q1-sharing" not in _by_id(cells)


def test_source_as_a_list_of_lines_and_a_missing_notebook(source):
    sub = _answered(source)
    cell = next(c for c in sub.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1-mse")
    cell.source = ["def mse(a, b):\n", "    return 0.0\n"]
    cells, _ = solution_cells(source, sub)
    assert _by_id(cells)["ex1-mse"] == "def mse(a, b):\n    return 0.0\n"
    cells, notes = solution_cells(source, None)
    assert cells == [] and len(notes) == 4  # three exercises and the markdown answer


_WHICH_COURSEKIT = """
import json, sys
from coursekit.grading.sandbox import Limits, run_harness
first = {"prelude": [], "calls": [],
         "cells": [{"id": "c", "source": "import coursekit; print(coursekit.__file__, end='')"}]}
run = run_harness(first, {"calls": []}, Limits(wall_s=60, call_s=20), sandbox=sys.argv[1] == "1")
print(json.dumps([r.get("output") for r in run.records if r.get("kind") == "cell"]))
"""


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
def test_the_harness_imports_the_graders_own_coursekit(tmp_path, sandbox):
    root = Path(__file__).resolve().parents[1]
    """A grader run from a copy on PYTHONPATH (python -I ignores it) grades with that copy, not an installed one."""
    if sandbox:
        require_sandbox()
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(root / "coursekit", tmp_path / "copy" / "coursekit", ignore=ignore)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "copy"))
    done = subprocess.run(
        [sys.executable, "-c", _WHICH_COURSEKIT, "1" if sandbox else "0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = str(tmp_path / "copy" / "coursekit" / "__init__.py")
    assert json.loads(done.stdout.splitlines()[-1]) == [expected]
