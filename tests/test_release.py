"""Student edition: solutions and hidden tests stripped exactly as nbgrader does."""

import copy
import hashlib
import json
import shutil
from pathlib import Path

import nbformat  # noqa: E402
import pytest
from helpers import tree_hash
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: E402

from coursekit.grading import cli  # noqa: E402
from coursekit.grading.release import (  # noqa: E402
    CODE_STUB,
    MANIFEST_NAME,
    MarkupError,
    compute_checksum,
    release,
    release_notebook,
)

FIXTURE = Path(__file__).parent / "fixtures" / "grading" / "source"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def meta(gid, grade=False, solution=False, locked=False, points=None):
    m = {"schema_version": 3, "grade": grade, "solution": solution, "locked": locked}
    m["grade_id"] = gid
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "notebooks"
    shutil.copytree(FIXTURE, src)
    return src


def test_release_strips_solutions_and_hidden_tests(source, tmp_path):
    before = tree_hash(source)
    manifest = release(source, tmp_path / "student", quiet=True)
    assert tree_hash(source) == before  # the source is never modified
    out = tmp_path / "student" / "01_sample.ipynb"
    text = out.read_text(encoding="utf-8")
    for marker in MARKERS:
        assert marker not in text
    nb = nbformat.read(out, as_version=4)
    src = nbformat.read(source / "01_sample.ipynb", as_version=4)
    assert len(nb.cells) == len(src.cells)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    # Code before the markers stays; the stub keeps the indentation of the marker.
    assert by_id["ex1-mse"].source == (
        "def mse(y_pred, y_true):\n"
        '    """Mean squared error of two arrays of shape (N,); returns a float."""\n'
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()"
    )
    assert by_id["ex1-mse-tests"].source == "check_mse(mse)"
    assert "strict.check_equal(n_params(), 760)" not in text
    assert by_id["q1-sharing"].source.endswith("\n\nYOUR ANSWER HERE")
    assert "One kernel is reused" not in text
    # Outputs of other cells are kept (the student sees them on first open).
    assert by_id[None].outputs[0]["text"] == "the end\n"
    # The manifest records the released file's hash.
    assert manifest == {"01_sample.ipynb": hashlib.sha256(out.read_bytes()).hexdigest()}
    on_disk = json.loads((tmp_path / "student" / MANIFEST_NAME).read_text())
    assert on_disk == manifest


def test_release_clears_outputs_of_exercise_cells_only():
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1\nx", metadata=meta("a", solution=True), execution_count=3),
            new_code_cell("assert x == 1", metadata=meta("t", grade=True, points=1)),
            new_code_cell("print(2)", execution_count=4),
        ]
    )
    for cell in nb.cells:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="out\n")]
    released = release_notebook(nb, "nb.ipynb")
    assert released.cells[0].outputs == [] and released.cells[0].execution_count is None
    assert released.cells[1].outputs == []
    assert released.cells[2].outputs[0]["text"] == "out\n"
    assert released.cells[2].execution_count == 4
    assert released.cells[0].source == CODE_STUB  # no markers: whole cell replaced
    assert nb.cells[0].source == "x = 1\nx"  # the input is not modified


def test_same_result_as_nbgrader_preprocessors(source):
    pre = pytest.importorskip("nbgrader.preprocessors", reason="nbgrader is not installed")
    src = nbformat.read(source / "01_sample.ipynb", as_version=4)
    theirs = copy.deepcopy(src)
    resources: dict = {}
    # nbgrader generate_assignment's order, without the output clearing (we keep
    # the outputs of cells without markup) and the database steps.
    for step in (
        pre.LockCells(),
        pre.ClearSolutions(),
        pre.ComputeChecksums(),
        pre.ClearHiddenTests(),
        pre.ComputeChecksums(),
    ):
        theirs, resources = step.preprocess(theirs, resources)
    ours = release_notebook(src, "01_sample.ipynb")
    for index, (a, b) in enumerate(zip(ours.cells, theirs.cells, strict=True)):
        assert a.source == b.source, index
        assert a.metadata == b.metadata, index


def test_checksum_matches_nbgrader_compute_checksum():
    utils = pytest.importorskip("nbgrader.utils", reason="nbgrader is not installed")
    cells = [
        new_code_cell("x = 1", metadata=meta("s", solution=True)),
        new_code_cell("assert x == 1", metadata=meta("t", grade=True, locked=True, points=2)),
        new_code_cell("assert x", metadata=meta("u", grade=True, points=0.5)),
        new_code_cell("import numpy", metadata=meta("l", locked=True)),
        new_markdown_cell("é answer", metadata=meta("m", grade=True, solution=True, points=3)),
    ]
    sums = set()
    for cell in cells:
        assert compute_checksum(cell) == utils.compute_checksum(cell)
        sums.add(compute_checksum(cell))
    assert len(sums) == len(cells)


