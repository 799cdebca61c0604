"""The committed course notebooks follow docs/NOTEBOOKS.md.

nbval checks that the stored outputs are reproduced; these tests check the
shape of each notebook: normalised JSON, the cells every notebook must have,
exercises in nbgrader's format, slide metadata, and no warnings left printed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.progress import is_progress_cell, progress_cells
from coursekit.notebooks import (
    KERNELSPEC,
    WIDGET_VIEW,
    course_notebooks,
    normalise,
    stderr_outputs,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = course_notebooks(ROOT / "notebooks")
NB_IDS = [p.stem for p in NOTEBOOKS]
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
NBGRADER_KEYS = {
    "schema_version",
    "grade",
    "solution",
    "locked",
    "grade_id",
    "points",
    "checksum",
    "cell_type",
    "task",
}


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_the_course_has_the_ten_notebooks_in_order():
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(10)], numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_json_is_normalised(path):
    raw = path.read_text()
    nb = nbformat.reads(raw, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"] == KERNELSPEC
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"execution counts have gaps: {counts}"
    again = nbformat.writes(normalise(nbformat.reads(raw, as_version=4)))
    assert again.strip() == raw.strip(), "not normalised: run `make notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_every_code_cell_was_run_and_no_warning_is_left_printed(path):
    nb = _read(path)
    assert not stderr_outputs(nb), stderr_outputs(nb)[:3]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"cell {i} stored an error: {errors[0].get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_required_cells(path):
    nb = _read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]}")
    for heading in ("Learning objectives", "Prerequisites", "study time"):
        assert heading.lower() in first.source.lower(), f"title cell lacks {heading!r}"
    colab = nb.cells[1]
    assert colab.cell_type == "code" and "google.colab" in colab.source
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assert re.search(r'^MODE = "default"', params[0].source, re.M)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "<details>" in text and "check your understanding" in text.lower()
    assert re.search(r"^## .*summary", text, re.M | re.I), "no summary section"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_slide_metadata_on_every_cell(path):
    nb = _read(path)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    assert all(k in SLIDE_TYPES for k in kinds), "every cell needs a slideshow slide_type"
    assert kinds.count("slide") >= 3, "a deck needs several slides"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_exercises_are_in_nbgrader_format(path):
    nb = _read(path)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert 2 <= len(graded) <= 5, f"{len(graded)} graded test cells; the course wants 2 to 5"
    assert solutions, "no solution cells"
    ids = []
    for cell in graded + solutions:
        meta = cell.metadata["nbgrader"]
        assert set(meta) <= NBGRADER_KEYS, set(meta) - NBGRADER_KEYS
        assert meta["schema_version"] == 3
        assert re.fullmatch(r"[A-Za-z0-9_-]+", meta["grade_id"])
        ids.append(meta["grade_id"])
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for cell in graded:
        assert cell.metadata["nbgrader"]["points"] > 0 and cell.metadata["nbgrader"]["locked"]
        # A failed check must not stop Run All: JupyterLab goes on past such a cell.
        assert "raises-exception" in cell.metadata.get("tags", []), "check cell not tagged"
        assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source
    for cell in solutions:
        if cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            # The region must sit inside a function so the student edition still runs.
            begin = cell.source.index("### BEGIN SOLUTION")
            indent = cell.source[:begin].rsplit("\n", 1)[-1]
            assert indent.strip() == "" and len(indent) >= 4, "solution must be inside a def"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_no_tool_comments_in_code(path):
    # Students read the code: nbval and formatter markers live in cell tags and
    # configuration, not in comments (`# NBVAL_IGNORE_OUTPUT`, `# fmt: skip`).
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            assert not re.search(r"#\s*(NBVAL_|fmt:\s*(skip|off|on)|noqa)", line), (
                f"cell {i}: tool comment {line!r}; use a cell tag or configuration"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_uncompared_cells_say_why_and_assert_their_result(path):
    # Ignoring a cell's output is the exception: the cell is tagged
    # nbval-ignore-output, says why in its metadata ("coursekit": {"uncompared":
    # "..."}), and asserts its key result itself, so a wrong result still fails.
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        reason = cell.metadata.get("coursekit", {}).get("uncompared")
        if "nbval-ignore-output" not in tags:
            assert reason is None, f"cell {i}: a reason for an output that is compared"
            continue
        assert isinstance(reason, str) and len(reason) > 10, f"cell {i}: say why it is uncompared"
        assert re.search(r"^\s*(assert|if CHECK_RESULTS:)", cell.source, re.M), (
            f"cell {i}: output not compared and nothing asserted"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_parameters_cell_has_check_results(path):
    # The full-mode smoke test (tiny data, one epoch) turns the accuracy checks off
    # with this one parameter, and only there.
    params = [c for c in _read(path).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert re.search(r"^CHECK_RESULTS = True\b", params[0].source, re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_code_cells_are_short(path):
    long = [
        (i, len(c.source.splitlines()))
        for i, c in enumerate(_read(path).cells)
        if c.cell_type == "code" and len(c.source.splitlines()) > 25
    ]
    assert not long, f"code cells over 25 lines (cell, lines): {long}; split them with prose"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_stored_outputs_are_what_a_student_first_sees(path):
    nb = _read(path)
    # A stored widget view needs a live model: without one, a progress bar reopens
    # at its first state ("0/55") and an explorer says "model not found".
    views = [
        i
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert not views, f"cells {views} store widget views: re-run with `make notebooks`"
    # JupyterLab writes the kernel's language_info on opening; equal, the notebook stays clean.
    info = nb.metadata["language_info"]
    assert {"codemirror_mode", "file_extension", "mimetype", "version"} <= set(info), info


def test_normalise_joins_a_stream_split_into_several_messages():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('a'); print('b')", execution_count=7)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("stream", name="stderr", text="w\n"),
        nbformat.v4.new_output("stream", name="stdout", text="c\n"),
    ]
    nb.cells = [cell]
    out = normalise(nb).cells[0].outputs
    assert [(o.name, o.text) for o in out] == [
        ("stdout", "a\nb\n"),
        ("stderr", "w\n"),
        ("stdout", "c\n"),
    ]


def test_normalise_completes_a_partial_language_info_without_turning_bars_into_widgets():
    # A fresh process, as `make notebooks` is: tqdm.auto picks its class on first import.
    code = textwrap.dedent(
        """
        import json, platform, nbformat
        from coursekit.notebooks import normalise
        nb = nbformat.v4.new_notebook()
        nb.metadata["language_info"] = {"name": "python"}
        info = normalise(nb).metadata["language_info"]
        import tqdm.auto, tqdm.notebook
        print(json.dumps([info, platform.python_version(),
                          issubclass(tqdm.auto.tqdm, tqdm.notebook.tqdm)]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    info, version, widget_bar = json.loads(out.stdout)
    assert info["version"] == version
    assert info["codemirror_mode"] == {"name": "ipython", "version": 3}
    assert info["mimetype"] == "text/x-python" and info["file_extension"] == ".py"
    assert widget_bar is False, "tqdm.auto became the notebook bar in a plain process"


def _with_widget_state(view: bool) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    data = {"text/plain": "slider"}
    if view:
        data[WIDGET_VIEW] = {"model_id": "m1", "version_major": 2, "version_minor": 0}
    cell = nbformat.v4.new_code_cell("slider", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    nb.cells = [cell]
    state = {"m1": {"model_name": "IntSliderModel", "state": {"value": 3}}}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    return nb


def test_normalise_drops_widget_state_that_no_output_shows():
    # Static widgets leave state behind that nothing shows; Lab would mark the
    # notebook modified on opening while it rebuilt those models.
    assert "widgets" not in normalise(_with_widget_state(view=False)).metadata
    kept = normalise(_with_widget_state(view=True)).metadata["widgets"]
    assert kept["application/vnd.jupyter.widget-state+json"]["state"]["m1"]["state"] == {"value": 3}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_no_widget_state_without_a_widget_view(path):
    nb = _read(path)
    views = [o for c in nb.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert views or "widgets" not in nb.metadata


def _graded(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_ends_with_the_progress_cells(path):
    # Written by scripts/add_progress_cell.py, never by hand: run it (or `make notebooks`)
    # after adding, removing or renaming an exercise anywhere in the course.
    nb = _read(path)
    fix = "run `python scripts/add_progress_cell.py`"
    assert sum(map(is_progress_cell, nb.cells)) == 2, fix
    *rest, intro, code = nb.cells
    for cell, want in zip((intro, code), progress_cells(), strict=True):
        assert cell.cell_type == want.cell_type and cell.source == want.source, fix
        assert cell.metadata == want.metadata, fix
    assert rest[-1].cell_type == "markdown" and re.match(r"## .*summary", rest[-1].source, re.I)
    # The stored output is the instructor's: the whole course, every exercise passed.
    text = "".join(o.get("text", "") for o in code.outputs if o.output_type == "stream")
    graded = [c for p in NOTEBOOKS for c in _graded(_read(p))]
    points = f"{sum(c.metadata.nbgrader.points for c in graded):g}"
    total = (
        f"Total: {points}/{points} points; {len(graded)} passed, 0 failed, "
        f"0 not attempted (of {len(graded)} exercises)."
    )
    assert total in text, f"stale progress output: {fix}"
