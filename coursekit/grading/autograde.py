"""The autograder: ``coursekit grade SOURCE_DIR SUBMISSIONS_DIR``.

How a submission is graded
--------------------------
1. **Only the solution cells are taken** from the student's notebook, matched
   to the instructor's by ``grade_id`` (or, for solution cells that lost it,
   by position). Nothing else the student wrote or changed is run.
2. **They run in a sandbox** (:mod:`coursekit.grading.sandbox`): bubblewrap
   namespaces, no network, a read-only view of Python and the package, nothing
   of the grader's files, memory, process, CPU and wall-clock limits. There
   :mod:`coursekit.grading.harness` runs the notebook's import statements and
   the solution cells, then calls the student's functions, first on the cases
   of the visible checks, then on hidden inputs drawn from the instructor's
   secret seed (sent only after the visible phase ended).
3. **The score is decided outside**: what comes back is plain data
   (:mod:`coursekit.grading.plaindata`); the expected answers are computed
   here, by each exercise's reference (:mod:`coursekit.grading.exercises`),
   and never enter the sandbox. An exercise scores its points when every
   visible case and every hidden call is right.

Before grading, the instructor's own solutions go through the same path: a
reference that fails its own tests stops the run, and the time they take
sizes the default budget per submission.

Submissions layout
------------------
* ``SUBMISSIONS_DIR/<student>/`` holds the student's notebooks, named like the
  source notebooks (found anywhere below that folder, e.g. nbgrader's
  ``alice/ps1/06_conv_arithmetic.ipynb``);
* or ``SUBMISSIONS_DIR/<file>.ipynb``, one file per student: graded against
  the source notebook whose stem ends the file's stem after a ``_``, ``-`` or
  ``.`` (``alice_06_conv_arithmetic.ipynb``); if SOURCE_DIR holds a single
  notebook, any ``<student>.ipynb`` is graded against it.

Symbolic links are never followed: a linked entry or notebook gets its own
row, status ``symlink``, 0 points. Every entry of SUBMISSIONS_DIR gets a row.

Statuses
--------
``passed``; ``failed`` (a visible case failed); ``failed hidden tests``;
``not attempted``; ``error`` (the solution cell itself raised); ``timeout``;
``out of memory``; ``crashed`` (the run ended before answering); ``missing``
(no such notebook in the submission); ``unreadable``; ``unmatched`` (a file
that matches no source notebook); ``symlink``; ``ignored`` (a hidden entry,
name starting with "."); ``manual`` (a manually graded answer, 0 here).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from coursekit._validate import check_positive_int
from coursekit.grading.exercises import all_exercises, prelude
from coursekit.grading.plaindata import DecodeError, decode, encode
from coursekit.grading.release import (
    find_notebooks,
    is_grade,
    is_solution,
    release_notebook,
)
from coursekit.grading.sandbox import Limits, Run, limits_description, run_harness
from coursekit.grading.spec import Call, Exercise

__all__ = ["Row", "GradingError", "grade", "merge", "solution_cells", "default_secret_path"]

MAX_SUBMISSION_BYTES = 64 * 2**20
FEEDBACK_OUTPUT_CHARS = 5_000
MIN_BUDGET_S = 60.0
BUDGET_FACTOR = 5.0
_SEPARATORS = "_-."


class GradingError(ValueError):
    """The grading run cannot start (bad arguments, an exercise without a spec ...)."""


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
class _Graded:
    """One graded test cell of a source notebook."""

    grade_id: str
    max_points: float
    spec: Exercise | None  # None: manually graded


@dataclass
class _Source:
    name: str
    nb: NotebookNode
    graded: list[_Graded]
    prelude: list[str]
    forbid: tuple[str, ...]


@dataclass
class _Job:
    student: str
    source: _Source
    cells: list[dict]
    notes: list[str]
    rows: list[tuple[Row, dict]] = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------- #
# Sources and their exercises
# --------------------------------------------------------------------------- #
def _load_source(path: Path, name: str, exercises: dict[str, Exercise]) -> _Source:
    nb = nbformat.read(path, as_version=4)
    release_notebook(nb, name)  # validates the nbgrader markup
    graded, missing = [], []
    for cell in nb.cells:
        if not is_grade(cell):
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        points = float(cell.metadata.nbgrader.get("points", 0))
        if is_solution(cell) or cell.cell_type != "code":
            graded.append(_Graded(gid, points, None))
        elif gid in exercises:
            graded.append(_Graded(gid, points, exercises[gid]))
        else:
            missing.append(gid)
    if missing:
        raise GradingError(
            f"{name}: no exercise spec for the graded cell(s) {missing} (add them to "
            "coursekit/grading/exercises/, or pass exercises=...)"
        )
    forbid = tuple(sorted({m for g in graded if g.spec for m in g.spec.forbid}))
    return _Source(name, nb, graded, prelude(nb), forbid)


def _nbgrader_meta(cell: Any) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def solution_cells(
    source_nb: NotebookNode, submission_nb: NotebookNode | None
) -> tuple[list[dict], list[str]]:
    """The student's solution cells, in the source notebook's order.

    Returns ``([{"id": grade_id, "source": code}], notes)``. A solution cell is
    matched by ``grade_id``, else by its position among the cells marked as
    solutions; a missing one is left out (its exercises are not attempted).
    """
    by_id: dict[str, str] = {}
    without_id: list[str | None] = []
    for cell in submission_nb.cells if submission_nb is not None else []:
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
    cells, notes = [], []
    position = 0
    for cell in source_nb.cells:
        if not is_solution(cell):
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        code = by_id.get(gid)
        if code is None and position < len(without_id):
            code = without_id[position]
        position += 1
        if code is None:
            notes.append(f"solution cell {gid!r} is missing: counted as not attempted.")
        elif cell.cell_type == "code":
            cells.append({"id": gid, "source": code})
    return cells, notes


# --------------------------------------------------------------------------- #
# Finding submissions: no symlink is ever followed
# --------------------------------------------------------------------------- #
@dataclass
class _Entry:
    student: str
    notebook: str  # "" when the entry matches no notebook
    path: Path | None
    status: str = ""  # "" = grade it; else the row's status
    note: str = ""


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


def _find_in_folder(folder: Path, nb_name: str) -> tuple[Path | None, bool]:
    """(path of the notebook below ``folder`` or None, whether a symlink stood in its place)."""
    base = Path(nb_name).name
    hits, linked = [], False
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        if base in files:
            path = Path(root) / base
            if path.is_symlink():
                linked = True
            elif stat.S_ISREG(path.lstat().st_mode):
                hits.append(path)
    direct = folder / nb_name
    if direct in hits:
        return direct, False
    hits.sort(key=lambda p: p.as_posix())
    return (hits[0] if hits else None), linked and not hits


def _discover(submissions_dir: Path, notebooks: list[str]) -> list[_Entry]:
    entries: list[_Entry] = []
    stems = {Path(n).stem: n for n in notebooks}
    for entry in sorted(os.scandir(submissions_dir), key=lambda e: e.name):
        path = Path(entry.path)
        name = entry.name
        if name.startswith("."):
            entries.append(
                _Entry(name, "", None, "ignored", "a hidden entry (name starts with '.')")
            )
        elif entry.is_symlink():
            entries.append(
                _Entry(name, "", None, "symlink", "a symbolic link: links are never followed")
            )
        elif entry.is_dir(follow_symlinks=False):
            for nb_name in notebooks:
                found, linked = _find_in_folder(path, nb_name)
                if found is not None:
                    entries.append(_Entry(name, nb_name, found))
                elif linked:
                    entries.append(
                        _Entry(name, nb_name, None, "symlink", "the notebook is a symbolic link")
                    )
                else:
                    entries.append(
                        _Entry(name, nb_name, None, "missing", "no notebook of this name was found")
                    )
        elif entry.is_file(follow_symlinks=False) and name.endswith(".ipynb"):
            match = _match_file(Path(name).stem, stems)
            if match is None:
                entries.append(
                    _Entry(Path(name).stem, "", None, "unmatched", "matches no course notebook")
                )
            else:
                entries.append(_Entry(match[0], match[1], path))
        else:
            entries.append(_Entry(name, "", None, "unmatched", "not a notebook or a folder"))
    return entries


def _read_submission(path: Path) -> NotebookNode | None:
    """The notebook at ``path`` (opened without following links), or None if unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_SUBMISSION_BYTES + 1)
        if len(data) > MAX_SUBMISSION_BYTES:
            return None
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:
        return None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        return None
    return nb


