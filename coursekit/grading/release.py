"""Build the student edition of the course notebooks (no nbgrader needed).

The source notebooks carry nbgrader (schema 3) markup:

* solution cells (``solution: true``): the code between ``### BEGIN SOLUTION``
  and ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` +
  ``raise NotImplementedError()`` (``YOUR ANSWER HERE`` in markdown); code
  before and after the markers stays;
* test cells (``grade: true``, with ``points``): the region between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` is removed;
* other ``locked`` cells are made read-only.

The result is what ``nbgrader generate_assignment`` would produce (same
stubs, same ``editable``/``deletable`` flags, same checksums), except that the
outputs of cells without markup are kept, so the student sees the figures.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

# Metadata key of the two progress cells at the end of every notebook
# (coursekit.grading.progress.progress_cells makes them).
PROGRESS_CELL_KEY = "progress"


def is_progress_cell(cell: NotebookNode) -> bool:
    """True for either of the progress cells at the end of a notebook."""
    return bool(cell.get("metadata", {}).get("coursekit", {}).get(PROGRESS_CELL_KEY))


__all__ = [
    "CODE_STUB",
    "MANIFEST_NAME",
    "MarkupError",
    "TEXT_STUB",
    "compute_checksum",
    "find_notebooks",
    "is_grade",
    "is_locked",
    "is_solution",
    "notebook_bytes",
    "release",
    "release_notebook",
    "sha256_bytes",
    "validate_markup",
]

BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"
BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
MANIFEST_NAME = "released.json"

# The keys nbgrader's schema 3 allows (nbgrader/nbgraderformat/v3.json).
_ALLOWED_KEYS = {
    "schema_version",
    "grade",
    "solution",
    "locked",
    "task",
    "grade_id",
    "points",
    "checksum",
    "cell_type",
}
_GRADE_ID = re.compile(r"[A-Za-z0-9_\-]+")  # fullmatch: "$" would let a final "\n" through


class MarkupError(ValueError):
    """Malformed exercise markup in a source notebook (names notebook and cell)."""


# --------------------------------------------------------------------------- #
# nbgrader's cell predicates and checksum (nbgrader/utils.py), reimplemented
# --------------------------------------------------------------------------- #
def _meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_grade(cell: NotebookNode) -> bool:
    """True for a test cell (autograded, or a manually graded answer)."""
    return bool(_meta(cell).get("grade", False))


def is_solution(cell: NotebookNode) -> bool:
    """True for a cell the student writes in."""
    return bool(_meta(cell).get("solution", False))


def is_locked(cell: NotebookNode) -> bool:
    """True if the student may not change the cell (nbgrader's definition)."""
    if is_solution(cell):
        return False
    if is_grade(cell):
        return True
    return bool(_meta(cell).get("locked", False))


def compute_checksum(cell: NotebookNode) -> str:
    """Return nbgrader's MD5 checksum of a cell (equal to ``nbgrader.utils.compute_checksum``).

    It covers the source, the cell type, the grade/solution/locked flags, the
    grade_id and, for grade cells, the points as a float.
    """
    m = hashlib.md5()
    m.update(cell.source.encode("utf-8"))
    m.update(cell.cell_type.encode("utf-8"))
    m.update(str(is_grade(cell)).encode("utf-8"))
    m.update(str(is_solution(cell)).encode("utf-8"))
    m.update(str(is_locked(cell)).encode("utf-8"))
    m.update(_meta(cell)["grade_id"].encode("utf-8"))
    if is_grade(cell):
        m.update(str(float(_meta(cell)["points"])).encode("utf-8"))
    return m.hexdigest()


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def _regions(source: str, begin: str, end: str, where: str) -> int:
    """Count well-formed ``begin``/``end`` regions in ``source``; raise on bad nesting."""
    inside, count = False, 0
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise MarkupError(f"{where}: nested '{begin}' (no '{end}' before it)")
            inside, count = True, count + 1
        elif end in line:
            if not inside:
                raise MarkupError(f"{where}: '{end}' without a '{begin}' before it")
            inside = False
    if inside:
        raise MarkupError(f"{where}: '{begin}' without a matching '{end}'")
    return count


def validate_markup(nb: NotebookNode, name: str = "notebook") -> None:
    """Raise ``MarkupError`` naming the notebook and cell index for malformed markup.

    Checks nbgrader's schema 3 rules (flags, grade_id, points, unique ids,
    markdown answer cells) and that solution / hidden-test regions are closed
    and sit in solution / grade cells.
    """
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            found = [m for m in MARKERS if m in cell.source]
            if found:
                # nbgrader would also refuse; prose must spell the markers differently.
                raise MarkupError(
                    f"{where}: exercise marker {found[0]!r} in a cell without nbgrader "
                    "metadata (in prose, write it differently, e.g. 'BEGIN&#32;SOLUTION')"
                )
            continue
        n_solution = _regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, where)
        n_hidden = _regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, where)
        if not isinstance(meta, dict):
            raise MarkupError(f"{where}: nbgrader metadata must be a dict, got {meta!r}")
        extra = sorted(set(meta) - _ALLOWED_KEYS)
        if extra:
            raise MarkupError(f"{where}: unknown nbgrader metadata keys {extra}")
        if meta.get("schema_version") != 3:
            raise MarkupError(
                f"{where}: nbgrader schema_version must be 3, got {meta.get('schema_version')!r}"
            )
        for key in ("grade", "solution", "locked"):
            if not isinstance(meta.get(key, False), bool):
                raise MarkupError(
                    f"{where}: nbgrader '{key}' must be true or false, got {meta[key]!r}"
                )
        grade, solution, locked = is_grade(cell), is_solution(cell), bool(meta.get("locked"))
        if n_solution and not solution:
            raise MarkupError(f"{where}: solution region in a cell not marked solution")
        if n_hidden and not grade:
            raise MarkupError(f"{where}: hidden-test region in a cell not marked grade")
        if not (grade or solution or locked):
            continue
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or not _GRADE_ID.fullmatch(grade_id):
            raise MarkupError(
                f"{where}: grade_id must be letters, digits, '_' or '-', got {grade_id!r}"
            )
        if grade_id in seen:
            raise MarkupError(
                f"{where}: duplicate grade_id {grade_id!r} (also used by cell {seen[grade_id]})"
            )
        seen[grade_id] = index
        if grade:
            points = meta.get("points")
            if points is None:
                raise MarkupError(f"{where}: grade cell {grade_id!r} has no points")
            if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
                raise MarkupError(f"{where}: points must be a number >= 0, got {points!r}")
        if cell.cell_type == "markdown" and grade != solution:
            raise MarkupError(
                f"{where}: a markdown exercise cell must be both grade and solution "
                f"(grade={grade}, solution={solution})"
            )


