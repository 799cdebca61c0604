"""The grading harness (coursekit.grading.harness), its functions called in this process.

The harness runs inside the sandbox, where the grader only sees the records it
writes; here each function is called directly (mutation testing credits only
tests that call a function in the test process) and its records are read back
from a file that stands in for the record pipe. One end-to-end run through
``run_harness(..., sandbox=False)`` checks that the pieces make the conversation.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time

import pytest

from coursekit.grading import harness
from coursekit.grading.harness import OUTPUT_CHARS, import_statements
from coursekit.grading.plaindata import encode
from coursekit.grading.sandbox import Limits, run_harness


# --------------------------------------------------------------------------- #
# Fixtures: the record "pipe" (a file), SIGALRM restored, fork watched
# --------------------------------------------------------------------------- #
@pytest.fixture(autouse=True)
def _restore_alarm():
    """Every test leaves SIGALRM as it found it (pytest-timeout may use it)."""
    handler = signal.getsignal(signal.SIGALRM)
    timer = signal.getitimer(signal.ITIMER_REAL)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, handler)
    if timer[0]:
        signal.setitimer(signal.ITIMER_REAL, *timer)


@pytest.fixture
def out(tmp_path, monkeypatch):
    """Point the harness's records at a file; ``out()`` returns the records written so far."""
    path = tmp_path / "records"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    monkeypatch.setattr(harness, "_OUT_FD", fd)

    def read():
        return [json.loads(line) for line in path.read_text().splitlines()]

    read.fd = fd
    yield read
    os.close(fd)


@pytest.fixture
def forks(monkeypatch):
    """Watch os.fork/os.waitpid; a child gets its own process group; the test process never exits.

    Yields a dict: ``pids`` forked, ``statuses`` {pid: exit status} as reaped by the harness.
    """
    me = os.getpid()
    seen: dict = {"pids": [], "statuses": {}}
    real_fork, real_waitpid, real_exit = os.fork, os.waitpid, os._exit

    def fork():
        pid = real_fork()
        if pid == 0:
            os.setpgid(0, 0)  # a stray os.kill(0, ...) hits only the child
        else:
            seen["pids"].append(pid)
        return pid

    def waitpid(pid, options):
        done, status = real_waitpid(pid, options)
        if done:
            seen["statuses"][done] = status
        return done, status

    def _exit(code):
        if os.getpid() == me:
            raise AssertionError(f"os._exit({code!r}) in the test process")
        real_exit(code if type(code) is int else 99)  # os._exit(None) would not end the child

    monkeypatch.setattr(os, "fork", fork)
    monkeypatch.setattr(os, "waitpid", waitpid)
    monkeypatch.setattr(os, "_exit", _exit)
    yield seen
    if os.getpid() != me:  # a child that went on past the harness's code ends here
        real_exit(98)
    for pid in seen["pids"]:  # nothing left behind, reaped
        with pytest.raises(ChildProcessError):
            real_waitpid(pid, os.WNOHANG)


def _call(cid, exercise, target, *args, driver="call", after=False, **kwargs):
    call = {
        "id": cid,
        "exercise": exercise,
        "target": target,
        "driver": driver,
        "args": encode(list(args)),
        "kwargs": encode(kwargs),
    }
    if after:
        call["after"] = True
    return call


# --------------------------------------------------------------------------- #
# _emit, _error_line, _Capped, _captured, _alarm
# --------------------------------------------------------------------------- #
def test_emit_writes_one_json_line_per_record(out):
    harness._emit({"kind": "cell", "id": "c1", "output": "é\n"})
    harness._emit({"kind": "done"})
    assert out() == [{"kind": "cell", "id": "c1", "output": "é\n"}, {"kind": "done"}]


def test_emit_writes_on_the_fd_of_the_module(out, tmp_path):
    text = (tmp_path / "records").read_bytes()
    assert text == b""
    harness._emit({"a": 1})
    assert (tmp_path / "records").read_bytes() == b'{"a": 1}\n'


def test_emit_refuses_nan():
    with pytest.raises(ValueError):
        harness._emit({"x": float("nan")})


def test_emit_goes_on_after_short_writes(out, monkeypatch):
    real_write = os.write
    sizes = []

    def short_write(fd, data):
        sizes.append(len(data))
        return real_write(fd, bytes(data[:7]))

    record = {"kind": "call", "output": "x" * 50}
    monkeypatch.setattr(os, "write", short_write)
    harness._emit(record)
    monkeypatch.setattr(os, "write", real_write)
    line = (json.dumps(record) + "\n").encode()
    assert sizes[0] == len(line) and sizes == list(range(len(line), 0, -7))
    assert out() == [record]


