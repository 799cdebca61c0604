"""The autograder: rebuilt from the source, run in limited kernels, hostile submissions contained.

Kernels cost 1.5-2 s each to start, so one grading run (module fixture)
covers most submissions; every test then reads its rows.
"""

import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat  # noqa: E402
import pytest
from helpers import gid, tree_hash, write
from nbformat.v4 import new_code_cell  # noqa: E402

from coursekit.grading import cli  # noqa: E402
from coursekit.grading.autograde import _limits, _match_file, grade, rebuild_submission  # noqa: E402
from coursekit.grading.release import release_notebook  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "grading" / "source"
NB = "01_sample.ipynb"
TIMEOUT_CELL = 3

MSE_OK = "def mse(y_pred, y_true):\n    return float(np.mean((y_pred - y_true) ** 2))"
RELU_OK = "def relu(x):\n    return np.maximum(x, 0.0)"
PARAMS_OK = "def n_params():\n    return 760"

pytestmark = pytest.mark.slow


def student_edition():
    return release_notebook(nbformat.read(FIXTURE / NB, as_version=4), NB)


def answer(nb, **sources):
    """Return a copy of ``nb`` with the solution cells (by grade_id) set to ``sources``."""
    nb = copy.deepcopy(nb)
    names = {"ex1-mse": "mse", "ex2-relu": "relu", "ex3-params": "n_params"}
    for cell in nb.cells:
        key = names.get(gid(cell))
        if key in sources:
            cell.source = sources[key]
    return nb


def cell_index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if gid(c) == grade_id)


def make_partial():
    """mse right (with warnings on stderr and a sys.exit after it), relu raises
    SystemExit, n_params' solution cell deleted; test cells tampered with."""
    nb = answer(
        student_edition(),
        mse=(
            "import sys, warnings\n"
            + MSE_OK.replace(
                "    return",
                "    warnings.warn('just a warning')\n"
                "    print('to stderr', file=sys.stderr)\n    return",
            )
            + "\nsys.exit('bye')"
        ),
        relu="def relu(x):\n    raise SystemExit(3)",
    )
    cells = nb.cells
    t1 = cells[cell_index(nb, "ex1-mse-tests")]
    cells[cell_index(nb, "ex2-relu-tests")].source = "pass  # tests? what tests?"
    del cells[cell_index(nb, "ex3-params-tests")]
    del cells[cell_index(nb, "ex3-params")]
    duplicate = copy.deepcopy(t1)
    duplicate["id"] = "duplicate"
    cells.insert(0, duplicate)  # duplicated and moved to the top
    cells.append(new_code_cell("assert False, 'a cell the student added'"))
    return nb


def make_cheater():
    """Passes every visible check, fails every hidden test."""
    return answer(
        student_edition(),
        mse="def mse(y_pred, y_true):\n    return 2.0 if len(y_pred) == 2 else 1.0",
        relu=(
            "import math\n"
            "np.allclose = lambda *a, **k: True\n"
            "np.array_equal = lambda *a, **k: True\n"
            "np.isclose = lambda a, b, **k: np.ones(np.shape(a), dtype=bool)\n"
            "math.isclose = lambda *a, **k: True\n"
            "lenient = staticmethod(lambda *a, **k: None)\n"
            "strict = type('Lenient', (), {'check_equal': lenient, 'check_close': lenient})()\n"
            "class Yes(np.ndarray):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "def relu(x):\n"
            "    return np.zeros_like(x).view(Yes)"
        ),
        n_params=(
            "class AlwaysEqual(int):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    __hash__ = int.__hash__\n"
            "def n_params():\n"
            "    return AlwaysEqual(1)"
        ),
    )


def make_loop():
    """mse hangs on its first call (cell timeout), relu is wrong, n_params right."""
    return answer(
        student_edition(),
        mse=(
            "_calls = []\n"
            "def mse(y_pred, y_true):\n"
            "    _calls.append(1)\n"
            "    while len(_calls) == 1:\n"
            "        pass\n"
            "    return float(np.mean((y_pred - y_true) ** 2))"
        ),
        relu="def relu(x):\n    return np.abs(x)",
        n_params=PARAMS_OK,
    )