# --------------------------------------------------------------------------- #
# Running and judging one submission
# --------------------------------------------------------------------------- #
def _call_json(cid: str, gid: str, spec: Exercise, call: Call) -> dict:
    return {
        "id": cid,
        "exercise": gid,
        "target": spec.target,
        "driver": call.driver,
        "after": call.after,
        "args": encode(call.args),
        "kwargs": encode(dict(call.kwargs)),
    }


@dataclass
class _Plan:
    public: dict[str, list[Call]]
    hidden: dict[str, list[Call]]


def _plan(source: _Source, secret: bytes) -> _Plan:
    public, hidden = {}, {}
    for g in source.graded:
        if g.spec is not None:
            public[g.grade_id] = g.spec.public_calls()
            hidden[g.grade_id] = g.spec.hidden_calls(secret)
    return _Plan(public, hidden)


def _requests(source: _Source, cells: list[dict], plan: _Plan) -> tuple[dict, dict]:
    first = {"prelude": source.prelude, "cells": cells, "calls": []}
    second: dict[str, list] = {"calls": []}
    for g in source.graded:
        if g.spec is None:
            continue
        for i, call in enumerate(plan.public[g.grade_id]):
            first["calls"].append(_call_json(f"p:{g.grade_id}:{i}", g.grade_id, g.spec, call))
        for i, call in enumerate(plan.hidden[g.grade_id]):
            second["calls"].append(_call_json(f"h:{g.grade_id}:{i}", g.grade_id, g.spec, call))
    return first, second