# --------------------------------------------------------------------------- #
# Transformations
# --------------------------------------------------------------------------- #
def _replace_region(source: str, begin: str, end: str, stub: str | None) -> tuple[str, bool]:
    """Replace each ``begin``..``end`` region (marker lines included) by ``stub``.

    The stub is indented like the ``begin`` line, as nbgrader does, so a
    solution inside a function body stays valid Python. ``stub=None`` deletes.
    """
    out: list[str] = []
    inside = replaced = False
    for line in source.split("\n"):
        if begin in line:
            inside = replaced = True
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                out.extend(indent + s for s in stub.split("\n"))
        elif end in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out), replaced


def _clear_solution(cell: NotebookNode) -> None:
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    cell.source, replaced = _replace_region(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub)
    if not replaced:  # a solution cell without markers is replaced entirely
        cell.source = stub
    # An attachment (an image pasted into a markdown cell) that only the answer showed
    # would reach the student with it: keep only those the released text still uses.
    if "attachments" in cell:
        kept = {k: v for k, v in cell.attachments.items() if f"attachment:{k}" in cell.source}
        if kept:
            cell.attachments = kept
        else:
            del cell["attachments"]


def _lock(cell: NotebookNode) -> None:
    # nbgrader's LockCells with its defaults.
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_grade(cell) or is_locked(cell):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def release_notebook(
    nb: NotebookNode, name: str = "notebook", keep_hidden_tests: bool = False
) -> NotebookNode:
    """Return the student edition of ``nb`` (``nb`` itself is not modified).

    Parameters
    ----------
    nb : NotebookNode
        Source notebook with nbgrader markup.
    name : str
        Used in error messages.
    keep_hidden_tests : bool
        Keep the hidden-test regions (the autograder's rebuilt notebook).

    Raises
    ------
    MarkupError
        Malformed markup, or a marker left in the result.
    """
    if not isinstance(nb, NotebookNode):
        raise TypeError(f"nb must be an nbformat NotebookNode, got {type(nb).__name__}")
    validate_markup(nb, name)
    nb = copy.deepcopy(nb)
    nb.metadata.pop("celltoolbar", None)
    for cell in nb.cells:
        if is_progress_cell(cell) and cell.cell_type == "code":
            # The instructor's run says "every exercise passes": not the learner's progress.
            cell.outputs = []
            cell.execution_count = None
        if "nbgrader" not in cell.metadata:
            continue
        if is_solution(cell):
            _clear_solution(cell)
        if is_grade(cell) and not keep_hidden_tests:
            cell.source, _ = _replace_region(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)
        if (is_solution(cell) or is_grade(cell)) and cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        _lock(cell)
        if is_grade(cell) or is_solution(cell) or is_locked(cell):
            cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
            cell.metadata.nbgrader["cell_type"] = cell.cell_type
    if not keep_hidden_tests:
        _assert_no_markers(nb, name)
    return nb