def test_error_line():
    assert harness._error_line(ValueError("bad value")) == "ValueError: bad value"
    assert harness._error_line(ValueError()) == "ValueError"
    assert harness._error_line(KeyError("k")) == "KeyError: 'k'"
    assert harness._error_line(SystemExit(3)) == "SystemExit: 3"
    assert harness._error_line(harness._Timeout()) == "_Timeout"
    long = harness._error_line(RuntimeError("y" * 600))
    assert long == ("RuntimeError: " + "y" * 600)[:500] and len(long) == 500
    exact = harness._error_line(RuntimeError("z" * 486))
    assert exact == "RuntimeError: " + "z" * 486 and len(exact) == 500


UNPRINTABLE = """
class Unprintable(Exception):
    def __str__(self):
        return self.missing
class NotText(Exception):
    def __str__(self):
        return 5
class Leaves(Exception):
    def __str__(self):
        raise SystemExit(2)
"""


def test_error_line_of_an_exception_whose_str_fails():
    ns = _ns(UNPRINTABLE)
    for name in ("Unprintable", "NotText", "Leaves"):
        line = harness._error_line(ns[name]())
        assert line == f"{name} (its message could not be shown)"
    long = type("E" * 600, (Exception,), {"__str__": lambda self: 1 / 0})
    assert harness._error_line(long()) == "E" * 500


def test_a_cell_whose_exception_cannot_be_printed_does_not_end_the_harness(out):
    # This crashed the harness (every exercise lost) before _error_line caught it.
    cells = [
        {"id": "c1", "source": UNPRINTABLE + "raise Unprintable()"},
        {"id": "c2", "source": "def f():\n    raise NotText()"},
    ]
    ns = {}
    harness._run_cells(cells, ns, 5)
    assert out() == [
        {
            "kind": "cell",
            "id": "c1",
            "status": "error",
            "error": "Unprintable (its message could not be shown)",
            "output": "",
        },
        {"kind": "cell", "id": "c2", "status": "ok", "output": ""},
    ]
    record = harness._run_call(_call("q", "e", "f"), ns, keep_output=False)
    assert record["error"] == "NotText (its message could not be shown)"


def test_capped_keeps_the_first_output_chars():
    assert OUTPUT_CHARS == 4000
    buf = harness._Capped()
    assert buf.write("a" * 3999) == 3999
    assert buf.write("bcd") == 3  # the whole length, as if written
    assert buf.getvalue() == "a" * 3999 + "b"
    assert buf.write("more") == 4
    assert buf.getvalue() == "a" * 3999 + "b"
    exact = harness._Capped()
    assert exact.write("x" * 4000) == 4000 and exact.getvalue() == "x" * 4000
    assert exact.write("y") == 1 and exact.getvalue() == "x" * 4000
    over = harness._Capped()
    assert over.write("é" * 5000) == 5000 and over.getvalue() == "é" * 4000
    small = harness._Capped()
    small.write("ab")
    small.write("")
    small.write("c\n")
    assert small.getvalue() == "abc\n"


def test_capped_stays_open():
    buf = harness._Capped()
    buf.write("a")
    buf.close()
    assert not buf.closed
    assert buf.write("b") == 1 and buf.getvalue() == "ab"


def test_a_cell_that_closes_stdout_does_not_end_the_harness(out):
    # This crashed the harness (every exercise lost): the record read a closed buffer.
    source = "import sys\nprint('a')\nsys.stdout.close()\nprint('b', file=sys.stderr)"
    harness._run_cells([{"id": "c", "source": source}, {"id": "d", "source": "x = 1"}], {}, 5)
    assert out() == [
        {"kind": "cell", "id": "c", "status": "ok", "output": "a\nb\n"},
        {"kind": "cell", "id": "d", "status": "ok", "output": ""},
    ]
    ns = _ns("import sys\ndef f():\n    print('in f')\n    sys.stderr.close()\n    return 1")
    record = harness._run_call(_call("q", "e", "f"), ns, keep_output=True)
    assert record == {
        "kind": "call",
        "id": "q",
        "status": "ok",
        "result": encode(1),
        "output": "in f\n",
    }


