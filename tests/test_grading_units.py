"""Unit tests of the grader's pure functions (no sandbox, no notebook run).

``solution_cells`` decides which code of a submission runs as which exercise:
by ``grade_id``, else by position among the solution cells.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from helpers import require_sandbox
from markdown_it import MarkdownIt

from coursekit.checks.framework import Case, run_check
from coursekit.grading import autograde
from coursekit.grading.autograde import (
    GradingError,
    Row,
    _as_record,
    _csv,
    _discover,
    _Entry,
    _feedback,
    _feedback_exercise,
    _feedback_name,
    _find_in_folder,
    _fingerprint,
    _gradebook,
    _Graded,
    _Job,
    _judge,
    _load_secret,
    _load_source,
    _match_file,
    _nbgrader_meta,
    _num,
    _parse_shard,
    _Plan,
    _plan,
    _printed,
    _progress,
    _read_submission,
    _records,
    _requests,
    _Source,
    _unattempted,
    _write_new,
    _write_reports,
    default_secret_path,
    merge,
    solution_cells,
)
from coursekit.grading.plaindata import encode
from coursekit.grading.sandbox import Run
from coursekit.grading.spec import Call, Exercise

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


# --------------------------------------------------------------------------- #
# Finding submissions: one-file names, student folders, the submissions folder
# --------------------------------------------------------------------------- #
TWO = {"01_sample": "01_sample.ipynb", "02_conv": "02_conv.ipynb"}


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("alice_01_sample", ("alice", "01_sample.ipynb")),
        ("a_01_sample", ("a", "01_sample.ipynb")),  # the shortest student name
        ("bob-smith.02_conv", ("bob-smith", "02_conv.ipynb")),
        ("alice__01_sample", ("alice", "01_sample.ipynb")),  # every separator stripped ...
        ("_alice_01_sample", ("_alice", "01_sample.ipynb")),  # ... at the right end only
        ("alice 01_sample", None),  # a space is no separator
        ("xx01_sample", None),  # nor is nothing
        ("01_sample", None),  # the notebook's own name: no student
        ("_01_sample", None),
        ("__01_sample", None),  # separators only: no student
        ("carol", None),
    ],
)
def test_match_file_between_two_notebooks(stem, expected):
    assert _match_file(stem, TWO) == expected


def test_match_file_takes_the_longest_notebook_name_that_fits():
    for stems in ({"c": "c.ipynb", "b_c": "b_c.ipynb"}, {"b_c": "b_c.ipynb", "c": "c.ipynb"}):
        assert _match_file("a_b_c", stems) == ("a", "b_c.ipynb")
        # "_b_c" is one character too short for b_c: it is student "_b" of notebook c.
        assert _match_file("_b_c", stems) == ("_b", "c.ipynb")
    # A stem that ends in no notebook's name never takes one because of its separators.
    assert _match_file("x_cd", {"ab": "ab.ipynb", "cd": "cd.ipynb"}) == ("x", "cd.ipynb")
    assert _match_file("x_ef", {"ab": "ab.ipynb", "cd": "cd.ipynb"}) is None


def test_match_file_with_a_single_notebook_takes_any_name():
    one = {"01_sample": "01_sample.ipynb"}
    assert _match_file("carol", one) == ("carol", "01_sample.ipynb")
    assert _match_file("01_sample", one) == ("01_sample", "01_sample.ipynb")
    assert _match_file("__01_sample", one) == ("__01_sample", "01_sample.ipynb")
    assert _match_file("dave_01_sample", one) == ("dave", "01_sample.ipynb")
    assert _match_file("erin", {}) is None


def _touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_find_in_folder_prefers_the_direct_path_then_the_first_by_path(tmp_path):
    # "A" sorts before "ps1" and "n": the direct path still wins over any nested copy.
    direct = _touch(tmp_path / "ps1" / "nb.ipynb")
    _touch(tmp_path / "A" / "nb.ipynb")
    assert _find_in_folder(tmp_path, "ps1/nb.ipynb") == (direct, False)
    top = _touch(tmp_path / "nb.ipynb")
    assert _find_in_folder(tmp_path, "nb.ipynb") == (top, False)
    top.unlink()
    # No direct path: the first by its text ("a-b/" before "a/": "-" < "/").
    _touch(tmp_path / "a" / "nb.ipynb")
    _touch(tmp_path / "a-b" / "nb.ipynb")
    assert _find_in_folder(tmp_path, "nb.ipynb") == (tmp_path / "A" / "nb.ipynb", False)
    (tmp_path / "A" / "nb.ipynb").unlink()
    assert _find_in_folder(tmp_path, "nb.ipynb") == (tmp_path / "a-b" / "nb.ipynb", False)


def test_find_in_folder_skips_checkpoints_and_links(tmp_path):
    student = tmp_path / "student"
    _touch(student / ".ipynb_checkpoints" / "nb.ipynb")
    (student / "empty").mkdir()
    assert _find_in_folder(student, "nb.ipynb") == (None, False)
    # A linked notebook is reported, never returned; a linked folder is never entered.
    outside = _touch(tmp_path / "outside" / "nb.ipynb")
    (student / "deep").mkdir()
    (student / "deep" / "nb.ipynb").symlink_to(outside)
    assert _find_in_folder(student, "nb.ipynb") == (None, True)
    (student / "deep" / "nb.ipynb").unlink()
    (student / "linked").symlink_to(outside.parent, target_is_directory=True)
    assert _find_in_folder(student, "nb.ipynb") == (None, False)
    # A real notebook below wins over the link, and the link is then no news.
    (student / "deep" / "nb.ipynb").symlink_to(outside)
    real = _touch(student / "sub" / "nb.ipynb")
    assert _find_in_folder(student, "nb.ipynb") == (real, False)


def test_find_in_folder_in_an_empty_folder(tmp_path):
    assert _find_in_folder(tmp_path, "nb.ipynb") == (None, False)


def test_discover_gives_every_entry_its_row(tmp_path):
    subs = tmp_path / "subs"
    nbs = ["01_sample.ipynb", "02_conv.ipynb"]
    _touch(subs / ".hidden" / "01_sample.ipynb")
    _touch(subs / "alice" / "01_sample.ipynb")
    _touch(subs / "alice" / "ps1" / "02_conv.ipynb")
    (subs / "bob").mkdir()
    (subs / "bob" / "01_sample.ipynb").symlink_to(subs / "alice" / "01_sample.ipynb")
    _touch(subs / "dave_02_conv.ipynb")
    _touch(subs / "eve.ipynb")
    _touch(subs / "notes.txt")
    os.mkfifo(subs / "f_01_sample.ipynb")
    (subs / "linked").symlink_to(subs / "alice", target_is_directory=True)
    (subs / "linked_01_sample.ipynb").symlink_to(subs / "alice" / "01_sample.ipynb")
    hidden = "a hidden entry (name starts with '.')"
    link = "a symbolic link: links are never followed"
    missing = "no notebook of this name was found"
    assert _discover(subs, nbs) == [
        _Entry(".hidden", "", None, "ignored", hidden),
        _Entry("alice", "01_sample.ipynb", subs / "alice" / "01_sample.ipynb"),
        _Entry("alice", "02_conv.ipynb", subs / "alice" / "ps1" / "02_conv.ipynb"),
        _Entry("bob", "01_sample.ipynb", None, "symlink", "the notebook is a symbolic link"),
        _Entry("bob", "02_conv.ipynb", None, "missing", missing),
        _Entry("dave", "02_conv.ipynb", subs / "dave_02_conv.ipynb"),
        _Entry("eve", "", None, "unmatched", "matches no course notebook"),
        _Entry("f_01_sample.ipynb", "", None, "unmatched", "not a notebook or a folder"),
        _Entry("linked", "", None, "symlink", link),
        _Entry("linked_01_sample.ipynb", "", None, "symlink", link),
        _Entry("notes.txt", "", None, "unmatched", "not a notebook or a folder"),
    ]
    # With one course notebook, any notebook file is a student's.
    assert _discover(subs, ["02_conv.ipynb"])[3:5] == [
        _Entry("dave", "02_conv.ipynb", subs / "dave_02_conv.ipynb"),
        _Entry("eve", "02_conv.ipynb", subs / "eve.ipynb"),
    ]


def test_read_submission_reads_only_a_real_notebook_file(tmp_path):
    text = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("é = 1")]))
    good = tmp_path / "good.ipynb"
    good.write_bytes(text.encode("utf-8"))
    assert [c.source for c in _read_submission(good).cells] == ["é = 1"]
    (tmp_path / "link.ipynb").symlink_to(good)
    assert _read_submission(tmp_path / "link.ipynb") is None  # never followed
    assert _read_submission(tmp_path / "none.ipynb") is None
    assert _read_submission(_touch(tmp_path / "empty.ipynb", "")) is None
    (tmp_path / "latin1.ipynb").write_bytes(text.encode("latin-1"))
    assert _read_submission(tmp_path / "latin1.ipynb") is None  # not UTF-8


def test_read_submission_size_limit(tmp_path, monkeypatch):
    text = nbformat.writes(nbformat.v4.new_notebook())
    path = _touch(tmp_path / "nb.ipynb", text)
    size = len(text.encode())
    monkeypatch.setattr(autograde, "MAX_SUBMISSION_BYTES", size)
    assert _read_submission(path) is not None  # exactly the limit is allowed
    monkeypatch.setattr(autograde, "MAX_SUBMISSION_BYTES", size - 1)
    assert _read_submission(path) is None


def test_read_submission_stops_reading_past_the_limit(tmp_path, monkeypatch):
    # An endless stream (a pipe here) is cut at the limit: the grader never waits for its end.
    monkeypatch.setattr(autograde, "MAX_SUBMISSION_BYTES", 1000)
    fifo = tmp_path / "endless.ipynb"
    os.mkfifo(fifo)
    read_done, waited = threading.Event(), []

    def writer():
        with open(fifo, "wb") as fh:
            fh.write(b" " * 1002)
            fh.flush()
            waited.append(not read_done.wait(3))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert _read_submission(fifo) is None
    finally:
        read_done.set()
        thread.join()
    assert waited == [False]


@pytest.mark.parametrize("parsed", [[1, 2], {"cells": [1]}, {"cells": "x"}, {"cells": None}])
def test_read_submission_refuses_what_is_no_notebook_whatever_the_parser_returns(
    tmp_path, monkeypatch, parsed
):
    # nbformat itself refuses these; the grader does not rely on its validation.
    monkeypatch.setattr(autograde.nbformat, "reads", lambda text, as_version: parsed)
    assert _read_submission(_touch(tmp_path / "nb.ipynb")) is None


# --------------------------------------------------------------------------- #
# Reports: numbers, CSV text, file names, the gradebook; shards and the secret's path
# --------------------------------------------------------------------------- #
def test_num_writes_whole_numbers_without_a_decimal_point():
    assert (_num(5.0), type(_num(5.0))) == (5, int)
    assert (_num(0.0), type(_num(0.0))) == (0, int)
    assert (_num(2.5), type(_num(2.5))) == (2.5, float)
    assert (_num(3), type(_num(3))) == (3, int)


def test_csv_text_is_quoted_with_unix_line_ends():
    rows = [["student", "points"], ["a,b", 1], ['say "hi"', 2.5], ["", None]]
    assert _csv(rows) == 'student,points\n"a,b",1\n"say ""hi""",2.5\n,\n'
    assert _csv([]) == ""