def _records(run: Run) -> tuple[dict[str, dict], dict[str, dict], set[str]]:
    """(visible-phase call records, hidden-phase call records, exercises that timed out).

    The first record of an id wins; a record in the wrong phase is ignored.
    """
    visible: dict[str, dict] = {}
    hidden: dict[str, dict] = {}
    timed_out: set[str] = set()
    end = run.hidden_from if run.hidden_from >= 0 else len(run.records)
    for i, rec in enumerate(run.records):
        kind, rid = rec.get("kind"), rec.get("id")
        if kind == "timeout" and isinstance(rec.get("exercise"), str):
            timed_out.add(rec["exercise"])
        if kind != "call" or not isinstance(rid, str):
            continue
        table, prefix = (visible, "p:") if i < end else (hidden, "h:")
        if rid.startswith(prefix) and rid not in table:
            table[rid] = rec
    return visible, hidden, timed_out


def _as_record(raw: dict | None) -> dict | None:
    """Decode a record's result with the grader's own parser; None if there is no record."""
    if raw is None:
        return None
    if raw.get("status") != "ok":
        return {"status": "error", "error": str(raw.get("error", ""))[:500]}
    try:
        record = {"status": "ok", "value": decode(raw.get("result"))}
        if "after" in raw:
            record["after_value"] = decode(raw["after"])
        return record
    except (DecodeError, RecursionError, TypeError, ValueError, OverflowError):
        return {"status": "error", "error": "DecodeError: the answer is not plain data"}


def _unattempted(record: dict | None) -> bool:
    """The stub still raises NotImplementedError, or the solution cell is gone."""
    error = str(record.get("error", "")) if record else ""
    return error.startswith("NotImplementedError") or (
        error.startswith("NameError") and "not defined by your solution cells" in error
    )


_RUN_STATUS = {"timeout": "timeout", "memory": "out of memory", "crashed": "crashed"}


def _printed(run: Run) -> str:
    """What the student's code printed in the visible phase (the hidden phase's is never kept)."""
    end = run.hidden_from if run.hidden_from >= 0 else len(run.records)
    return "".join(
        str(r.get("output", "")) for r in run.records[:end] if r.get("kind") in ("cell", "call")
    )


