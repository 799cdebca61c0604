"""The autograder on a small sample course with its own exercise specs.

The sample notebook (tests/fixtures/grading/source) defines its visible checks
in a set-up cell; here the same checks and the hidden calls are given to
``grade(..., exercises=...)``, as an instructor of another course would. One
grading run (module fixture) covers most submissions; every test reads its rows.
The hostile corpus on the real course is tests/test_grading_hostile.py.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from helpers import gid, require_sandbox, tree_hash, write
from nbformat.v4 import new_code_cell

from coursekit.checks.framework import Case, run_check
from coursekit.grading import cli
from coursekit.grading.autograde import GradingError, _match_file, grade, solution_cells
from coursekit.grading.plaindata import DecodeError, decode, encode
from coursekit.grading.release import release_notebook
from coursekit.grading.spec import Call, Exercise, mismatch

FIXTURE = Path(__file__).parent / "fixtures" / "grading" / "source"
NB = "01_sample.ipynb"

MSE_OK = "def mse(y_pred, y_true):\n    return float(np.mean((y_pred - y_true) ** 2))"
RELU_OK = "def relu(x):\n    return np.maximum(x, 0.0)"
PARAMS_OK = "def n_params():\n    return 760"

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- #
# The sample course's exercises, as an instructor would specify them
# --------------------------------------------------------------------------- #
def check_mse(fn):
    return run_check(
        "mse",
        fn,
        [
            Case(args=(np.array([1.0, 2.0]), np.array([1.0, 4.0])), expected=2.0, hint="average"),
            Case(args=(np.zeros(3), np.ones(3)), expected=1.0, name="zeros vs ones"),
        ],
    )


def check_relu(fn):
    case = Case(args=(np.array([-1.0, 0.0, 2.0]),), expected=np.array([0.0, 0.0, 2.0]))
    return run_check("relu", fn, [case])


def check_n_params(fn):
    return run_check(
        "n_params", fn, [Case(expected=0)], compare=lambda got, expected: isinstance(got, int)
    )


def _mse_calls(rng):
    return [Call((rng.normal(size=n), rng.normal(size=n)), label=f"{n} values") for n in (1, 4, 7)]


def _relu_calls(rng):
    return [Call((rng.normal(size=(3, 4)),), after=True, label="a matrix, left unchanged")]


SAMPLE = {
    ex.grade_id: ex
    for ex in [
        Exercise(
            "ex1-mse-tests",
            "mse",
            check_mse,
            _mse_calls,
            lambda a, b: float(np.mean((a - b) ** 2)),
        ),
        Exercise(
            "ex2-relu-tests",
            "relu",
            check_relu,
            _relu_calls,
            lambda x: (np.maximum(x, 0.0), (x.copy(),)),
            exact=True,
        ),
        Exercise(
            "ex3-params-tests",
            "n_params",
            check_n_params,
            lambda rng: [Call(label="the count")],
            lambda: 760,
            exact=True,
        ),
    ]
}


def student_edition():
    return release_notebook(nbformat.read(FIXTURE / NB, as_version=4), NB)


def answer(nb, **sources):
    """A copy of ``nb`` with the solution cells (by grade_id) set to ``sources``."""
    nb = copy.deepcopy(nb)
    names = {"ex1-mse": "mse", "ex2-relu": "relu", "ex3-params": "n_params"}
    for cell in nb.cells:
        key = names.get(gid(cell))
        if key in sources:
            cell.source = sources[key]
    return nb


def make_partial():
    """mse right (warnings, then sys.exit in its cell), relu raises SystemExit,
    n_params' solution cell deleted; the test cells tampered with."""
    nb = answer(
        student_edition(),
        mse="import sys, warnings\nwarnings.warn('just a warning')\n"
        + MSE_OK
        + "\nsys.exit('bye')",
        relu="def relu(x):\n    raise SystemExit(3)",
    )
    cells = nb.cells
    tests = next(i for i, c in enumerate(cells) if gid(c) == "ex1-mse-tests")
    cells[tests].source = "pass  # tests? what tests?"
    del cells[next(i for i, c in enumerate(cells) if gid(c) == "ex3-params")]
    cells.insert(0, new_code_cell("assert False, 'a cell the student added'"))
    return nb