@pytest.mark.parametrize(
    ("student", "name"),
    [
        ("alice", "alice.md"),
        ("a\x00b", "ab.md"),  # a NUL byte cannot be in a file name
        (".", "_..md"),
        ("..", "_...md"),
        ("...", "....md"),
        ("\x00.", "_..md"),  # the name left after the NUL is "."
    ],
)
def test_feedback_file_names(student, name):
    assert _feedback_name(student) == name


def test_fingerprint_is_stable_and_reveals_nothing_simple():
    # merge() compares fingerprints written by other runs: the value must never change.
    assert _fingerprint(b"0" * 32) == "da06bf94634b7f5c"
    assert _fingerprint(b"x") == "0277b1c51e508202"


def test_gradebook_one_row_per_student_with_points_per_notebook():
    nbs = ["01_a.ipynb", "part2/02_b.ipynb"]
    rows = [
        Row("alice", "01_a.ipynb", "ex1", 2.0, 2.0, "passed"),
        Row("alice", "01_a.ipynb", "ex2", 0.5, 1.0, "passed"),
        Row("alice", "part2/02_b.ipynb", "ex3", 1.0, 1.0, "passed"),
        Row("stray", "", "", 0.0, 0.0, "unmatched"),  # no notebook: no gradebook row
        Row("bob", "part2/02_b.ipynb", "ex3", 0.0, 1.0, "missing"),
        Row("bob", "01_a.ipynb", "ex1", 2.0, 2.0, "passed"),
        Row("alice", "", "", 0.0, 0.0, "unmatched"),
    ]
    assert _gradebook(rows, nbs) == "Student,01_a,02_b,Total\nalice,2.5,1,3.5\nbob,2,0,2\n"
    assert _gradebook([rows[3]], nbs) == "Student,01_a,02_b,Total\n"


