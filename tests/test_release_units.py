"""grading/release.py piece by piece: exact messages, exact stripped sources, exact flags.

Fast: no subprocess, no notebook execution; the files tests use tmp_path only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from coursekit.grading import release as rel
from coursekit.grading.release import (
    CODE_STUB,
    MANIFEST_NAME,
    TEXT_STUB,
    MarkupError,
    build_release,
    compute_checksum,
    find_notebooks,
    is_grade,
    is_locked,
    is_progress_cell,
    is_solution,
    notebook_bytes,
    release,
    release_notebook,
    sha256_bytes,
    validate_markup,
)

SECRET = "SECRET_ANSWER_42"


def meta(gid="a", grade=False, solution=False, locked=False, points=None, **extra):
    m = {"schema_version": 3, "grade": grade, "solution": solution, "locked": locked}
    m["grade_id"] = gid
    if points is not None:
        m["points"] = points
    m.update(extra)
    return {"nbgrader": m}


def raises(cells, message, name="nb.ipynb"):
    with pytest.raises(MarkupError, match="^" + re.escape(message) + "$"):
        release_notebook(new_notebook(cells=cells), name)


def released_source(source, cell_type="code", **flags):
    maker = new_code_cell if cell_type == "code" else new_markdown_cell
    cell = maker(source, metadata=meta(**flags))
    return release_notebook(new_notebook(cells=[cell]), "nb.ipynb").cells[0].source


# --------------------------------------------------------------------------- #
# Predicates and checksum
# --------------------------------------------------------------------------- #
def test_predicates():
    assert is_progress_cell(new_code_cell("", metadata={"coursekit": {"progress": True}}))
    assert not is_progress_cell(new_code_cell("", metadata={"coursekit": {"progress": False}}))
    assert not is_progress_cell(new_code_cell("", metadata={"coursekit": {}}))
    assert not is_progress_cell(new_code_cell(""))
    plain = new_code_cell("")
    assert (is_grade(plain), is_solution(plain), is_locked(plain)) == (False, False, False)
    grade = new_code_cell("", metadata=meta(grade=True, points=1))
    assert (is_grade(grade), is_solution(grade), is_locked(grade)) == (True, False, True)
    sol = new_code_cell("", metadata=meta(solution=True, locked=True))
    assert (is_grade(sol), is_solution(sol), is_locked(sol)) == (False, True, False)
    both = new_code_cell("", metadata=meta(grade=True, solution=True, points=1))
    assert is_locked(both) is False
    locked = new_code_cell("", metadata=meta(locked=True))
    assert (is_grade(locked), is_solution(locked), is_locked(locked)) == (False, False, True)
    assert is_locked(new_code_cell("", metadata={"nbgrader": {}})) is False


def _md5(*parts):
    m = hashlib.md5()
    for p in parts:
        m.update(p.encode("utf-8"))
    return m.hexdigest()


def test_compute_checksum_exact():
    grade = new_code_cell("assert x", metadata=meta("t1", grade=True, points=2))
    assert compute_checksum(grade) == _md5("assert x", "code", "True", "False", "True", "t1", "2.0")
    sol = new_markdown_cell("é", metadata=meta("s1", grade=True, solution=True, points=0.5))
    assert compute_checksum(sol) == _md5("é", "markdown", "True", "True", "False", "s1", "0.5")
    locked = new_code_cell("import x", metadata=meta("l1", locked=True, points=7))
    assert compute_checksum(locked) == _md5("import x", "code", "False", "False", "True", "l1")


# --------------------------------------------------------------------------- #
# Validation: every message, exactly
# --------------------------------------------------------------------------- #
def test_region_errors():
    raises(
        [new_code_cell("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
                       metadata=meta(solution=True))],
        "nb.ipynb, cell 0: nested 'BEGIN SOLUTION' (no 'END SOLUTION' before it)",
    )  # fmt: skip
    raises(
        [new_code_cell("x\n### END SOLUTION", metadata=meta(solution=True))],
        "nb.ipynb, cell 0: 'END SOLUTION' without a 'BEGIN SOLUTION' before it",
    )
    raises(
        [new_code_cell("x\n    ### BEGIN SOLUTION\ny", metadata=meta(solution=True))],
        "nb.ipynb, cell 0: 'BEGIN SOLUTION' without a matching 'END SOLUTION'",
    )
    raises(
        [new_code_cell("### BEGIN HIDDEN TESTS", metadata=meta(grade=True, points=1))],
        "nb.ipynb, cell 0: 'BEGIN HIDDEN TESTS' without a matching 'END HIDDEN TESTS'",
    )
    raises(
        [new_code_cell("### END HIDDEN TESTS", metadata=meta(grade=True, points=1))],
        "nb.ipynb, cell 0: 'END HIDDEN TESTS' without a 'BEGIN HIDDEN TESTS' before it",
    )
    # two well-formed regions in a row are fine
    ok = "a\n### BEGIN SOLUTION\nb\n### END SOLUTION\nc\n### BEGIN SOLUTION\nd\n### END SOLUTION"
    validate_markup(new_notebook(cells=[new_code_cell(ok, metadata=meta(solution=True))]))
    assert rel._regions(ok, "BEGIN SOLUTION", "END SOLUTION", "w") == 2
    assert rel._regions("x", "BEGIN SOLUTION", "END SOLUTION", "w") == 0


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (new_markdown_cell("the BEGIN HIDDEN TESTS marker"),
         "nb.ipynb, cell 0: exercise marker 'BEGIN HIDDEN TESTS' in a cell without nbgrader "
         "metadata (in prose, write it differently, e.g. 'BEGIN&#32;SOLUTION')"),
        (new_code_cell("# END SOLUTION"),
         "nb.ipynb, cell 0: exercise marker 'END SOLUTION' in a cell without nbgrader "
         "metadata (in prose, write it differently, e.g. 'BEGIN&#32;SOLUTION')"),
        (new_code_cell("x", metadata={"nbgrader": ["solution"]}),
         "nb.ipynb, cell 0: nbgrader metadata must be a dict, got ['solution']"),
        (new_code_cell("x", metadata=meta(solution=True, zz=1, extra=2)),
         "nb.ipynb, cell 0: unknown nbgrader metadata keys ['extra', 'zz']"),
        (new_code_cell("x", metadata=meta(solution=True, schema_version=2)),
         "nb.ipynb, cell 0: nbgrader schema_version must be 3, got 2"),
        (new_code_cell("x", metadata={"nbgrader": {"solution": True, "grade_id": "a"}}),
         "nb.ipynb, cell 0: nbgrader schema_version must be 3, got None"),
        (new_code_cell("x", metadata=meta(grade="yes")),
         "nb.ipynb, cell 0: nbgrader 'grade' must be true or false, got 'yes'"),
        (new_code_cell("x", metadata=meta(solution=1)),
         "nb.ipynb, cell 0: nbgrader 'solution' must be true or false, got 1"),
        (new_code_cell("x", metadata=meta(locked=None)),
         "nb.ipynb, cell 0: nbgrader 'locked' must be true or false, got None"),
        (new_code_cell("### BEGIN SOLUTION\nx\n### END SOLUTION", metadata=meta(locked=True)),
         "nb.ipynb, cell 0: solution region in a cell not marked solution"),
        (new_code_cell("### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS",
                       metadata=meta(locked=True)),
         "nb.ipynb, cell 0: hidden-test region in a cell not marked grade"),
        (new_code_cell("x", metadata=meta(None, solution=True)),
         "nb.ipynb, cell 0: grade_id must be letters, digits, '_' or '-', got None"),
        (new_code_cell("x", metadata=meta(7, locked=True)),
         "nb.ipynb, cell 0: grade_id must be letters, digits, '_' or '-', got 7"),
        (new_code_cell("x", metadata=meta("", grade=True, points=1)),
         "nb.ipynb, cell 0: grade_id must be letters, digits, '_' or '-', got ''"),
        (new_code_cell("x", metadata=meta("a.b", solution=True)),
         "nb.ipynb, cell 0: grade_id must be letters, digits, '_' or '-', got 'a.b'"),
        (new_code_cell("x", metadata=meta("ab\n", solution=True)),
         "nb.ipynb, cell 0: grade_id must be letters, digits, '_' or '-', got 'ab\\n'"),
        (new_code_cell("x", metadata=meta("t", grade=True)),
         "nb.ipynb, cell 0: grade cell 't' has no points"),
        (new_code_cell("x", metadata=meta("t", grade=True, points=True)),
         "nb.ipynb, cell 0: points must be a number >= 0, got True"),
        (new_code_cell("x", metadata=meta("t", grade=True, points="2")),
         "nb.ipynb, cell 0: points must be a number >= 0, got '2'"),
        (new_code_cell("x", metadata=meta("t", grade=True, points=-1)),
         "nb.ipynb, cell 0: points must be a number >= 0, got -1"),
        (new_code_cell("x", metadata=meta("t", grade=True, points=-0.5)),
         "nb.ipynb, cell 0: points must be a number >= 0, got -0.5"),
        (new_markdown_cell("x", metadata=meta("m", solution=True)),
         "nb.ipynb, cell 0: a markdown exercise cell must be both grade and solution "
         "(grade=False, solution=True)"),
        (new_markdown_cell("x", metadata=meta("m", grade=True, points=1)),
         "nb.ipynb, cell 0: a markdown exercise cell must be both grade and solution "
         "(grade=True, solution=False)"),
    ],
)  # fmt: skip
def test_validation_messages(cell, message):
    raises([cell], message)
    # the index and the notebook name are the cell's and the caller's
    with pytest.raises(
        MarkupError, match="^" + re.escape(message.replace("nb.ipynb, cell 0", "x/y.ipynb, cell 1"))
    ):
        release_notebook(new_notebook(cells=[new_code_cell("fine"), cell]), "x/y.ipynb")


def test_default_name_in_messages():
    nb = new_notebook(cells=[new_code_cell("x", metadata=meta("t", grade=True))])
    with pytest.raises(MarkupError, match=r"^notebook, cell 0: grade cell 't' has no points$"):
        validate_markup(nb)
    with pytest.raises(MarkupError, match=r"^notebook, cell 0: grade cell 't' has no points$"):
        release_notebook(nb)


def test_duplicate_grade_id_names_first_cell():
    raises(
        [
            new_code_cell("x", metadata=meta("a", locked=True)),
            new_code_cell("x", metadata=meta("b", solution=True)),
            new_code_cell("x", metadata=meta("b", grade=True, points=1)),
        ],
        "nb.ipynb, cell 2: duplicate grade_id 'b' (also used by cell 1)",
    )


def test_valid_markup_accepted():
    cells = [
        new_code_cell("plain"),
        # no flag set: neither grade_id nor points are needed, and ids may repeat
        new_code_cell("x", metadata={"nbgrader": {"schema_version": 3}}),
        new_code_cell("x", metadata=meta("bad id")),
        new_code_cell("x", metadata=meta("bad id")),
        new_code_cell("x", metadata=meta("Az09_-", grade=True, points=0)),
        new_code_cell("x", metadata=meta("f", grade=True, points=1.5)),
        new_code_cell("x", metadata=meta("z", grade=True, solution=True, points=3)),
        new_markdown_cell("x", metadata=meta("m", grade=True, solution=True, points=2)),
        new_markdown_cell("x", metadata=meta("ml", locked=True)),
        new_code_cell(
            "x", metadata=meta("all", solution=True, task=False, checksum="c", cell_type="code")
        ),
    ]
    assert validate_markup(new_notebook(cells=cells), "ok") is None
    release_notebook(new_notebook(cells=cells), "ok")


# --------------------------------------------------------------------------- #
# What the student gets
# --------------------------------------------------------------------------- #
def test_solution_region_replaced_by_indented_stub():
    src = (
        "def f(x):\n"
        '    """Doc."""\n'
        "    ### BEGIN SOLUTION\n"
        f"    return {SECRET}\n"
        "    ### END SOLUTION\n"
        "\n"
        "y = 1"
    )
    assert released_source(src, solution=True) == (
        'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\ny = 1'
    )
    # tabs and odd indentation are copied from the marker line; the end marker's is ignored
    src = f"if x:\n\t  ### BEGIN SOLUTION\n{SECRET}\n ### END SOLUTION  \nz"
    assert released_source(src, solution=True) == (
        "if x:\n\t  # YOUR CODE HERE\n\t  raise NotImplementedError()\nz"
    )
    # markers need not start the line nor use ###
    src = f"a  # BEGIN SOLUTION here\n{SECRET}\nb = 1  # END SOLUTION\nc"
    assert released_source(src, solution=True) == (
        "# YOUR CODE HERE\nraise NotImplementedError()\nc"
    )


def test_two_solution_regions_and_markdown_stub():
    src = f"a\n### BEGIN SOLUTION\n{SECRET}\n### END SOLUTION\nb\n  ### BEGIN SOLUTION\n{SECRET}\n  ### END SOLUTION"
    assert released_source(src, solution=True) == (
        "a\n# YOUR CODE HERE\nraise NotImplementedError()\nb\n"
        "  # YOUR CODE HERE\n  raise NotImplementedError()"
    )
    md = f"Why?\n\n=== BEGIN SOLUTION\n{SECRET}\n=== END SOLUTION"
    assert released_source(md, "markdown", grade=True, solution=True, points=1) == (
        "Why?\n\nYOUR ANSWER HERE"
    )
    assert released_source(SECRET, "markdown", grade=True, solution=True, points=1) == TEXT_STUB
    assert released_source(f"x = {SECRET}", solution=True) == CODE_STUB
    assert released_source("", solution=True) == CODE_STUB


def test_replace_region_directly():
    assert rel._replace_region("a\nb", "B1", "E1", "S") == ("a\nb", False)
    assert rel._replace_region("a\n B1\nb\nE1\nc", "B1", "E1", "S\nT") == (
        "a\n S\n T\nc",
        True,
    )
    assert rel._replace_region("a\n B1\nb\nE1\nc", "B1", "E1", None) == ("a\nc", True)
    assert rel._replace_region("B1\nE1", "B1", "E1", None) == ("", True)


def test_hidden_tests_removed_and_kept():
    src = (
        "assert f(1) == 1\n"
        "    ### BEGIN HIDDEN TESTS\n"
        f"assert f(2) == {SECRET}\n"
        "### END HIDDEN TESTS\n"
        "assert f(3) == 3"
    )
    cell = new_code_cell(src, metadata=meta("t", grade=True, points=2))
    nb = new_notebook(cells=[cell])
    out = release_notebook(nb, "nb.ipynb")
    assert out.cells[0].source == "assert f(1) == 1\nassert f(3) == 3"
    kept = release_notebook(nb, "nb.ipynb", keep_hidden_tests=True)
    assert kept.cells[0].source == src
    assert kept.cells[0].metadata.nbgrader["checksum"] == compute_checksum(kept.cells[0])
    assert out.cells[0].metadata.nbgrader["checksum"] == compute_checksum(out.cells[0])
    # with keep_hidden_tests the markers are no error
    marker_out = new_code_cell("print()")
    marker_out.outputs = [new_output("stream", name="stdout", text="END HIDDEN TESTS")]
    nb2 = new_notebook(cells=[marker_out])
    assert release_notebook(nb2, keep_hidden_tests=True).cells[0].outputs == marker_out.outputs


def test_grade_and_solution_cell_has_both_stripped():
    src = f"### BEGIN SOLUTION\n{SECRET}\n### END SOLUTION\n### BEGIN HIDDEN TESTS\nh\n### END HIDDEN TESTS"
    cell = new_code_cell(src, metadata=meta("b", grade=True, solution=True, points=1))
    out = release_notebook(new_notebook(cells=[cell]), "nb.ipynb").cells[0]
    assert out.source == CODE_STUB
    assert out.metadata == {
        "deletable": False,
        "nbgrader": {
            "schema_version": 3,
            "grade": True,
            "solution": True,
            "locked": False,
            "grade_id": "b",
            "points": 1,
            "checksum": _md5(CODE_STUB, "code", "True", "True", "False", "b", "1.0"),
            "cell_type": "code",
        },
    }


def test_non_exercise_nbgrader_cells_keep_their_source():
    src = "x = 1  # plain"
    for flags in ({}, {"locked": True}):
        cell = new_code_cell(src, metadata=meta("q", **flags), execution_count=5)
        cell.outputs = [new_output("stream", name="stdout", text="o\n")]
        out = release_notebook(new_notebook(cells=[cell]), "nb.ipynb").cells[0]
        assert out.source == src
        assert out.execution_count == 5 and out.outputs[0]["text"] == "o\n"


def test_flags_checksums_and_outputs_per_kind():
    cells = [
        new_code_cell("p", execution_count=1, metadata={"tags": ["t"]}),
        new_code_cell("s", metadata=meta("s", solution=True), execution_count=2),
        new_code_cell("g", metadata=meta("g", grade=True, points=1), execution_count=3),
        new_code_cell("l", metadata=meta("l", locked=True), execution_count=4),
        new_code_cell("n", metadata=meta("n"), execution_count=5),
        new_markdown_cell("m", metadata=meta("m", grade=True, solution=True, points=2)),
        new_markdown_cell("ml", metadata=meta("ml", locked=True)),
    ]
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = [new_output("stream", name="stdout", text="o\n")]
    nb = new_notebook(cells=cells, metadata={"celltoolbar": "Create Assignment", "k": 1})
    out = release_notebook(nb, "nb.ipynb")
    assert out.metadata == {"k": 1}
    assert nb.metadata["celltoolbar"] == "Create Assignment"  # input untouched
    p, s, g, lk, n, m, ml = out.cells
    assert p.metadata == {"tags": ["t"]} and p.execution_count == 1 and len(p.outputs) == 1
    assert s.metadata["deletable"] is False and "editable" not in s.metadata
    assert (s.outputs, s.execution_count) == ([], None)
    assert (g.outputs, g.execution_count) == ([], None)
    assert g.metadata["deletable"] is False and g.metadata["editable"] is False
    assert lk.metadata["deletable"] is False and lk.metadata["editable"] is False
    assert (lk.execution_count, len(lk.outputs)) == (4, 1)
    assert "deletable" not in n.metadata and "editable" not in n.metadata
    assert n.metadata.nbgrader == meta("n")["nbgrader"]  # no checksum for a free cell
    assert (n.execution_count, len(n.outputs)) == (5, 1)
    assert m.metadata["deletable"] is False and "editable" not in m.metadata
    assert ml.metadata["deletable"] is False and ml.metadata["editable"] is False
    for cell, kind in ((s, "code"), (g, "code"), (lk, "code"), (m, "markdown"), (ml, "markdown")):
        assert cell.metadata.nbgrader["cell_type"] == kind
        assert cell.metadata.nbgrader["checksum"] == compute_checksum(cell)
    assert s.metadata.nbgrader["checksum"] == _md5(CODE_STUB, "code", "False", "True", "False", "s")
    assert m.metadata.nbgrader["checksum"] == _md5(
        TEXT_STUB, "markdown", "True", "True", "False", "m", "2.0"
    )
    assert ml.metadata.nbgrader["checksum"] == _md5(
        "ml", "markdown", "False", "False", "True", "ml"
    )


def test_progress_cells_cleared():
    code = new_code_cell("show()", metadata={"coursekit": {"progress": True}}, execution_count=9)
    code.outputs = [new_output("stream", name="stdout", text="all passed\n")]
    md = new_markdown_cell("progress", metadata={"coursekit": {"progress": True}})
    other = new_code_cell("show()", metadata={"coursekit": {"progress": False}}, execution_count=8)
    other.outputs = [new_output("stream", name="stdout", text="kept\n")]
    out = release_notebook(new_notebook(cells=[code, md, other]), "nb.ipynb")
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None
    assert out.cells[0].source == "show()"
    assert out.cells[1] == md
    assert out.cells[2].outputs[0]["text"] == "kept\n" and out.cells[2].execution_count == 8
    assert code.outputs[0]["text"] == "all passed\n"  # input untouched


def test_release_is_idempotent_on_its_output():
    cells = [
        new_code_cell("### BEGIN SOLUTION\nreturn 1\n### END SOLUTION",
                      metadata=meta("s", solution=True)),
        new_code_cell("assert 1\n### BEGIN HIDDEN TESTS\nassert 2\n### END HIDDEN TESTS",
                      metadata=meta("t", grade=True, points=1)),
        new_markdown_cell("A", metadata=meta("m", grade=True, solution=True, points=1)),
        new_code_cell("import x", metadata=meta("l", locked=True)),
        new_code_cell("plain"),
    ]  # fmt: skip
    # (code around the markers of a solution cell is not: released again, the cell has
    # no markers left and is replaced whole, as nbgrader does)
    once = release_notebook(new_notebook(cells=cells), "nb.ipynb")
    assert release_notebook(new_notebook(cells=cells), "nb.ipynb") == once
    twice = release_notebook(once, "nb.ipynb")
    assert twice == once
    assert notebook_bytes(twice) == notebook_bytes(once)


@pytest.mark.parametrize(
    "source",
    [
        f"### BEGIN SOLUTION\n{SECRET}\n### END SOLUTION",
        f"        ### BEGIN SOLUTION\n{SECRET}\n### END SOLUTION",
        f"x\n### BEGIN SOLUTION\n    {SECRET}\n        ### END SOLUTION",
        f"#BEGIN SOLUTION\n{SECRET}\n#END SOLUTION\n",
        f"### BEGIN SOLUTION\n{SECRET}\n### END SOLUTION\n### BEGIN SOLUTION\n{SECRET}\n### END SOLUTION",
        f"{SECRET}",
    ],
)
def test_no_solution_text_survives(source):
    for kind, flags in (
        ("code", {"solution": True}),
        ("code", {"solution": True, "grade": True, "points": 1}),
        ("markdown", {"solution": True, "grade": True, "points": 1}),
    ):
        out = released_source(source, kind, **flags)
        assert SECRET not in out and "SOLUTION" not in out


@pytest.mark.parametrize(
    "source",
    [
        f"### BEGIN SOLUTION\n### BEGIN SOLUTION\n{SECRET}\n### END SOLUTION\n### END SOLUTION",
        f"### BEGIN SOLUTION\n{SECRET}",
        f"{SECRET}\n### END SOLUTION",
        f"### END SOLUTION\n{SECRET}\n### BEGIN SOLUTION",
    ],
)
def test_malformed_solution_regions_refused(source):
    with pytest.raises(MarkupError):
        released_source(source, solution=True)


def test_marker_left_in_metadata_is_an_error():
    cell = new_code_cell("x", metadata={"note": "END SOLUTION"})
    with pytest.raises(
        MarkupError, match=r"^nb\.ipynb, cell 0: 'END SOLUTION' left in the student edition$"
    ):
        release_notebook(new_notebook(cells=[cell]), "nb.ipynb")
    nb = new_notebook(cells=[new_code_cell("x")], metadata={"x": "a BEGIN HIDDEN TESTS"})
    with pytest.raises(
        MarkupError,
        match=r"^nb\.ipynb, notebook metadata: 'BEGIN HIDDEN TESTS' left in the student edition$",
    ):
        release_notebook(nb, "nb.ipynb")
    nb = new_notebook(cells=[new_code_cell("x")], metadata={"x": "END HIDDEN TESTS"})
    with pytest.raises(MarkupError, match=r"^notebook, notebook metadata: 'END HIDDEN TESTS'"):
        release_notebook(nb)
    # the markers in order: the first one found is named
    cell = new_code_cell("x", metadata={"n": "END HIDDEN TESTS BEGIN SOLUTION"})
    with pytest.raises(MarkupError, match=r"cell 0: 'BEGIN SOLUTION' left"):
        release_notebook(new_notebook(cells=[cell]), "nb.ipynb")
    cells = [new_code_cell("x"), new_code_cell("y", metadata={"n": "BEGIN HIDDEN TESTS"})]
    with pytest.raises(MarkupError, match=r"^notebook, cell 1: 'BEGIN HIDDEN TESTS' left"):
        release_notebook(new_notebook(cells=cells))


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
def test_notebook_bytes_and_sha():
    nb = new_notebook(cells=[new_code_cell("é")])
    data = notebook_bytes(nb)
    assert data == (nbformat.writes(nb, version=4) + "\n").encode("utf-8")
    assert data.endswith(b"}\n\n") or data.endswith(b"}\n")
    assert "é".encode() in data
    assert sha256_bytes(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_find_notebooks(tmp_path):
    for rel_path in ("b.ipynb", "a/z.ipynb", "a/.ipynb_checkpoints/z-checkpoint.ipynb",
                     ".hidden/h.ipynb", "a/.h.ipynb", "notes.txt", "A.ipynb"):  # fmt: skip
        path = tmp_path / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    (tmp_path / "dir.ipynb").mkdir()
    found = find_notebooks(str(tmp_path))
    assert [p.as_posix() for p in found] == ["A.ipynb", "a/z.ipynb", "b.ipynb"]
    assert not any(p.is_absolute() for p in found)
    with pytest.raises(FileNotFoundError, match=r"^folder must be a directory, got '.*b\.ipynb'$"):
        find_notebooks(tmp_path / "b.ipynb")


def _write(path, cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), path)


def test_build_release_and_unreadable_notebook(tmp_path):
    src = tmp_path / "src"
    _write(src / "sub" / "n.ipynb", [new_code_cell(SECRET, metadata=meta("s", solution=True))])
    out = build_release(str(src))
    assert list(out) == ["sub/n.ipynb"]
    nb = nbformat.reads(out["sub/n.ipynb"].decode(), as_version=4)
    assert nb.cells[0].source == CODE_STUB
    (src / "bad.ipynb").write_text("not json", encoding="utf-8")
    with pytest.raises(MarkupError, match=r"^bad\.ipynb: cannot read the notebook \(\w+Error: "):
        build_release(src)


def test_release_writes_manifest_and_reports(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "deep" / "out"
    _write(src / "a.ipynb", [new_code_cell("x")])
    _write(src / "d" / "b.ipynb", [new_code_cell(SECRET, metadata=meta("s", solution=True))])
    manifest = release(str(src), str(out))
    assert capsys.readouterr().out == (
        f"released 2 notebooks from {src} into {out} (2 written, 0 unchanged)\n"
    )
    expected = {
        "a.ipynb": sha256_bytes((out / "a.ipynb").read_bytes()),
        "d/b.ipynb": sha256_bytes((out / "d" / "b.ipynb").read_bytes()),
    }
    assert manifest == expected
    text = (out / MANIFEST_NAME).read_text(encoding="utf-8")
    assert text == json.dumps(expected, indent=1, sort_keys=True) + "\n"
    assert SECRET not in (out / "d" / "b.ipynb").read_text(encoding="utf-8")
    # one changed file is rewritten, the other not
    _write(src / "a.ipynb", [new_code_cell("y")])
    release(src, out)
    assert "(1 written, 1 unchanged)" in capsys.readouterr().out
    # a damaged manifest is rewritten; a damaged output is rewritten
    (out / MANIFEST_NAME).write_text("[1, 2]", encoding="utf-8")
    (out / "a.ipynb").write_text("junk", encoding="utf-8")
    release(src, out)
    assert "(1 written, 1 unchanged)" in capsys.readouterr().out
    assert (out / MANIFEST_NAME).read_text(encoding="utf-8") != "[1, 2]"
    assert json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8")) == release(
        src, out, quiet=True
    )
    assert capsys.readouterr().out == ""


def test_release_unchanged_manifest_not_rewritten(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _write(src / "a.ipynb", [new_code_cell("x")])
    release(src, out, quiet=True)
    path = out / MANIFEST_NAME
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before - 10**9, before - 10**9))
    release(src, out, quiet=True)
    assert path.stat().st_mtime_ns == before - 10**9


def test_release_stale_files(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _write(src / "a.ipynb", [new_code_cell("x")])
    _write(src / "b.ipynb", [new_code_cell("x")])
    _write(src / "c.ipynb", [new_code_cell("x")])
    release(src, out, quiet=True)
    (src / "b.ipynb").unlink()
    (src / "c.ipynb").unlink()
    (out / "c.ipynb").unlink()
    (out / "c.ipynb").mkdir()  # not a file: left alone
    (out / "mine.ipynb").write_text("x")  # never released: left alone
    assert release(src, out, quiet=True) == {
        "a.ipynb": sha256_bytes((out / "a.ipynb").read_bytes())
    }
    assert not (out / "b.ipynb").exists()
    assert (out / "c.ipynb").is_dir() and (out / "mine.ipynb").is_file()


def test_release_refuses_nested_dirs(tmp_path):
    src = tmp_path / "src"
    _write(src / "a.ipynb", [new_code_cell("x")])
    with pytest.raises(
        ValueError,
        match=r"^out_dir must lie outside source_dir \(and not contain it\), got "
        + re.escape(f"out_dir={str(tmp_path)!r}, source_dir={str(src)!r}")
        + "$",
    ):
        release(src, tmp_path, quiet=True)
    with pytest.raises(ValueError, match=r"^out_dir must lie outside"):
        release(src, src / "x" / "y", quiet=True)
    release(src, tmp_path / "src2", quiet=True)  # a sibling with a common prefix is fine
    assert (tmp_path / "src2" / "a.ipynb").is_file()


def test_read_manifest(tmp_path):
    path = tmp_path / "m.json"
    assert rel._read_manifest(path) == {}
    path.write_text("{bad", encoding="utf-8")
    assert rel._read_manifest(path) == {}
    path.write_text('["a"]', encoding="utf-8")
    assert rel._read_manifest(path) == {}
    path.write_text('{"é": "x"}', encoding="utf-8")
    assert rel._read_manifest(path) == {"é": "x"}


def test_flag_defaults_are_false():
    bare = new_code_cell("", metadata={"nbgrader": {}})
    assert (is_grade(bare), is_solution(bare), is_locked(bare)) == (False, False, False)
    assert rel._meta(new_code_cell("")) == {}


def test_find_notebooks_sorts_by_posix_path(tmp_path):
    # "a-b" < "a/z" as strings ("-" < "/"), but Path order compares the parts ("a" < "a-b")
    for rel_path in ("a/z.ipynb", "a-b.ipynb"):
        path = tmp_path / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert [p.as_posix() for p in find_notebooks(tmp_path)] == ["a-b.ipynb", "a/z.ipynb"]


def test_release_defaults_and_empty_source(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "notebooks" / "a.ipynb", [new_code_cell("x")])
    manifest = release()
    assert set(manifest) == {"a.ipynb"} and (tmp_path / "student" / "a.ipynb").is_file()
    assert capsys.readouterr().out == (
        "released 1 notebooks from notebooks into student (1 written, 0 unchanged)\n"
    )
    (tmp_path / "empty").mkdir()
    assert release("empty", "deep/er/out", quiet=True) == {}
    assert (tmp_path / "deep" / "er" / "out" / MANIFEST_NAME).read_text() == "{}\n"


def test_predicates_on_a_cell_without_metadata():
    bare = nbformat.NotebookNode({"cell_type": "code", "source": ""})
    assert is_progress_cell(bare) is False
    assert (is_grade(bare), is_solution(bare), is_locked(bare)) == (False, False, False)


def test_validate_a_cell_without_metadata():
    bare = nbformat.NotebookNode({"cell_type": "code", "source": "x = 1"})
    assert validate_markup(nbformat.NotebookNode({"cells": [bare]})) is None
    bare = nbformat.NotebookNode({"cell_type": "code", "source": "# END SOLUTION"})
    with pytest.raises(MarkupError, match=r"^notebook, cell 0: exercise marker 'END SOLUTION'"):
        validate_markup(nbformat.NotebookNode({"cells": [bare]}))


def test_cells_after_a_free_nbgrader_cell_are_checked():
    raises(
        [
            new_code_cell("x", metadata=meta("free")),
            new_code_cell("x", metadata=meta("t", grade=True)),
        ],
        "nb.ipynb, cell 1: grade cell 't' has no points",
    )


def test_attachments_only_the_answer_used_are_dropped():
    # nbgrader keeps every attachment of a solution cell: an image pasted into the
    # answer would reach the student.
    cell = new_markdown_cell(
        "![q](attachment:q.png)\n=== BEGIN SOLUTION\n![a](attachment:a.png)\n=== END SOLUTION",
        metadata=meta("m", grade=True, solution=True, points=1),
    )
    cell.attachments = {"q.png": {"image/png": "UQ=="}, "a.png": {"image/png": "QQ=="}}
    out = release_notebook(new_notebook(cells=[cell]), "nb.ipynb").cells[0]
    assert out.source == "![q](attachment:q.png)\nYOUR ANSWER HERE"
    assert out.attachments == {"q.png": {"image/png": "UQ=="}}
    assert set(cell.attachments) == {"q.png", "a.png"}  # input untouched
    cell.source = "![a](attachment:a.png)"  # no markers: the whole cell is the answer
    out = release_notebook(new_notebook(cells=[cell]), "nb.ipynb").cells[0]
    assert out.source == TEXT_STUB and "attachments" not in out
    # a locked cell's attachments are the instructor's: kept
    locked = new_markdown_cell("![f](attachment:f.png)", metadata=meta("l", locked=True))
    locked.attachments = {"f.png": {"image/png": "Rg=="}, "unused.png": {"image/png": "Rg=="}}
    out = release_notebook(new_notebook(cells=[locked]), "nb.ipynb").cells[0]
    assert out.attachments == locked.attachments