def test_captured_takes_stdout_and_stderr():
    before = sys.stdout, sys.stderr
    with harness._captured() as buf:
        print("to out")
        print("to err", file=sys.stderr)
        assert isinstance(buf, harness._Capped)
        assert sys.stdout is buf and sys.stderr is buf
    assert (sys.stdout, sys.stderr) == before
    assert buf.getvalue() == "to out\nto err\n"


def test_alarm_raises_timeout_after_the_seconds():
    harness._alarm(5)
    left, interval = signal.getitimer(signal.ITIMER_REAL)
    assert 4.5 < left <= 5 and interval == 0
    signal.setitimer(signal.ITIMER_REAL, 0)
    start = time.monotonic()
    harness._alarm(0.05)
    with pytest.raises(harness._Timeout):
        time.sleep(2)
    assert time.monotonic() - start < 1
    assert not issubclass(harness._Timeout, Exception)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # one shot


# --------------------------------------------------------------------------- #
# _run_prelude
# --------------------------------------------------------------------------- #
def test_prelude_runs_each_statement_in_the_namespace():
    ns = {"__name__": "__main__"}
    harness._run_prelude(
        ["import math", "from os import path as p", "F = __import__('sys')._getframe()"], ns
    )
    assert ns["math"].__name__ == "math"
    assert ns["p"] is os.path
    assert ns["F"].f_code.co_filename == "<prelude>"


def test_prelude_binds_the_names_that_import():
    ns = {}
    harness._run_prelude(
        [
            "import no_such_module_xyz",
            "from os import getcwd, no_such_name_xyz, sep as separator",
            "from os import no_such_name_xyz",
            "from no_such_module_xyz import a, b",
            "import json",
            "import math, no_such_module_xyz, re",
        ],
        ns,
    )
    assert ns["getcwd"] is os.getcwd and ns["separator"] == os.sep
    assert ns["json"] is json
    # `import a, b` is not split: the names before the one that fails are bound
    assert set(ns) == {"getcwd", "separator", "json", "math", "__builtins__"}


def test_prelude_splits_two_names():
    ns = {}
    harness._run_prelude(["from os import no_such_name_xyz, getpid"], ns)
    assert ns["getpid"] is os.getpid
    ns = {}
    harness._run_prelude(["from os import getpid, no_such_name_xyz"], ns)
    assert ns["getpid"] is os.getpid


def test_prelude_keeps_relative_imports_relative():
    ns = {"__name__": "coursekit.grading.x", "__package__": "coursekit.grading"}
    # the failing name first: `from m import a, b` binds `a` before it fails on `b`
    harness._run_prelude(["from .plaindata import no_such_name_xyz, encode"], ns)
    assert ns["encode"] is encode


def test_prelude_of_a_future_import_that_fails():
    ns = {}
    harness._run_prelude(["from __future__ import braces", "import math"], ns)
    assert "math" in ns


# --------------------------------------------------------------------------- #
# _run_cells
# --------------------------------------------------------------------------- #
def test_cells_share_a_namespace_and_report_in_order(out):
    ns = {"__name__": "__main__"}
    cells = [
        {"id": "c1", "source": "x = 41\nprint('hi')"},
        {"id": "c2", "source": "y = x + 1\nimport sys\nprint('oops', file=sys.stderr)"},
        {"id": "c3", "source": "print('before')\n1 / 0"},
        {"id": "c4", "source": "raise SystemExit(3)"},
        {"id": "c5", "source": "def f(:\n"},
        {"id": "c6", "source": "raise KeyboardInterrupt"},
        {"id": "c7", "source": "z = y"},
    ]
    harness._run_cells(cells, ns, 5)
    assert out() == [
        {"kind": "cell", "id": "c1", "status": "ok", "output": "hi\n"},
        {"kind": "cell", "id": "c2", "status": "ok", "output": "oops\n"},
        {
            "kind": "cell",
            "id": "c3",
            "status": "error",
            "error": "ZeroDivisionError: division by zero",
            "output": "before\n",
        },
        {"kind": "cell", "id": "c4", "status": "error", "error": "SystemExit: 3", "output": ""},
        {
            "kind": "cell",
            "id": "c5",
            "status": "error",
            "error": "SyntaxError: invalid syntax (<solution c5>, line 1)",
            "output": "",
        },
        {"kind": "cell", "id": "c6", "status": "error", "error": "KeyboardInterrupt", "output": ""},
        {"kind": "cell", "id": "c7", "status": "ok", "output": ""},
    ]
    assert ns["x"] == 41 and ns["y"] == 42 and ns["z"] == 42
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_cells_are_compiled_on_their_own(out):
    ns = {}
    source = "import sys\ndef f(x: int): pass\nA = f.__annotations__\nF = sys._getframe()"
    harness._run_cells([{"id": "sol", "source": source}], ns, 5)
    assert ns["A"] == {"x": int}  # not the harness's `from __future__ import annotations`
    assert ns["F"].f_code.co_filename == "<solution sol>"
    assert out() == [{"kind": "cell", "id": "sol", "status": "ok", "output": ""}]


