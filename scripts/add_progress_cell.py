"""End every course notebook with the progress cells, or bring them up to date.

Each notebook of ``notebooks/`` ends, after its Summary, with a short markdown
cell and a code cell calling ``coursekit.grading.progress.show_progress``
(docs/NOTEBOOKS.md, "Cell order"; the cells come from
``coursekit.grading.progress.progress_cells``). This script removes any cells
marked as progress cells, appends the current ones, and stores the code cell's
output as a fresh run in ``notebooks/`` gives it (every exercise passes), with
the next execution count, so nbval compares it without re-executing the
notebooks. A second run changes nothing. Run it again, or ``make notebooks``,
when an exercise is added, removed or renamed: every notebook's stored output
lists the whole course.

Usage::

    python scripts/add_progress_cell.py [--check] [FOLDER]

FOLDER defaults to notebooks/. ``--check`` writes nothing and exits 1 when a
notebook is not up to date.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coursekit.grading.progress import is_progress_cell, progress_cells, show_progress  # noqa: E402
from coursekit.notebooks import course_notebooks, normalise  # noqa: E402


def progress_output(folder: Path) -> str:
    """What the code cell prints when it runs in ``folder`` (cached by content)."""
    out = io.StringIO()
    cwd = Path.cwd()
    os.chdir(folder)  # the cell runs in the notebook's folder
    try:
        with contextlib.redirect_stdout(out):
            show_progress()
    finally:
        os.chdir(cwd)
    return out.getvalue()


def with_progress_cells(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    """``nb`` without its old progress cells, ending with the current ones and ``text`` as output."""
    nb.cells = [c for c in nb.cells if not is_progress_cell(c)]
    intro, code = progress_cells()
    executed = [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None]
    code.execution_count = len(executed) + 1
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nb.cells += [intro, code]
    return normalise(nb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT / "notebooks"))
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    args = parser.parse_args(argv)
    folder = Path(args.folder).resolve()
    text = progress_output(folder)
    stale = []
    for path in course_notebooks(folder):
        before = path.read_text(encoding="utf-8")
        nb = with_progress_cells(nbformat.reads(before, as_version=4), text)
        if nbformat.writes(nb).strip() == before.strip():
            continue
        stale.append(path.name)
        if not args.check:
            nbformat.write(nb, path)
    verb = "out of date" if args.check else "updated"
    print(f"{verb}: {', '.join(stale) if stale else 'none'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