def make_cheater():
    """Passes every visible case, and tries to fool the comparisons."""
    return answer(
        student_edition(),
        mse="def mse(y_pred, y_true):\n    return 2.0 if len(y_pred) == 2 else 1.0",
        relu=(
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
    require_sandbox()
    root = tmp_path_factory.mktemp("grading")
    source = root / "source"
    shutil.copytree(FIXTURE, source)
    subs = root / "submissions"
    write(nbformat.read(FIXTURE / NB, as_version=4), subs / "instructor" / NB)
    write(student_edition(), subs / "untouched.ipynb")  # one file: the single source notebook
    write(make_partial(), subs / f"partial_{NB}")  # one file, named <student>_<notebook>
    write(make_cheater(), subs / "cheater" / "ps1" / NB)  # nbgrader-style nested folder
    loop = "def mse(y_pred, y_true):\n    while True:\n        pass"
    write(answer(student_edition(), mse=loop, relu="def relu(x):\n    return np.abs(x)",
                 n_params=PARAMS_OK), subs / "loop" / NB)  # fmt: skip
    write(answer(student_edition(), mse=MSE_OK, relu="import os\nos._exit(0)"), subs / "exits" / NB)
    write(make_chatty_without_ids(), subs / "chatty" / NB)
    text = (FIXTURE / NB).read_text(encoding="utf-8")
    (subs / "corrupt.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    (subs / "image.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (subs / "json.ipynb").write_text('{"hello": "not a notebook"}', encoding="utf-8")
    (subs / "nothing").mkdir()
    (subs / "nothing" / "notes.txt").write_text("I forgot to upload it")
    (root / "secret").write_text("the sample course's secret, 42 bytes long!\n")

    before = (tree_hash(source), tree_hash(subs))
    rows = grade(
        source,
        subs,
        root / "grades",
        jobs=2,
        call_s=4,
        budget_s=40,
        secret_file=root / "secret",
        exercises=SAMPLE,
        quiet=True,
    )
    after = (tree_hash(source), tree_hash(subs))
    return {"root": root, "rows": rows, "before": before, "after": after}


def statuses(course, student):
    table = {(r.student, r.exercise): r for r in course["rows"]}
    return [
        (table[(student, ex)].status, table[(student, ex)].points)
        for ex in ("ex1-mse-tests", "ex2-relu-tests", "ex3-params-tests")
    ]


def test_source_scores_full_marks(course):
    assert statuses(course, "instructor") == [("passed", 2), ("passed", 2), ("passed", 1)]
    manual = [r for r in course["rows"] if r.student == "instructor" and r.status == "manual"]
    assert [r.exercise for r in manual] == ["q1-sharing"]


def test_untouched_student_edition_scores_zero(course):
    assert statuses(course, "untouched") == [("not attempted", 0)] * 3


def test_only_solution_cells_count(course):
    # mse is right although its cell ends in sys.exit and the test cells were replaced;
    # relu's SystemExit is a failure; a deleted solution cell is not attempted.
    assert statuses(course, "partial") == [
        ("passed", 2),
        ("failed", 0),
        ("not attempted", 0),
    ]
    feedback = (course["root"] / "grades" / "feedback" / "partial.md").read_text()
    assert "solution cell 'ex3-params' is missing" in feedback
    assert "SystemExit" in feedback


def test_cheats_score_nothing(course):
    assert statuses(course, "cheater") == [
        ("failed hidden tests", 0),
        ("failed", 0),
        ("failed", 0),
    ]
    feedback = (course["root"] / "grades" / "feedback" / "cheater.md").read_text()
    assert "- 1 values: wrong value" in feedback  # the property, never the input or answer


def test_a_hung_exercise_costs_only_its_own_points(course):
    assert statuses(course, "loop") == [("timeout", 0), ("failed", 0), ("passed", 1)]


def test_a_run_that_kills_itself_scores_zero(course):
    assert statuses(course, "exits") == [("crashed", 0)] * 3


def test_huge_output_is_capped_and_position_fallback(course):
    assert statuses(course, "chatty") == [("passed", 2), ("passed", 2), ("passed", 1)]
    feedback = course["root"] / "grades" / "feedback" / "chatty.md"
    assert feedback.stat().st_size < 12_000
    assert "[... more output not shown]" in feedback.read_text()


def test_unreadable_and_missing_submissions(course):
    for student in ("corrupt", "image", "json"):
        assert statuses(course, student) == [("unreadable", 0)] * 3
    assert statuses(course, "nothing") == [("missing", 0)] * 3


def test_source_and_submissions_are_never_modified(course):
    assert course["before"] == course["after"]


def test_reports(course):
    grades = course["root"] / "grades"
    data = json.loads((grades / "scores.json").read_text())
    assert [r["student"] for r in data] == sorted(r["student"] for r in data)
    info = json.loads((grades / "grading.json").read_text())
    assert info["budget_s"] == 40 and info["notebooks"] == [NB]
    assert len(info["secret_fingerprint"]) == 16 and "42 bytes" not in json.dumps(info)
    instructor = (grades / "feedback" / "instructor.md").read_text()
    assert "## 01_sample.ipynb: 5 / 6 points" in instructor
    assert "Hidden tests: 3 of 3 passed." in instructor
    book = (grades / "gradebook.csv").read_text().splitlines()
    assert book[0] == "Student,01_sample,Total" and "instructor,5,5" in book


def test_repeatable(course, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(course["root"] / "submissions" / f"partial_{NB}", subs / f"partial_{NB}")
    shutil.copytree(course["root"] / "submissions" / "cheater", subs / "cheater")
    rows = grade(course["root"] / "source", subs, tmp_path / "again", exercises=SAMPLE,
                 secret_file=course["root"] / "secret", budget_s=40, quiet=True)  # fmt: skip
    assert rows == [r for r in course["rows"] if r.student in ("partial", "cheater")]


def test_a_reference_that_fails_its_own_tests_stops_the_run(tmp_path):
    require_sandbox()
    wrong = dict(SAMPLE)
    wrong["ex3-params-tests"] = Exercise(
        "ex3-params-tests",
        "n_params",
        check_n_params,
        lambda rng: [Call()],
        lambda: 761,
        exact=True,
    )
    wrong["ex2-relu-tests"] = dataclasses.replace(
        SAMPLE["ex2-relu-tests"], reference=lambda x: (np.maximum(x, 1.0), (x.copy(),))
    )
    (tmp_path / "subs").mkdir()
    expected = (
        "the instructor's own solutions fail their tests, so no submission can be graded "
        f"fairly: {NB} ex2-relu-tests: failed hidden tests; {NB} ex3-params-tests: failed hidden"
        " tests"
    )
    with pytest.raises(GradingError, match=f"^{re.escape(expected)}$"):
        grade(FIXTURE, tmp_path / "subs", tmp_path / "out", exercises=wrong,
              secret_file=tmp_path / "s", quiet=True)  # fmt: skip


def test_a_graded_cell_without_a_spec_is_an_error(tmp_path):
    (tmp_path / "subs").mkdir()
    partial = {k: v for k, v in SAMPLE.items() if k != "ex2-relu-tests"}
    with pytest.raises(
        GradingError, match=r"no exercise spec for the graded cell\(s\) \['ex2-relu-tests'\]"
    ):
        grade(FIXTURE, tmp_path / "subs", tmp_path / "out", exercises=partial, sandbox=False,
              secret_file=tmp_path / "s", quiet=True)  # fmt: skip


def test_secret_file_is_made_private_and_kept_outside(tmp_path):
    (tmp_path / "subs").mkdir()
    secret = tmp_path / "cfg" / "secret"
    grade(FIXTURE, tmp_path / "subs", tmp_path / "out", exercises=SAMPLE, sandbox=False,
          secret_file=secret, quiet=True)  # fmt: skip
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text().strip()) == 64
    with pytest.raises(GradingError, match="secret_file must lie outside"):
        grade(FIXTURE, tmp_path / "subs", tmp_path / "out", exercises=SAMPLE, sandbox=False,
              secret_file=tmp_path / "subs" / "secret", quiet=True)  # fmt: skip


def test_one_file_submission_naming_rule():
    two = {"01_sample": "01_sample.ipynb", "02_conv": "02_conv.ipynb"}
    assert _match_file("alice_01_sample", two) == ("alice", "01_sample.ipynb")
    assert _match_file("bob-smith.02_conv", two) == ("bob-smith", "02_conv.ipynb")
    assert _match_file("carol", two) is None
    assert _match_file("carol", {"01_sample": "01_sample.ipynb"}) == ("carol", "01_sample.ipynb")


def test_solution_cells_ignore_everything_else():
    source = nbformat.read(FIXTURE / NB, as_version=4)
    cells, notes = solution_cells(source, make_partial())
    assert [c["id"] for c in cells] == ["ex1-mse", "ex2-relu"]
    assert "raise SystemExit(3)" in cells[1]["source"]
    assert notes == ["solution cell 'ex3-params' is missing: counted as not attempted."]
    assert not any("a cell the student added" in c["source"] for c in cells)


def test_grade_argument_errors(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"submissions_dir must be a directory"):
        grade(FIXTURE, tmp_path / "none")
    with pytest.raises(TypeError, match=r"jobs must be an integer >= 1, got 1.5"):
        grade(FIXTURE, tmp_path, jobs=1.5)
    with pytest.raises(ValueError, match=r"shard must look like K/N"):
        grade(FIXTURE, tmp_path, shard="2")
    with pytest.raises(ValueError, match=r"out_dir must lie outside"):
        grade(FIXTURE, tmp_path, tmp_path / "grades")
    assert cli.main(["grade", str(tmp_path / "none"), str(tmp_path)]) == 1
    assert "coursekit grade: error: source_dir must be a directory" in capsys.readouterr().err


# --------------------------------------------------------------------------- #
# Plain data and the strict comparison, without a sandbox
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "forged",
    [
        {"t": "ndarray", "dtype": "object", "shape": [1], "b64": ""},
        {"t": "ndarray", "dtype": "float64", "shape": [10**9, 10**9], "b64": ""},
        {"t": "ndarray", "dtype": "float64", "shape": [2], "b64": "AAAA"},
        {"t": "pickle", "v": "gASVAAAA"},
        {"t": "fn", "ref": "os:system"},
        {"t": "fn", "name": "__import__", "params": []},
        {"t": "int", "v": "9" * 5000},
        {"t": "list", "v": [{"t": "list", "v": []}]} if False else {"t": "tuple", "v": "nope"},
        "just a string",
    ],
)
def test_decode_refuses_forged_data(forged):
    with pytest.raises(DecodeError):
        decode(forged)


def test_decode_refuses_deep_nesting():
    deep = {"t": "none"}
    for _ in range(100):
        deep = {"t": "list", "v": [deep]}
    with pytest.raises(DecodeError, match="nested too deeply"):
        decode(deep)


def test_plain_data_round_trip_keeps_types():
    import torch

    value = (1, 2.5, float("nan"), np.float32(3), np.int64(-7), np.arange(6).reshape(2, 3),
             torch.ones(2, dtype=torch.float32), torch.int64, {"a": [None, True]}, 10**30)  # fmt: skip
    back = decode(json.loads(json.dumps(encode(value))))
    assert mismatch(back, value, 0.0, 0.0) == ""
    assert type(back[3]) is np.float32 and type(back[4]) is np.int64
    assert isinstance(decode(encode(object())), object)


def test_mismatch_names_the_property_only():
    a = np.arange(6.0).reshape(2, 3)
    assert mismatch(a, a + 1e-12, 1e-9, 1e-11) == ""
    assert mismatch(a.astype(np.float32), a, 0, 0) == "wrong dtype"
    assert mismatch(a.T, a, 0, 0) == "wrong shape"
    assert mismatch((1.0, a + 1), (1.0, a), 0, 0) == "wrong values at [1]"
    assert mismatch({"W": a}, {"W": a, "b": a}, 0, 0) == "wrong keys"
    assert mismatch([1, 2], (1, 2), 0, 0) == "wrong type"
    assert mismatch(np.float64(2.0), 2.0, 0, 0) == ""  # a NumPy float is a float


# --------------------------------------------------------------------------- #
# nbgrader on the same notebook
# --------------------------------------------------------------------------- #
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
    for a, b in zip(student_edition().cells, theirs.cells, strict=True):
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
    rows = grade(FIXTURE, root / "submitted", tmp_path / "grades", exercises=SAMPLE,
                 secret_file=course["root"] / "secret", quiet=True)  # fmt: skip
    ours = {r.exercise: r.points for r in rows if r.status != "manual"}
    assert ours == nbgrader_points == {"ex1-mse-tests": 2.0, "ex2-relu-tests": 0.0,
                                       "ex3-params-tests": 1.0}  # fmt: skip


# --------------------------------------------------------------------------- #
# A whole run without a sandbox (no bubblewrap needed): rows, reports, shards
# --------------------------------------------------------------------------- #
def test_a_run_without_a_sandbox_gives_every_entry_its_rows(tmp_path, capsys):
    from coursekit.grading.autograde import Row, _fingerprint, limits_description

    subs = tmp_path / "subs"
    write(nbformat.read(FIXTURE / NB, as_version=4), subs / "instructor" / NB)
    write(student_edition(), subs / "untouched.ipynb")
    (subs / ".hidden").mkdir()
    (subs / "corrupt.ipynb").write_text("{", encoding="utf-8")
    (subs / "nothing").mkdir()
    (subs / "notes.txt").write_text("no notebook")
    (tmp_path / "secret").write_text("a secret of at least 16 bytes\n")
    args = dict(exercises=SAMPLE, sandbox=False, secret_file=tmp_path / "secret")
    rows = grade(FIXTURE, subs, tmp_path / "out", **args)
    ids = [("ex1-mse-tests", 2.0), ("ex2-relu-tests", 2.0), ("ex3-params-tests", 1.0)]

    def same(student, status):
        return [Row(student, NB, g, 0.0, p, status) for g, p in ids]

    manual = [Row(s, NB, "q1-sharing", 0.0, 1.0, "manual") for s in ("instructor", "untouched")]
    assert rows == [
        Row(".hidden", "", "", 0.0, 0.0, "ignored"),
        *same("corrupt", "unreadable"),
        Row("corrupt", NB, "q1-sharing", 0.0, 1.0, "unreadable"),
        *[Row("instructor", NB, g, p, p, "passed") for g, p in ids],
        manual[0],
        Row("notes.txt", "", "", 0.0, 0.0, "unmatched"),
        *same("nothing", "missing"),
        Row("nothing", NB, "q1-sharing", 0.0, 1.0, "missing"),
        *same("untouched", "not attempted"),
        manual[1],
    ]
    out = tmp_path / "out"
    assert [Row(**r) for r in json.loads((out / "scores.json").read_text())] == rows
    info = json.loads((out / "grading.json").read_text())
    assert list(info) == [
        "date", "notebooks", "source_sha256", "secret_fingerprint", "sandbox", "isolation",
        "warning", "budget_s", "reference_s", "memory_mb", "pids", "shard", "students", "seconds",
    ]  # fmt: skip
    students = [".hidden", "corrupt", "instructor", "notes.txt", "nothing", "untouched"]
    assert {k: info[k] for k in list(info)[1:8]} == {
        "notebooks": [NB],
        "source_sha256": {NB: tree_hash(FIXTURE)[NB]},
        "secret_fingerprint": _fingerprint(b"a secret of at least 16 bytes"),
        "sandbox": False,
        "isolation": limits_description(False),
        "warning": "graded without a sandbox (--no-sandbox)",
        "budget_s": 60.0,  # the instructor's solutions take far less than 12 s
    }
    assert list(info["reference_s"]) == [NB] and 0 < info["reference_s"][NB] < 12
    assert (info["memory_mb"], info["pids"], info["shard"]) == (3072, 128, "1/1")
    assert info["students"] == students and 0 < info["seconds"] < 600
    assert sorted(p.name for p in (out / "feedback").iterdir()) == [s + ".md" for s in students]
    assert (
        "\n## 01_sample.ipynb: 5 / 6 points\n" in (out / "feedback" / "instructor.md").read_text()
    )
    feedback = (out / "feedback" / "corrupt.md").read_text()
    assert "\n- the file could not be read as a notebook.\n" in feedback
    assert (
        "\n- no notebook of this name was found\n" in (out / "feedback" / "nothing.md").read_text()
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == (
        "WARNING: grading WITHOUT a sandbox (--no-sandbox): student code runs with your "
        "rights and can read and change your files; scores are still decided outside it."
    )
    assert printed[1] == "checking the instructor's solutions of 1 notebook(s) ..."
    assert printed[2] == (
        f"grading 2 submission(s), 1 at a time, budget 60 s each ({limits_description(False)})"
    )
    assert printed[-1] == f"wrote {out}/scores.csv (18 rows), gradebook.csv and feedback/"

    # The second of three shares: every third student, from the second one on.
    rows = grade(FIXTURE, subs, tmp_path / "shard", shard="2/3", quiet=True, budget_s=30,
                 call_s=5, **args)  # fmt: skip
    assert [r.student for r in rows] == ["corrupt"] * 4 + ["nothing"] * 4
    info = json.loads((tmp_path / "shard" / "grading.json").read_text())
    assert (info["shard"], info["students"], info["budget_s"]) == (
        "2/3",
        ["corrupt", "nothing"],
        30,
    )
    assert capsys.readouterr().out == ""


def test_grade_argument_errors_are_exact(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (tmp_path / "link").symlink_to(subs, target_is_directory=True)

    def refused(error, message, *args, **kwargs):
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            grade(*args, **{"exercises": SAMPLE, "sandbox": False, "quiet": True, **kwargs})

    none = tmp_path / "none"
    refused(FileNotFoundError, f"source_dir must be a directory, got {str(none)!r}", none, subs)
    for bad in (none, tmp_path / "link", FIXTURE / NB):
        message = f"submissions_dir must be a directory (not a link), got {str(bad)!r}"
        refused(FileNotFoundError, message, FIXTURE, bad)
    refused(ValueError, "jobs must be an integer >= 1, got 0", FIXTURE, subs, jobs=0)
    refused(ValueError, "memory_mb must be an integer >= 1, got 0", FIXTURE, subs, memory_mb=0)
    refused(ValueError, "pids must be an integer >= 1, got 0", FIXTURE, subs, pids=0)
    for budget in (0, -1.5, float("nan")):
        message = f"budget_s must be a positive number of seconds, got {budget!r}"
        refused(GradingError, message, FIXTURE, subs, budget_s=budget)
    for call in (0, float("nan")):
        message = f"call_s must be a positive number of seconds, got {call!r}"
        refused(GradingError, message, FIXTURE, subs, call_s=call)
    refused(GradingError, "shard K/N needs 1 <= K <= N, got '3/2'", FIXTURE, subs, shard="3/2")
    for out in (subs, subs / "grades", tmp_path, FIXTURE / "grades"):
        message = f"out_dir must lie outside the source and submissions folders, got {str(out)!r}"
        refused(GradingError, message, FIXTURE, subs, out)
    secret = tmp_path / "out" / "secret"
    message = (
        "secret_file must lie outside the source, submissions and output folders, "
        f"got {str(secret)!r} (inside {str(tmp_path / 'out')!r})"
    )
    refused(GradingError, message, FIXTURE, subs, tmp_path / "out", secret_file=secret)
    # Limits just above zero are allowed (the run then stops at the secret, inside out).
    refused(GradingError, message, FIXTURE, subs, tmp_path / "out", secret_file=secret,
            budget_s=0.5, call_s=0.5)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "subs"]


def test_grade_defaults(tmp_path, monkeypatch, capsys):
    from coursekit.grading import sandbox

    subs = tmp_path / "subs"
    subs.mkdir()
    monkeypatch.chdir(subs)  # the default out_dir, "grades", is then inside subs
    message = "out_dir must lie outside the source and submissions folders, got 'grades'"
    with pytest.raises(GradingError, match=f"^{re.escape(message)}$"):
        grade(FIXTURE, subs)
    monkeypatch.chdir(tmp_path)

    def unavailable():
        raise sandbox.SandboxUnavailable("no bubblewrap here")

    monkeypatch.setattr(sandbox, "check_sandbox", unavailable)
    with pytest.raises(sandbox.SandboxUnavailable, match="^no bubblewrap here$"):
        grade(FIXTURE, subs, quiet=True)  # sandboxed unless told otherwise
    # The default secret (made quietly), and the course's own exercises by default.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    expected = r"^01_sample\.ipynb: no exercise spec for the graded cell\(s\) \["
    with pytest.raises(GradingError, match=expected):
        grade(FIXTURE, subs, sandbox=False, quiet=True)
    assert len((tmp_path / "cfg" / "coursekit" / "grading-secret").read_text().strip()) == 64
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "grades").exists()


def test_the_sandbox_hides_the_graders_files_and_forbidden_modules(tmp_path):
    require_sandbox()
    exercises = dict(SAMPLE)
    exercises["ex3-params-tests"] = dataclasses.replace(
        SAMPLE["ex3-params-tests"], forbid=("fractions",)
    )
    secret = tmp_path / "secret"
    secret.write_text("a secret of at least 16 bytes\n")
    peek = f"import os\ndef n_params():\n    return 0 if os.path.exists({str(secret)!r}) else 760"
    forbidden = "def n_params():\n    import fractions\n    return 760"
    subs = tmp_path / "subs"
    for student, code in (("peek", peek), ("forbidden", forbidden)):
        write(answer(student_edition(), n_params=code), subs / student / NB)
    rows = grade(FIXTURE, subs, tmp_path / "out", exercises=exercises, secret_file=secret,
                 budget_s=60, quiet=True)  # fmt: skip
    status = {r.student: r.status for r in rows if r.exercise == "ex3-params-tests"}
    assert status == {"forbidden": "failed", "peek": "passed"}


def test_without_a_sandbox_the_students_code_sees_the_graders_files(tmp_path):
    # Why --no-sandbox warns: nothing is hidden (scores are still decided outside).
    secret = tmp_path / "secret"
    secret.write_text("a secret of at least 16 bytes\n")
    peek = f"import os\ndef n_params():\n    return 760 if os.path.exists({str(secret)!r}) else 0"
    write(answer(student_edition(), n_params=peek), tmp_path / "subs" / "peek" / NB)
    rows = grade(FIXTURE, tmp_path / "subs", tmp_path / "out", exercises=SAMPLE, sandbox=False,
                 secret_file=secret, budget_s=60, quiet=True)  # fmt: skip
    assert [r.status for r in rows if r.exercise == "ex3-params-tests"] == ["passed"]


def test_the_limits_and_budget_a_run_passes_on(tmp_path, monkeypatch, capsys):
    from coursekit.grading import autograde
    from coursekit.grading.sandbox import Limits, Run

    checks, runs = [], []

    def self_check(sources, secret, limits, sandbox, jobs):
        checks.append((list(sources), limits, sandbox, jobs))
        return {NB: 20.125}  # the instructor's solutions took 20 s: 5 x 20 s per submission

    def run_harness(first, second, limits, forbid=(), sandbox=True):
        runs.append((limits, forbid, sandbox))
        return Run(ended="memory")

    monkeypatch.setattr(autograde, "_self_check", self_check)
    monkeypatch.setattr(autograde, "run_harness", run_harness)
    exercises = dict(SAMPLE)
    exercises["ex3-params-tests"] = dataclasses.replace(
        SAMPLE["ex3-params-tests"], forbid=("socket", "fractions")
    )
    forbid = ("fractions", "socket")
    nb = student_edition()
    nb.cells = [c for c in nb.cells if gid(c) != "ex3-params"]
    write(nb, tmp_path / "subs" / "ann" / NB)
    args = dict(exercises=exercises, secret_file=tmp_path / "secret", quiet=True, sandbox=False)
    rows = grade(FIXTURE, tmp_path / "subs", tmp_path / "out", jobs=2, call_s=4, memory_mb=1000,
                 pids=50, **args)  # fmt: skip
    assert capsys.readouterr().out == ""
    assert checks == [([NB], Limits(wall_s=600.0, call_s=4, memory_mb=1000, pids=50), False, 2)]
    assert runs == [(Limits(wall_s=100.625, call_s=4, memory_mb=1000, pids=50), forbid, False)]
    assert [r.status for r in rows] == ["out of memory"] * 3 + ["manual"]
    info = json.loads((tmp_path / "out" / "grading.json").read_text())
    assert (info["budget_s"], info["reference_s"]) == (100.6, {NB: 20.12})
    assert isinstance(info["seconds"], float) and info["seconds"] == round(info["seconds"], 1)
    assert info["date"].endswith("+00:00")
    feedback = (tmp_path / "out" / "feedback" / "ann.md").read_text()
    assert "\n- solution cell 'ex3-params' is missing: counted as not attempted.\n" in feedback
    # The default per-call limit; the budget as written in grading.json.
    runs.clear()
    grade(FIXTURE, tmp_path / "subs", tmp_path / "out1", budget_s=33.333, **args)
    assert runs == [(Limits(wall_s=33.333, call_s=30.0, memory_mb=3072, pids=128), forbid, False)]
    assert json.loads((tmp_path / "out1" / "grading.json").read_text())["budget_s"] == 33.3
    # A budget below the per-call limit is the per-call limit too.
    runs.clear()
    grade(FIXTURE, tmp_path / "subs", tmp_path / "out2", budget_s=3, call_s=4, **args)
    assert runs == [(Limits(wall_s=3, call_s=3, memory_mb=3072, pids=128), forbid, False)]


def test_a_course_without_notebooks_grades_nothing(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "subs").mkdir()
    rows = grade(tmp_path / "source", tmp_path / "subs", tmp_path / "out", exercises=SAMPLE,
                 sandbox=False, secret_file=tmp_path / "secret", quiet=True)  # fmt: skip
    assert rows == []
    info = json.loads((tmp_path / "out" / "grading.json").read_text())
    assert (info["budget_s"], info["reference_s"], info["notebooks"]) == (60.0, {}, [])


def test_rows_are_sorted_by_student_then_notebook(tmp_path, monkeypatch, capsys):
    from coursekit.grading import autograde, sandbox
    from coursekit.grading.sandbox import Run, limits_description

    monkeypatch.setattr(sandbox, "check_sandbox", lambda: "/usr/bin/bwrap")
    monkeypatch.setattr(autograde, "_self_check", lambda *a: {"01_a.ipynb": 1.0, "02_b.ipynb": 1.0})
    monkeypatch.setattr(autograde, "run_harness", lambda *a, **k: Run(ended="crashed"))
    source = tmp_path / "source"
    source.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):  # the sample twice: the same exercises
        shutil.copy(FIXTURE / NB, source / name)
    subs = tmp_path / "subs"
    write(student_edition(), subs / "ann" / "01_a.ipynb")  # graded last, sorted first
    (subs / "ann.ipynb").write_text("{}")  # matches no notebook: a row for ann, without one
    rows = grade(source, subs, tmp_path / "out", exercises=SAMPLE,
                 secret_file=tmp_path / "secret")  # fmt: skip
    assert [(r.notebook, r.status) for r in rows] == [
        ("", "unmatched"),
        *[("01_a.ipynb", "crashed")] * 3,
        ("01_a.ipynb", "manual"),
        *[("02_b.ipynb", "missing")] * 4,
    ]
    isolation = limits_description(True)
    assert isolation.startswith("bubblewrap sandbox, ")
    assert f"grading 1 submission(s), 1 at a time, budget 60 s each ({isolation})" in (
        capsys.readouterr().out.splitlines()
    )
    info = json.loads((tmp_path / "out" / "grading.json").read_text())
    assert (info["sandbox"], info["isolation"], info["warning"]) == (True, isolation, None)
