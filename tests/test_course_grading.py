"""The grading workflow on the REAL course notebooks (tests/test_release.py and
tests/test_autograde.py cover the same code on a small sample notebook).

* release: the student edition of every course notebook, with every marker
  gone and every non-exercise cell kept, the source untouched;
* the student edition runs top to bottom on the embedded default, and every
  exercise's visible check reports "not attempted";
* ``coursekit grade`` on one course notebook: the source scores full marks,
  the untouched student edition zero, one solved exercise exactly its points;
* real nbgrader (``generate_assignment`` + ``autograde``) on the same notebook.

Kernels cost seconds to start, so each module fixture starts as few as it can.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

# jsonschema (via nbformat) would spend seconds compiling an IRI grammar nobody uses here.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402
from helpers import course_notebook, gid, tree_hash, write  # noqa: E402

from coursekit.grading import cli  # noqa: E402
from coursekit.grading.release import (  # noqa: E402
    BEGIN_HIDDEN,
    MARKERS,
    is_grade,
    is_progress_cell,
    is_solution,
    notebook_bytes,
    release,
    release_notebook,
)
from coursekit.notebooks import course_notebooks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
COURSE = course_notebooks(NOTEBOOKS)
NAMES = [p.name for p in COURSE]
IDS = [p.stem for p in COURSE]
# The notebook graded by coursekit grade and by nbgrader: small, with 3 exercises.
GRADE_NB = course_notebook("02").name  # a missing notebook 02 fails the module
CPU_BUDGET_S = 60.0  # docs/NOTEBOOKS.md: each notebook under 60 s on a 2-core CPU
NOT_ATTEMPTED = "not attempted"

# Appended to the executed copy: CPU seconds the kernel (and its children) used.
# CPU time, unlike wall time, hardly depends on how busy a shared test machine is.
CPU_PROBE = (
    "import resource as _r\n"
    "_s, _c = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN)\n"
    "print(_s.ru_utime + _s.ru_stime + _c.ru_utime + _c.ru_stime)"
)


def kernel_env() -> dict[str, str]:
    """Environment of a notebook kernel: static widgets, this venv's python, no grading mode."""
    env = dict(os.environ)
    env.pop("COURSEKIT_GRADING", None)  # checks must print "not attempted", not raise
    env.update(
        COURSEKIT_STATIC_WIDGETS="1",
        MPLBACKEND="Agg",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        PATH=os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", ""))),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def output_text(cell) -> str:
    """Stream and text/plain output of a code cell, joined."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "".join(parts)


# --------------------------------------------------------------------------- #
# release
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def student_dir(tmp_path_factory) -> Path:
    """An empty folder laid out like notebooks/, for the student editions."""
    return tmp_path_factory.mktemp("course") / "notebooks"


def student_edition(name: str, folder: Path) -> Path:
    """Release one course notebook into ``folder``; one broken notebook fails only its tests."""
    nb = release_notebook(nbformat.read(NOTEBOOKS / name, as_version=4), name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(notebook_bytes(nb))
    return folder / name


def test_release_of_the_whole_course(tmp_path):
    assert COURSE, "no course notebooks in notebooks/"
    before = tree_hash(NOTEBOOKS)
    try:
        manifest = release(NOTEBOOKS, tmp_path / "student", quiet=True)
    finally:
        assert tree_hash(NOTEBOOKS) == before  # the source is never modified
    assert set(NAMES) <= set(manifest)
    for path in (tmp_path / "student").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not [m for m in MARKERS if m in text], path.name


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_release_strips_every_marker_and_keeps_every_other_cell(student_dir, name):
    text = student_edition(name, student_dir).read_text(encoding="utf-8")
    for marker in MARKERS:
        assert marker not in text, f"{name}: {marker!r} left in the student edition"
    source = nbformat.read(NOTEBOOKS / name, as_version=4)
    student = nbformat.reads(text, as_version=4)
    assert len(student.cells) == len(source.cells)
    n_solution = n_grade = 0
    for index, (src, dst) in enumerate(zip(source.cells, student.cells, strict=True)):
        where = f"{name}, cell {index}"
        assert dst.cell_type == src.cell_type, where
        if "nbgrader" not in src.metadata:
            # Prose, figures and stored outputs reach the student unchanged, except
            # the progress cell's: it reports the instructor's solutions, all passed.
            assert dst.source == src.source, where
            assert dst.metadata == src.metadata, where
            if is_progress_cell(src) and src.cell_type == "code":
                assert src.outputs and dst.outputs == [] and dst.execution_count is None, where
            else:
                assert dst.get("outputs") == src.get("outputs"), where
        elif is_solution(src):
            n_solution += 1
            assert "raise NotImplementedError()" in dst.source, where
            assert dst.metadata["deletable"] is False, where
        elif is_grade(src):
            n_grade += 1
            # The visible check stays (the part before the hidden tests).
            visible = src.source.split(f"### {BEGIN_HIDDEN}")[0].rstrip()
            assert dst.source.rstrip() == visible, where
            assert (dst.metadata["editable"], dst.metadata["deletable"]) == (False, False), where
    # docs/NOTEBOOKS.md: 2 to 5 exercises, each a solution cell and a test cell.
    assert 2 <= n_grade <= 5 and n_solution == n_grade, (name, n_solution, n_grade)


# --------------------------------------------------------------------------- #
# the student edition runs top to bottom
# --------------------------------------------------------------------------- #
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_student_edition_runs_top_to_bottom(student_dir, name):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(student_edition(name, student_dir), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_PROBE))
    client = NotebookClient(
        nb,
        timeout=2 * int(CPU_BUDGET_S),  # per cell: a hang fails the test, it does not stall it
        kernel_name="python3",
        # The kernel runs in the released notebooks/ folder, so relative paths behave.
        resources={"metadata": {"path": str(student_dir)}},
        record_timing=False,
    )
    start = time.monotonic()
    try:
        client.execute(env=kernel_env())
    except CellExecutionError as exc:
        pytest.fail(f"the student edition of {name} stops with an error:\n{str(exc)[-3000:]}")
    wall = time.monotonic() - start

    for index, cell in enumerate(nb.cells):
        if is_grade(cell) and not is_solution(cell):
            text = output_text(cell)
            assert NOT_ATTEMPTED in text, f"{name}, cell {index} ({gid(cell)}): {text!r}"
    cpu = float(output_text(nb.cells[-1]).strip())
    # Speed is measured by benchmarks/bench_course.py, not asserted here.
    print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU")


# --------------------------------------------------------------------------- #
# coursekit grade
# --------------------------------------------------------------------------- #
def solve_one(student_nb, source_nb, grade_id: str):
    """Return a copy of the student edition with one solution cell taken from the source."""
    nb = copy.deepcopy(student_nb)
    solution = next(c for c in source_nb.cells if gid(c) == grade_id)
    cell = next(c for c in nb.cells if gid(c) == grade_id)
    cell.source = solution.source
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grade")
    source_dir = root / "source"
    source_dir.mkdir()
    shutil.copy(NOTEBOOKS / GRADE_NB, source_dir / GRADE_NB)
    student_dir = root / "student"
    release(source_dir, student_dir, quiet=True)

    source = nbformat.read(source_dir / GRADE_NB, as_version=4)
    student = nbformat.read(student_dir / GRADE_NB, as_version=4)
    # The first exercise is solved: its solution cell, then its test cell, come first.
    first_solution = next(gid(c) for c in source.cells if is_solution(c))
    subs = root / "submissions"
    write(source, subs / "instructor" / GRADE_NB)
    write(student, subs / "untouched" / GRADE_NB)
    write(solve_one(student, source, first_solution), subs / "partial" / GRADE_NB)

    before = tree_hash(subs)
    start = time.monotonic()
    # One run, three kernels, two at a time: through the command line a lecturer uses.
    (root / "secret").write_text("the course test's grading secret\n")
    code = cli.main(
        ["grade", str(source_dir), str(subs), "--out", str(root / "grades"), "--jobs", "2",
         "--secret-file", str(root / "secret")]
    )  # fmt: skip
    seconds = time.monotonic() - start
    points = {
        gid(c): float(c.metadata.nbgrader["points"])
        for c in source.cells
        if is_grade(c) and not is_solution(c)
    }
    return {
        "code": code,
        "rows": json.loads((root / "grades" / "scores.json").read_text()),
        "root": root,
        "points": points,  # test cell grade_id -> points, in notebook order
        "solved": next(iter(points)),
        "seconds": seconds,
        "unchanged": tree_hash(subs) == before,
    }


def scores(graded, student: str) -> dict[str, tuple[str, float]]:
    return {
        r["exercise"]: (r["status"], float(r["points"]))
        for r in graded["rows"]
        if r["student"] == student
    }


@pytest.mark.slow
def test_grade_source_scores_full_marks(graded):
    assert graded["code"] == 0
    got = scores(graded, "instructor")
    assert got == {ex: ("passed", p) for ex, p in graded["points"].items()}
    assert list(got) == list(graded["points"])  # rows in notebook order
    assert graded["unchanged"]  # submissions are never modified


@pytest.mark.slow
def test_grade_untouched_student_edition_scores_zero(graded):
    got = scores(graded, "untouched")
    assert got == {ex: (NOT_ATTEMPTED, 0.0) for ex in graded["points"]}
    feedback = (graded["root"] / "grades" / "feedback" / "untouched.md").read_text()
    assert f"0 / {sum(graded['points'].values()):g} points" in feedback


@pytest.mark.slow
def test_grade_one_solved_exercise_scores_exactly_its_points(graded):
    got = scores(graded, "partial")
    solved = graded["solved"]
    expected = {ex: (NOT_ATTEMPTED, 0.0) for ex in graded["points"]}
    expected[solved] = ("passed", graded["points"][solved])
    assert got == expected
    # Feedback shows the visible checks' output, never the hidden tests' code.
    for md in (graded["root"] / "grades" / "feedback").glob("*.md"):
        text = md.read_text()
        assert "HIDDEN TESTS" not in text and "run_hidden_tests" not in text, md.name
    print(f"grading 3 submissions of {GRADE_NB}: {graded['seconds']:.1f} s")


# --------------------------------------------------------------------------- #
# real nbgrader
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_real_nbgrader_on_a_course_notebook(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader (the 'instructor' extra) is not installed")
    from nbgrader.api import Gradebook

    root = tmp_path / "nbg"
    (root / "source" / "ps1").mkdir(parents=True)
    shutil.copy(NOTEBOOKS / GRADE_NB, root / "source" / "ps1" / GRADE_NB)
    db = f"sqlite:///{root}/gradebook.db"
    common = [
        f"--CourseDirectory.root={root}",
        f"--CourseDirectory.db_url={db}",
        "--ExecutePreprocessor.timeout=120",
    ]
    # ``python -m nbgrader``, minus the seconds jsonschema spends on an unused IRI grammar.
    run_nbgrader = (
        "import runpy, sys; sys.modules['rfc3987_syntax'] = None; "
        "runpy.run_module('nbgrader', run_name='__main__', alter_sys=True)"
    )

    def nbgrader(*args: str) -> None:
        cmd = [sys.executable, "-c", run_nbgrader, *args, *common]
        done = subprocess.run(
            cmd, cwd=root, env=kernel_env(), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]

    nbgrader("generate_assignment", "ps1", "--force")
    theirs = (root / "release" / "ps1" / GRADE_NB).read_text(encoding="utf-8")
    for marker in MARKERS:
        assert marker not in theirs
    # Our student edition is nbgrader's, cell for cell (sources and metadata).
    source = nbformat.read(root / "source" / "ps1" / GRADE_NB, as_version=4)
    ours = release_notebook(source, GRADE_NB)
    theirs_nb = nbformat.reads(theirs, as_version=4)
    for index, (a, b) in enumerate(zip(ours.cells, theirs_nb.cells, strict=True)):
        assert (a.source, a.metadata) == (b.source, b.metadata), index

    # The instructor's own notebook, submitted: full marks.
    write(source, root / "submitted" / "instructor" / "ps1" / GRADE_NB)
    nbgrader("autograde", "ps1", "--create")
    expected = {
        gid(c): float(c.metadata.nbgrader["points"])
        for c in source.cells
        if is_grade(c) and not is_solution(c)
    }
    with Gradebook(db) as gb:
        nb = gb.find_submission_notebook(Path(GRADE_NB).stem, "ps1", "instructor")
        got = {g.name: g.score for g in nb.grades}
    assert got == expected
