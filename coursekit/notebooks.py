"""Execute and normalise the course notebooks.

``make notebooks`` (scripts/run_notebooks.py), the course benchmark and the
tests share this code, so the outputs a student sees on first open are produced
exactly the way nbval later checks them: in order, each in a fresh kernel, on
the embedded default data, with widgets drawn as static figures.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "KERNELSPEC",
    "RunResult",
    "course_notebooks",
    "execute_notebook",
    "normalise",
    "stderr_outputs",
]

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Notebook-level metadata we keep; everything else (user names, jupytext or
# editor settings) is machine- or user-specific. "widgets" holds the state of the
# widgets a run left; normalise keeps it only while an output shows one of them.
_KEEP_NB_METADATA = {"kernelspec", "language_info", "celltoolbar", "title", "widgets"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Cell metadata we keep: tags (nbval, papermill), slides, nbgrader, editable flags,
# and "coursekit" (the course's own notes: why a cell's output is not compared).
_KEEP_CELL_METADATA = {
    "tags",
    "slideshow",
    "nbgrader",
    "editable",
    "deletable",
    "jupyter",
    "coursekit",
}


@dataclass
class RunResult:
    """What one notebook run cost."""

    path: Path
    seconds: float
    peak_mb: float  # the kernel and every process it started (e.g. torchrun workers), PSS
    error: str | None = None
    kernel_peak_mb: float = 0.0  # the kernel process alone


def course_notebooks(folder: str | Path = "notebooks") -> list[Path]:
    """Return the numbered course notebooks (``00_*.ipynb`` ... ``09_*.ipynb``) in order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder must be a directory of notebooks, got {str(folder)!r}")
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip user- and machine-specific metadata and renumber executions 1, 2, 3...

    Cells that were not executed keep ``execution_count`` None, so a gap can
    only mean a cell was skipped, which the format test reports.
    """
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in _KEEP_NB_METADATA}
    if not _shows_a_widget(nb):
        # The course stores its outputs with static widgets, yet nbclient still saves
        # the state of the widget objects the run made. Nothing shows it, and with the
        # course's saveState setting (coursekit.widgets) JupyterLab rebuilds those models
        # on opening, which marks the notebook modified; a save then writes it back empty.
        nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = _language_info(nb.metadata.get("language_info"))
    count = 0
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in _KEEP_CELL_METADATA}
        cell.pop("id", None)
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        cell.outputs = _coalesce_streams(cell.outputs)
        if cell.get("execution_count") is not None:
            count += 1
            cell.execution_count = count
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = count
    nb.nbformat, nb.nbformat_minor = 4, 5
    # nbformat 4.5 wants cell ids; stable ones keep diffs small and runs repeatable.
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
    return nb


def _shows_a_widget(nb: nbformat.NotebookNode) -> bool:
    """Whether any output of ``nb`` is a widget view (which needs the saved widget state)."""
    return any(
        WIDGET_VIEW in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", [])
    )


def _coalesce_streams(outputs: list) -> list:
    """Join consecutive outputs of the same stream into one.

    A kernel may send one ``print`` in several messages, depending on timing;
    joined, a cell's stored output is the same from run to run (nbval joins
    them the same way before it compares).
    """
    joined: list = []
    for out in outputs:
        prev = joined[-1] if joined else None
        if (
            prev is not None
            and out.get("output_type") == "stream"
            and prev.get("output_type") == "stream"
            and out.get("name") == prev.get("name")
        ):
            prev["text"] = prev.get("text", "") + out.get("text", "")
        else:
            joined.append(out)
    return joined


def _language_info(stored: object) -> dict:
    """The kernel's full ``language_info``, as JupyterLab sets it when the kernel starts.

    JupyterLab writes the kernel's ``language_info`` into the notebook when it
    connects and marks the notebook modified unless the stored one is equal, so
    a notebook stored with a partial one asks to be saved when closed untouched.
    The one the executing kernel reported is kept; a partial one is completed
    from this environment's ipykernel.
    """
    if isinstance(stored, dict) and stored.get("version") and stored.get("codemirror_mode"):
        return dict(stored)
    return dict(_ipykernel_language_info())


@functools.cache
def _ipykernel_language_info() -> dict:
    """``IPythonKernel.language_info``, read in a child process.

    Importing ``ipykernel.ipkernel`` here would load ``ipykernel.zmqshell``, and
    tqdm.auto (4.70) takes that module's presence alone as proof of a notebook:
    every later download or training bar in this process would become a widget
    that a terminal shows as one line stuck at 0 %.
    """
    code = "import json; from ipykernel.ipkernel import IPythonKernel as K; print(json.dumps(K.language_info))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def stderr_outputs(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """Return ``(cell index, text)`` for every stderr stream: warnings left printed."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append((i, out.get("text", "")))
    return found