def test_cell_output_is_capped(out):
    cells = [{"id": "c", "source": "print('a' * 5000)"}, {"id": "d", "source": "print('b')"}]
    harness._run_cells(cells, {}, 5)
    first, second = out()
    assert first["output"] == "a" * OUTPUT_CHARS and second["output"] == "b\n"


def test_a_cell_that_runs_too_long(out):
    cells = [
        {"id": "slow", "source": "print('start')\nwhile True: pass"},
        {"id": "fast", "source": "import time\ntime.sleep(0.2)\nok = 1"},
    ]
    start = time.monotonic()
    ns = {}
    harness._run_cells(cells, ns, 0.4)
    assert time.monotonic() - start < 3
    assert out() == [
        {
            "kind": "cell",
            "id": "slow",
            "status": "timeout",
            "error": "the cell ran longer than 0.4 s",
            "output": "start\n",
        },
        {"kind": "cell", "id": "fast", "status": "ok", "output": ""},
    ]
    assert ns["ok"] == 1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_cell_is_given_its_timeout(out):
    cells = [{"id": "t", "source": "import signal\nT = signal.getitimer(signal.ITIMER_REAL)"}]
    ns = {}
    harness._run_cells(cells, ns, 7.5)
    assert 7 < ns["T"][0] <= 7.5
    harness._run_cells([{"id": "u", "source": "while True: pass"}], {}, 0.25)
    assert out()[-1]["error"] == "the cell ran longer than 0.25 s"