def _assert_no_markers(nb: NotebookNode, name: str) -> None:
    # Search the serialised JSON, so outputs and metadata are covered too.
    for index, cell in enumerate(nb.cells):
        text = json.dumps(cell)
        for marker in MARKERS:
            if marker in text:
                raise MarkupError(f"{name}, cell {index}: '{marker}' left in the student edition")
    text = json.dumps(nb.metadata)
    for marker in MARKERS:
        if marker in text:
            raise MarkupError(f"{name}, notebook metadata: '{marker}' left in the student edition")


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
def notebook_bytes(nb: NotebookNode) -> bytes:
    """Serialise ``nb`` deterministically (nbformat 4, sorted keys, trailing newline)."""
    return (nbformat.writes(nb, version=4) + "\n").encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def find_notebooks(folder: str | Path) -> list[Path]:
    """Return the ``.ipynb`` files under ``folder`` (relative paths, sorted).

    Checkpoints and hidden folders are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder must be a directory, got {str(folder)!r}")
    found = []
    for path in folder.rglob("*.ipynb"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        found.append(rel)
    return sorted(found, key=lambda p: p.as_posix())


def _read_source(path: Path, name: str) -> NotebookNode:
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:
        raise MarkupError(
            f"{name}: cannot read the notebook ({type(exc).__name__}: {exc})"
        ) from exc


def build_release(source_dir: str | Path) -> dict[str, bytes]:
    """Return ``{relative posix path: released notebook bytes}`` for ``source_dir``.

    Every notebook is checked before anything is written anywhere.
    """
    source_dir = Path(source_dir)
    out: dict[str, bytes] = {}
    for rel in find_notebooks(source_dir):
        name = rel.as_posix()
        nb = _read_source(source_dir / rel, name)
        out[name] = notebook_bytes(release_notebook(nb, name))
    return out


def release(
    source_dir: str | Path = "notebooks", out_dir: str | Path = "student", quiet: bool = False
) -> dict[str, str]:
    """Write the student edition of every notebook in ``source_dir`` into ``out_dir``.

    Idempotent: unchanged files are not rewritten; notebooks that an earlier
    release wrote but that no longer exist in the source are removed. The
    source is never modified. A manifest ``released.json`` (notebook ->
    SHA-256 of the released file) is written into ``out_dir``.

    Returns
    -------
    dict
        The manifest.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"source_dir must be a directory, got {str(source_dir)!r}")
    src, dst = source_dir.resolve(), out_dir.resolve()
    if dst == src or src in dst.parents or dst in src.parents:
        raise ValueError(
            f"out_dir must lie outside source_dir (and not contain it), got "
            f"out_dir={str(out_dir)!r}, source_dir={str(source_dir)!r}"
        )
    released = build_release(source_dir)
    manifest_path = out_dir / MANIFEST_NAME
    old = _read_manifest(manifest_path)
    written = 0
    for name, data in released.items():
        target = out_dir / name
        if not (target.is_file() and target.read_bytes() == data):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1
    for name in sorted(set(old) - set(released)):
        stale = out_dir / name
        if stale.is_file():
            stale.unlink()
    manifest = {name: sha256_bytes(data) for name, data in released.items()}
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    if not (manifest_path.is_file() and manifest_path.read_text(encoding="utf-8") == text):
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(text, encoding="utf-8")
    if not quiet:
        print(
            f"released {len(released)} notebooks from {source_dir} into {out_dir} "
            f"({written} written, {len(released) - written} unchanged)"
        )
    return manifest


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