def _judge(job: _Job, run: Run, plan: _Plan) -> None:
    visible, hidden, timed_out = _records(run)
    cell_errors = [
        f"solution cell {r.get('id')!r}: {r.get('status')}: {str(r.get('error', ''))[:300]}"
        for r in run.records
        if r.get("kind") == "cell" and r.get("status") != "ok"
    ]
    printed = _printed(run)
    sources = {c["id"]: c["source"] for c in job.cells}
    failed_sources = "\n".join(
        sources.get(r.get("id"), "")
        for r in run.records
        if r.get("kind") == "cell" and r.get("status") != "ok"
    )
    for g in job.source.graded:
        if g.spec is None:
            row = Row(job.student, job.source.name, g.grade_id, 0.0, g.max_points, "manual")
            job.rows.append((row, {}))
            continue
        spec, gid = g.spec, g.grade_id
        pub = [_as_record(visible.get(f"p:{gid}:{i}")) for i in range(len(plan.public[gid]))]
        hid = [_as_record(hidden.get(f"h:{gid}:{i}")) for i in range(len(plan.hidden[gid]))]
        detail: dict[str, Any] = {
            "public": [],
            "hidden": [],
            "printed": printed,
            "cell_errors": cell_errors,
        }
        if all(_unattempted(r) for r in pub + hid):
            # A solution cell that mentions the name and raised: an error, not a blank.
            status = "error" if spec.target in failed_sources else "not attempted"
        elif any(r is None for r in pub + hid):
            status = "timeout" if gid in timed_out else _RUN_STATUS.get(run.ended, "crashed")
        else:
            collected = spec.visible()
            detail["public"] = [
                spec.judge_public(collected, i, r, call)
                for i, (r, call) in enumerate(zip(pub, plan.public[gid], strict=True))
            ]
            for call, rec in zip(plan.hidden[gid], hid, strict=True):
                try:
                    problem = spec.judge_hidden(call, rec)
                except Exception:  # a malformed answer must not stop the grader
                    problem = "the answer could not be compared"
                detail["hidden"].append((call.label, problem))
            if any(detail["public"]):
                status = "failed"
            elif any(problem for _, problem in detail["hidden"]):
                status = "failed hidden tests"
            else:
                status = "passed"
        points = g.max_points if status == "passed" else 0.0
        job.rows.append(
            (Row(job.student, job.source.name, gid, points, g.max_points, status), detail)
        )


def _grade_job(job: _Job, plan: _Plan, limits: Limits, sandbox: bool) -> _Job:
    first, second = _requests(job.source, job.cells, plan)
    run = run_harness(first, second, limits, forbid=job.source.forbid, sandbox=sandbox)
    job.seconds = run.seconds
    _judge(job, run, plan)
    return job