def test_the_timer_is_stopped_after_an_error(out):
    harness._run_cells([{"id": "e", "source": "1 / 0"}], {}, 5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert out()[0]["status"] == "error"


# --------------------------------------------------------------------------- #
# _run_call
# --------------------------------------------------------------------------- #
def _ns(source):
    ns = {}
    exec(source, ns)
    return ns


def test_call_returns_the_encoded_result():
    ns = _ns("def add(a, b=0):\n    print('adding')\n    return a + b")
    record = harness._run_call(_call("q1", "e", "add", 2, b=3), ns, keep_output=True)
    assert record == {
        "kind": "call",
        "id": "q1",
        "status": "ok",
        "result": encode(5),
        "output": "adding\n",
    }
    record = harness._run_call(_call("q2", "e", "add", 2, b=3), ns, keep_output=False)
    assert record == {"kind": "call", "id": "q2", "status": "ok", "result": encode(5)}


def test_call_output_is_capped():
    ns = _ns("import sys\ndef f():\n    print('x' * 3000)\n    print('y' * 3000, file=sys.stderr)")
    record = harness._run_call(_call("q", "e", "f"), ns, keep_output=True)
    assert record["output"] == "x" * 3000 + "\n" + "y" * 999


def test_call_of_a_name_the_cells_did_not_define():
    record = harness._run_call(_call("q", "e", "missing"), {"other": len}, keep_output=True)
    assert record == {
        "kind": "call",
        "id": "q",
        "status": "error",
        "error": "NameError: name 'missing' is not defined by your solution cells",
        "output": "",
    }


def test_call_errors():
    ns = _ns("def bad(x):\n    print('in bad')\n    raise ValueError(f'no {x}')\n"
             "def leave():\n    raise SystemExit\n")  # fmt: skip
    assert harness._run_call(_call("a", "e", "bad", 7), ns, keep_output=True) == {
        "kind": "call",
        "id": "a",
        "status": "error",
        "error": "ValueError: no 7",
        "output": "in bad\n",
    }
    assert harness._run_call(_call("b", "e", "leave"), ns, keep_output=False) == {
        "kind": "call",
        "id": "b",
        "status": "error",
        "error": "SystemExit",
    }
    unknown = harness._run_call(_call("c", "e", "bad", 1, driver="nope"), ns, keep_output=False)
    assert unknown["error"] == "KeyError: 'nope'"
    broken = dict(_call("d", "e", "bad"), args={"t": "bogus"})
    assert harness._run_call(broken, ns, keep_output=False)["status"] == "error"


def test_call_reports_the_arguments_after_the_call_when_asked():
    ns = _ns("def push(xs, v):\n    xs.append(v)\n    return len(xs)")
    record = harness._run_call(_call("p", "e", "push", [1], 2, after=True), ns, keep_output=False)
    assert record == {
        "kind": "call",
        "id": "p",
        "status": "ok",
        "result": encode(2),
        "after": encode([[1, 2], 2]),
    }
    record = harness._run_call(_call("p", "e", "push", [1], 2), ns, keep_output=False)
    assert "after" not in record
    no = dict(_call("p", "e", "push", [1], 2), after=False)
    assert "after" not in harness._run_call(no, ns, keep_output=False)


def test_call_with_another_driver():
    import coursekit.grading.drivers as drivers

    seen = []

    def spy(obj, *args, **kwargs):
        seen.append((obj, args, kwargs))
        return "spied"

    ns = {"f": len}
    drivers.DRIVERS["spy"] = spy
    try:
        record = harness._run_call(_call("s", "e", "f", 1, 2, driver="spy", k=3), ns, False)
    finally:
        del drivers.DRIVERS["spy"]
    assert seen == [(len, (1, 2), {"k": 3})]
    assert record["result"] == encode("spied")


# --------------------------------------------------------------------------- #
# _run_calls: one forked child per exercise, killed at its timeout
# --------------------------------------------------------------------------- #
SOURCE = """
import os, sys, time
def f(x):
    print('f', x)
    return x * 2
def hang():
    time.sleep(30)
def die():
    os._exit(5)
def write_parent(x):
    global X
    X = x
    return os.getpid()
"""


def test_calls_run_per_exercise_in_order(out, forks):
    ns = _ns(SOURCE)
    calls = [
        _call("a1", "A", "f", 1),
        _call("b1", "B", "f", 10),
        _call("a2", "A", "f", 2),
        _call("w", "C", "write_parent", 3),
    ]
    start = time.monotonic()
    harness._run_calls(calls, ns, 5, keep_output=True)
    assert time.monotonic() - start < 0.9  # polled often, not only at the deadline
    records = out()
    assert records[:3] == [
        {"kind": "call", "id": "a1", "status": "ok", "result": encode(2), "output": "f 1\n"},
        {"kind": "call", "id": "a2", "status": "ok", "result": encode(4), "output": "f 2\n"},
        {"kind": "call", "id": "b1", "status": "ok", "result": encode(20), "output": "f 10\n"},
    ]
    child = records[3]
    assert child["id"] == "w" and child["result"]["v"] != str(os.getpid())
    assert "X" not in ns  # the call ran in a child, not here
    assert len(forks["pids"]) == 3
    assert [forks["statuses"][p] for p in forks["pids"]] == [0, 0, 0]


def test_hidden_calls_keep_no_output(out, forks):
    harness._run_calls([_call("h", "A", "f", 4)], _ns(SOURCE), 5, keep_output=False)
    assert out() == [{"kind": "call", "id": "h", "status": "ok", "result": encode(8)}]


def test_a_hung_exercise_times_out_alone(out, forks):
    ns = _ns(SOURCE)
    calls = [
        _call("a1", "A", "f", 1),
        _call("h1", "H", "hang"),
        _call("h2", "H", "f", 9),
        _call("z1", "Z", "f", 3),
    ]
    start = time.monotonic()
    harness._run_calls(calls, ns, 0.4, keep_output=False)
    assert 0.4 <= time.monotonic() - start < 3
    assert out() == [
        {"kind": "call", "id": "a1", "status": "ok", "result": encode(2)},
        {"kind": "timeout", "exercise": "H", "seconds": 0.4},
        {"kind": "call", "id": "z1", "status": "ok", "result": encode(6)},
    ]
    hung = forks["pids"][1]
    assert os.WIFSIGNALED(forks["statuses"][hung])
    assert os.WTERMSIG(forks["statuses"][hung]) == signal.SIGKILL


def test_a_child_that_dies_costs_its_own_calls(out, forks):
    ns = _ns(SOURCE)
    calls = [_call("d1", "D", "f", 1), _call("d2", "D", "die"), _call("d3", "D", "f", 2)]
    calls.append(_call("e1", "E", "f", 5))
    harness._run_calls(calls, ns, 5, keep_output=False)
    assert [r["id"] for r in out()] == ["d1", "e1"]
    assert os.WEXITSTATUS(forks["statuses"][forks["pids"][0]]) == 5


def test_a_child_that_cannot_write_exits_with_1(out, forks, monkeypatch):
    monkeypatch.setattr(harness, "_OUT_FD", 987)  # not open: os.write fails in the child
    harness._run_calls([_call("a", "A", "f", 1)], _ns(SOURCE), 5, keep_output=False)
    assert [forks["statuses"][p] for p in forks["pids"]] == [1 << 8]


def test_calls_flush_the_streams_before_each_fork(out, forks, monkeypatch):
    flushed = []

    class Stream(io.StringIO):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def flush(self):
            flushed.append((self.name, os.getpid()))

    monkeypatch.setattr(sys, "stdout", Stream("out"))
    monkeypatch.setattr(sys, "stderr", Stream("err"))
    calls = [_call("a", "A", "f", 1), _call("b", "B", "f", 2)]
    harness._run_calls(calls, _ns(SOURCE), 5, keep_output=False)
    me = os.getpid()
    assert flushed == [("out", me), ("err", me)] * 2


def test_no_calls_fork_nothing(out, forks):
    harness._run_calls([], {}, 5, keep_output=True)
    assert out() == [] and forks["pids"] == []


# --------------------------------------------------------------------------- #
# _read_request and main
# --------------------------------------------------------------------------- #
def test_read_request(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"a": [1, 2]}\n{"b": 3}\n'))
    assert harness._read_request() == {"a": [1, 2]}
    assert harness._read_request() == {"b": 3}
    with pytest.raises(SystemExit) as ended:
        harness._read_request()
    assert ended.value.code == 0 and ended.value.code is not None


def _requests(first, hidden=None):
    lines = [json.dumps(first)] + ([json.dumps(hidden)] if hidden is not None else [])
    return io.StringIO("".join(line + "\n" for line in lines))


def test_main_runs_both_phases(tmp_path, monkeypatch, forks):
    path = tmp_path / "records"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    monkeypatch.setattr(harness, "_OUT_FD", None)
    first = {
        "prelude": ["import math", "from os import sep, no_such_name_xyz"],
        "cells": [
            {"id": "c1", "source": "print(sorted(globals()), __name__)"},
            {
                "id": "c2",
                "source": "def g(x):\n    print('g')\n    return math.floor(x) + len(sep)",
            },
            {"id": "c3", "source": "while True: pass"},
        ],
        "calls": [_call("v1", "G", "g", 2.5)],
        "timeout": 0.3,
    }
    hidden = {"calls": [_call("h1", "G", "g", 7.5)], "timeout": 5}
    monkeypatch.setattr(sys, "stdin", _requests(first, hidden))
    try:
        assert harness.main([str(fd)]) == 0
    finally:
        os.close(fd)
    assert harness._OUT_FD == fd
    records = [json.loads(line) for line in path.read_text().splitlines()]
    names = "['__builtins__', '__name__', 'math', 'sep'] __main__\n"
    assert records == [
        {"kind": "cell", "id": "c1", "status": "ok", "output": names},
        {"kind": "cell", "id": "c2", "status": "ok", "output": ""},
        {
            "kind": "cell",
            "id": "c3",
            "status": "timeout",
            "error": "the cell ran longer than 0.3 s",
            "output": "",
        },
        {"kind": "call", "id": "v1", "status": "ok", "result": encode(3), "output": "g\n"},
        {"kind": "phase", "phase": "visible"},
        {"kind": "call", "id": "h1", "status": "ok", "result": encode(8)},
        {"kind": "done"},
    ]


def test_main_uses_each_phases_timeout(tmp_path, monkeypatch, forks):
    path = tmp_path / "records"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    monkeypatch.setattr(harness, "_OUT_FD", None)
    first = {"prelude": [], "cells": [{"id": "c", "source": "import time"}], "timeout": 0.3}
    first["calls"] = [_call("v", "V", "sleep", 5)]
    hidden = {"calls": [_call("h", "H", "sleep", 5)], "timeout": 0.2}
    first["cells"][0]["source"] = "from time import sleep"
    monkeypatch.setattr(sys, "stdin", _requests(first, hidden))
    try:
        assert harness.main([str(fd)]) == 0
    finally:
        os.close(fd)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[1:] == [
        {"kind": "timeout", "exercise": "V", "seconds": 0.3},
        {"kind": "phase", "phase": "visible"},
        {"kind": "timeout", "exercise": "H", "seconds": 0.2},
        {"kind": "done"},
    ]


def test_main_ends_quietly_when_the_grader_closes_the_pipe(out, monkeypatch, forks):
    first = {"prelude": [], "cells": [], "calls": [], "timeout": 1}
    monkeypatch.setattr(sys, "stdin", _requests(first))
    with pytest.raises(SystemExit) as ended:
        harness.main([str(out.fd)])
    assert ended.value.code == 0
    assert out() == [{"kind": "phase", "phase": "visible"}]


def test_main_reads_its_fd_from_the_command_line(monkeypatch):
    monkeypatch.setattr(harness, "_OUT_FD", None)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(sys, "argv", ["harness", "11"])
    with pytest.raises(SystemExit):
        harness.main()
    assert harness._OUT_FD == 11
    with pytest.raises(SystemExit):
        harness.main([])
    assert harness._OUT_FD == 3
    with pytest.raises(SystemExit):
        harness.main(["12"])
    assert harness._OUT_FD == 12


# --------------------------------------------------------------------------- #
# import_statements
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", []),
        ("import numpy as np", ["import numpy as np"]),
        ("import os, sys", ["import os, sys"]),
        ("import os.path", ["import os.path"]),
        ("from a.b import c as d, e", ["from a.b import c as d, e"]),
        ("from . import x", ["from . import x"]),
        ("from ..m import (y,\n    z)", ["from ..m import y, z"]),
        ("from m import *", ["from m import *"]),
        ("from __future__ import annotations", ["from __future__ import annotations"]),
        (
            "import numpy as np\nx = 1\n\nimport torch  # comment\ny = np.ones(3)",
            ["import numpy as np", "import torch"],
        ),
        ("def f():\n    import os\n    return os", []),
        ("class C:\n    import os", []),
        ("if True:\n    import os\nelse:\n    from m import a", []),
        ("try:\n    import scipy\nexcept ImportError:\n    scipy = None", []),
        ("with open('f'):\n    import os", []),
        ("x = __import__('os')\nimportlib = 1", []),
        ("%matplotlib inline\nimport numpy", []),
        ("!pip install x\nimport numpy", []),
        ("import numpy as", []),
        ("import os; import sys", ["import os", "import sys"]),
        ("'''import os'''\n# import sys", []),
    ],
)
def test_import_statements(source, expected):
    assert import_statements(source) == expected


