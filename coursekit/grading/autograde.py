"""Tamper-proof autograder: ``coursekit grade SOURCE_DIR SUBMISSIONS_DIR``.

How a submission is graded
--------------------------
1. **Rebuild from the source.** Every cell comes from the instructor's
   notebook (hidden tests kept, solutions removed exactly as in the student
   edition); only the student's *solution* cells are spliced in, matched by
   ``grade_id`` (or, for solution cells that lost their ``grade_id``, by
   position among the solution cells). Edited, deleted, reordered or
   duplicated test cells therefore change nothing; a missing solution cell
   counts as not attempted; cells the student added are not run.
2. **Split each test cell** into its visible checks and its hidden tests
   (two cells), so the feedback can show the visible output without
   revealing the hidden code.
3. **Run it in its own kernel**, started by a worker process
   (``python -m coursekit.grading.autograde --worker``) with resource limits
   (``RLIMIT_DATA`` for memory: ``RLIMIT_AS`` would count the address space
   that PyTorch's libraries reserve and break ``import torch``; ``RLIMIT_CPU``;
   no core files), a per-cell timeout (the kernel is interrupted and grading
   goes on) and a whole-notebook timeout (the worker and the kernel's process
   group are killed). Outputs are capped per cell.
4. **Score** each test cell: its points if both parts ran without an error,
   else 0. Output on stderr (warnings) does not matter.

Submissions layout
------------------
* ``SUBMISSIONS_DIR/<student>/`` holds the student's notebooks, named like the
  source notebooks (found anywhere below that folder, e.g.
  ``alice/06_conv_arithmetic.ipynb`` or nbgrader's ``alice/ps1/06_...``);
* or ``SUBMISSIONS_DIR/<file>.ipynb``, one file per student: graded against
  the source notebook whose stem ends the file's stem after a ``_``, ``-`` or
  ``.`` (``alice_06_conv_arithmetic.ipynb``: student ``alice``, notebook
  ``06_conv_arithmetic.ipynb``); if SOURCE_DIR holds a single notebook, any
  ``<student>.ipynb`` is graded against it.

Statuses
--------
``passed``, ``failed`` (a check failed), ``failed hidden tests`` (visible
checks passed, hidden tests did not), ``not attempted``, ``error`` (another
exception), ``timeout`` (cell timeout), ``kernel died``, ``notebook timeout``,
``grader error`` (the worker itself failed), ``missing`` (no such notebook in
the submission), ``unreadable`` (corrupt or not a notebook), ``unmatched``
(a file that matches no source notebook), ``manual`` (a manually graded
answer, scored 0 here).

Student code runs with the grader's user rights: the limits stop runaway
code, not a determined attacker with file-system access.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode  # noqa: E402
from nbformat.v4 import new_code_cell  # noqa: E402

from coursekit._validate import check_positive_int  # noqa: E402
from coursekit.grading.release import (  # noqa: E402
    BEGIN_HIDDEN,
    END_HIDDEN,
    find_notebooks,
    is_grade,
    is_solution,
    release_notebook,
)

__all__ = ["Row", "grade", "rebuild_submission"]

MAX_SUBMISSION_BYTES = 64 * 2**20
MAX_OUTPUT_BYTES = 100_000  # per executed cell
FEEDBACK_OUTPUT_CHARS = 5_000
_SEPARATORS = "_-."
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FILE = re.compile(r"/\S*?ipykernel_\d+/\d+\.py")
_ROOT = Path(__file__).resolve().parents[2]  # folder holding the coursekit package


@dataclass(frozen=True)
class Row:
    """One line of ``scores.csv``."""

    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str


@dataclass
class _Exercise:
    grade_id: str
    max_points: float
    visible: int | None  # cell index in the rebuilt notebook
    hidden: int | None
    manual: bool = False


@dataclass
class _Job:
    student: str
    notebook: str
    nb: NotebookNode
    exercises: list[_Exercise]
    notes: list[str] = field(default_factory=list)
    cells: dict[int, dict] = field(default_factory=dict)
    run_status: str = ""


# --------------------------------------------------------------------------- #
# Reading and rebuilding
# --------------------------------------------------------------------------- #
def _read_submission(path: Path) -> NotebookNode | None:
    """Return the notebook at ``path``, or None if it is not a readable notebook."""
    try:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            return None
        nb = nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
    except Exception:
        return None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        return None
    return nb


def _nbgrader_meta(cell: Any) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def _split_hidden(source: str) -> tuple[str, str]:
    """Split a test cell into (visible code, hidden-test code), dropping the marker lines."""
    visible: list[str] = []
    hidden: list[str] = []
    inside = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible).strip("\n"), "\n".join(hidden).strip("\n")


def rebuild_submission(
    source_nb: NotebookNode, submission_nb: NotebookNode | None, name: str = "notebook"
) -> tuple[NotebookNode, list[_Exercise], list[str]]:
    """Rebuild a submission from the instructor's notebook.

    Parameters
    ----------
    source_nb : NotebookNode
        The instructor's notebook (solutions and hidden tests).
    submission_nb : NotebookNode or None
        The student's notebook; only its solution cells are used.
    name : str
        Notebook name for error messages.

    Returns
    -------
    nb : NotebookNode
        The notebook to execute (code cells only).
    exercises : list
        Per test cell: grade_id, points and the indices of its visible and hidden parts.
    notes : list of str
        Remarks for the student's feedback (ignored cells, missing solution cells).
    """
    base = release_notebook(source_nb, name, keep_hidden_tests=True)
    student_edition = release_notebook(source_nb, name)
    sub_cells = list(submission_nb.cells) if submission_nb is not None else []

    by_id: dict[str, str] = {}
    without_id: list[str | None] = []
    for cell in sub_cells:
        meta = _nbgrader_meta(cell)
        if meta.get("solution") is not True:
            continue
        source = cell.get("source")
        source = "".join(source) if isinstance(source, list) else source
        source = source if isinstance(source, str) else None
        gid = meta.get("grade_id")
        if isinstance(gid, str) and gid:
            by_id.setdefault(gid, source)
            without_id.append(None)
        else:
            without_id.append(source)

    notes: list[str] = []
    known = {c.source for c in student_edition.cells}
    ignored = sum(
        1
        for c in sub_cells
        if _nbgrader_meta(c).get("solution") is not True
        and isinstance(c.get("source"), str)
        and c.get("source").strip()
        and c.get("source") not in known
    )
    if ignored:
        notes.append(
            f"{ignored} cell(s) outside the solution cells differ from the course "
            "notebook; they were not graded (only solution cells are)."
        )

    cells: list[NotebookNode] = []
    exercises: list[_Exercise] = []
    n_solution = 0
    for src_cell, cell in zip(source_nb.cells, base.cells, strict=True):
        if is_solution(src_cell):
            gid = src_cell.metadata.nbgrader["grade_id"]
            student = by_id.get(gid)
            if student is None and n_solution < len(without_id):
                student = without_id[n_solution]
            n_solution += 1
            if student is None:
                notes.append(f"solution cell {gid!r} is missing: counted as not attempted.")
            elif cell.cell_type == "code":
                cell = new_code_cell(student)
        if is_grade(src_cell):
            max_points = float(src_cell.metadata.nbgrader["points"])
            gid = src_cell.metadata.nbgrader["grade_id"]
            if is_solution(src_cell) or src_cell.cell_type != "code":
                exercises.append(_Exercise(gid, max_points, None, None, manual=True))
                continue
            visible, hidden = _split_hidden(src_cell.source)
            exercise = _Exercise(gid, max_points, len(cells), None)
            cells.append(new_code_cell(visible))
            if hidden.strip():
                if "strict" in hidden:
                    # Undo a student's ``strict = <something lenient>`` in the notebook's globals.
                    hidden = f"{_REBIND_STRICT}\n{hidden}"
                exercise.hidden = len(cells)
                cells.append(new_code_cell(hidden))
            exercises.append(exercise)
            continue
        if cell.cell_type == "code":
            cells.append(new_code_cell(cell.source))
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": _KERNELSPEC})
    return nb, exercises, notes


_REBIND_STRICT = "from coursekit.checks.framework import strict  # rebound by the grader"
_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


# --------------------------------------------------------------------------- #
# Finding submissions
# --------------------------------------------------------------------------- #
def _match_file(stem: str, source_stems: dict[str, str]) -> tuple[str, str] | None:
    """Return (student, notebook) for a one-file submission, or None."""
    best = None
    for src_stem, nb_name in source_stems.items():
        if len(stem) > len(src_stem) + 1 and stem.endswith(src_stem):
            prefix = stem[: -len(src_stem)]
            if prefix[-1] in _SEPARATORS and (best is None or len(src_stem) > len(best[2])):
                best = (prefix.rstrip(_SEPARATORS), nb_name, src_stem)
    if best is not None and best[0]:
        return best[0], best[1]
    if len(source_stems) == 1:
        return stem, next(iter(source_stems.values()))
    return None


def _discover(
    submissions_dir: Path, notebooks: list[str]
) -> tuple[list[tuple[str, str, Path | None]], list[str]]:
    """Return ([(student, notebook, path or None)], [unmatched file stems])."""
    found: list[tuple[str, str, Path | None]] = []
    unmatched: list[str] = []
    stems = {Path(n).stem: n for n in notebooks}
    for entry in sorted(submissions_dir.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            for nb_name in notebooks:
                direct = entry / nb_name
                if direct.is_file():
                    found.append((entry.name, nb_name, direct))
                    continue
                hits = sorted(
                    (p for p in entry.rglob(Path(nb_name).name) if p.is_file()),
                    key=lambda p: p.as_posix(),
                )
                hits = [p for p in hits if ".ipynb_checkpoints" not in p.parts]
                found.append((entry.name, nb_name, hits[0] if hits else None))
        elif entry.is_file() and entry.suffix == ".ipynb":
            match = _match_file(entry.stem, stems)
            if match is None:
                unmatched.append(entry.stem)
            else:
                found.append((match[0], match[1], entry))
    return found, unmatched


# --------------------------------------------------------------------------- #
# Running one notebook: parent side
# --------------------------------------------------------------------------- #
def _limits(memory_mb: int, cpu_s: int):
    """Return a ``preexec_fn`` that limits memory, CPU time and core files.

    The limits are inherited by the kernel the worker starts. A hard limit
    set lower by the system is respected rather than raised (which would fail).
    """

    def clamp(which: int, value: int) -> tuple[int, int]:
        hard = resource.getrlimit(which)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        return value, value

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, clamp(resource.RLIMIT_DATA, memory_mb * 2**20))
        resource.setrlimit(resource.RLIMIT_CPU, clamp(resource.RLIMIT_CPU, cpu_s))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _grading_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CUDA_VISIBLE_DEVICES="",
        COURSEKIT_DEVICE="cpu",
        COURSEKIT_GRADING="1",
        COURSEKIT_STATIC_WIDGETS="1",
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        # A fresh IPython profile: no startup scripts of the grader's account.
        IPYTHONDIR=str(workdir / "ipython"),
        JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
        PYTHONPATH=os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p),
        # The kernel must be this interpreter (kernelspec "python3" runs "python").
        PATH=os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", ""))),
    )
    return env


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run_job(job: _Job, timeout_cell: int, timeout_notebook: int, memory_mb: int) -> None:
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        tmp = Path(tmp)
        run_dir = tmp / "run"  # the kernel's working directory
        run_dir.mkdir()
        nb_path, result_path, pid_path = tmp / "in.ipynb", tmp / "result.json", tmp / "kernel.pgid"
        nb_path.write_text(nbformat.writes(job.nb), encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "coursekit.grading.autograde",
            "--worker",
            str(nb_path),
            str(result_path),
            "--timeout-cell",
            str(timeout_cell),
        ]
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=run_dir,
                env=_grading_env(tmp),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_limits(memory_mb, timeout_notebook + 10),
            )
            try:
                code = proc.wait(timeout=timeout_notebook)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                code = None
        # Whatever happened, nothing the student started may outlive grading.
        if pid_path.is_file():
            try:
                _kill_group(int(pid_path.read_text()))
            except ValueError:
                pass
        _kill_group(proc.pid)
        proc.wait()
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
        job.cells = {int(k): v for k, v in result.get("cells", {}).items()}
        if timed_out:
            job.run_status = "notebook timeout"
        elif result.get("kernel") == "dead":
            job.run_status = "kernel died"
        elif code != 0 or not result.get("finished"):
            job.run_status = "grader error"
        else:
            job.run_status = "finished"


# --------------------------------------------------------------------------- #
# Running one notebook: the worker (a separate process)
# --------------------------------------------------------------------------- #
def _output_text(outputs: list) -> str:
    parts = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain", "")
            parts.append((text if isinstance(text, str) else "".join(text)) + "\n")
    # Warnings name the kernel's temporary cell files; keep the feedback stable.
    return _CELL_FILE.sub("<cell>", _ANSI.sub("", "".join(parts)))


def _worker(nb_path: str, result_path: str, timeout_cell: int) -> int:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    class CappedClient(NotebookClient):
        """Keeps at most MAX_OUTPUT_BYTES of output per cell (a print loop cannot fill memory)."""

        def output(self, outs, msg, display_id, cell_index):  # noqa: D102
            used = self._used.get(cell_index, 0)
            size = len(json.dumps(msg.get("content", {})))
            if used >= MAX_OUTPUT_BYTES:
                return None
            self._used[cell_index] = used + size
            if used + size > MAX_OUTPUT_BYTES:
                note = f"\n[output truncated by the grader after {MAX_OUTPUT_BYTES} bytes]\n"
                content = msg.get("content", {})
                if msg.get("msg_type") == "stream":
                    keep = max(0, MAX_OUTPUT_BYTES - used)
                    msg = {**msg, "content": {**content, "text": content["text"][:keep] + note}}
                else:
                    # nbformat reads the type from the header, not the top level.
                    msg = {
                        **msg,
                        "msg_type": "stream",
                        "header": {**msg["header"], "msg_type": "stream"},
                        "content": {"name": "stdout", "text": note},
                    }
            return super().output(outs, msg, display_id, cell_index)

    nb = nbformat.read(nb_path, as_version=4)
    cells: dict[str, dict] = {}
    state = {"kernel": "alive", "finished": False}

    def save() -> None:
        tmp = result_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({**state, "cells": cells}, fh)
        os.replace(tmp, result_path)

    replies: dict[int, dict] = {}
    client = CappedClient(
        nb,
        timeout=timeout_cell,
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": "CellTimeout",
            "evalue": f"the cell ran longer than {timeout_cell} s and was interrupted",
            "traceback": [],
        },
        kernel_name="python3",
        record_timing=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": os.getcwd()}},
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(
            cell_index, (execute_reply or {}).get("content", {})
        ),
    )
    client._used = {}
    save()
    with client.setup_kernel():
        pgid = getattr(client.km.provisioner, "pgid", None)
        if pgid:
            Path(result_path).with_name("kernel.pgid").write_text(str(pgid))
        for index, cell in enumerate(nb.cells):
            record: dict[str, Any] = {"status": "ok"}
            try:
                client.execute_cell(cell, index)
                reply = replies.get(index, {})
                if reply.get("status") == "error":
                    timeout = reply.get("ename") == "CellTimeout"
                    record = {
                        "status": "timeout" if timeout else "error",
                        "ename": str(reply.get("ename", "")),
                        "evalue": _ANSI.sub("", str(reply.get("evalue", "")))[:2000],
                    }
            except DeadKernelError:
                record = {"status": "dead"}
                state["kernel"] = "dead"
            except CellTimeoutError as exc:
                record = {"status": "timeout", "ename": "CellTimeout", "evalue": str(exc)[:200]}
            text = _output_text(cell.get("outputs", []))
            if len(text) > FEEDBACK_OUTPUT_CHARS:
                more = len(text) - FEEDBACK_OUTPUT_CHARS
                text = text[:FEEDBACK_OUTPUT_CHARS] + f"\n[... {more} more characters not shown]\n"
            record["text"] = text
            cells[str(index)] = record
            save()
            if state["kernel"] == "dead":
                break
    state["finished"] = True
    save()
    return 0


# --------------------------------------------------------------------------- #
# Scoring and reports
# --------------------------------------------------------------------------- #
def _part_status(job: _Job, index: int | None) -> tuple[str, dict]:
    if index is None:
        return "ok", {}
    rec = job.cells.get(index)
    if rec is None:
        dead = any(c.get("status") == "dead" for c in job.cells.values())
        return ("kernel died" if dead else job.run_status or "grader error"), {}
    if rec["status"] == "ok":
        return "ok", rec
    if rec["status"] == "dead":
        return "kernel died", rec
    if rec["status"] == "timeout":
        return "timeout", rec
    ename, evalue = rec.get("ename", ""), rec.get("evalue", "")
    if ename == "NotImplementedError" or (ename == "AssertionError" and "not attempted" in evalue):
        return "not attempted", rec
    return ("failed" if ename == "AssertionError" else "error"), rec


def _score(job: _Job) -> list[tuple[Row, dict]]:
    rows = []
    for ex in job.exercises:
        if ex.manual:
            rows.append(
                (Row(job.student, job.notebook, ex.grade_id, 0.0, ex.max_points, "manual"), {})
            )
            continue
        vis, vis_rec = _part_status(job, ex.visible)
        hid, hid_rec = _part_status(job, ex.hidden)
        if vis == "ok" and hid == "ok":
            status = "passed"
        elif vis == "ok" and hid in ("failed", "error"):
            status = "failed hidden tests"
        else:
            status = vis if vis != "ok" else hid
        points = ex.max_points if status == "passed" else 0.0
        detail = {"visible": vis_rec, "hidden": hid_rec if ex.hidden is not None else None}
        rows.append(
            (Row(job.student, job.notebook, ex.grade_id, points, ex.max_points, status), detail)
        )
    return rows


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _write_reports(
    out_dir: Path, rows: list[Row], details: dict[tuple[str, str, str], dict], notes: dict
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", "notebook", "exercise", "points", "max_points", "status"])
    for r in rows:
        writer.writerow(
            [r.student, r.notebook, r.exercise, _num(r.points), _num(r.max_points), r.status]
        )
    (out_dir / "scores.csv").write_text(buf.getvalue(), encoding="utf-8")
    data = [{**asdict(r), "points": _num(r.points), "max_points": _num(r.max_points)} for r in rows]
    (out_dir / "scores.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    feedback = out_dir / "feedback"
    feedback.mkdir(exist_ok=True)
    for student in sorted({r.student for r in rows}):
        mine = [r for r in rows if r.student == student]
        lines = [f"# Feedback for {student}", ""]
        for notebook in sorted({r.notebook for r in mine}):
            nb_rows = [r for r in mine if r.notebook == notebook]
            got = sum(r.points for r in nb_rows)
            total = sum(r.max_points for r in nb_rows)
            lines.append(
                f"## {notebook or '(no matching notebook)'}: {_num(got)} / {_num(total)} points"
            )
            remarks = notes.get((student, notebook), [])
            if remarks:
                lines += [""] + [f"- {n}" for n in remarks]
            for r in nb_rows:
                lines += _feedback_exercise(r, details.get((student, notebook, r.exercise), {}))
        (feedback / f"{student}.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def _feedback_exercise(r: Row, detail: dict) -> list[str]:
    lines = [
        "",
        f"### {r.exercise}: {r.status} ({_num(r.points)} / {_num(r.max_points)} points)",
        "",
    ]
    if r.status == "manual":
        return lines + ["Graded by hand."]
    vis = detail.get("visible") or {}
    if vis.get("text"):
        lines += [
            "Output of the visible checks:",
            "",
            "```text",
            vis["text"].rstrip("\n"),
            "```",
            "",
        ]
    if vis.get("ename"):
        lines.append(f"Visible checks raised {vis['ename']}: {vis.get('evalue', '')}".rstrip(": "))
    if "hidden" in detail and detail["hidden"] is not None:
        hid = detail["hidden"]
        if not hid:
            lines.append("Hidden tests: not run.")
        elif hid.get("status") == "ok":
            lines.append("Hidden tests: passed.")
        else:
            why = f"{hid.get('ename', '')}: {hid.get('evalue', '')}".strip(": ")
            lines.append(f"Hidden tests: failed ({why})." if why else "Hidden tests: failed.")
    return lines


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #
def grade(
    source_dir: str | Path,
    submissions_dir: str | Path,
    out_dir: str | Path = "grades",
    timeout_cell: int = 30,
    timeout_notebook: int = 600,
    memory_mb: int = 4096,
    jobs: int = 1,
    quiet: bool = False,
) -> list[Row]:
    """Grade every submission in ``submissions_dir`` against the notebooks in ``source_dir``.

    Writes ``scores.csv``, ``scores.json`` and ``feedback/<student>.md`` into
    ``out_dir``. Neither the source nor the submissions are modified.

    Parameters
    ----------
    source_dir : str or Path
        Instructor notebooks (with solutions and hidden tests).
    submissions_dir : str or Path
        One folder or one ``.ipynb`` file per student (see the module docstring).
    out_dir : str or Path
        Where the reports go.
    timeout_cell, timeout_notebook : int
        Seconds per cell and per notebook.
    memory_mb : int
        Memory limit of each worker and kernel (``RLIMIT_DATA``), in MiB.
    jobs : int
        Notebooks graded in parallel.
    quiet : bool
        Do not print progress.

    Returns
    -------
    list of Row
        Sorted by student, notebook and position of the exercise in the notebook.
    """
    source_dir, submissions_dir, out_dir = Path(source_dir), Path(submissions_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"source_dir must be a directory, got {str(source_dir)!r}")
    if not submissions_dir.is_dir():
        raise FileNotFoundError(
            f"submissions_dir must be a directory, got {str(submissions_dir)!r}"
        )
    timeout_cell = check_positive_int(timeout_cell, "timeout_cell")
    timeout_notebook = check_positive_int(timeout_notebook, "timeout_notebook")
    memory_mb = check_positive_int(memory_mb, "memory_mb")
    jobs = check_positive_int(jobs, "jobs")

    names = [rel.as_posix() for rel in find_notebooks(source_dir)]
    sources = {n: nbformat.read(source_dir / n, as_version=4) for n in names}
    order = {n: i for i, n in enumerate(names)}
    found, unmatched = _discover(submissions_dir, names)

    jobs_list: list[_Job] = []
    rows: list[tuple[Row, dict]] = []
    notes: dict[tuple[str, str], list[str]] = {}
    for student, notebook, path in found:
        sub = _read_submission(path) if path is not None else None
        nb, exercises, nb_notes = rebuild_submission(sources[notebook], sub, notebook)
        if path is None or sub is None:
            status = "missing" if path is None else "unreadable"
            for ex in exercises:
                rows.append((Row(student, notebook, ex.grade_id, 0.0, ex.max_points, status), {}))
            notes[(student, notebook)] = [
                "no notebook of this name was found in your submission."
                if path is None
                else "the file could not be read as a notebook (corrupt or not a notebook)."
            ]
            continue
        notes[(student, notebook)] = nb_notes
        jobs_list.append(_Job(student, notebook, nb, exercises))
    for stem in unmatched:
        rows.append((Row(stem, "", "", 0.0, 0.0, "unmatched"), {}))
        notes[(stem, "")] = ["this file's name matches no course notebook."]

    def run(job: _Job) -> _Job:
        start = time.monotonic()
        _run_job(job, timeout_cell, timeout_notebook, memory_mb)
        if not quiet:
            print(f"graded {job.student} / {job.notebook} ({time.monotonic() - start:.1f} s)")
        return job

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for job in pool.map(run, jobs_list):
            rows.extend(_score(job))

    # Deterministic order: student, notebook (source order), exercise (cell order).
    exercise_order = {
        n: [c.metadata.nbgrader["grade_id"] for c in nb.cells if is_grade(c)]
        for n, nb in sources.items()
    }

    def key(item: tuple[Row, dict]) -> tuple:
        row = item[0]
        ids = exercise_order.get(row.notebook, [])
        return (
            row.student,
            order.get(row.notebook, -1),
            ids.index(row.exercise) if row.exercise in ids else -1,
        )

    rows.sort(key=key)
    details = {(r.student, r.notebook, r.exercise): d for r, d in rows}
    plain = [r for r, _ in rows]
    _write_reports(out_dir, plain, details, notes)
    if not quiet:
        print(f"wrote {out_dir / 'scores.csv'} ({len(plain)} rows) and {out_dir / 'feedback'}")
    return plain


def main(argv: Sequence[str] | None = None) -> int:
    """Worker entry point: ``python -m coursekit.grading.autograde --worker IN OUT``."""
    parser = argparse.ArgumentParser(prog="python -m coursekit.grading.autograde")
    parser.add_argument("--worker", nargs=2, metavar=("NOTEBOOK", "RESULT"), required=True)
    parser.add_argument("--timeout-cell", type=int, default=30)
    args = parser.parse_args(argv)
    return _worker(args.worker[0], args.worker[1], args.timeout_cell)


if __name__ == "__main__":
    sys.exit(main())
