"""Write each graded test cell's hidden-test block as a call of its exercise spec.

    python scripts/hidden_tests.py notebooks/*.ipynb

The block becomes ``run_hidden_tests("<grade_id>", <target>)``: nbgrader runs
it in the student's kernel, ``coursekit grade`` reads the same spec from
``coursekit.grading.exercises`` and runs it in its sandbox. Stored outputs are
kept (a passing block prints nothing).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from coursekit.grading.exercises import all_exercises
from coursekit.grading.release import BEGIN_HIDDEN, END_HIDDEN, is_grade, is_solution

BLOCK = re.compile(
    rf"(### {re.escape(BEGIN_HIDDEN)}\n).*?(### {re.escape(END_HIDDEN)})", flags=re.S
)


def hidden_block(grade_id: str, target: str) -> str:
    """The body of a hidden-test block for one exercise."""
    return (
        "from coursekit.grading.exercises import run_hidden_tests\n\n"
        f'run_hidden_tests("{grade_id}", {target})\n'
    )


def rewrite(path: Path) -> bool:
    """Rewrite ``path``'s hidden-test blocks; return True if it changed."""
    exercises = all_exercises()
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if not is_grade(cell) or is_solution(cell) or cell.cell_type != "code":
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        if gid not in exercises or BEGIN_HIDDEN not in cell.source:
            continue
        body = hidden_block(gid, exercises[gid].target)
        new = BLOCK.sub(lambda m, body=body: m.group(1) + body + m.group(2), cell.source)
        if new != cell.source:
            cell.source, changed = new, True
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {'rewritten' if rewrite(Path(arg)) else 'unchanged'}")