def make_chatty_without_ids():
    """All right, mse prints 2 MB per call, and the solution cells lost their grade_ids."""
    nb = answer(
        student_edition(),
        mse=MSE_OK.replace("    return", "    print('x' * 2_000_000)\n    return"),
        relu=RELU_OK,
        n_params=PARAMS_OK,
    )
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            del meta["grade_id"]
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    source = root / "source"
    shutil.copytree(FIXTURE, source)
    subs = root / "submissions"
    write(nbformat.read(FIXTURE / NB, as_version=4), subs / "instructor" / NB)
    write(student_edition(), subs / "untouched.ipynb")  # one file: the single source notebook
    write(make_partial(), subs / f"partial_{NB}")  # one file, named <student>_<notebook>
    write(make_cheater(), subs / "cheater" / "ps1" / NB)  # nbgrader-style nested folder
    write(make_loop(), subs / "loop" / NB)
    write(answer(student_edition(), mse=MSE_OK, relu="import os\nos._exit(0)"), subs / "exits" / NB)
    hog = RELU_OK.replace(
        "    return", "    hog = np.ones(6 * 2**27)  # 6 GiB > the 4 GiB limit\n    return"
    )
    crash = "import ctypes\nctypes.string_at(0)  # segmentation fault"
    write(answer(student_edition(), mse=MSE_OK, relu=hog, n_params=crash), subs / "crash" / NB)
    write(make_chatty_without_ids(), subs / "chatty" / NB)
    text = (FIXTURE / NB).read_text(encoding="utf-8")
    (subs / "corrupt.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    (subs / "image.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (subs / "json.ipynb").write_text('{"hello": "not a notebook"}', encoding="utf-8")
    (subs / "nothing").mkdir()
    (subs / "nothing" / "notes.txt").write_text("I forgot to upload it")

    before = (tree_hash(source), tree_hash(subs))
    start = time.monotonic()
    rows = grade(
        source,
        subs,
        root / "grades",
        timeout_cell=TIMEOUT_CELL,
        timeout_notebook=120,
        jobs=2,
        quiet=True,
    )
    seconds = time.monotonic() - start
    after = (tree_hash(source), tree_hash(subs))
    table = {(r.student, r.exercise): r for r in rows}
    return {
        "root": root,
        "rows": rows,
        "table": table,
        "before": before,
        "after": after,
        "seconds": seconds,
    }


def statuses(course, student):
    return [
        (course["table"][(student, ex)].status, course["table"][(student, ex)].points)
        for ex in ("ex1-mse-tests", "ex2-relu-tests", "ex3-params-tests")
    ]


def test_source_scores_full_marks(course):
    assert statuses(course, "instructor") == [("passed", 2), ("passed", 2), ("passed", 1)]
    manual = course["table"][("instructor", "q1-sharing")]
    assert (manual.status, manual.points, manual.max_points) == ("manual", 0, 1)


def test_untouched_student_edition_scores_zero(course):
    assert statuses(course, "untouched") == [("not attempted", 0)] * 3


def test_partial_submission_and_tampered_test_cells(course):
    # Deleted, duplicated, moved and emptied test cells change nothing; warnings
    # on stderr do not zero a cell; sys.exit does not stop grading.
    assert statuses(course, "partial") == [("passed", 2), ("error", 0), ("not attempted", 0)]
    feedback = (course["root"] / "grades" / "feedback" / "partial.md").read_text()
    assert "solution cell 'ex3-params' is missing: counted as not attempted." in feedback
    assert "outside the solution cells differ from the course notebook" in feedback
    assert "Visible checks raised SystemExit: 3" in feedback


def test_cheats_pass_visible_checks_but_not_hidden_tests(course):
    assert statuses(course, "cheater") == [("failed hidden tests", 0)] * 3
    feedback = (course["root"] / "grades" / "feedback" / "cheater.md").read_text()
    assert "✔ mse: 2/2 cases passed" in feedback  # the visible check was fooled ...
    assert "✔ relu: 1/1 cases passed" in feedback
    assert "expected type int, got type __main__.AlwaysEqual" in feedback  # ... the hidden ones not
    assert "expected type numpy.ndarray, got type __main__.Yes" in feedback
    assert "strict check failed: expected 1.5, got 1.0" in feedback
    assert feedback.count("Hidden tests: failed") == 3


def test_infinite_loop_times_out_and_grading_goes_on(course):
    assert statuses(course, "loop") == [("timeout", 0), ("failed", 0), ("passed", 1)]


def test_dead_kernels_score_zero_for_what_did_not_run(course):
    assert statuses(course, "exits") == [("passed", 2), ("kernel died", 0), ("kernel died", 0)]
    assert statuses(course, "crash") == [("passed", 2), ("failed", 0), ("kernel died", 0)]
    feedback = (course["root"] / "grades" / "feedback" / "crash.md").read_text()
    assert "raised:   MemoryError" in feedback  # the memory limit held


def test_torch_imports_under_the_memory_limit():
    code = "import torch; print(int(torch.ones(3).sum()))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=_limits(4096, 120),
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "3\n"), done.stderr[-500:]


