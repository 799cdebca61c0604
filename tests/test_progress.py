"""``coursekit progress``: every exercise passed, failed or not attempted; notebooks untouched."""

import contextlib
import hashlib
import io
import re
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest
from helpers import load_script

from coursekit.grading import cli
from coursekit.grading import progress as prog
from coursekit.grading.progress import (
    FAILED,
    NOT_ATTEMPTED,
    PASSED,
    STUDY_MINUTES,
    ExerciseProgress,
    next_step,
    progress,
    progress_report,
    remaining_minutes,
)

ROOT = Path(__file__).resolve().parents[1]
NB01 = "01_losses.ipynb"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def solution_source(grade_id: str) -> str:
    nb = nbformat.read(ROOT / "notebooks" / NB01, as_version=4)
    return next(
        c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course of notebook 01 alone, and a workspace: exercise 1 solved, 2 wrong, 3 untouched."""
    tmp = tmp_path_factory.mktemp("progress")
    source, workspace = tmp / "notebooks", tmp / "workspace"
    source.mkdir()
    workspace.mkdir()
    shutil.copy(ROOT / "notebooks" / NB01, source / NB01)
    nb = nbformat.read(ROOT / "student" / NB01, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "nb01-softmax":
            cell.source = solution_source(gid)
        elif gid == "nb01-bce-logits":
            cell.source = "def bce_with_logits(z, y):\n    return 0.0  # wrong\n"
    nbformat.write(nb, workspace / NB01)
    return source, workspace


@pytest.mark.slow
def test_one_passed_one_failed_one_unattempted(course):
    source, workspace = course
    saved = workspace / NB01
    before, mtime = sha(saved), saved.stat().st_mtime_ns
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["progress", "--workspace", str(workspace), "--source", str(source)])
    assert status == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"Progress in {workspace}")
    table = lines[lines.index(f"{NB01}  2/7 points") :]
    assert table[1] == "  ✔ passed           2/2  Exercise 1: a stable softmax"
    assert table[2].startswith(
        "  ✘ failed           0/2  Exercise 2: binary cross-entropy from logits  bce_with_logits: "
    )
    assert table[3] == "  ✎ not attempted    0/3  Exercise 3: cross-entropy and its gradient"
    assert "Total: 2/7 points; 1 passed, 1 failed, 1 not attempted (of 3 exercises)." in lines
    assert any(
        line.startswith(
            f"Next: fix Exercise 2: binary cross-entropy from logits in {NB01} (bce_with_logits: "
        )
        for line in lines
    )
    # 90 min for notebook 01, 5 of its 7 points still to earn: 64 min, shown to 5 min.
    assert lines[-1].startswith("Time left: about 1 h 5 min of study")
    # The saved notebook is never written, and nothing is added to the workspace.
    assert sha(saved) == before and saved.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in workspace.iterdir()) == [NB01]


@pytest.mark.slow
def test_records(course):
    source, workspace = course
    before = sha(workspace / NB01)
    records = progress(workspace, source)
    assert [(r.grade_id, r.status, r.points, r.max_points) for r in records] == [
        ("nb01-softmax-tests", PASSED, 2.0, 2.0),
        ("nb01-bce-logits-tests", FAILED, 0.0, 2.0),
        ("nb01-cross-entropy-tests", NOT_ATTEMPTED, 0.0, 3.0),
    ]
    assert {r.notebook for r in records} == {NB01}
    assert re.match(r"bce_with_logits: \d/\d cases passed", records[1].detail)
    assert sha(workspace / NB01) == before


def test_study_times_agree_with_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The course", 1)[1].split("\n## ", 1)[0]
    found = {}
    for name, time in re.findall(
        r"^\| \[[^]]+\]\(notebooks/([^)]+)\) \|.*\| ([^|]+) \|$", section, re.M
    ):
        number, unit = time.split()
        found[name] = round(float(number) * (60 if unit == "h" else 1))
        assert unit in ("h", "min"), time
    assert found == STUDY_MINUTES
    assert sorted(STUDY_MINUTES) == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9]*.ipynb")
    )


def test_empty_workspace_everything_not_attempted(tmp_path, monkeypatch):
    monkeypatch.setattr(prog, "_run_checks", lambda *a, **k: pytest.fail("no kernel needed"))
    records = progress(tmp_path, ROOT / "student")
    assert records and all(r.status == NOT_ATTEMPTED and r.points == 0 for r in records)
    assert {r.notebook for r in records} == set(STUDY_MINUTES)
    text = progress_report(records, tmp_path)
    assert "00_start_here.ipynb  0/5 points  (not in the workspace)" in text
    assert next_step(records) == (
        "Next: Exercise 1: from NHWC to NCHW in 00_start_here.ipynb "
        "(not in your workspace yet: run 'coursekit workspace')."
    )
    assert remaining_minutes(records) == (sum(STUDY_MINUTES.values()), [])
    assert "Time left: about 19 h 45 min of study" in text


def test_untouched_notebook_needs_no_kernel(tmp_path, monkeypatch):
    monkeypatch.setattr(prog, "_run_checks", lambda *a, **k: pytest.fail("no kernel needed"))
    source = tmp_path / "notebooks"
    source.mkdir()
    shutil.copy(ROOT / "notebooks" / NB01, source / NB01)
    shutil.copy(ROOT / "student" / NB01, tmp_path / NB01)
    records = progress(tmp_path, source)
    assert [r.status for r in records] == [NOT_ATTEMPTED] * 3
    assert next_step(records) == "Next: Exercise 1: a stable softmax in 01_losses.ipynb."


def test_summaries():
    done = [ExerciseProgress("01_losses.ipynb", "a", "Exercise 1: a", PASSED, 2.0, 2.0)]
    assert next_step(done) == "Next: nothing; every exercise passes its visible checks."
    assert progress_report(done).splitlines()[-1] == "Time left: none."
    other = ExerciseProgress("extra.ipynb", "b", "Exercise 1: b", FAILED, 0.0, 1.0, "x: 0/1")
    assert remaining_minutes([*done, other]) == (0.0, ["extra.ipynb"])
    assert "not counted: extra.ipynb" in progress_report([*done, other])


def test_reading_check_outputs():
    def stream(text):
        return {"output_type": "stream", "name": "stdout", "text": text}

    def error(ename, evalue=""):
        return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}

    parse = prog._parse_check
    assert parse([stream("✔ f: 3/3 cases passed\n")], 60) == (PASSED, "")
    assert parse([stream("✎ f: not attempted yet (...)\n")], 60) == (NOT_ATTEMPTED, "")
    failed = [stream("✘ f: 1/3 cases passed\n  case 2\n"), error("CheckFailed", "f: case 2")]
    assert parse(failed, 60) == (FAILED, "f: 1/3 cases passed")
    assert parse([error("NameError", "name 'f' is not defined")], 60) == (
        FAILED,
        "NameError: name 'f' is not defined",
    )
    assert parse([error("KeyboardInterrupt")], 5) == (
        FAILED,
        "stopped after 5 s, the time limit of a cell",
    )
    assert parse([], 60) == (FAILED, "the check printed no result")


def test_errors(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"workspace must be a directory"):
        progress(tmp_path / "missing", ROOT / "student")
    with pytest.raises(FileNotFoundError, match=r"source must be a directory of notebooks"):
        progress(tmp_path, tmp_path / "missing")
    with pytest.raises(ValueError, match=r"timeout must be a number of seconds > 0, got 0"):
        progress(tmp_path, ROOT / "student", timeout=0)
    args = ["progress", "--workspace", str(tmp_path / "missing"), "--source", str(ROOT / "student")]
    assert cli.main(args) == 1
    assert "coursekit progress: error: workspace must be a directory" in capsys.readouterr().err


# --------------------------------------------------------------------------- #
# show_progress: the last cell of every notebook
# --------------------------------------------------------------------------- #
def _shown(**kwargs) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        prog.show_progress(**kwargs)
    return out.getvalue()


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """A fresh cache folder, and the names of the notebooks checked in a kernel, in order."""
    monkeypatch.setenv("COURSEKIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("COURSEKIT_GRADING", "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    checked = []
    real = prog._check_notebook

    def spy(name, *args):
        checked.append(name)
        return real(name, *args)

    monkeypatch.setattr(prog, "_check_notebook", spy)
    return checked


@pytest.mark.slow
def test_show_progress_checks_each_saved_notebook_once(course, counted, tmp_path):
    source, workspace = course
    saved = workspace / NB01
    before, mtime = sha(saved), saved.stat().st_mtime_ns
    first = _shown(folder=workspace, source=source)
    assert counted == [NB01]
    assert "✔ passed" in first and "✘ failed" in first and "✎ not attempted" in first
    assert "Total: 2/7 points; 1 passed, 1 failed, 1 not attempted (of 3 exercises)." in first
    assert str(tmp_path) not in first and str(workspace) not in first  # the same on every machine
    assert _shown(folder=workspace, source=source) == first  # cached: no kernel
    assert counted == [NB01]
    assert sha(saved) == before and saved.stat().st_mtime_ns == mtime

    # Another folder holding the same notebook: the same key, still no kernel.
    other = tmp_path / "copy"
    other.mkdir()
    shutil.copy(saved, other / NB01)
    assert _shown(folder=other, source=source) == first
    assert counted == [NB01]

    # Outputs, counts and other cells changed (it ran again): still no kernel.
    nb = nbformat.read(other / NB01, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("solution"):
            cell.outputs, cell.execution_count = [], None
    nb.cells.append(nbformat.v4.new_code_cell("print('scratch')"))
    nbformat.write(nb, other / NB01)
    assert _shown(folder=other, source=source) == first
    assert counted == [NB01]

    # The exercise solved: this notebook is checked again, and only it.
    nb = nbformat.read(other / NB01, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "nb01-bce-logits":
            cell.source = solution_source("nb01-bce-logits")
    nbformat.write(nb, other / NB01)
    again = _shown(folder=other, source=source)
    assert counted == [NB01, NB01]
    assert "Total: 4/7 points; 2 passed, 0 failed, 1 not attempted" in again


def test_show_progress_cache_key_and_bad_cache_files(tmp_path):
    key = prog._cache_key("a.ipynb", b"saved", b"source", 60.0)
    assert key == prog._cache_key("a.ipynb", b"saved", b"source", 60.0)
    for changed in (
        ("b.ipynb", b"saved", b"source", 60.0),
        ("a.ipynb", b"saved!", b"source", 60.0),
        ("a.ipynb", b"saved", b"source!", 60.0),
        ("a.ipynb", b"saved", b"source", 30.0),
    ):
        assert prog._cache_key(*changed) != key
    records = [ExerciseProgress("a.ipynb", "g", "Exercise 1: x", PASSED, 2.0, 2.0)]
    prog._cache_put(tmp_path, key, records)
    assert prog._cache_get(tmp_path, key) == records
    assert not list(tmp_path.glob(".tmp-*"))  # written whole, then renamed
    from coursekit.grading.release import release_notebook

    course = nbformat.read(ROOT / "notebooks" / NB01, as_version=4)
    checks = prog._checks(course, release_notebook(course, NB01))
    for cell in course.cells:  # executed again: other outputs, same checks
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    assert prog._checks(course, release_notebook(course, NB01)) == checks
    course.cells += prog.progress_cells()  # the cells the script adds change no check
    assert prog._checks(course, release_notebook(course, NB01)) == checks
    test = next(c for c in course.cells if c.metadata.get("nbgrader", {}).get("grade"))
    test.source = test.source.replace("nb01.", "nb01 .")
    assert prog._checks(course, release_notebook(course, NB01)) != checks

    source = nbformat.read(ROOT / "student" / NB01, as_version=4)
    saved = (ROOT / "student" / NB01).read_bytes()
    code = prog._checked_code(source, saved)
    assert b"NotImplementedError" in code and b"nb01-softmax" in code
    assert prog._checked_code(source, b"{broken") == b"unreadable\0{broken"
    for bad in ("{not json", '[{"unknown": 1}]', "3"):
        (tmp_path / f"{key}.json").write_text(bad)
        assert prog._cache_get(tmp_path, key) is None  # checked again, not an error
    assert prog._cache_get(tmp_path / "absent", key) is None


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_CACHE_DIR", str(tmp_path / "mine"))
    assert prog.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("COURSEKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert prog.cache_dir() == tmp_path / "xdg" / "coursekit" / "progress"


def test_show_progress_defaults_and_grading(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(prog, "progress", lambda *a, **k: calls.append((a, k)) or [])
    monkeypatch.setenv("COURSEKIT_GRADING", "1")
    assert "not checked while a notebook is graded" in _shown()
    assert calls == []
    monkeypatch.delenv("COURSEKIT_GRADING")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert "Google Drive" in _shown() and calls == []
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.chdir(tmp_path)
    _shown()
    ((args, kwargs),) = calls
    # The notebook's own folder; the course's notebooks next to the package.
    assert args == (tmp_path, ROOT / "notebooks")
    assert kwargs["cache"] == prog.cache_dir()
    assert prog.course_source(tmp_path) == ROOT / "notebooks"


def test_progress_cells_and_the_student_edition():
    from coursekit.grading.release import release_notebook

    intro, code = prog.progress_cells()
    assert intro.source.startswith("### Your progress") and prog.is_progress_cell(intro)
    assert 1 <= len(code.source.splitlines()) <= 3 and prog.is_progress_cell(code)
    assert "show_progress()" in code.source
    nb = nbformat.read(ROOT / "notebooks" / NB01, as_version=4)
    code.execution_count = 99
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="72/72 points")]
    nb.cells += [intro, code]
    released = release_notebook(nb, NB01)
    last = released.cells[-1]
    assert prog.is_progress_cell(last) and last.outputs == [] and last.execution_count is None
    assert code.outputs  # the source notebook is not changed


@pytest.mark.slow
def test_add_progress_cell_script_is_idempotent_and_its_output_is_the_kernels(
    course, counted, tmp_path
):
    from nbclient import NotebookClient

    script = load_script(ROOT / "scripts" / "add_progress_cell.py")
    _, workspace = course
    folder = tmp_path / "nbs"
    folder.mkdir()
    shutil.copy(workspace / NB01, folder / NB01)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert script.main([str(folder)]) == 0
    assert out.getvalue().strip().endswith(f"updated: {NB01}")
    once = (folder / NB01).read_text()
    with contextlib.redirect_stdout(io.StringIO()):
        assert script.main([str(folder)]) == 0  # idempotent
        assert script.main(["--check", str(folder)]) == 0
    assert (folder / NB01).read_text() == once
    nb = nbformat.reads(once, as_version=4)
    intro, code = nb.cells[-2:]
    assert prog.is_progress_cell(intro) and prog.is_progress_cell(code)
    assert nb.cells[-3].source.startswith("## Summary")
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    executed = [n for n in counts if n is not None]  # the student edition: unrun exercises
    assert executed == list(range(1, len(executed) + 1)) and counts[-1] == executed[-1]
    stored = code.outputs[0]["text"]
    assert f"{NB01}  2/7 points" in stored

    # The cell in a kernel, started in the notebook's folder, prints the same.
    run = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code.source)])
    NotebookClient(
        run, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    printed = "".join(o.get("text", "") for o in run.cells[0].outputs if o.output_type == "stream")
    assert printed == stored