def _tree_share(proc) -> int:
    """Bytes of memory ``proc`` accounts for when shared pages are split among their users.

    PSS (Linux): each page a process shares with n others counts 1/n. Summed
    over a process tree it is the memory the tree occupies, with each shared
    library counted once; summing RSS would count libtorch's pages once per
    process that imports torch. Where PSS is not reported (macOS, Windows), RSS.
    """
    import psutil

    try:
        return proc.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return proc.memory_info().rss


def _watch_peak_memory(pid_getter, stop: threading.Event, peak: list[float]) -> None:
    """Poll memory until ``stop`` is set: ``peak`` = [with children, kernel alone] in MiB.

    The kernel alone is its resident set (RSS); the kernel with the processes it
    started (torchrun and its workers) is the sum of their PSS, see _tree_share.
    """
    try:
        import psutil
    except ImportError:  # memory figures are a nicety, not a requirement
        return
    while not stop.is_set():
        pid = pid_getter()
        if pid:
            try:
                proc = psutil.Process(pid)
                own = proc.memory_info().rss
                children = proc.children(recursive=True)
                if children:
                    total = _tree_share(proc) + sum(_tree_share(c) for c in children)
                else:
                    total = own
                peak[0] = max(peak[0], total / 2**20)
                peak[1] = max(peak[1], own / 2**20)
            except psutil.Error:
                pass
        stop.wait(0.05)


def execute_notebook(
    path: str | Path,
    *,
    timeout: int = 600,
    write: bool = True,
    parameters: dict | None = None,
) -> RunResult:
    """Run one notebook top to bottom in a fresh kernel, in its own folder.

    Parameters
    ----------
    path : notebook file.
    timeout : seconds allowed per cell.
    write : store the normalised, executed notebook back in ``path``.
    parameters : values injected after the cell tagged ``parameters`` (papermill's
        convention), e.g. ``{"MODE": "full"}``.

    Returns
    -------
    RunResult with wall-clock seconds and peak resident memory in MiB (the kernel
    alone, and with the processes it started).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    if parameters:
        return _execute_with_papermill(path, parameters, timeout)
    nb = nbformat.read(path, as_version=4)
    # Widget state of an earlier run would outlive the outputs that referred to it.
    nb.metadata.pop("widgets", None)
    env_backup = os.environ.get("COURSEKIT_STATIC_WIDGETS")
    os.environ["COURSEKIT_STATIC_WIDGETS"] = "1"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
    )
    peak = [0.0, 0.0]
    stop = threading.Event()

    def kernel_pid() -> int | None:
        km = client.km
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        return getattr(proc, "pid", None)

    watcher = threading.Thread(target=_watch_peak_memory, args=(kernel_pid, stop, peak))
    watcher.start()
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        # The message ends with the traceback's last line (``Name: reason``).
        lines = [line for line in str(exc).splitlines() if line.strip()]
        error = lines[-1] if lines else repr(exc)
    finally:
        seconds = time.perf_counter() - start
        stop.set()
        watcher.join()
        if env_backup is None:
            os.environ.pop("COURSEKIT_STATIC_WIDGETS", None)
        else:
            os.environ["COURSEKIT_STATIC_WIDGETS"] = env_backup
    if write and error is None:
        nbformat.write(normalise(nb), path)
    return RunResult(
        path=path, seconds=seconds, peak_mb=peak[0], error=error, kernel_peak_mb=peak[1]
    )


def _execute_with_papermill(path: Path, parameters: dict, timeout: int) -> RunResult:
    """Run a parameterised copy (e.g. full mode) with papermill; the source is left alone."""
    import tempfile

    import papermill

    start = time.perf_counter()
    error = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            papermill.execute_notebook(
                str(path),
                str(Path(tmp) / path.name),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(path.parent.resolve()),
                execution_timeout=timeout,
                progress_bar=False,
            )
        except papermill.PapermillExecutionError as exc:
            error = f"{exc.ename}: {exc.evalue}"
    return RunResult(path=path, seconds=time.perf_counter() - start, peak_mb=0.0, error=error)