# --------------------------------------------------------------------------- #
# The instructor's secret
# --------------------------------------------------------------------------- #
def default_secret_path() -> Path:
    """``$XDG_CONFIG_HOME/coursekit/grading-secret`` (``~/.config/...`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "coursekit" / "grading-secret"


def _load_secret(path: Path | None, forbidden_dirs: Iterable[Path], quiet: bool) -> bytes:
    """Read the secret (made on first use, readable by its owner only)."""
    path = Path(path) if path is not None else default_secret_path()
    resolved = path.resolve()
    for folder in forbidden_dirs:
        if resolved == folder or folder in resolved.parents:
            raise GradingError(
                f"secret_file must lie outside the source, submissions and output folders, "
                f"got {str(path)!r} (inside {str(folder)!r})"
            )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        if not quiet:
            print(f"made a new grading secret in {path} (keep it: the same secret regrades alike)")
    value = path.read_bytes().strip()
    if len(value) < 16:
        raise GradingError(
            f"secret_file {str(path)!r} must hold at least 16 bytes, got {len(value)}"
        )
    return value


def _fingerprint(secret: bytes) -> str:
    return hashlib.sha256(b"coursekit fingerprint\0" + secret).hexdigest()[:16]


# --------------------------------------------------------------------------- #
# Reports, written into a fresh folder that replaces the output folder at the end
# --------------------------------------------------------------------------- #
def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _write_new(folder: Path, name: str, text: str) -> None:
    """Create ``folder/name``; never follows or replaces an existing entry."""
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _csv(rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    return buf.getvalue()


def _feedback_name(student: str) -> str:
    # Names come from directory entries, so they hold no "/"; keep them recognisable.
    safe = student.replace("\x00", "")
    return (safe if safe not in (".", "..") else f"_{safe}") + ".md"


def _feedback(student: str, rows: list[Row], details: dict, notes: dict) -> str:
    lines = [f"# Feedback for {student}", ""]
    for notebook in dict.fromkeys(r.notebook for r in rows):
        nb_rows = [r for r in rows if r.notebook == notebook]
        got = sum(r.points for r in nb_rows)
        total = sum(r.max_points for r in nb_rows)
        if lines[-1]:
            lines.append("")  # a heading is a block of its own in Markdown
        lines.append(
            f"## {notebook or '(no matching notebook)'}: {_num(got)} / {_num(total)} points"
        )
        remarks = notes.get((student, notebook), [])
        if remarks:
            lines += [""] + [f"- {n}" for n in remarks]
        printed_once = False
        for r in nb_rows:
            if not r.exercise:  # a file that matched no notebook: the remark above says why
                continue
            detail = details.get((student, notebook, r.exercise), {})
            lines += _feedback_exercise(r, detail)
            if detail.get("printed") and not printed_once:
                printed_once = True
                text = detail["printed"]
                if len(text) > FEEDBACK_OUTPUT_CHARS:
                    text = text[:FEEDBACK_OUTPUT_CHARS] + "\n[... more output not shown]"
                lines += [
                    "",
                    "Printed by your code (solution cells and visible cases):",
                    "",
                    "```text",
                    text.rstrip("\n"),
                    "```",
                ]
    return "\n".join(lines).rstrip() + "\n"


def _feedback_exercise(r: Row, detail: dict) -> list[str]:
    lines = [
        "",
        f"### {r.exercise}: {r.status} ({_num(r.points)} / {_num(r.max_points)} points)",
        "",
    ]
    if r.status == "manual":
        return lines + ["Graded by hand."]
    if r.status == "not attempted":
        return lines + [
            "Not attempted: the function still raises NotImplementedError, or is missing."
        ]
    if not detail:
        return lines[:-1]
    for error in detail.get("cell_errors", [])[:3]:
        lines.append(f"- {error}")
    public = detail.get("public", [])
    if public:
        passed = sum(1 for p in public if not p)
        if lines[-1]:
            lines.append("")  # a paragraph of its own, not part of the list above
        lines.append(
            f"Visible cases (the checks in the notebook): {passed} of {len(public)} passed."
        )
        failed = [p for p in public if p]
        if failed:
            lines += ["", "```text", failed[0].rstrip("\n"), "```"]
    hidden = detail.get("hidden", [])
    if hidden:
        bad = [(label, problem) for label, problem in hidden if problem]
        if lines[-1]:
            lines.append("")
        lines.append(f"Hidden tests: {len(hidden) - len(bad)} of {len(hidden)} passed.")
        for label, problem in bad[:5]:
            lines.append(f"- {label or 'a hidden case'}: {problem}")
    return lines


def _gradebook(rows: list[Row], notebooks: list[str]) -> str:
    """One row per student, one column per notebook (points): Canvas and Moodle import it."""
    students = list(dict.fromkeys(r.student for r in rows if r.notebook))
    table: list[list[Any]] = [["Student", *[Path(n).stem for n in notebooks], "Total"]]
    for student in students:
        mine = [r for r in rows if r.student == student]
        points = [sum(r.points for r in mine if r.notebook == n) for n in notebooks]
        table.append([student, *[_num(p) for p in points], _num(sum(points))])
    return _csv(table)


def _write_reports(out_dir: Path, rows: list[Row], info: dict, feedback: dict[str, str]) -> None:
    """Write every report into a fresh folder, then put it in place of ``out_dir``.

    An existing output folder is kept, renamed ``<out>.previous-<time>``:
    nothing is overwritten, and no link planted in it is ever followed.
    """
    out_dir = Path(os.path.abspath(out_dir))
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise GradingError(f"out_dir must be a folder (not a link or a file), got {str(out_dir)!r}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        header = ["student", "notebook", "exercise", "points", "max_points", "status"]
        body = [
            [r.student, r.notebook, r.exercise, _num(r.points), _num(r.max_points), r.status]
            for r in rows
        ]
        _write_new(fresh, "scores.csv", _csv([header, *body]))
        data = [
            {**asdict(r), "points": _num(r.points), "max_points": _num(r.max_points)} for r in rows
        ]
        _write_new(fresh, "scores.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        _write_new(fresh, "gradebook.csv", _gradebook(rows, info["notebooks"]))
        _write_new(fresh, "grading.json", json.dumps(info, indent=1, ensure_ascii=False) + "\n")
        (fresh / "feedback").mkdir()
        for student, text in feedback.items():
            _write_new(fresh / "feedback", _feedback_name(student), text)
        os.chmod(fresh, 0o755)
        if out_dir.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
            out_dir.rename(out_dir.with_name(f"{out_dir.name}.previous-{stamp}"))
        fresh.rename(out_dir)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- #
# Public entry points
# --------------------------------------------------------------------------- #
def _parse_shard(shard: str | None) -> tuple[int, int]:
    if shard is None:
        return 1, 1
    try:
        k, n = (int(x) for x in str(shard).split("/"))
    except ValueError:
        raise GradingError(f"shard must look like K/N (e.g. 2/8), got {shard!r}") from None
    if not 1 <= k <= n:
        raise GradingError(f"shard K/N needs 1 <= K <= N, got {shard!r}")
    return k, n


def _self_check(
    sources: dict[str, _Source], secret: bytes, limits: Limits, sandbox: bool, jobs: int
) -> dict[str, float]:
    """Grade the instructor's own solutions; return the seconds each notebook took."""
    todo = []
    for source in sources.values():
        cells, _ = solution_cells(source.nb, source.nb)
        todo.append(_Job("(instructor's solutions)", source, cells, []))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(
            pool.map(lambda j: _grade_job(j, _plan(j.source, secret), limits, sandbox), todo)
        )
    failing = [
        f"{job.source.name} {row.exercise}: {row.status}"
        for job in done
        for row, _ in job.rows
        if row.status not in ("passed", "manual")
    ]
    if failing:
        raise GradingError(
            "the instructor's own solutions fail their tests, so no submission can be graded "
            "fairly: " + "; ".join(failing)
        )
    return {job.source.name: job.seconds for job in done}


