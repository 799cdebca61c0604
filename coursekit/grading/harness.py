"""Runs inside the grading sandbox: defines a student's solutions and calls them.

Started by the grader as this module run under ``python -I`` with the grader's own
coursekit first on ``sys.path`` (``sandbox._command``), it talks over two pipes,
one JSON object per line: requests on standard input, records on the file
descriptor named on the command line (standard output and error belong to the student's code and are
thrown away by the grader).

1. The first request holds the *prelude* (the notebook's import statements),
   the student's solution cells, and the calls of the **visible** phase.
   Each cell is executed in one namespace; each exercise's calls run in a
   forked child with a time limit, so a hung or crashing exercise costs only
   its own points. Records: ``cell``, ``call`` (with what the call printed),
   ``timeout``, then ``phase``.
2. Only after that does the grader send the **hidden** calls (inputs drawn
   from the instructor's secret seed), so nothing the student's code prints
   in the first phase can carry a hidden input into the feedback. Records:
   ``call`` (no printed output), ``timeout``, then ``done``.

Nothing here decides a score: the results are plain data
(:mod:`coursekit.grading.plaindata`) that the grader compares with answers it
computes itself, outside the sandbox. The student's code can tamper with this
process at will; it can only make its own answers wrong.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import json
import os
import signal
import sys
import time
from typing import Any

from coursekit.grading import drivers
from coursekit.grading.plaindata import decode, encode

OUTPUT_CHARS = 4_000  # printed output kept per cell or visible call


class _Timeout(BaseException):
    """Raised by the alarm in a cell that runs too long (BaseException: ``except Exception`` misses it)."""


_OUT_FD = 3  # set by main() from the command line


def _emit(record: dict) -> None:
    data = (json.dumps(record, allow_nan=False) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(_OUT_FD, view) :]


def _error_line(exc: BaseException) -> str:
    name = type(exc).__name__
    try:
        message = str(exc)
        text = f"{name}: {message}" if message else name
    except BaseException:  # the student's __str__ failed: that must not end the harness either
        text = f"{name} (its message could not be shown)"
    return text[:500]


class _Capped(io.StringIO):
    def write(self, s: str) -> int:
        if self.tell() < OUTPUT_CHARS:
            super().write(s[: OUTPUT_CHARS - self.tell()])
        return len(s)

    def close(self) -> None:
        """Stay open: a cell that closes ``sys.stdout`` must not end the harness."""


@contextlib.contextmanager
def _captured():
    buf = _Capped()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        yield buf


def _alarm(seconds: float) -> None:
    def fire(signum: int, frame: Any) -> None:
        raise _Timeout()

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _run_prelude(statements: list[str], ns: dict) -> None:
    for statement in statements:
        try:
            exec(compile(statement, "<prelude>", "exec"), ns)
        except Exception:
            # A forbidden module (absent from this sandbox) or a notebook-only import:
            # ``from m import a, b, c`` still binds the names that do import.
            node = ast.parse(statement).body[0]
            if isinstance(node, ast.ImportFrom) and len(node.names) > 1:
                for alias in node.names:
                    one = ast.ImportFrom(module=node.module, names=[alias], level=node.level)
                    _run_prelude([ast.unparse(one)], ns)


def _run_cells(cells: list[dict], ns: dict, timeout: float) -> None:
    for cell in cells:
        record: dict[str, Any] = {"kind": "cell", "id": cell["id"], "status": "ok"}
        with _captured() as out:
            try:
                code = compile(
                    cell["source"], f"<solution {cell['id']}>", "exec", dont_inherit=True
                )
                _alarm(timeout)
                try:
                    exec(code, ns)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except _Timeout:
                record.update(status="timeout", error=f"the cell ran longer than {timeout:g} s")
            except BaseException as exc:  # SystemExit too: a cell must not end the harness
                record.update(status="error", error=_error_line(exc))
        record["output"] = out.getvalue()
        _emit(record)


def _run_call(call: dict, ns: dict, keep_output: bool) -> dict:
    record: dict[str, Any] = {"kind": "call", "id": call["id"]}
    target = call["target"]
    with _captured() as out:
        try:
            if target not in ns:
                raise NameError(f"name {target!r} is not defined by your solution cells")
            args = decode(call["args"])
            kwargs = decode(call["kwargs"])
            driver = drivers.DRIVERS[call["driver"]]
            before = copy.deepcopy(args) if call.get("after") else None
            result = driver(ns[target], *args, **kwargs)
            record.update(status="ok", result=encode(result))
            if before is not None:
                record["after"] = encode(args)
        except BaseException as exc:
            record.update(status="error", error=_error_line(exc))
    if keep_output:
        record["output"] = out.getvalue()
    return record


def _run_calls(calls: list[dict], ns: dict, timeout: float, keep_output: bool) -> None:
    """Run each exercise's calls in a forked child, killed after ``timeout`` seconds."""
    groups: dict[str, list[dict]] = {}
    for call in calls:
        groups.setdefault(call["exercise"], []).append(call)
    for exercise, group in groups.items():
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for call in group:
                    _emit(_run_call(call, ns, keep_output))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _emit({"kind": "timeout", "exercise": exercise, "seconds": timeout})
                break
            time.sleep(0.005)


def _read_request() -> dict:
    line = sys.stdin.readline()
    if not line:
        raise SystemExit(0)  # the grader closed the pipe
    return json.loads(line)


def main(argv: list[str] | None = None) -> int:
    """The harness's entry point, argv ``[FD]``: records go to file descriptor FD."""
    global _OUT_FD
    argv = sys.argv[1:] if argv is None else argv
    _OUT_FD = int(argv[0]) if argv else 3
    request = _read_request()
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    _run_prelude(request["prelude"], ns)
    _run_cells(request["cells"], ns, request["timeout"])
    _run_calls(request["calls"], ns, request["timeout"], keep_output=True)
    _emit({"kind": "phase", "phase": "visible"})
    request = _read_request()
    _run_calls(request["calls"], ns, request["timeout"], keep_output=False)
    _emit({"kind": "done"})
    return 0


def import_statements(source: str) -> list[str]:
    """The top-level ``import`` statements of a code cell, one string each.

    Used by the grader to build the prelude from the notebook's own cells;
    a cell that does not parse (IPython magics) gives none.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
    ]


if __name__ == "__main__":
    sys.exit(main())