@pytest.mark.parametrize(
    ("shard", "expected"),
    [(None, (1, 1)), ("1/1", (1, 1)), ("2/8", (2, 8)), ("8/8", (8, 8)), (" 3 / 4 ", (3, 4))],
)
def test_parse_shard(shard, expected):
    assert _parse_shard(shard) == expected


@pytest.mark.parametrize("shard", ["2", "2 8", "a/b", "1/2/3", "", "1.5/2"])
def test_parse_shard_refuses_what_is_not_k_over_n(shard):
    expected = f"shard must look like K/N (e.g. 2/8), got {shard!r}"
    with pytest.raises(GradingError, match=f"^{re.escape(expected)}$"):
        _parse_shard(shard)


@pytest.mark.parametrize("shard", ["0/2", "3/2", "-1/2", "0/0"])
def test_parse_shard_refuses_k_out_of_range(shard):
    expected = f"shard K/N needs 1 <= K <= N, got {shard!r}"
    with pytest.raises(GradingError, match=f"^{re.escape(expected)}$"):
        _parse_shard(shard)


def test_default_secret_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_secret_path() == tmp_path / "cfg" / "coursekit" / "grading-secret"
    monkeypatch.setenv("XDG_CONFIG_HOME", "")  # empty: unset, as the XDG spec says
    expected = tmp_path / "home" / ".config" / "coursekit" / "grading-secret"
    assert default_secret_path() == expected
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_secret_path() == expected


# --------------------------------------------------------------------------- #
# What came back from a run: records by phase, decoded answers, printed output
# --------------------------------------------------------------------------- #
def test_records_sorts_calls_by_phase_first_record_wins():
    recs = [
        {"kind": "cell", "id": "c", "status": "ok"},
        {"kind": "call", "id": "p:ex1:0", "exercise": "ex1", "result": 1},
        {"kind": "call", "id": "p:ex1:0", "result": 2},  # a second record of the id
        {"kind": "call", "id": "h:ex1:0", "result": 3},  # a hidden id in the visible phase
        {"kind": "call", "id": 5},
        {"kind": "timeout", "exercise": "ex1"},
        {"kind": "timeout", "exercise": 7},
        {"kind": "other", "id": "p:ex1:1"},
        {"kind": "call", "id": "p:ex1:2"},  # hidden phase from here: a visible id, ignored
        {"kind": "call", "id": "h:ex1:0", "result": 4},
        {"kind": "timeout", "exercise": "ex2"},
        {"kind": "call", "id": "h:ex1:0", "result": 5},
    ]
    visible, hidden, timed_out = _records(Run(records=recs, hidden_from=8))
    assert visible == {"p:ex1:0": recs[1]}
    assert hidden == {"h:ex1:0": recs[9]}
    assert timed_out == {"ex1", "ex2"}


def test_records_without_or_from_the_start_of_a_hidden_phase():
    p, h = {"kind": "call", "id": "p:e:0"}, {"kind": "call", "id": "h:e:0"}
    assert _records(Run(records=[p, h], hidden_from=-1)) == ({"p:e:0": p}, {}, set())
    assert _records(Run(records=[p, h], hidden_from=0)) == ({}, {"h:e:0": h}, set())
    assert _records(Run(records=[p, h], hidden_from=1)) == ({"p:e:0": p}, {"h:e:0": h}, set())


def test_printed_keeps_the_visible_phase_of_cells_and_calls():
    recs = [
        {"kind": "cell", "output": "a"},
        {"kind": "cell"},
        {"kind": "timeout", "output": "t"},
        {"kind": "call", "output": "b"},
        {"kind": "call", "output": "hidden"},
    ]
    assert _printed(Run(records=recs, hidden_from=4)) == "ab"
    assert _printed(Run(records=recs, hidden_from=-1)) == "abhidden"
    assert _printed(Run(records=recs, hidden_from=0)) == ""


DECODE_ERROR = {"status": "error", "error": "DecodeError: the answer is not plain data"}


@pytest.mark.parametrize(
    ("raw", "record"),
    [
        (None, None),
        ({"status": "error", "error": "E" * 600}, {"status": "error", "error": "E" * 500}),
        ({"status": "timeout"}, {"status": "error", "error": ""}),
        ({"status": "OK", "result": encode(3)}, {"status": "error", "error": ""}),
        ({"status": "ok", "result": encode(3)}, {"status": "ok", "value": 3}),
        (
            {"status": "ok", "result": encode([1]), "after": encode((2,))},
            {"status": "ok", "value": [1], "after_value": (2,)},
        ),
        ({"status": "ok", "result": {"t": "pickle", "v": "x"}}, DECODE_ERROR),
        ({"status": "ok", "result": encode(1), "after": {"t": "pickle"}}, DECODE_ERROR),
    ],
)
def test_as_record(raw, record):
    assert _as_record(raw) == record


