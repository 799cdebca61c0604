"""Hostile submissions against the real course notebook 01, graded in the sandbox.

One grading run (module fixture) grades every payload below and then honest,
partial and untouched controls; every test reads its rows, feedback and the
state of the machine afterwards. The payloads are our own, one or more for
each way a submission could try to score, read, harm or cost:

* forge: write result files, kill the harness, write fake records to its pipe;
* patch: builtins, numpy, the checks framework, the reference functions,
  a lying ndarray subclass;
* read: the source notebook, other submissions, the grader's command line
  and environment, and carry hidden inputs into the feedback;
* links: a submission file or a student folder that is a symbolic link;
* harm: write into the package, the source or another submission; a setsid
  daemon; a link planted in the output folder;
* cost: a loop that ignores signals, a hung cell, shared memory, a fork bomb,
  endless output, a hidden folder name.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from helpers import (
    gid,
    grade_and_watch,
    package_sources,
    require_sandbox,
    tree_hash,
    with_sources,
    write,
)

import coursekit
from coursekit.grading import cli
from coursekit.grading.autograde import grade, merge
from coursekit.grading.release import release_notebook

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NB = "01_losses.ipynb"
POINTS = {"nb01-softmax-tests": 2, "nb01-bce-logits-tests": 2, "nb01-cross-entropy-tests": 3}
PACKAGE = Path(coursekit.__file__).resolve().parent
DAEMON_MARK = "1234.5"  # `sleep 1234.5`: the daemon a payload leaves behind

# A wrong softmax (no max subtraction: NaN for large logits) that the payloads dress up.
NAIVE = """
def softmax_rows(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
"""
BCE_OK = """
def bce_with_logits(z, y):
    z = np.asarray(z, dtype=float)
    y = np.asarray(y, dtype=float)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
"""

PAYLOADS: dict[str, str] = {
    # ---------------------------------------------------------------- forge
    "forge_files": """
import os, json, signal
for d in ("..", "../..", "/tmp", os.path.expanduser("~")):
    for name in ("result.json", "scores.json", "scores.csv"):
        try:
            with open(os.path.join(d, name), "w") as fh:
                json.dump({"finished": True, "cells": {str(i): {"status": "ok"} for i in range(99)}}, fh)
        except OSError:
            pass
def softmax_rows(z):
    os.kill(os.getppid(), signal.SIGKILL)  # the harness that would report the failure
    os.kill(os.getpid(), signal.SIGKILL)
""",
    "forge_records": """
import json, os
from coursekit.grading.plaindata import encode
def _fake(i, kind):
    z = np.zeros((3, 3))
    return {"kind": "call", "id": f"{kind}:nb01-softmax-tests:{i}", "status": "ok", "result": encode(z)}
for fd in range(3, 12):
    try:
        os.write(fd, b"not json\\n" + b"".join(
            (json.dumps(_fake(i, k)) + "\\n").encode() for k in "ph" for i in range(20))
            + b'{"kind": "phase"}\\n{"kind": "done"}\\n')
    except OSError:
        pass
"""
    + NAIVE,
    # ---------------------------------------------------------------- patch
    "patch_builtins": """
import builtins, math
builtins.isinstance = lambda obj, cls: True
builtins.type = lambda *a: np.ndarray
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.shape(a), dtype=bool)
math.isclose = lambda *a, **k: True
class Yes(np.ndarray):
    def __eq__(self, other):
        return True
    def __array_ufunc__(self, *a, **k):
        return np.zeros(1)
def softmax_rows(z):
    return np.zeros(np.shape(z)).view(Yes)
""",
    "patch_checks": """
import sys
import coursekit.checks.framework as fw
fw.run_check = lambda *a, **k: None
fw._diff = lambda *a, **k: ""
fw._compare = lambda *a, **k: ""
type(fw.strict).check_close = staticmethod(lambda *a, **k: None)
try:
    import coursekit.grading.spec as spec
    spec.mismatch = lambda *a, **k: ""
    spec.Exercise.judge_hidden = lambda *a, **k: ""
    import coursekit.grading.plaindata as pd
    pd.encode = lambda x, _depth=0: {"t": "float", "v": 1.0}
except Exception as exc:
    print("patching the grader's modules failed:", exc)
"""
    + NAIVE,
    "patch_reference": """
import sys, importlib
try:
    import coursekit.losses as L
    L.softmax = lambda z, axis=-1: np.zeros_like(z)
    print("losses is importable")
except ImportError as exc:
    print("losses:", exc)