def grade(
    source_dir: str | Path,
    submissions_dir: str | Path,
    out_dir: str | Path = "grades",
    *,
    jobs: int = 1,
    shard: str | None = None,
    budget_s: float | None = None,
    call_s: float = 30.0,
    memory_mb: int = 3072,
    pids: int = 128,
    sandbox: bool = True,
    secret_file: str | Path | None = None,
    exercises: dict[str, Exercise] | None = None,
    quiet: bool = False,
) -> list[Row]:
    """Grade every submission in ``submissions_dir`` against the notebooks in ``source_dir``.

    Writes ``scores.csv``, ``scores.json``, ``gradebook.csv``, ``grading.json``
    (how the run was made) and ``feedback/<student>.md`` into ``out_dir``.
    Neither the source, nor the submissions, nor the package are modified.

    Parameters
    ----------
    source_dir, submissions_dir, out_dir : str or Path
    jobs : int
        Submissions graded in parallel.
    shard : str, optional
        "K/N": grade only the K-th of N deterministic shares of the students
        (join the outputs with :func:`merge`).
    budget_s : float, optional
        Wall-clock seconds per submission; default: 5x the time the
        instructor's solutions take, at least 60 s.
    call_s : float
        Seconds for one solution cell or one exercise's calls.
    memory_mb, pids : int
        Memory (MiB) and processes of one submission's sandbox.
    sandbox : bool
        False grades without isolation (``--no-sandbox``): printed and recorded.
    secret_file : str or Path, optional
        The instructor's secret (default :func:`default_secret_path`, made on first use).
    exercises : dict, optional
        grade_id -> Exercise (default: the course's, :func:`all_exercises`).
    quiet : bool
        Print nothing.

    Returns
    -------
    list of Row
        Sorted by student, notebook and exercise order.
    """
    started = time.monotonic()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    source_dir, submissions_dir = Path(source_dir), Path(submissions_dir)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"source_dir must be a directory, got {str(source_dir)!r}")
    if submissions_dir.is_symlink() or not submissions_dir.is_dir():
        raise FileNotFoundError(
            f"submissions_dir must be a directory (not a link), got {str(submissions_dir)!r}"
        )
    jobs = check_positive_int(jobs, "jobs")
    memory_mb = check_positive_int(memory_mb, "memory_mb")
    pids = check_positive_int(pids, "pids")
    if budget_s is not None and not budget_s > 0:
        raise GradingError(f"budget_s must be a positive number of seconds, got {budget_s!r}")
    if not call_s > 0:
        raise GradingError(f"call_s must be a positive number of seconds, got {call_s!r}")
    k, n = _parse_shard(shard)
    out_abs = Path(os.path.abspath(out_dir))
    for folder in (source_dir.resolve(), submissions_dir.resolve()):
        if out_abs == folder or folder in out_abs.parents or out_abs in folder.parents:
            raise GradingError(
                f"out_dir must lie outside the source and submissions folders, got {str(out_dir)!r}"
            )
    if sandbox:
        from coursekit.grading.sandbox import check_sandbox

        check_sandbox()  # SandboxUnavailable names what is missing
    else:
        say(
            "WARNING: grading WITHOUT a sandbox (--no-sandbox): student code runs with your "
            "rights and can read and change your files; scores are still decided outside it."
        )
    secret = _load_secret(
        Path(secret_file) if secret_file is not None else None,
        (source_dir.resolve(), submissions_dir.resolve(), out_abs),
        quiet,
    )
    exercises = all_exercises() if exercises is None else exercises

    names = [rel.as_posix() for rel in find_notebooks(source_dir)]
    sources = {name: _load_source(source_dir / name, name, exercises) for name in names}
    probe_limits = Limits(wall_s=600.0, call_s=call_s, memory_mb=memory_mb, pids=pids)
    say(f"checking the instructor's solutions of {len(sources)} notebook(s) ...")
    reference_s = _self_check(sources, secret, probe_limits, sandbox, jobs)
    budget = (
        budget_s
        if budget_s is not None
        else max(MIN_BUDGET_S, BUDGET_FACTOR * max(reference_s.values(), default=0.0))
    )
    limits = Limits(wall_s=budget, call_s=min(call_s, budget), memory_mb=memory_mb, pids=pids)

    entries = _discover(submissions_dir, names)
    students = sorted({e.student for e in entries})
    mine = {s for i, s in enumerate(students) if i % n == k - 1}
    entries = [e for e in entries if e.student in mine]

    rows: list[tuple[Row, dict]] = []
    notes: dict[tuple[str, str], list[str]] = {}
    todo: list[_Job] = []
    plans = {name: _plan(source, secret) for name, source in sources.items()}
    for e in entries:
        if e.status or e.path is None:
            points = (
                [(g.grade_id, g.max_points) for g in sources[e.notebook].graded]
                if e.notebook
                else [("", 0.0)]
            )
            for gid, max_points in points:
                rows.append(
                    (Row(e.student, e.notebook, gid, 0.0, max_points, e.status or "missing"), {})
                )
            notes[(e.student, e.notebook)] = [e.note]
            continue
        source = sources[e.notebook]
        sub = _read_submission(e.path)
        if sub is None:
            for g in source.graded:
                rows.append(
                    (Row(e.student, e.notebook, g.grade_id, 0.0, g.max_points, "unreadable"), {})
                )
            notes[(e.student, e.notebook)] = ["the file could not be read as a notebook."]
            continue
        cells, nb_notes = solution_cells(source.nb, sub)
        notes[(e.student, e.notebook)] = nb_notes
        todo.append(_Job(e.student, source, cells, nb_notes))

    say(
        f"grading {len(todo)} submission(s), {jobs} at a time, budget {budget:.0f} s each "
        f"({limits_description(sandbox)})"
    )
    progress = _progress(len(todo), quiet)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for job in pool.map(lambda j: _grade_job(j, plans[j.source.name], limits, sandbox), todo):
            rows.extend(job.rows)
            progress(job)

    order = {name: i for i, name in enumerate(names)}
    ex_order = {name: [g.grade_id for g in s.graded] for name, s in sources.items()}

    def key(item: tuple[Row, dict]) -> tuple:
        r = item[0]
        ids = ex_order.get(r.notebook, [])
        return (
            r.student,
            order.get(r.notebook, -1),
            ids.index(r.exercise) if r.exercise in ids else -1,
        )

    rows.sort(key=key)
    details = {(r.student, r.notebook, r.exercise): d for r, d in rows}
    plain = [r for r, _ in rows]
    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "notebooks": names,
        "source_sha256": {
            n: hashlib.sha256((source_dir / n).read_bytes()).hexdigest() for n in names
        },
        "secret_fingerprint": _fingerprint(secret),
        "sandbox": sandbox,
        "isolation": limits_description(sandbox),
        "warning": None if sandbox else "graded without a sandbox (--no-sandbox)",
        "budget_s": round(budget, 1),
        "reference_s": {name: round(s, 2) for name, s in reference_s.items()},
        "memory_mb": memory_mb,
        "pids": pids,
        "shard": f"{k}/{n}",
        "students": sorted(mine),
        "seconds": round(time.monotonic() - started, 1),
    }
    feedback = {
        student: _feedback(student, [r for r in plain if r.student == student], details, notes)
        for student in dict.fromkeys(r.student for r in plain)
    }
    _write_reports(Path(out_dir), plain, info, feedback)
    say(f"wrote {out_dir}/scores.csv ({len(plain)} rows), gradebook.csv and feedback/")
    return plain