def test_one_file_submission_naming_rule():
    two = {"01_sample": "01_sample.ipynb", "02_conv": "02_conv.ipynb"}
    assert _match_file("alice_01_sample", two) == ("alice", "01_sample.ipynb")
    assert _match_file("bob-smith.02_conv", two) == ("bob-smith", "02_conv.ipynb")
    assert _match_file("carol", two) is None
    assert _match_file("carol", {"01_sample": "01_sample.ipynb"}) == ("carol", "01_sample.ipynb")


def test_huge_output_is_capped_and_position_fallback(course):
    assert statuses(course, "chatty") == [("passed", 2), ("passed", 2), ("passed", 1)]
    feedback = course["root"] / "grades" / "feedback" / "chatty.md"
    assert feedback.stat().st_size < 30_000
    # The worker kept about 100 kB of the 2 MB printed; the feedback shows 5000 characters.
    match = re.search(r"\[\.\.\. (\d+) more characters not shown\]", feedback.read_text())
    assert match is not None and 50_000 < int(match.group(1)) < 150_000


def test_unreadable_and_missing_submissions(course):
    for student in ("corrupt", "image", "json"):
        assert statuses(course, student) == [("unreadable", 0)] * 3
    assert statuses(course, "nothing") == [("missing", 0)] * 3