def softmax_rows(z):
    try:
        from coursekit import losses
        return losses.softmax(z, axis=1)
    except ImportError:
        pass
    import coursekit, glob, importlib.machinery
    root = os.path.dirname(coursekit.__file__)
    for path in glob.glob(root + "/__pycache__/losses*.pyc"):
        try:
            m = importlib.machinery.SourcelessFileLoader("l", path).load_module()
            return m.softmax(z, axis=1)
        except Exception as exc:
            print("pyc:", type(exc).__name__)
    return np.zeros_like(z)
import os
""",
    # ---------------------------------------------------------------- read
    "read_secrets": """
import os, glob
found = []
for path in [SOURCE, SUBMISSIONS, OUT, SECRET, "/etc/shadow", "/root", os.path.expanduser("~")]:
    try:
        found.append((path, sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read()[:200]))
    except OSError as exc:
        found.append((path, type(exc).__name__))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            found.append((pid, open(f"/proc/{pid}/cmdline").read().replace("\\0", " ")[:300]))
            found.append((pid, open(f"/proc/{pid}/environ").read()[:300]))
        except OSError:
            pass
print("FOUND", found)
print("ENV", dict(os.environ))
def softmax_rows(z):
    print("SEEN", z.shape)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
""",
    # ---------------------------------------------------------------- harm
    "harm_files": """
import os, glob, subprocess
import coursekit
root = os.path.dirname(coursekit.__file__)
for path in glob.glob(root + "/**/*.py", recursive=True) + [SOURCE + "/01_losses.ipynb"] + glob.glob(SUBMISSIONS + "/*/*.ipynb"):
    try:
        with open(path, "a") as fh:
            fh.write("\\n# tampered\\n")
        print("WROTE", path)
    except OSError:
        pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["sleep", "DAEMON_MARK"])
    os._exit(0)
""".replace("DAEMON_MARK", DAEMON_MARK)
    + NAIVE,
    # ---------------------------------------------------------------- cost
    "cost_loop": """