def test_import_statements_feed_the_prelude():
    source = "import math\nfrom os import sep as s, getcwd\nprint(math.pi)\n"
    ns = {}
    harness._run_prelude(import_statements(source), ns)
    assert set(ns) == {"math", "s", "getcwd", "__builtins__"}


# --------------------------------------------------------------------------- #
# End to end (not credited by mutation testing: the harness is another process)
# --------------------------------------------------------------------------- #
def test_run_harness_end_to_end():
    first = {
        "prelude": ["import math"],
        "cells": [
            {"id": "u", "source": UNPRINTABLE + "import sys\nsys.stdout.close()\nraise Leaves()"},
            {"id": "c", "source": "def f(x):\n    print('v')\n    return math.sqrt(x)"},
        ],
        "calls": [_call("v", "F", "f", 4.0)],
    }
    hidden = {"calls": [_call("h", "F", "f", 9.0), _call("t", "T", "g")]}
    run = run_harness(first, hidden, Limits(wall_s=30, call_s=5), sandbox=False)
    assert run.ended == "finished", run.stderr
    assert run.records == [
        {
            "kind": "cell",
            "id": "u",
            "status": "error",
            "error": "Leaves (its message could not be shown)",
            "output": "",
        },
        {"kind": "cell", "id": "c", "status": "ok", "output": ""},
        {"kind": "call", "id": "v", "status": "ok", "result": encode(2.0), "output": "v\n"},
        {"kind": "phase", "phase": "visible"},
        {"kind": "call", "id": "h", "status": "ok", "result": encode(3.0)},
        {
            "kind": "call",
            "id": "t",
            "status": "error",
            "error": "NameError: name 'g' is not defined by your solution cells",
        },
        {"kind": "done"},
    ]
    assert run.hidden_from == 4
