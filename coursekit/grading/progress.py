"""``coursekit progress``: where a learner stands in the course.

For every exercise of every notebook it says *passed*, *failed* or *not
attempted*, with the points, then what to do next and about how much study
time is left (the README's study times, :data:`STUDY_MINUTES`).

How a notebook is checked
-------------------------
The saved notebook in the workspace is read once, as bytes, and never written.
A separate notebook is built in memory and executed in a fresh kernel
(nbclient), in a temporary folder:

1. the notebook's import statements (the *prelude* ``coursekit grade`` uses),
2. for each exercise, the learner's solution cell(s), then the exercise's
   visible check cell.

Only these cells run, as ``coursekit grade`` runs only the solution cells: it
takes seconds, not the minutes of training some notebooks spend, it does not
depend on ``MODE``, and a solution that passes here does not secretly rely on
a variable of some other cell that the grader will not run. The check cells
come from the course (the learner cannot edit them), the solution cells from
the saved notebook, matched by nbgrader's ``grade_id``. Cells run with
``allow_errors`` and a per-cell time limit (the kernel is interrupted after
it), so a failing or endless exercise costs only its own line.

Each check cell's outcome is read from its outputs: the check prints a line
starting with "✔" (passed), "✘" (failed) or "✎" (not attempted); an error (a
``CheckFailed`` or any other) means failed. Passing the visible checks earns
the exercise's points here; ``coursekit grade`` also runs hidden tests.

The learner's code runs with the learner's rights, as it does in Jupyter.

The last cell of every notebook
-------------------------------
:func:`show_progress` is what that cell calls: the same checks for the
notebooks saved in the notebook's own folder, printed without any path (the
output is the same on every machine, so nbval compares it). Its results are
cached per notebook under :func:`cache_dir`, keyed by the SHA-256 of the saved
notebook's solution cells, of the exercises and checks of the course notebook
and of coursekit's own sources: ten such cells in a course run check each notebook
once, and a notebook is checked again as soon as a solution in it, its checks
or coursekit change (not when only its outputs do).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

# Defined with the release, which strips the cell's output, to keep imports one-way.
from coursekit.grading.release import PROGRESS_CELL_KEY, is_progress_cell

__all__ = [
    "FAILED",
    "NOT_ATTEMPTED",
    "PASSED",
    "STUDY_MINUTES",
    "ExerciseProgress",
    "next_step",
    "PROGRESS_CODE",
    "cache_dir",
    "course_source",
    "is_progress_cell",
    "progress_cells",
    "progress",
    "progress_report",
    "remaining_minutes",
    "show_progress",
]

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"
_MARK = {PASSED: "✔", FAILED: "✘", NOT_ATTEMPTED: "✎"}

#: Study time of each notebook, exercises included, in minutes. The README's
#: table in "The course" shows the same figures (a test keeps them equal).
STUDY_MINUTES: dict[str, int] = {
    "00_start_here.ipynb": 45,
    "01_losses.ipynb": 90,
    "02_gradient_descent.ipynb": 120,
    "03_backprop.ipynb": 150,
    "04_mlp.ipynb": 180,
    "05_training_deep_networks.ipynb": 150,
    "06_conv_arithmetic.ipynb": 120,
    "07_cnn.ipynb": 120,
    "08_resnet.ipynb": 120,
    "09_fast_gpu_training.ipynb": 90,
}

_EXERCISE_HEADING = re.compile(r"^#+\s*(Exercise\s+\S+?)\s*(?:\([^)]*\))?\s*:\s*(.+?)\s*$")


@dataclass
class ExerciseProgress:
    """One exercise: where it stands in the learner's workspace.

    Attributes
    ----------
    notebook : str
        The notebook's path relative to the workspace, e.g. ``01_losses.ipynb``.
    grade_id : str
        nbgrader's ``grade_id`` of the exercise's check (test) cell.
    title : str
        E.g. ``Exercise 1: a stable softmax`` (the grade_id when there is no heading).
    status : str
        ``passed``, ``failed`` or ``not attempted``.
    points : float
        Points earned by the visible check (all or nothing).
    max_points : float
        The check cell's points in its nbgrader metadata.
    detail : str
        Why it failed (the check's first line or the error), or why it was not run.
    """

    notebook: str
    grade_id: str
    title: str
    status: str
    points: float
    max_points: float
    detail: str = ""


@dataclass
class _Exercise:
    grade_id: str
    title: str
    max_points: float
    check_source: str
    solution_ids: list[str]


def _heading(nb: NotebookNode) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("#"):
            return cell.source.splitlines()[0].lstrip("#").strip()
    return ""


def _exercises(nb: NotebookNode) -> list[_Exercise]:
    """The exercises of a (released) notebook: each graded code cell with its solution cells."""
    from coursekit.grading.release import is_grade, is_solution

    found: list[_Exercise] = []
    solutions: list[str] = []
    title = ""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and not meta:
            match = _EXERCISE_HEADING.match(
                cell.source.strip().splitlines()[0] if cell.source else ""
            )
            if match:
                title = f"{match.group(1)}: {match.group(2)}"
        elif is_solution(cell) and not is_grade(cell):
            solutions.append(meta["grade_id"])
        elif is_grade(cell) and cell.cell_type == "code":
            gid = meta["grade_id"]
            found.append(
                _Exercise(gid, title or gid, float(meta.get("points", 0)), cell.source, solutions)
            )
            solutions, title = [], ""
    return found


def _parse_check(outputs: list, timeout: float) -> tuple[str, str]:
    """``(status, detail)`` from a check cell's outputs."""
    lines: list[str] = []
    error = ""
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            lines.extend(line.strip() for line in out.get("text", "").splitlines())
        elif out.get("output_type") == "error" and not error:
            ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
            if ename == "KeyboardInterrupt":
                error = f"stopped after {timeout:g} s, the time limit of a cell"
            else:
                error = f"{ename}: {evalue}" if evalue else ename
    failed = [line for line in lines if line.startswith("✘")]
    if failed:
        return FAILED, failed[0].lstrip("✘ ").strip()
    if error:
        return FAILED, error
    if any(line.startswith("✎") for line in lines):
        return NOT_ATTEMPTED, ""
    if any(line.startswith("✔") for line in lines):
        return PASSED, ""
    return FAILED, "the check printed no result"


def _cell_error(outputs: list) -> str:
    for out in outputs:
        if out.get("output_type") == "error":
            ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
            return f"{ename}: {evalue}" if evalue else ename
    return ""


_PRELUDE = """\
import os as _ck_os
for _ck_name in ("COURSEKIT_GRADING", "NBGRADER_EXECUTION"):
    _ck_os.environ.pop(_ck_name, None)  # unattempted checks report, not raise
from coursekit.grading.harness import _run_prelude as _ck_run_prelude
_ck_run_prelude({statements!r}, globals())
del _ck_os, _ck_name, _ck_run_prelude
"""


def _check_notebook(
    name: str, source_nb: NotebookNode, released: NotebookNode, saved: bytes, timeout: float
) -> list[ExerciseProgress]:
    """Run the visible checks of one saved notebook in a fresh kernel."""
    from coursekit.grading.autograde import solution_cells
    from coursekit.grading.exercises import prelude

    exercises = _exercises(released)
    try:
        mine = nbformat.reads(saved.decode("utf-8"), as_version=4)
        cells, _ = solution_cells(source_nb, mine)
    except Exception as exc:  # not a notebook any more
        why = f"cannot read your notebook ({type(exc).__name__}: {exc})"
        return [
            ExerciseProgress(name, e.grade_id, e.title, FAILED, 0.0, e.max_points, why)
            for e in exercises
        ]
    code = {c["id"]: c["source"] for c in cells}
    stubs = {
        c.metadata.nbgrader["grade_id"]: c.source
        for c in released.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    results: dict[str, tuple[str, str]] = {}
    todo = []
    for e in exercises:
        if not any(gid in code for gid in e.solution_ids):
            results[e.grade_id] = (NOT_ATTEMPTED, "its solution cell is missing")
        elif all(code.get(gid) == stubs.get(gid) for gid in e.solution_ids):
            results[e.grade_id] = (NOT_ATTEMPTED, "")  # the stub still raises NotImplementedError
        else:
            todo.append(e)
    if todo:
        results.update(_run_checks(source_nb, todo, code, timeout, prelude))
    return [
        ExerciseProgress(
            name,
            e.grade_id,
            e.title,
            results[e.grade_id][0],
            e.max_points if results[e.grade_id][0] == PASSED else 0.0,
            e.max_points,
            results[e.grade_id][1],
        )
        for e in exercises
    ]


def _run_checks(
    source_nb: NotebookNode, todo: list[_Exercise], code: dict[str, str], timeout: float, prelude
) -> dict[str, tuple[str, str]]:
    from nbclient import NotebookClient

    from coursekit.notebooks import KERNELSPEC

    new = nbformat.v4
    nb = new.new_notebook(metadata={"kernelspec": dict(KERNELSPEC)})
    nb.cells.append(new.new_code_cell(_PRELUDE.format(statements=prelude(source_nb))))
    where: list[tuple[_Exercise, list[int], int]] = []
    for e in todo:
        mine = []
        for gid in e.solution_ids:
            if gid in code:
                mine.append(len(nb.cells))
                nb.cells.append(new.new_code_cell(code[gid]))
        nb.cells.append(new.new_code_cell(e.check_source))
        where.append((e, mine, len(nb.cells) - 1))
    stopped = ""
    with tempfile.TemporaryDirectory(prefix="coursekit-progress-") as tmp:
        client = NotebookClient(
            nb,
            timeout=timeout,
            interrupt_on_timeout=True,
            allow_errors=True,
            kernel_name="python3",
            resources={"metadata": {"path": tmp}},
        )
        try:
            # The kernel's own log (not the cells' output) would only add noise.
            client.execute(stderr=subprocess.DEVNULL)
        except Exception as exc:  # the kernel died or did not start
            stopped = f"not checked: the kernel stopped ({type(exc).__name__}: {exc})"
    results = {}
    for e, mine, check in where:
        cell = nb.cells[check]
        if cell.get("execution_count") is None and not cell.get("outputs"):
            results[e.grade_id] = (FAILED, stopped or "not checked")
            continue
        status, detail = _parse_check(cell.outputs, timeout)
        if status == FAILED:
            own = next((_cell_error(nb.cells[i].outputs) for i in mine), "")
            if own:
                detail = f"your solution cell raised {own}"
        results[e.grade_id] = (status, detail[:300])
    return results


def progress(
    workspace: str | Path = "workspace",
    source: str | Path = "notebooks",
    timeout: float = 60.0,
    quiet: bool = True,
    cache: str | Path | None = None,
) -> list[ExerciseProgress]:
    """Check every exercise of the course in the learner's workspace; never modify a notebook.

    Parameters
    ----------
    workspace : str or Path
        The learner's folder (``coursekit workspace``); a notebook missing
        from it counts as not attempted.
    source : str or Path
        The course's notebooks (the instructor's ``notebooks/`` or the
        student edition ``student/``): the list of exercises, their points and
        their check cells come from there.
    timeout : float
        Seconds each cell may run before the kernel is interrupted.
    quiet : bool
        Do not print which notebook is being checked (to stderr).
    cache : str or Path, optional
        A folder for the results of each notebook, keyed by content (see
        :func:`_cache_key`); None: check every notebook.

    Returns
    -------
    list of ExerciseProgress
        One per exercise, in the course's order.
    """
    import sys

    from coursekit.grading.release import find_notebooks, release_notebook

    workspace, source = Path(workspace), Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"source must be a directory of notebooks, got {str(source)!r}")
    if not workspace.is_dir():
        raise FileNotFoundError(
            f"workspace must be a directory (make one with 'coursekit workspace'), "
            f"got {str(workspace)!r}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    records: list[ExerciseProgress] = []
    for rel in find_notebooks(source):
        name = rel.as_posix()
        source_nb = nbformat.read(source / rel, as_version=4)
        released = release_notebook(source_nb, name)
        exercises = _exercises(released)
        if not exercises:
            continue
        saved = workspace / rel
        if not saved.is_file():
            records.extend(
                ExerciseProgress(
                    name,
                    e.grade_id,
                    e.title,
                    NOT_ATTEMPTED,
                    0.0,
                    e.max_points,
                    "not in the workspace",
                )
                for e in exercises
            )
            continue
        with open(saved, "rb") as f:  # read-only, once
            data = f.read()
        if cache is None:
            if not quiet:
                print(f"checking {name} ...", file=sys.stderr, flush=True)
            records.extend(_check_notebook(name, source_nb, released, data, float(timeout)))
            continue
        key = _cache_key(
            name, _checked_code(source_nb, data), _checks(source_nb, released), float(timeout)
        )
        # One process checks a notebook; another one asking meanwhile waits for its result.
        with _locked(Path(cache), key):
            mine = _cache_get(Path(cache), key)
            if mine is None:
                if not quiet:
                    print(f"checking {name} ...", file=sys.stderr, flush=True)
                mine = _check_notebook(name, source_nb, released, data, float(timeout))
                _cache_put(Path(cache), key, mine)
        records.extend(mine)
    return records


# --------------------------------------------------------------------------- #
# The cache of show_progress
# --------------------------------------------------------------------------- #
_CACHE_VERSION = "1"
_CODE_HASH: str | None = None


def _code_hash() -> str:
    """SHA-256 of coursekit's Python sources (the checks and everything they call)."""
    global _CODE_HASH
    if _CODE_HASH is None:
        package = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            h.update(path.relative_to(package).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
        _CODE_HASH = h.hexdigest()
    return _CODE_HASH


def _checked_code(source_nb: NotebookNode, saved: bytes) -> bytes:
    """What the check of a saved notebook reads from it: its solution cells' code.

    Outputs, execution counts and the other cells do not change the result, so
    running a notebook's cells again (or this very cell) keeps its cached
    result; a notebook that cannot be read is keyed by its bytes.
    """
    from coursekit.grading.autograde import solution_cells

    try:
        cells, _ = solution_cells(source_nb, nbformat.reads(saved.decode("utf-8"), as_version=4))
        code = sorted((c["id"], c["source"]) for c in cells)
    except Exception:  # not a notebook any more: the check reports it
        return b"unreadable\0" + saved
    return json.dumps(code).encode("utf-8")


def _checks(source_nb: NotebookNode, released: NotebookNode) -> bytes:
    """What the check takes from the course notebook: its exercises, stubs and imports.

    Not its outputs: re-executing the course's notebooks keeps the cache.
    """
    from coursekit.grading.exercises import prelude

    exercises = [
        (e.grade_id, e.title, e.max_points, e.check_source, e.solution_ids)
        for e in _exercises(released)
    ]
    stubs = sorted(
        (c.metadata.nbgrader["grade_id"], c.source)
        for c in released.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    )
    return json.dumps([exercises, stubs, prelude(source_nb)]).encode("utf-8")


def _cache_key(name: str, saved: bytes, source: bytes, timeout: float) -> str:
    """What a notebook's result depends on: ``saved`` (see :func:`_checked_code`), the
    course notebook's checks (:func:`_checks`), coursekit's sources, the time limit, Python."""
    import sys

    h = hashlib.sha256()
    for part in (
        _CACHE_VERSION,
        name,
        hashlib.sha256(saved).hexdigest(),
        hashlib.sha256(source).hexdigest(),
        _code_hash(),
        repr(timeout),
        sys.version,
    ):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


@contextlib.contextmanager
def _locked(folder: Path, key: str) -> Iterator[None]:
    """Hold an exclusive lock on ``key`` in ``folder`` (POSIX); no lock where none can be had."""
    try:
        import fcntl

        folder.mkdir(parents=True, exist_ok=True)
        f = open(folder / f"{key}.lock", "a")  # noqa: SIM115 - closed below
    except (ImportError, OSError):  # Windows, or a read-only cache: check without a lock
        yield
        return
    try:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
    finally:
        f.close()  # closing releases the lock


def _cache_get(folder: Path, key: str) -> list[ExerciseProgress] | None:
    try:
        data = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
        return [ExerciseProgress(**record) for record in data]
    except (OSError, ValueError, TypeError):  # absent, unreadable or not ours: check again
        return None


def _cache_put(folder: Path, key: str, records: list[ExerciseProgress]) -> None:
    from dataclasses import asdict

    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a cell running at the same time never reads half a file.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in records], f)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:  # a read-only home: no cache, same results
        pass


def cache_dir() -> Path:
    """Where :func:`show_progress` keeps its results.

    ``$COURSEKIT_CACHE_DIR`` if set, else ``coursekit/progress`` in the user's
    cache folder (``$XDG_CACHE_HOME``, ``%LOCALAPPDATA%`` or ``~/.cache``).
    """
    env = os.environ.get("COURSEKIT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA")
    return (Path(base) if base else Path.home() / ".cache") / "coursekit" / "progress"


def course_source(folder: str | Path) -> Path:
    """The course notebooks whose exercises and checks count for the notebooks in ``folder``.

    The course's ``notebooks/`` next to the coursekit package (the checkout
    ``make lab`` installs from, the Colab clone), as ``coursekit progress``
    uses by default; else its student edition ``student/``; else ``folder``
    itself. The student edition is built from ``notebooks/`` and may lag it.
    """
    from coursekit.notebooks import course_notebooks

    repo = Path(__file__).resolve().parents[2]
    for candidate in (repo / "notebooks", repo / "student"):
        if candidate.is_dir() and course_notebooks(candidate):
            return candidate
    return Path(folder)


#: ``metadata.coursekit.progress`` of the two cells that end every course notebook.
PROGRESS_INTRO = """\
### Your progress in the course

The next cell runs the visible check of every exercise of every notebook on
the notebooks **as last saved** in this folder (save first), in a separate
kernel, and shows each exercise as passed, failed or not attempted, with your
points, what to do next and the study time left. It never changes a notebook,
and checks again only the notebooks changed since it last ran."""
PROGRESS_CODE = """\
from coursekit.grading.progress import show_progress

show_progress()"""


def progress_cells() -> list[NotebookNode]:
    """The markdown and code cell that end every course notebook (scripts/add_progress_cell.py).

    Marked ``metadata.coursekit.progress`` ("intro", "code"), skipped in the
    slides; the student edition stores no output for them (release.py).
    """
    new = nbformat.v4
    intro = new.new_markdown_cell(PROGRESS_INTRO)
    code = new.new_code_cell(PROGRESS_CODE)
    for cell, role in ((intro, "intro"), (code, "code")):
        cell.metadata = {
            "slideshow": {"slide_type": "skip"},
            "coursekit": {PROGRESS_CELL_KEY: role},
        }
        del cell["id"]
    return [intro, code]


def show_progress(
    folder: str | Path | None = None, source: str | Path | None = None, timeout: float = 60.0
) -> None:
    """Print where you stand in the whole course: the last cell of every notebook.

    Runs the visible checks of every exercise on the notebooks *saved* in
    ``folder`` (each notebook in its own fresh kernel; the notebooks are read,
    never written), then prints each exercise as passed, failed or not
    attempted with its points, what to do next and the study time left.
    Results are cached per notebook by content (:func:`cache_dir`), so running
    this cell again, or in another notebook, re-checks only what changed.
    While a notebook is graded it prints one line and checks nothing; in
    Colab (notebooks saved to Google Drive, not to the runtime's disk) it says
    so instead of reporting the course's untouched copies.

    Parameters
    ----------
    folder : str or Path, optional
        Your notebooks; by default the current folder (a notebook's kernel
        starts in the notebook's folder).
    source : str or Path, optional
        The course notebooks; by default :func:`course_source`.
    timeout : float
        Seconds each cell may run.
    """
    import sys

    if any(os.environ.get(name) for name in ("COURSEKIT_GRADING", "NBGRADER_EXECUTION")):
        print("Your progress is not checked while a notebook is graded.")
        return
    if "google.colab" in sys.modules and folder is None:
        # Colab saves a notebook to Google Drive: the runtime's disk holds only the course's copies.
        print(
            "In Colab your notebooks are saved in Google Drive, out of this runtime's reach, "
            "so your progress across the course cannot be checked here. Each exercise's check "
            "cell says where you stand; locally (make lab) this cell shows the whole course."
        )
        return
    folder = Path.cwd() if folder is None else Path(folder)
    source = course_source(folder) if source is None else Path(source)
    records = progress(folder, source, timeout=timeout, cache=cache_dir())
    print(
        "Your progress in the whole course: the visible checks, run on the notebooks as last "
        "saved in this folder (save first to count your latest changes).\n"
    )
    print(progress_report(records))


# --------------------------------------------------------------------------- #
# Summaries
# --------------------------------------------------------------------------- #
def remaining_minutes(records: Sequence[ExerciseProgress]) -> tuple[float, list[str]]:
    """Study time left, in minutes, and the notebooks whose study time is unknown.

    Each notebook counts its :data:`STUDY_MINUTES` in proportion to the points
    of its exercises that do not pass yet: nothing once all pass, all of it
    before any does.
    """
    total = 0.0
    unknown: list[str] = []
    for name in dict.fromkeys(r.notebook for r in records):
        mine = [r for r in records if r.notebook == name]
        minutes = STUDY_MINUTES.get(Path(name).name)
        if minutes is None:
            if any(r.status != PASSED for r in mine):
                unknown.append(name)
            continue
        possible = sum(r.max_points for r in mine)
        if possible > 0:
            total += minutes * (possible - sum(r.points for r in mine)) / possible
        elif any(r.status != PASSED for r in mine):
            total += minutes
    return total, unknown


def _duration(minutes: float) -> str:
    rounded = max(5, int(5 * round(minutes / 5)))
    hours, mins = divmod(rounded, 60)
    if not hours:
        return f"{mins} min"
    return f"{hours} h {mins} min" if mins else f"{hours} h"


def next_step(records: Sequence[ExerciseProgress]) -> str:
    """What to do next: the first exercise, in the course's order, that does not pass."""
    todo = next((r for r in records if r.status != PASSED), None)
    if todo is None:
        return "Next: nothing; every exercise passes its visible checks."
    where = f"{todo.title} in {todo.notebook}"
    if todo.status == FAILED:
        return f"Next: fix {where} ({todo.detail})."
    if todo.detail == "not in the workspace":
        return f"Next: {where} (not in your workspace yet: run 'coursekit workspace')."
    return f"Next: {where}."


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _points(x: float) -> str:
    return f"{x:g}"


def progress_report(records: Sequence[ExerciseProgress], workspace: str | Path = "") -> str:
    """The text ``coursekit progress`` prints: a table per notebook, totals, next step, time left."""
    lines = []
    if workspace:
        lines += [
            f"Progress in {workspace} (visible checks; the hidden tests come with grading)",
            "",
        ]
    width = max((len(r.title) for r in records), default=0)
    for name in dict.fromkeys(r.notebook for r in records):
        mine = [r for r in records if r.notebook == name]
        got, possible = sum(r.points for r in mine), sum(r.max_points for r in mine)
        missing = all(r.detail == "not in the workspace" for r in mine)
        note = "  (not in the workspace)" if missing else ""
        lines.append(f"{name}  {_points(got)}/{_points(possible)} points{note}")
        for r in mine:
            detail = f"  {_short(r.detail)}" if r.detail and not missing else ""
            score = f"{_points(r.points)}/{_points(r.max_points)}"
            lines.append(
                f"  {_MARK[r.status]} {r.status:<13}  {score:>5}  {r.title:<{width}}{detail}".rstrip()
            )
        lines.append("")
    count = {s: sum(r.status == s for r in records) for s in (PASSED, FAILED, NOT_ATTEMPTED)}
    got, possible = sum(r.points for r in records), sum(r.max_points for r in records)
    lines.append(
        f"Total: {_points(got)}/{_points(possible)} points; {count[PASSED]} passed, "
        f"{count[FAILED]} failed, {count[NOT_ATTEMPTED]} not attempted "
        f"(of {len(records)} exercises)."
    )
    lines.append(next_step(records))
    minutes, unknown = remaining_minutes(records)
    if count[PASSED] == len(records):
        lines.append("Time left: none.")
    else:
        extra = f"; not counted: {', '.join(unknown)}" if unknown else ""
        lines.append(
            f"Time left: about {_duration(minutes)} of study (the README's study times, "
            f"in proportion to the points not passed yet{extra})."
        )
    return "\n".join(lines)