@pytest.mark.parametrize(
    ("error", "unattempted"),
    [
        ("NotImplementedError: write mse", True),
        ("NameError: name 'mse' is not defined by your solution cells", True),
        ("NameError: name 'np' is not defined", False),  # the student's own slip
        ("TypeError: 'mse' is not defined by your solution cells", False),
        ("ValueError: NotImplementedError", False),
        (None, False),
    ],
)
def test_unattempted(error, unattempted):
    record = {"status": "error"} if error is None else {"status": "error", "error": error}
    assert _unattempted(record) is unattempted
    assert _unattempted(None) is False


# --------------------------------------------------------------------------- #
# Feedback text
# --------------------------------------------------------------------------- #
A, B = "01_a.ipynb", "02_b.ipynb"


def test_feedback_text():
    rows = [
        Row("alice", "", "", 0.0, 0.0, "unmatched"),
        Row("alice", A, "ex1", 2.0, 2.0, "passed"),
        Row("alice", A, "q1", 0.0, 1.0, "manual"),
        Row("alice", A, "ex2", 0.0, 1.5, "failed"),
        Row("alice", B, "ex3", 0.0, 1.0, "not attempted"),
        Row("alice", B, "ex4", 0.0, 1.0, "timeout"),
    ]
    hidden = [("", "wrong shape")]
    hidden += [(f"case {i}", "wrong value") for i in range(1, 7)] + [("ok", "")]
    details = {  # the unmatched row has none
        ("alice", A, "ex1"): {
            "public": ["", ""],
            "hidden": [("3 values", ""), ("", "")],
            "printed": "hi  \n\n",
            "cell_errors": [],
        },
        ("alice", A, "q1"): {},
        ("alice", A, "ex2"): {
            "public": ["", "wrong value\nexpected 2\n", "second"],
            "hidden": hidden,
            "printed": "printed once per notebook",
            "cell_errors": ["e1", "e2", "e3", "e4"],
        },
        ("alice", B, "ex3"): {
            "public": [],
            "hidden": [],
            "printed": "X marks\nX",
            "cell_errors": [],
        },
        ("alice", B, "ex4"): {"public": [], "hidden": [], "printed": "", "cell_errors": []},
    }
    notes = {
        ("alice", ""): ["matches no course notebook"],
        ("alice", A): ["a note", "another"],
        ("bob", B): ["not alice's"],
    }
    printed = ["", "Printed by your code (solution cells and visible cases):", "", "```text"]
    expected = [
        "# Feedback for alice",
        "",
        "## (no matching notebook): 0 / 0 points",
        "",
        "- matches no course notebook",  # no "### " section for a file without exercises
        "",
        "## 01_a.ipynb: 2 / 4.5 points",
        "",
        "- a note",
        "- another",
        "",
        "### ex1: passed (2 / 2 points)",
        "",
        "Visible cases (the checks in the notebook): 2 of 2 passed.",
        "",
        "Hidden tests: 2 of 2 passed.",
        *printed,
        "hi  ",
        "```",
        "",
        "### q1: manual (0 / 1 points)",
        "",
        "Graded by hand.",
        "",
        "### ex2: failed (0 / 1.5 points)",
        "",
        "- e1",
        "- e2",
        "- e3",
        "",  # blocks apart: a paragraph after a list would continue its last item
        "Visible cases (the checks in the notebook): 1 of 3 passed.",
        "",
        "```text",
        "wrong value",
        "expected 2",
        "```",
        "",
        "Hidden tests: 1 of 8 passed.",
        "- a hidden case: wrong shape",
        "- case 1: wrong value",
        "- case 2: wrong value",
        "- case 3: wrong value",
        "- case 4: wrong value",
        "",  # every heading is a block of its own
        "## 02_b.ipynb: 0 / 2 points",
        "",
        "### ex3: not attempted (0 / 1 points)",
        "",
        "Not attempted: the function still raises NotImplementedError, or is missing.",
        *printed,
        "X marks",
        "X",
        "```",
        "",
        "### ex4: timeout (0 / 1 points)",
    ]
    text = _feedback("alice", rows, details, notes)
    assert text == "\n".join(expected) + "\n"
    # Rendered as Markdown (CommonMark), every heading is one and no text joins a list item
    html = MarkdownIt("commonmark").render(text)
    assert [html.count(f"<h{i}>") for i in (1, 2, 3)] == [1, 3, 5]
    assert "<li>e3</li>" in html and "<p>Visible cases (the checks in the notebook): 1 of" in html
    assert "<p>Hidden tests: 1 of 8 passed.</p>" in html


def test_feedback_output_is_cut_past_the_limit(monkeypatch):
    monkeypatch.setattr(autograde, "FEEDBACK_OUTPUT_CHARS", 10)
    row = Row("bob", A, "ex1", 1.0, 1.0, "passed")

    def shown(text):
        detail = {"public": [], "hidden": [], "printed": text, "cell_errors": []}
        out = _feedback("bob", [row], {("bob", A, "ex1"): detail}, {})
        return out.split("```text\n")[1].split("\n```")[0]

    assert shown("0123456789") == "0123456789"
    assert shown("0123456789A") == "0123456789\n[... more output not shown]"


def test_feedback_exercise_with_a_partial_detail():
    row = Row("bob", A, "ex1", 0.0, 1.0, "failed")
    head = ["", "### ex1: failed (0 / 1 points)", ""]
    block = ["Visible cases (the checks in the notebook): 0 of 1 passed.", "", "```text"]
    assert _feedback_exercise(row, {"public": ["got X\n"]}) == [*head, *block, "got X", "```"]
    assert _feedback_exercise(row, {"public": ["got 1 \n"]}) == [*head, *block, "got 1 ", "```"]
    assert _feedback_exercise(row, {"hidden": [("", "")]}) == [
        *head,
        "Hidden tests: 1 of 1 passed.",
    ]
    assert _feedback_exercise(row, {}) == head[:-1]