import signal
for s in (signal.SIGINT, signal.SIGALRM, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
def softmax_rows(z):
    while True:
        pass
""",
    "cost_hung_cell": """
import signal, time
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    time.sleep(1)
""",
    "cost_shared_memory": """
import mmap
def softmax_rows(z):
    blocks = []
    for _ in range(40):
        m = mmap.mmap(-1, 2**27, flags=mmap.MAP_SHARED)
        m.write(b"x" * 2**27)
        blocks.append(m)
    return np.zeros_like(z)
""",
    "cost_fork_bomb": """
import os, time
def softmax_rows(z):
    children = 0
    for _ in range(2000):
        try:
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            children += 1
        except OSError:
            break
    print("forked", children)
    return np.zeros_like(z)
""",
    "cost_output": """
def softmax_rows(z):
    for _ in range(10**5):
        print("spam " * 40)
""",
    "exit_tricks": """
import sys
def softmax_rows(z):
    os._exit(0)
sys.exit("bye")
""",
}

# What a correct grader gives each payload: (softmax, bce, cross-entropy) points.
EXPECTED_POINTS = {name: (0, 0, 0) for name in PAYLOADS}
for name in ("harm_files", "cost_loop", "cost_hung_cell", "cost_shared_memory", "cost_fork_bomb",
             "cost_output", "exit_tricks"):  # fmt: skip
    EXPECTED_POINTS[name] = (0, 2, 0)
EXPECTED_POINTS["cost_hung_cell"] = (0, 0, 0)  # the hung cell costs the whole run


def _student_edition() -> nbformat.NotebookNode:
    return release_notebook(nbformat.read(NOTEBOOKS / NB, as_version=4), NB)


def _paths_payload(code: str, root: Path) -> str:
    return (
        f"SOURCE = {str(root / 'source')!r}\nSUBMISSIONS = {str(root / 'subs')!r}\n"
        f"OUT = {str(root / 'out')!r}\nSECRET = {str(root / 'secret')!r}\nimport os\n" + code
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    require_sandbox()
    root = tmp_path_factory.mktemp("hostile")
    (root / "source").mkdir()
    source_nb = nbformat.read(NOTEBOOKS / NB, as_version=4)
    write(source_nb, root / "source" / NB)
    solutions = {gid(c): c.source for c in source_nb.cells if gid(c) in (
        "nb01-softmax", "nb01-bce-logits", "nb01-cross-entropy")}  # fmt: skip
    student = _student_edition()
    subs = root / "subs"
    for i, (name, code) in enumerate(PAYLOADS.items()):
        cells = {"nb01-softmax": _paths_payload(code, root)}
        if EXPECTED_POINTS[name][1]:
            cells["nb01-bce-logits"] = BCE_OK
        nb = with_sources(student, cells)
        write(nb, subs / f"h{i:02d}_{name}" / NB)
    # links: to the instructor's notebook, and to an honest student's folder
    (subs / "h90_link_file").mkdir()
    (subs / "h90_link_file" / NB).symlink_to(root / "source" / NB)
    (subs / "h91_link_folder").symlink_to(subs / "zz_honest", target_is_directory=True)
    write(student, subs / ".h92_hidden" / NB)
    # controls, graded after every hostile submission
    write(with_sources(student, solutions), subs / "zz_honest" / NB)
    write(with_sources(student, {"nb01-softmax": solutions["nb01-softmax"]}),
          subs / "zz_partial" / NB)  # fmt: skip
    write(student, subs / "zz_untouched" / NB)
    write(with_sources(student, solutions), subs / 'zz_Zoë "Q", ü' / NB)
    # a link planted in the output folder, pointing at a victim's submission
    (root / "out").mkdir()
    victim = subs / "zz_untouched" / NB
    (root / "out" / "scores.csv").symlink_to(victim)
    (root / "secret").write_text("a test secret of the instructor, 0123456789\n")

    before = {"subs": tree_hash(subs), "source": tree_hash(root / "source")}
    before["package"] = package_sources(PACKAGE)
    return {
        "root": root,
        "before": before,
        **grade_and_watch(root, budget_s=30, call_s=6, memory_mb=1536, pids=64),
    }


def _points(hostile, student: str) -> tuple[float, ...]:
    got = {r.exercise: r.points for r in hostile["rows"] if r.student == student}
    return tuple(got.get(ex, -1) for ex in POINTS)


def _status(hostile, student: str) -> dict[str, str]:
    return {r.exercise: r.status for r in hostile["rows"] if r.student == student}


def _feedback(hostile, student: str) -> str:
    return (hostile["root"] / "out" / "feedback" / f"{student}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_each_payload_gets_what_a_correct_grader_gives(hostile, name):
    student = f"h{list(PAYLOADS).index(name):02d}_{name}"
    assert _points(hostile, student) == EXPECTED_POINTS[name], _status(hostile, student)
    assert _status(hostile, student)["nb01-softmax-tests"] != "passed"


def test_expected_statuses_of_the_costly_payloads(hostile):
    idx = {name: f"h{i:02d}_{name}" for i, name in enumerate(PAYLOADS)}
    assert _status(hostile, idx["cost_loop"])["nb01-softmax-tests"] == "timeout"
    assert set(_status(hostile, idx["cost_hung_cell"]).values()) == {"timeout"}
    # Which limit stops it first depends on how fast this machine writes 1.5 GiB.
    assert _status(hostile, idx["cost_shared_memory"])["nb01-softmax-tests"] in (
        "out of memory",
        "crashed",
        "failed",
        "timeout",
    )
    assert _status(hostile, idx["forge_files"])["nb01-softmax-tests"] == "crashed"


def test_controls_keep_their_scores(hostile):
    assert _points(hostile, "zz_honest") == (2, 2, 3)
    assert _points(hostile, 'zz_Zoë "Q", ü') == (2, 2, 3)
    assert _points(hostile, "zz_partial") == (2, 0, 0)
    assert _points(hostile, "zz_untouched") == (0, 0, 0)
    assert set(_status(hostile, "zz_untouched").values()) == {"not attempted"}


def test_links_and_hidden_entries_get_rows_and_zero(hostile):
    assert set(_status(hostile, "h90_link_file").values()) == {"symlink"}
    assert set(_status(hostile, "h91_link_folder").values()) == {"symlink"}
    assert set(_status(hostile, ".h92_hidden").values()) == {"ignored"}
    assert _points(hostile, "h90_link_file") == (0, 0, 0)


def test_nothing_outside_the_sandbox_changed_and_no_process_survives(hostile):
    root = hostile["root"]
    assert tree_hash(root / "subs") == hostile["before"]["subs"]
    assert tree_hash(root / "source") == hostile["before"]["source"]
    assert package_sources(PACKAGE) == hostile["before"]["package"]
    assert f"sleep {DAEMON_MARK}" not in hostile["ps"]
    assert hostile["children"] == []  # no sandbox, harness or daemon left below this test


def test_reports_replace_a_planted_link_without_following_it(hostile):
    root = hostile["root"]
    out = root / "out"
    assert not (out / "scores.csv").is_symlink()
    assert (out / "scores.csv").read_text().startswith("student,notebook,exercise")
    previous = list(root.glob("out.previous-*"))
    assert len(previous) == 1 and (previous[0] / "scores.csv").is_symlink()  # kept, not followed


def test_feedback_reveals_nothing_from_outside(hostile):
    root = hostile["root"]
    source = nbformat.read(root / "source" / NB, as_version=4)
    solution_line = "e = np.exp(z - z.max(axis=1, keepdims=True))"
    assert solution_line in "".join(c.source for c in source.cells)
    hostile_feedback = "".join(
        p.read_text(encoding="utf-8") for p in (root / "out" / "feedback").glob("h*.md")
    )
    assert "FOUND" in hostile_feedback  # the spy ran and printed what it found
    # What the spy would have found outside the sandbox: the instructor's solution, other
    # students' names (listing the submissions), the secret, the grader's environment.
    for outside in (solution_line, "BEGIN SOLUTION", "BEGIN HIDDEN", "zz_honest", "zz_partial",
                    "a test secret", "run_hidden_tests", "root:", "COURSEKIT_GRADING",
                    "PYTHONPATH", "VIRTUAL_ENV", "PYTEST"):  # fmt: skip
        assert outside not in hostile_feedback, outside


def test_hidden_inputs_never_reach_the_feedback(hostile):
    text = _feedback(hostile, f"h{list(PAYLOADS).index('read_secrets'):02d}_read_secrets")
    seen = {line.split("SEEN", 1)[1].strip() for line in text.splitlines() if "SEEN" in line}
    # only the shapes of the visible cases (public inputs) were printed into the feedback
    assert seen == {"(1, 2)", "(2, 3)", "(1, 3)", "(2, 2)", "(2, 1)"}
    hidden_feedback = [line for line in text.splitlines() if line.startswith("- ")]
    assert all("array" not in line and "[" not in line.split(":")[0] for line in hidden_feedback)


def test_output_is_capped(hostile):
    text = _feedback(hostile, f"h{list(PAYLOADS).index('cost_output'):02d}_cost_output")
    assert text.count("spam") < 2_000


def test_scores_files_agree_and_hold_odd_names(hostile):
    out = hostile["root"] / "out"
    import csv

    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    data = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert [r["student"] for r in rows] == [r["student"] for r in data]
    assert 'zz_Zoë "Q", ü' in {r["student"] for r in rows}
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as fh:
        book = {r["Student"]: r for r in csv.DictReader(fh)}
    assert book['zz_Zoë "Q", ü']["01_losses"] == "7" and book["zz_partial"]["Total"] == "2"
    info = json.loads((out / "grading.json").read_text())
    assert info["sandbox"] is True and "bubblewrap" in info["isolation"]


# --------------------------------------------------------------------------- #
# Shards, the no-sandbox mode, and a machine without a sandbox
# --------------------------------------------------------------------------- #
def _small_class(root: Path) -> Path:
    source_nb = nbformat.read(NOTEBOOKS / NB, as_version=4)
    write(source_nb, root / "source" / NB)
    student = _student_edition()
    solutions = {gid(c): c.source for c in source_nb.cells if gid(c)}
    subs = root / "subs"
    write(with_sources(student, solutions), subs / "ann" / NB)
    write(student, subs / "ben" / NB)
    write(with_sources(student, {"nb01-softmax": NAIVE}), subs / "cat" / NB)
    write(with_sources(student, {"nb01-bce-logits": BCE_OK}), subs / "dan" / NB)
    (root / "secret").write_text("another secret for the shard test\n")
    return subs


def test_two_shards_merged_equal_one_run(tmp_path):
    require_sandbox()
    subs = _small_class(tmp_path)
    common = dict(jobs=2, secret_file=tmp_path / "secret", quiet=True, budget_s=60)
    whole = grade(tmp_path / "source", subs, tmp_path / "whole", **common)
    grade(tmp_path / "source", subs, tmp_path / "s1", shard="1/2", **common)
    code = cli.main(["grade", str(tmp_path / "source"), str(subs), "--out", str(tmp_path / "s2"),
                     "--shard", "2/2", "--secret-file", str(tmp_path / "secret")])  # fmt: skip
    assert code == 0
    assert cli.main(["grade", "merge", str(tmp_path / "merged"), str(tmp_path / "s1"),
                     str(tmp_path / "s2")]) == 0  # fmt: skip
    merged = (tmp_path / "merged" / "scores.csv").read_text()
    assert merged == (tmp_path / "whole" / "scores.csv").read_text()
    assert (tmp_path / "merged" / "gradebook.csv").read_text() == (
        tmp_path / "whole" / "gradebook.csv"
    ).read_text()
    shard1 = json.loads((tmp_path / "s1" / "grading.json").read_text())["students"]
    shard2 = json.loads((tmp_path / "s2" / "grading.json").read_text())["students"]
    assert sorted(shard1 + shard2) == ["ann", "ben", "cat", "dan"] and not set(shard1) & set(shard2)
    assert {r.student: r.points for r in whole if r.exercise == "nb01-bce-logits-tests"} == {
        "ann": 2, "ben": 0, "cat": 0, "dan": 2}  # fmt: skip
    with pytest.raises(ValueError, match="two shards"):
        merge(tmp_path / "bad", [tmp_path / "s1", tmp_path / "s1"], quiet=True)


def test_same_secret_same_hidden_inputs_other_secret_other_inputs():
    from coursekit.grading.exercises import all_exercises

    ex = all_exercises()["nb01-softmax-tests"]
    a, b = ex.hidden_calls(b"one secret"), ex.hidden_calls(b"one secret")
    c = ex.hidden_calls(b"another secret")
    same = all(np.array_equal(x.args[0], y.args[0]) for x, y in zip(a, b, strict=True))
    differ = any(
        x.args[0].shape != y.args[0].shape or not np.array_equal(x.args[0], y.args[0])
        for x, y in zip(a, c, strict=True)
    )
    assert same and differ


def test_no_sandbox_grades_the_same_and_says_so(tmp_path, capsys):
    subs = _small_class(tmp_path)
    rows = grade(tmp_path / "source", subs, tmp_path / "out", sandbox=False,
                 secret_file=tmp_path / "secret", budget_s=60)  # fmt: skip
    assert {r.student: sum(x.points for x in rows if x.student == r.student) for r in rows} == {
        "ann": 7, "ben": 0, "cat": 0, "dan": 2}  # fmt: skip
    assert "WITHOUT a sandbox" in capsys.readouterr().out
    info = json.loads((tmp_path / "out" / "grading.json").read_text())
    assert info["sandbox"] is False and "without a sandbox" in info["warning"]


def test_missing_bubblewrap_stops_with_a_clear_message(tmp_path, monkeypatch, capsys):
    from coursekit.grading import sandbox

    subs = _small_class(tmp_path)
    monkeypatch.setattr(sandbox, "_CHECKED", {})
    monkeypatch.setenv("COURSEKIT_BWRAP", str(tmp_path / "no-such-bwrap"))
    code = cli.main(["grade", str(tmp_path / "source"), str(subs), "--out", str(tmp_path / "o"),
                     "--secret-file", str(tmp_path / "secret")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "bubblewrap (bwrap) was not found" in err and "--no-sandbox" in err
    assert not (tmp_path / "o").exists()


def test_without_a_cgroup_the_address_space_limit_still_holds(tmp_path, monkeypatch):
    """Where no cgroup can be made (a user without delegation), shared memory still counts."""
    from coursekit.grading import sandbox

    require_sandbox()
    monkeypatch.setattr(sandbox._Cgroup, "create", classmethod(lambda cls, limits: None))
    source_nb = nbformat.read(NOTEBOOKS / NB, as_version=4)
    write(source_nb, tmp_path / "source" / NB)
    # 6 GiB of shared memory, every page touched: RLIMIT_DATA would not count it.
    hog = (
        "import mmap\n"
        "def softmax_rows(z):\n"
        "    m = mmap.mmap(-1, 6 * 2**30, flags=mmap.MAP_SHARED)\n"
        "    for i in range(0, len(m), 4096):\n"
        "        m[i] = 1\n"
        "    return np.zeros_like(z)\n"
    )
    cells = {"nb01-softmax": hog, "nb01-bce-logits": BCE_OK}
    write(with_sources(_student_edition(), cells), tmp_path / "subs" / "hog" / NB)
    (tmp_path / "secret").write_text("a secret for the rlimit test, long enough\n")
    rows = grade(tmp_path / "source", tmp_path / "subs", tmp_path / "out", memory_mb=1024,
                 budget_s=120, secret_file=tmp_path / "secret", quiet=True)  # fmt: skip
    assert [(r.status, r.points) for r in rows][:2] == [("failed", 0), ("passed", 2)]
    info = json.loads((tmp_path / "out" / "grading.json").read_text())
    assert "RLIMIT_AS" in info["isolation"]