def test_release_is_idempotent_and_removes_stale_notebooks(source, tmp_path, capsys):
    out = tmp_path / "student"
    shutil.copy(source / "01_sample.ipynb", source / "02_more.ipynb")
    first = release(source, out)
    snapshot = tree_hash(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    second = release(source, out)
    assert first == second and tree_hash(out) == snapshot
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes  # nothing rewritten
    assert "(0 written, 2 unchanged)" in capsys.readouterr().out
    (source / "02_more.ipynb").unlink()
    third = release(source, out, quiet=True)
    assert set(third) == {"01_sample.ipynb"}
    assert not (out / "02_more.ipynb").exists()


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            [
                new_code_cell("x = 1"),
                new_code_cell("### BEGIN SOLUTION\nx = 2", metadata=meta("a", solution=True)),
            ],
            r"bad\.ipynb, cell 1: 'BEGIN SOLUTION' without a matching 'END SOLUTION'",
        ),
        (
            [new_code_cell("x = 2\n### END SOLUTION", metadata=meta("a", solution=True))],
            r"bad\.ipynb, cell 0: 'END SOLUTION' without a 'BEGIN SOLUTION'",
        ),
        (
            [
                new_code_cell("x = 1", metadata=meta("a", solution=True)),
                new_code_cell("y = 1", metadata=meta("a", solution=True)),
            ],
            r"bad\.ipynb, cell 1: duplicate grade_id 'a' \(also used by cell 0\)",
        ),
        (
            [new_code_cell("assert True", metadata=meta("t", grade=True))],
            r"bad\.ipynb, cell 0: grade cell 't' has no points",
        ),
        (
            [
                new_code_cell(
                    "### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS",
                    metadata=meta("s", solution=True),
                )
            ],
            r"cell 0: hidden-test region in a cell not marked grade",
        ),
        (
            [new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")],
            r"cell 0: exercise marker 'BEGIN SOLUTION' in a cell without nbgrader metadata",
        ),
        (
            [new_code_cell("x = 1", metadata=meta("bad id", solution=True))],
            r"cell 0: grade_id must be letters, digits, '_' or '-', got 'bad id'",
        ),
    ],
)
def test_malformed_markup_names_notebook_and_cell(cells, message):
    with pytest.raises(MarkupError, match=message):
        release_notebook(new_notebook(cells=cells), "bad.ipynb")


def test_marker_left_anywhere_is_an_error():
    cell = new_code_cell("print(open('x').read())")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="### BEGIN SOLUTION\n")]
    with pytest.raises(
        MarkupError, match=r"bad\.ipynb, cell 0: 'BEGIN SOLUTION' left in the student edition"
    ):
        release_notebook(new_notebook(cells=[cell]), "bad.ipynb")


def test_release_checks_everything_before_writing(source, tmp_path):
    bad = new_notebook(
        cells=[new_code_cell("### BEGIN SOLUTION", metadata=meta("a", solution=True))]
    )
    nbformat.write(bad, source / "02_bad.ipynb")
    with pytest.raises(MarkupError, match=r"02_bad\.ipynb, cell 0"):
        release(source, tmp_path / "student", quiet=True)
    assert not (tmp_path / "student").exists()


def test_release_argument_errors(source, tmp_path):
    with pytest.raises(ValueError, match=r"out_dir must lie outside source_dir"):
        release(source, source / "student", quiet=True)
    with pytest.raises(ValueError, match=r"out_dir must lie outside source_dir"):
        release(source, source, quiet=True)
    with pytest.raises(FileNotFoundError, match=r"source_dir must be a directory, got '.*nowhere'"):
        release(tmp_path / "nowhere", tmp_path / "student", quiet=True)
    with pytest.raises(TypeError, match=r"nb must be an nbformat NotebookNode, got dict"):
        release_notebook({"cells": []})


def test_cli_release(source, tmp_path, capsys):
    assert cli.main(["release", str(source), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "01_sample.ipynb").is_file()
    assert "released 1 notebooks" in capsys.readouterr().out
    assert cli.main(["release", str(tmp_path / "nowhere"), str(tmp_path / "out2")]) == 1
    assert "coursekit release: error: source_dir must be a directory" in capsys.readouterr().err