def test_reports_and_hidden_code_not_revealed(course):
    grades = course["root"] / "grades"
    with open(grades / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["student", "notebook", "exercise", "points", "max_points", "status"]
    assert rows == [
        {k: str(v) for k, v in row.items()}
        for row in json.loads((grades / "scores.json").read_text())
    ]
    keys = [(r["student"], r["exercise"]) for r in rows]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    assert len(rows) == 12 * 4
    for md in (grades / "feedback").glob("*.md"):
        text = md.read_text()
        assert "HIDDEN TESTS" not in text and "strict.check_equal(n_params(), 760)" not in text
        assert "x_before" not in text
    instructor = (grades / "feedback" / "instructor.md").read_text()
    assert "## 01_sample.ipynb: 5 / 6 points" in instructor
    assert "Hidden tests: passed." in instructor


def test_source_and_submissions_are_never_modified(course):
    assert course["before"] == course["after"]


def test_rebuild_ignores_everything_but_solution_cells():
    source = nbformat.read(FIXTURE / NB, as_version=4)
    nb_a, ex_a, _ = rebuild_submission(source, make_partial(), NB)
    clean = answer(
        student_edition(),
        mse=make_partial().cells[cell_index(make_partial(), "ex1-mse")].source,
        relu="def relu(x):\n    raise SystemExit(3)",
    )
    nb_b, ex_b, _ = rebuild_submission(source, clean, NB)
    assert [c.source for c in nb_a.cells] == [c.source for c in nb_b.cells]
    assert ex_a == ex_b
    hidden = nb_a.cells[ex_a[0].hidden].source
    assert "strict.check_close(mse(a, b), expected)" in hidden
    assert nb_a.cells[ex_a[0].visible].source == "check_mse(mse)"


def test_repeatable(course, tmp_path):
    # The same two submissions graded again, alone: byte-identical rows.
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in (f"partial_{NB}", "json.ipynb"):
        shutil.copy(course["root"] / "submissions" / name, subs / name)
    grade(
        course["root"] / "source", subs, tmp_path / "again", timeout_cell=TIMEOUT_CELL, quiet=True
    )
    big = course["root"] / "grades"
    again_csv = (tmp_path / "again" / "scores.csv").read_text().splitlines()
    big_csv = big.joinpath("scores.csv").read_text().splitlines()
    assert again_csv == [big_csv[0]] + [
        line for line in big_csv[1:] if line.startswith(("partial,", "json,"))
    ]
    again_json = json.loads((tmp_path / "again" / "scores.json").read_text())
    big_json = json.loads(big.joinpath("scores.json").read_text())
    assert again_json == [r for r in big_json if r["student"] in ("partial", "json")]


def test_notebook_timeout_kills_kernel_and_children(tmp_path):
    pid_file = tmp_path / "pids.txt"
    stubborn = answer(
        student_edition(),
        mse=(
            "import os, subprocess\n"
            "child = subprocess.Popen(['sleep', '300'])\n"
            f"open({str(pid_file)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
            "def mse(y_pred, y_true):\n"
            "    while True:\n"
            "        try:\n"
            "            while True:\n"
            "                pass\n"
            "        except KeyboardInterrupt:  # swallow the grader's interrupt\n"
            "            pass"
        ),
    )
    write(stubborn, tmp_path / "subs" / "stubborn" / NB)
    start = time.monotonic()
    rows = grade(
        FIXTURE,
        tmp_path / "subs",
        tmp_path / "grades",
        timeout_cell=2,
        timeout_notebook=8,
        quiet=True,
    )
    assert time.monotonic() - start < 25
    status = {r.exercise: r.status for r in rows}
    assert status["ex1-mse-tests"] in ("timeout", "notebook timeout")
    assert status["ex3-params-tests"] == "notebook timeout"
    assert all(r.points == 0 for r in rows)
    for pid in map(int, pid_file.read_text().split()):
        assert not _alive(pid), pid


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_grade_argument_errors(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"submissions_dir must be a directory, got"):
        grade(FIXTURE, tmp_path / "none")
    with pytest.raises(ValueError, match=r"timeout_cell must be an integer >= 1, got 0"):
        grade(FIXTURE, tmp_path, timeout_cell=0)
    with pytest.raises(TypeError, match=r"jobs must be an integer >= 1, got 1.5"):
        grade(FIXTURE, tmp_path, jobs=1.5)
    assert cli.main(["grade", str(tmp_path / "none"), str(tmp_path)]) == 1
    assert "coursekit grade: error: source_dir must be a directory" in capsys.readouterr().err


def test_real_nbgrader_agrees(tmp_path, course):
    """nbgrader generate_assignment + autograde on the sample notebook, compared with ours."""
    pytest.importorskip("nbgrader", reason="nbgrader (the 'instructor' extra) is not installed")
    root = tmp_path / "nbg"
    shutil.copytree(FIXTURE, root / "source" / "ps1")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")) if p
    )
    common = [f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url=sqlite:///{root}/gb.db"]

    # ``python -m nbgrader``, minus the seconds jsonschema spends on an unused IRI grammar.
    run_nbgrader = (
        "import runpy, sys; sys.modules['rfc3987_syntax'] = None; "
        "runpy.run_module('nbgrader', run_name='__main__', alter_sys=True)"
    )

    def nbgrader(*args):
        cmd = [sys.executable, "-c", run_nbgrader, *args, *common]
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr

    nbgrader("generate_assignment", "ps1", "--force")
    theirs = nbformat.read(root / "release" / "ps1" / NB, as_version=4)
    ours = student_edition()
    for a, b in zip(ours.cells, theirs.cells, strict=True):
        assert (a.source, a.metadata) == (b.source, b.metadata)

    submitted = answer(
        theirs, mse=MSE_OK, relu="def relu(x):\n    return np.abs(x)", n_params=PARAMS_OK
    )
    write(submitted, root / "submitted" / "alice" / "ps1" / NB)
    nbgrader("autograde", "ps1", "--create")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root}/gb.db") as gb:
        nb = gb.find_submission_notebook("01_sample", "ps1", "alice")
        nbgrader_points = {g.name: g.score for g in nb.grades if g.name != "q1-sharing"}
    rows = grade(
        FIXTURE, root / "submitted", tmp_path / "grades", timeout_cell=TIMEOUT_CELL, quiet=True
    )
    ours_points = {r.exercise: r.points for r in rows if r.status != "manual"}
    assert (
        ours_points
        == nbgrader_points
        == {"ex1-mse-tests": 2.0, "ex2-relu-tests": 0.0, "ex3-params-tests": 1.0}
    )
