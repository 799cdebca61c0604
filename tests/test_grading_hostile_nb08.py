"""Hostile submissions against the real course notebook 08's residual block, in the sandbox.

Notebook 01's payloads (tests/test_grading_hostile.py) attack the checks and the
harness; this exercise adds a driver: the grader builds the student's block in
the sandbox with ``coursekit.grading.drivers.module_forward`` and compares what
comes back with the same driver run on ``coursekit.resnet.BasicBlock`` in the
grader's own process. The payloads try to borrow that reference, to patch the
driver so that it reports the expected outputs, and to forge and outlive the
run; a block without its shortcut is the plain wrong answer. Controls: the
instructor's solutions, the block alone, the untouched student edition.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
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
from coursekit.grading.release import is_solution, release_notebook

pytestmark = pytest.mark.slow

NB = "08_resnet.ipynb"
SOURCE = Path(__file__).resolve().parents[1] / "notebooks" / NB
BLOCK, TESTS = "nb08-residual-block", "nb08-residual-block-tests"
PACKAGE = Path(coursekit.__file__).resolve().parent
DAEMON_MARK = "4321.5"  # `sleep 4321.5`: the daemon a payload leaves behind
FORGED = ("result.json", "scores.json", "scores.csv")  # what a payload writes where it can


def _solution(nb: nbformat.NotebookNode, grade_id: str) -> str:
    """The instructor's code of a solution cell, without nbgrader's markers."""
    (cell,) = [c for c in nb.cells if gid(c) == grade_id]
    return "".join(line for line in cell.source.splitlines(True) if "### " not in line)


def _payloads(honest: str) -> dict[str, str]:
    no_shortcut = honest.replace("F.relu(out + self.shortcut(x))", "F.relu(out)")
    assert no_shortcut != honest
    return {
        # the reference class itself, with the shortcut the grader uses
        "borrow_reference": (
            "import functools\nfrom coursekit.resnet import BasicBlock\n"
            "ResidualBlock = functools.partial(BasicBlock, shortcut='B')\n"
        ),
        # the wrong block, with the driver patched to report what the reference gives
        # for the right keys and shortcut types: relu(x) as both outputs
        "patch_driver": no_shortcut
        + """
import torch
import coursekit.grading.drivers as drivers
_real = drivers.module_forward
def _fake(cls, init_args, state_dict, x, seed=0):
    out = _real(cls, init_args, state_dict, x, seed)
    out["train"] = out["eval"] = torch.relu(x)
    return out
drivers.module_forward = drivers.DRIVERS["module_forward"] = _fake
torch.manual_seed = lambda *a, **k: None
""",
        # fake result files, a write into the package, a daemon, the harness killed
        "forge_and_outlive": no_shortcut
        + f"""
import json, os, signal, subprocess
subprocess.Popen(["setsid", "sleep", "{DAEMON_MARK}"])
for folder in ("..", "../..", "/tmp", os.path.expanduser("~")):
    for name in {FORGED!r}:
        try:
            with open(os.path.join(folder, name), "w") as fh:
                json.dump({{"finished": True}}, fh)
        except OSError:
            pass
try:
    import coursekit
    with open(os.path.join(os.path.dirname(coursekit.__file__), "resnet.py"), "a") as fh:
        fh.write("# planted")
except OSError:
    pass
_Wrong = ResidualBlock
class ResidualBlock(_Wrong):
    def forward(self, x):
        os.kill(os.getppid(), signal.SIGKILL)
        return super().forward(x)
""",
        "no_shortcut": no_shortcut,
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    require_sandbox()
    root = tmp_path_factory.mktemp("hostile08")
    source = nbformat.read(SOURCE, as_version=4)
    write(source, root / "source" / NB)
    student = release_notebook(nbformat.read(SOURCE, as_version=4), NB)
    solutions = {gid(c): c.source for c in source.cells if is_solution(c)}
    honest = _solution(source, BLOCK)
    subs = root / "subs"
    for name, code in _payloads(honest).items():
        write(with_sources(student, {BLOCK: code}), subs / f"h_{name}" / NB)
    write(with_sources(student, solutions), subs / "zz_honest" / NB)
    write(with_sources(student, {BLOCK: honest}), subs / "zz_block_only" / NB)
    write(student, subs / "zz_untouched" / NB)
    (root / "secret").write_text("a test secret of the instructor, 0123456789\n")
    before = {
        "tmp": {name: (Path("/tmp") / name).exists() for name in FORGED},
        "subs": tree_hash(subs),
        "source": tree_hash(root / "source"),
        "package": package_sources(PACKAGE),
    }
    return {
        "root": root,
        "before": before,
        **grade_and_watch(root, budget_s=120, call_s=20, memory_mb=3072, pids=64),
    }


def _row(graded, student: str, exercise: str = TESTS):
    (row,) = [r for r in graded["rows"] if r.student == student and r.exercise == exercise]
    return row


@pytest.mark.parametrize(
    "student, status",
    [
        ("h_borrow_reference", "error"),
        ("h_patch_driver", "failed"),
        ("h_forge_and_outlive", "crashed"),
        ("h_no_shortcut", "failed"),
    ],
)
def test_no_payload_scores_the_block(graded, student, status):
    row = _row(graded, student)
    assert (row.points, row.status) == (0, status)


def test_a_borrowed_reference_is_refused_by_name(graded):
    feedback = (graded["root"] / "out" / "feedback" / "h_borrow_reference.md").read_text()
    assert "coursekit.resnet is not available while your solutions are graded" in feedback


def test_controls_keep_their_scores(graded):
    honest = {r.exercise: r.points for r in graded["rows"] if r.student == "zz_honest"}
    assert honest == {
        "nb08-resnet-params-tests": 2,
        "nb08-residual-block-tests": 3,
        "nb08-chain-gradient-tests": 2,
    }
    assert (_row(graded, "zz_block_only").points, _row(graded, "zz_block_only").status) == (
        3,
        "passed",
    )
    untouched = {r.status for r in graded["rows"] if r.student == "zz_untouched"}
    assert untouched == {"not attempted"}


def test_nothing_outside_the_sandbox_changed_and_no_process_survives(graded):
    root = graded["root"]
    assert tree_hash(root / "subs") == graded["before"]["subs"]
    assert tree_hash(root / "source") == graded["before"]["source"]
    assert package_sources(PACKAGE) == graded["before"]["package"]
    assert f"sleep {DAEMON_MARK}" not in graded["ps"]
    assert graded["children"] == []
    assert {name: (Path("/tmp") / name).exists() for name in FORGED} == graded["before"]["tmp"]