# --------------------------------------------------------------------------- #
# The secret, new report files, and merging shards
# --------------------------------------------------------------------------- #
@pytest.fixture
def home(tmp_path, monkeypatch):
    """HOME and XDG_CONFIG_HOME in tmp_path: the default secret is never the user's."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path


def test_load_secret_makes_a_private_one_on_first_use(home, capsys):
    path = home / "a" / "b" / "secret"  # its folders are made too
    value = _load_secret(path, [], quiet=False)
    assert re.fullmatch(r"[0-9a-f]{64}\n", path.read_text()) and value == path.read_bytes()[:-1]
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert capsys.readouterr().out == (
        f"made a new grading secret in {path} (keep it: the same secret regrades alike)\n"
    )
    assert _load_secret(path, [], quiet=False) == value  # kept, not made again
    other = home / "a" / "other"  # in an existing folder
    assert _load_secret(other, [], quiet=True) != value
    assert capsys.readouterr().out == ""


def test_load_secret_default_path(home):
    value = _load_secret(None, [], quiet=True)
    assert (home / "cfg" / "coursekit" / "grading-secret").read_bytes().strip() == value


def test_load_secret_reads_a_given_one_stripped(home):
    path = home / "secret"
    path.write_text("  0123456789abcdef \n")  # exactly 16 bytes, once stripped
    assert _load_secret(path, [home / "elsewhere"], quiet=True) == b"0123456789abcdef"
    path.write_text("0123456789abcde\n")
    expected = f"secret_file {str(path)!r} must hold at least 16 bytes, got 15"
    with pytest.raises(GradingError, match=f"^{re.escape(expected)}$"):
        _load_secret(path, [], quiet=True)


def test_load_secret_must_lie_outside_the_given_folders(home):
    inside = home / "subs"
    for path in (inside, inside / "x" / "secret"):
        expected = (
            "secret_file must lie outside the source, submissions and output folders, "
            f"got {str(path)!r} (inside {str(inside)!r})"
        )
        with pytest.raises(GradingError, match=f"^{re.escape(expected)}$"):
            _load_secret(path, [home / "src", inside], quiet=True)
    assert not inside.exists()


def test_write_new_never_replaces_or_follows(tmp_path):
    old = os.umask(0o022)
    try:
        _write_new(tmp_path, "a.csv", "x,é\r\ny\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").read_bytes() == "x,é\r\ny\n".encode()
    assert os.stat(tmp_path / "a.csv").st_mode & 0o777 == 0o644
    with pytest.raises(FileExistsError):
        _write_new(tmp_path, "a.csv", "other")
    (tmp_path / "link.csv").symlink_to(tmp_path / "target.csv")
    with pytest.raises(FileExistsError):
        _write_new(tmp_path, "link.csv", "other")
    assert (tmp_path / "a.csv").read_bytes() == "x,é\r\ny\n".encode()
    assert not (tmp_path / "target.csv").exists()


def _shard(folder: Path, rows: list[Row], students: list[str], **info) -> Path:
    info = {
        "notebooks": [A, B],
        "source_sha256": {A: "1", B: "2"},
        "secret_fingerprint": "f",
        "shard": "1/2",
        "students": students,
        **info,
    }
    _write_reports(folder, rows, info, {s: f"# Feedback for {s}\n" for s in students})
    return folder


def test_merge_joins_shards(tmp_path, capsys):
    bob = [
        Row("bob", B, "ex3", 1.0, 1.0, "passed"),
        Row("bob", A, "ex1", 0.5, 2.0, "failed"),
        Row("bob", A, "ex2", 1.0, 1.0, "passed"),
        Row("bob", "", "", 0.0, 0.0, "unmatched"),
    ]
    carol = [Row("carol", A, "ex1", 2.0, 2.0, "passed")]
    alice = [Row("alice", B, "ex3", 0.0, 1.0, "missing")]
    one = _shard(tmp_path / "one", bob + carol, ["bob", "carol"], seconds=1.0)
    two = _shard(tmp_path / "two", alice, ["alice"], seconds=2.0)
    (one / "feedback" / "carol.md").unlink()
    (one / "feedback" / "carol.md").symlink_to(one / "feedback" / "bob.md")  # never followed
    rows = merge(tmp_path / "out", [one, two])
    assert rows == [alice[0], bob[3], bob[1], bob[2], bob[0], carol[0]]
    assert capsys.readouterr().out == f"merged 2 shard(s) into {tmp_path / 'out'} (6 rows)\n"
    out = tmp_path / "out"
    info = json.loads((out / "grading.json").read_text())
    assert info["shard"] == "merged from 2" and info["students"] == ["alice", "bob", "carol"]
    assert info["seconds"] == 1.0 and info["notebooks"] == [A, B]
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["alice.md", "bob.md"]
    assert (out / "feedback" / "alice.md").read_text() == "# Feedback for alice\n"
    assert (out / "gradebook.csv").read_text() == (
        "Student,01_a,02_b,Total\nalice,0,0,0\nbob,1.5,1,2.5\ncarol,2,0,2\n"
    )
    assert merge(tmp_path / "one-only", [str(two)], quiet=True) == alice
    assert capsys.readouterr().out == ""


def test_merge_refuses_what_is_not_one_run(tmp_path):
    row = Row("bob", A, "ex1", 0.0, 1.0, "failed")
    one = _shard(tmp_path / "one", [row], ["bob"])

    def refused(message, dirs):
        with pytest.raises(GradingError, match=f"^{re.escape(message)}$"):
            merge(tmp_path / "out", dirs, quiet=True)

    refused("shard_dirs must name at least one shard's output folder, got none", [])
    refused(f"{str(tmp_path)!r} is not an output folder of coursekit grade", [one, tmp_path])
    for key, value in [
        ("source_sha256", {A: "1", B: "3"}),
        ("secret_fingerprint", "g"),
        ("notebooks", [A]),
    ]:
        other = _shard(tmp_path / key, [], [], **{key: value})
        refused(f"the shards differ in {key}: they are not one grading run", [one, other])
    again = _shard(tmp_path / "again", [row], ["bob"])
    refused(f"student 'bob' is in two shards ({one} and {again})", [one, again])
    assert not (tmp_path / "out").exists()


def test_write_reports_texts_and_the_previous_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # the stamp is UTC, not local time
    time.tzset()
    rows = [Row("zoë", A, "ex1", 1.0, 2.0, "failed"), Row("zoë", B, "ex3", 0.5, 1.0, "passed")]
    info = {"notebooks": [A, B], "students": ["zoë"]}
    written = []
    real_write_new = autograde._write_new
    monkeypatch.setattr(
        autograde,
        "_write_new",
        lambda folder, name, text: written.append(folder) or real_write_new(folder, name, text),
    )
    try:
        _write_reports(Path("deep") / "er" / "out", rows, info, {"zoë": "# zoë\n"})
        out = tmp_path / "deep" / "er" / "out"
        assert (out / "scores.csv").read_text(encoding="utf-8") == (
            "student,notebook,exercise,points,max_points,status\n"
            "zoë,01_a.ipynb,ex1,1,2,failed\nzoë,02_b.ipynb,ex3,0.5,1,passed\n"
        )
        assert (out / "scores.json").read_text(encoding="utf-8") == (
            '[\n {\n  "student": "zoë",\n  "notebook": "01_a.ipynb",\n  "exercise": "ex1",\n'
            '  "points": 1,\n  "max_points": 2,\n  "status": "failed"\n },\n'
            ' {\n  "student": "zoë",\n  "notebook": "02_b.ipynb",\n  "exercise": "ex3",\n'
            '  "points": 0.5,\n  "max_points": 1,\n  "status": "passed"\n }\n]\n'
        )
        assert (out / "gradebook.csv").read_text(encoding="utf-8") == (
            "Student,01_a,02_b,Total\nzoë,1,0.5,1.5\n"
        )
        assert (out / "grading.json").read_text(encoding="utf-8") == (
            '{\n "notebooks": [\n  "01_a.ipynb",\n  "02_b.ipynb"\n ],\n "students": [\n  "zoë"\n ]\n}\n'
        )
        assert (out / "feedback" / "zoë.md").read_text(encoding="utf-8") == "# zoë\n"
        assert os.stat(out).st_mode & 0o777 == 0o755
        # Written into a hidden folder next to the output, then renamed into place.
        fresh = {folder if folder.name != "feedback" else folder.parent for folder in written}
        assert len(fresh) == 1 and fresh.pop().parent == out.parent
        assert [f.name.startswith(".out.") for f in written] == [True] * 4 + [False]

        _write_reports(out, rows[:1], info, {})
        before = time.time()
        assert (out / "scores.csv").read_text(encoding="utf-8").count("\n") == 2
        previous = [p.name for p in out.parent.iterdir() if p.name != "out"]
        assert len(previous) == 1 and re.fullmatch(r"out\.previous-\d{8}-\d{6}-\d{6}", previous[0])
        stamp = previous[0].removeprefix("out.previous-")[:15]
        assert abs(time.mktime(time.strptime(stamp, "%Y%m%d-%H%M%S")) - time.timezone
                   - before) < 120  # fmt: skip
        assert (out.parent / previous[0] / "feedback" / "zoë.md").is_file()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_write_reports_refuses_a_link_or_a_file_and_cleans_up(tmp_path):
    info = {"notebooks": [A], "students": []}
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    for name in ("file", "link"):
        expected = f"out_dir must be a folder (not a link or a file), got {str(tmp_path / name)!r}"
        with pytest.raises(GradingError, match=f"^{re.escape(expected)}$"):
            _write_reports(tmp_path / name, [], info, {})
    _write_reports(tmp_path / "out", [], info, {"a": "first"})
    # Two students whose feedback files would have the same name: nothing is replaced.
    with pytest.raises(FileExistsError):
        _write_reports(tmp_path / "out", [], info, {"a": "new", "a\x00": "new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "link", "out"]
    assert (tmp_path / "out" / "feedback" / "a.md").read_text() == "first"


# --------------------------------------------------------------------------- #
# What is asked of the sandbox, and how its answers are judged (no sandbox here)
# --------------------------------------------------------------------------- #
def _check_double(fn):
    return run_check("double", fn, [Case(args=(1,), expected=2), Case(args=(3,), expected=6)])


def _double_reference(x):
    if x == 7:
        raise ValueError("the reference itself fails on 7")
    return 2 * x


DOUBLE = Exercise(
    "g",
    "double",
    _check_double,
    lambda rng: [Call((int(rng.integers(100, 200)),), label="drawn"), Call((7,), label="seven")],
    _double_reference,
    exact=True,
    answer=lambda got, call: got if call.args else None,  # an answer read with its call
)
SOURCE_G = _Source(
    "nb.ipynb",
    None,
    [_Graded("q", 3.0, None), _Graded("g", 2.0, DOUBLE)],
    ["import numpy as np"],
    (),
)


def test_nbgrader_meta_tolerates_any_cell():
    assert _nbgrader_meta({"metadata": {"nbgrader": {"solution": True}}}) == {"solution": True}
    for cell in ([1], {"metadata": [1]}, {"metadata": {"nbgrader": "x"}}, {}):
        assert _nbgrader_meta(cell) == {}


def test_plan_and_requests():
    secret = b"s" * 32
    plan = _plan(SOURCE_G, secret)
    assert list(plan.public) == ["g"] and list(plan.hidden) == ["g"]
    assert plan.public["g"] == DOUBLE.public_calls()
    assert plan.hidden["g"] == DOUBLE.hidden_calls(secret) != DOUBLE.hidden_calls(b"t" * 32)
    plan = _Plan(
        {"g": [Call((1,)), Call((3,), {"k": 2})]},
        {"g": [Call((5,), driver="method", after=True, label="x")]},
    )
    cells = [{"id": "c", "source": "def double(x): ..."}]
    first, second = _requests(SOURCE_G, cells, plan)

    def call(cid, args, kwargs=None, driver="call", after=False):
        return {
            "id": cid,
            "exercise": "g",
            "target": "double",
            "driver": driver,
            "after": after,
            "args": encode(args),
            "kwargs": encode(kwargs or {}),
        }

    assert first == {
        "prelude": ["import numpy as np"],
        "cells": cells,
        "calls": [call("p:g:0", (1,)), call("p:g:1", (3,), {"k": 2})],
    }
    assert second == {"calls": [call("h:g:0", (5,), driver="method", after=True)]}


PLAN_G = _Plan({"g": DOUBLE.public_calls()}, {"g": [Call((5,), label="five"), Call((6,))]})


def _judged(records, hidden_from=2, ended="finished", cells=()):
    """Judge ``records`` after a printing cell; ``hidden_from`` counts in ``records``."""
    job = _Job("ann", SOURCE_G, list(cells), [])
    printed = {"kind": "cell", "id": "c", "status": "ok", "output": "hello "}
    _judge(job, Run(records=[printed, *records], hidden_from=hidden_from + 1, ended=ended), PLAN_G)
    (manual, _), (row, detail) = job.rows
    assert manual == Row("ann", "nb.ipynb", "q", 0.0, 3.0, "manual") and _ == {}
    return row, detail


def _ok(cid, value):
    return {"kind": "call", "id": cid, "status": "ok", "result": encode(value), "output": "."}


def _err(cid, error):
    return {"kind": "call", "id": cid, "status": "error", "error": error}


def test_judge_passed():
    recs = [_ok("p:g:0", 2), _ok("p:g:1", 6), _ok("h:g:0", 10), _ok("h:g:1", 12)]
    row, detail = _judged(recs)
    assert row == Row("ann", "nb.ipynb", "g", 2.0, 2.0, "passed")
    assert detail == {
        "public": ["", ""],
        "hidden": [("five", ""), ("", "")],
        "printed": "hello ..",
        "cell_errors": [],
    }


def test_judge_failed_visible_and_hidden():
    recs = [_ok("p:g:0", 2), _ok("p:g:1", 7), _ok("h:g:0", 10), _ok("h:g:1", 12)]
    row, detail = _judged(recs)
    assert row == Row("ann", "nb.ipynb", "g", 0.0, 2.0, "failed")
    assert detail["public"][0] == "" and detail["public"][1].startswith("  case 2 failed\n")
    assert detail["hidden"] == [("five", ""), ("", "")]
    recs = [_ok("p:g:0", 2), _ok("p:g:1", 6), _ok("h:g:0", 10), _ok("h:g:1", 13)]
    row, detail = _judged(recs)
    assert row == Row("ann", "nb.ipynb", "g", 0.0, 2.0, "failed hidden tests")
    assert detail["public"] == ["", ""] and detail["hidden"] == [("five", ""), ("", "wrong value")]


def test_judge_a_hidden_case_that_cannot_be_compared():
    plan = _Plan(PLAN_G.public, {"g": [Call((7,), label="seven")]})
    job = _Job("ann", SOURCE_G, [], [])
    recs = [_ok("p:g:0", 2), _ok("p:g:1", 6), _ok("h:g:0", 14)]
    _judge(job, Run(records=recs, hidden_from=2), plan)
    row, detail = job.rows[1]
    assert row.status == "failed hidden tests"
    assert detail["hidden"] == [("seven", "the answer could not be compared")]


def test_judge_not_attempted_or_an_error_in_the_cell():
    stub = "NotImplementedError: write double"
    recs = [_err("p:g:0", stub), _err("p:g:1", stub), _err("h:g:0", stub), _err("h:g:1", stub)]
    # The untouched stub names the function, but its cell ran without error.
    cells = [{"id": "c", "source": "def double(x):\n    raise NotImplementedError"}]
    row, detail = _judged(recs, cells=cells)
    assert row == Row("ann", "nb.ipynb", "g", 0.0, 2.0, "not attempted")
    assert detail == {"public": [], "hidden": [], "printed": "hello ", "cell_errors": []}
    # A solution cell that names the function and raised: an error, not a blank.
    cells = [
        {"id": "c1", "source": "def double(x):\n    return 2 * x\nraise ValueError"},
        {"id": "c2", "source": "y = 1"},
    ]
    failed = [
        {"kind": "cell", "id": "c2", "status": "error", "error": "E" * 400},
        {"kind": "cell", "id": "c1", "status": "timeout"},
        {"kind": "cell", "id": "c9", "status": "error", "error": "a cell that is not sent"},
    ]
    row, detail = _judged(failed + recs, hidden_from=5, cells=cells)
    assert row.status == "error"
    assert detail["cell_errors"] == [
        f"solution cell 'c2': error: {'E' * 300}",
        "solution cell 'c1': timeout: ",
        "solution cell 'c9': error: a cell that is not sent",
    ]
    row, _ = _judged(failed[:1] + recs, hidden_from=3, cells=cells)
    assert row.status == "not attempted"  # the cell that raised does not name double


def test_judge_looks_for_the_target_only_in_the_failed_cells_own_text():
    # A class named X: the failed cells' sources, joined, must not invent an "X".
    spec = Exercise("g", "X", _check_double, DOUBLE.hidden, _double_reference)
    source = _Source("nb.ipynb", None, [_Graded("g", 2.0, spec)], [], ())
    job = _Job("ann", source, [{"id": "c1", "source": "y = 1"}, {"id": "c2", "source": "z"}], [])
    stub = "NotImplementedError: write X"
    failed = [
        {"kind": "cell", "id": "c1", "status": "error", "error": "E"},
        {"kind": "cell", "id": "c2", "status": "error", "error": "E"},
        {"kind": "cell", "id": "c9", "status": "error", "error": "a cell that is not sent"},
    ]
    recs = [_err("p:g:0", stub), _err("p:g:1", stub), _err("h:g:0", stub), _err("h:g:1", stub)]
    _judge(job, Run(records=failed + recs, hidden_from=5), PLAN_G)
    assert [row.status for row, _ in job.rows] == ["not attempted"]


def test_self_check_grades_the_instructors_solutions_as_submissions_are_graded(monkeypatch):
    seen = []

    def grade_job(job, plan, limits, sandbox):
        seen.append((job.student, job.source.name, plan, limits, sandbox))
        job.rows.append((Row(job.student, job.source.name, "g", 2.0, 2.0, "passed"), {}))
        job.seconds = 1.5
        return job

    monkeypatch.setattr(autograde, "_grade_job", grade_job)
    monkeypatch.setattr(autograde, "_plan", lambda source, secret: (source.name, secret))
    monkeypatch.setattr(autograde, "solution_cells", lambda nb, source: ([], {}))
    limits = autograde.Limits()
    for sandbox in (True, False):
        seen.clear()
        seconds = autograde._self_check({"nb.ipynb": SOURCE_G}, b"k", limits, sandbox, 1)
        assert seconds == {"nb.ipynb": 1.5}
        assert seen == [
            ("(instructor's solutions)", "nb.ipynb", ("nb.ipynb", b"k"), limits, sandbox)
        ]
        assert seen[0][-1] is sandbox


@pytest.mark.parametrize(
    ("ended", "status"),
    [("finished", "crashed"), ("crashed", "crashed"), ("memory", "out of memory"),
     ("timeout", "timeout"), ("odd", "crashed")],
)  # fmt: skip
def test_judge_a_run_that_ended_before_answering(ended, status):
    recs = [_ok("p:g:0", 2), _ok("p:g:1", 6), _ok("h:g:0", 10)]  # h:g:1 never came
    row, detail = _judged(recs, ended=ended)
    assert row == Row("ann", "nb.ipynb", "g", 0.0, 2.0, status)
    assert detail["public"] == [] and detail["hidden"] == []
    # An exercise that timed out in the sandbox is a timeout, whatever ended the run.
    timed_out = {"kind": "timeout", "exercise": "g"}
    row, _ = _judged([*recs[:2], timed_out, recs[2]], hidden_from=3, ended=ended)
    assert row.status == "timeout"
    row, _ = _judged([*recs[:2], {"kind": "timeout", "exercise": "h"}, recs[2]], 3, ended)
    assert row.status == status


def _spec(gid, forbid=()):
    return Exercise(gid, "f", _check_double, lambda rng: [Call()], lambda: 0, forbid=forbid)


def test_load_source_reads_the_graded_cells_and_their_specs(tmp_path):
    nb = nbformat.read(SOURCE, as_version=4)
    tests3 = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex3-params-tests"
    )
    tests3.metadata.nbgrader["points"] = 0.5
    answer3 = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex3-params"
    )
    answer3.metadata.nbgrader.update(grade=True, points=1)  # an answer graded by hand
    nbformat.write(nb, tmp_path / "nb.ipynb")
    specs = {
        "ex1-mse-tests": _spec("ex1-mse-tests", ("torch", "os")),
        "ex2-relu-tests": _spec("ex2-relu-tests", ("sys", "os")),
        "ex3-params-tests": _spec("ex3-params-tests"),
        "unused": _spec("unused", ("socket",)),
    }
    source = _load_source(tmp_path / "nb.ipynb", "ps1/nb.ipynb", specs)
    assert source.name == "ps1/nb.ipynb" and source.nb == nb
    assert [(g.grade_id, g.max_points, g.spec) for g in source.graded] == [
        ("ex1-mse-tests", 2.0, specs["ex1-mse-tests"]),
        ("ex2-relu-tests", 2.0, specs["ex2-relu-tests"]),
        ("ex3-params", 1.0, None),
        ("ex3-params-tests", 0.5, specs["ex3-params-tests"]),
        ("q1-sharing", 1.0, None),  # the markdown answer: graded by hand
    ]
    assert source.prelude == [
        "import numpy as np",
        "from coursekit.checks.framework import Case, run_check, strict",
    ]
    assert source.forbid == ("os", "sys", "torch")
    expected = (
        "ps1/nb.ipynb: no exercise spec for the graded cell(s) ['ex2-relu-tests', "
        "'ex3-params-tests'] (add them to coursekit/grading/exercises/, or pass exercises=...)"
    )
    with pytest.raises(GradingError, match=f"^{re.escape(expected)}$"):
        _load_source(
            tmp_path / "nb.ipynb", "ps1/nb.ipynb", {"ex1-mse-tests": specs["ex1-mse-tests"]}
        )
    tests3.metadata.nbgrader["schema_version"] = 2
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(ValueError, match=r"^ps1/bad\.ipynb, cell 10: nbgrader schema_version"):
        _load_source(tmp_path / "bad.ipynb", "ps1/bad.ipynb", specs)


def test_a_solution_cell_whose_source_is_not_text_is_missing(source, tmp_path):
    # nbformat reads such a file; the grader counts the cell as missing, and goes on.
    sub = json.loads(nbformat.writes(_answered(source)))
    ex1 = next(
        c for c in sub["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ex1-mse"
    )
    for odd in (7, None):
        ex1["source"] = odd
        path = _touch(tmp_path / "sub.ipynb", json.dumps(sub))
        cells, notes = solution_cells(source, _read_submission(path))
        assert [c["id"] for c in cells] == ["ex2-relu", "ex3-params"]
        assert notes == ["solution cell 'ex1-mse' is missing: counted as not attempted."]


def test_progress_bar(capsys):
    for total, quiet in ((0, False), (2, True), (0, True)):
        assert _progress(total, quiet)(None) is None
    assert capsys.readouterr() == ("", "")
    step = _progress(3, False)
    for _ in range(3):
        step(None)
    out, err = capsys.readouterr()
    assert err == "" and "3/3 [" in out and "submission/s]" in out
    assert "4/3" not in out and "5/3" not in out
    step = _progress(1, False)
    step(None)
    assert "1/1 [" in capsys.readouterr().out