def _progress(total: int, quiet: bool) -> Callable[[_Job], None]:
    if quiet or total == 0:
        return lambda job: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="submission", file=sys.stdout)

    def step(job: _Job) -> None:
        bar.update(1)
        if bar.n == total:
            bar.close()

    return step


def merge(out_dir: str | Path, shard_dirs: Sequence[str | Path], quiet: bool = False) -> list[Row]:
    """Join the outputs of ``grade(..., shard="K/N")`` runs into one output folder.

    The shards must come from the same source notebooks and the same secret,
    and cover each student once.
    """
    if not shard_dirs:
        raise GradingError("shard_dirs must name at least one shard's output folder, got none")
    rows: list[Row] = []
    infos = []
    feedback: dict[str, str] = {}
    for d in map(Path, shard_dirs):
        if not (d / "grading.json").is_file():
            raise GradingError(f"{str(d)!r} is not an output folder of coursekit grade")
        info = json.loads((d / "grading.json").read_text(encoding="utf-8"))
        infos.append(info)
        rows += [Row(**r) for r in json.loads((d / "scores.json").read_text(encoding="utf-8"))]
        for student in info["students"]:
            path = d / "feedback" / _feedback_name(student)
            if path.is_file() and not path.is_symlink():
                feedback[student] = path.read_text(encoding="utf-8")
    for key in ("source_sha256", "secret_fingerprint", "notebooks"):
        if any(i[key] != infos[0][key] for i in infos):
            raise GradingError(f"the shards differ in {key}: they are not one grading run")
    seen: dict[str, str] = {}
    for d, info in zip(shard_dirs, infos, strict=True):
        for student in info["students"]:
            if student in seen:
                raise GradingError(
                    f"student {student!r} is in two shards ({seen[student]} and {d})"
                )
            seen[student] = str(d)
    order = {n: i for i, n in enumerate(infos[0]["notebooks"])}
    rows.sort(key=lambda r: (r.student, order.get(r.notebook, -1)))
    # Exercise order inside a notebook is kept: each shard wrote it in order.
    info = {**infos[0], "shard": f"merged from {len(infos)}", "students": sorted(seen)}
    _write_reports(Path(out_dir), rows, info, feedback)
    if not quiet:
        print(f"merged {len(infos)} shard(s) into {out_dir} ({len(rows)} rows)")
    return rows
