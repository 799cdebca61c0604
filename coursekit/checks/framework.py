"""Exercise checks: immediate, specific feedback for students, strict checks for graders.

Notebook authors write one small function per exercise in ``checks/nbXX.py``::

    from coursekit.checks.framework import Case, run_check

    def check_mse(fn):
        return run_check("mse", fn, [
            Case(args=(np.array([1., 2.]), np.array([1., 4.])), expected=2.0,
                 hint="average the squared differences"),
        ])

``run_check`` prints one line when every case passes, a precise report of the
first failing case otherwise (input, expected vs got, hint, and the first
warning the student's code gave), and raises ``CheckFailed`` (an
``AssertionError``) on failure, so nbgrader scores the test cell 0. In IPython
``CheckFailed`` shows as one line ("✘ check failed: ..."), not as a traceback
through coursekit, and the course's check cells are tagged ``raises-exception``,
so JupyterLab's Run All goes on to the next exercise. ``coursekit grade``
decides scores outside the notebook and does not depend on this exception.

A function that still raises ``NotImplementedError`` is reported as "not
attempted" without raising, so the student edition runs top to bottom; when
graded or validated (``COURSEKIT_GRADING=1``, or nbgrader's
``NBGRADER_EXECUTION``) it raises instead, so nbgrader's Validate never
calls an unattempted notebook a success.

Numeric-answer exercises ("how many parameters?") should be written as
zero-argument functions (``def n_params(): ...``) for the same reason: a bare
``raise NotImplementedError()`` at the top level of a cell would stop the
notebook.

``strict`` holds comparisons for hidden tests written inline in a notebook
(courses other than this one; the course's hidden tests are exercise specs in
``coursekit.grading.exercises``, judged outside the student's process by
``coursekit grade``). Inline hidden tests run in the student's process, so
the student's code can replace ``np.allclose`` or return an object whose
``__eq__`` always says True. ``strict`` checks exact types first
and compares with functions captured when this module was imported, never
calling a method of the student's object. (Code running in the same process
can in principle patch anything; these checks close the common loopholes.)
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import math
import numbers
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coursekit._validate import check_bool, check_positive

__all__ = [
    "Case",
    "CheckFailed",
    "CheckResult",
    "Collected",
    "collect_cases",
    "run_check",
    "strict",
    "short_repr",
    "GRADING_ENV",
]

GRADING_ENV = "COURSEKIT_GRADING"
#: Set by nbgrader ("validate" or "autograde") in the kernel it runs a notebook in.
NBGRADER_ENV = "NBGRADER_EXECUTION"

# Bound once, at import time, before any student code runs: later
# monkeypatching of ``math`` or ``numpy`` attributes does not reach these names.
# Ufuncs and ndarray methods are C objects that Python code cannot modify.
_isclose = math.isclose
_isnan_scalar = math.isnan
_np_abs = np.absolute
_np_isnan = np.isnan
_np_logical_and = np.logical_and
_np_logical_or = np.logical_or
_np_equal = np.equal
_np_less_equal = np.less_equal
_ndarray = np.ndarray
_MISSING = object()
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


# --------------------------------------------------------------------------- #
# Cases and results
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Case:
    """One input for a check and the answer it must give.

    Parameters
    ----------
    args : tuple
        Positional arguments passed to the student's function (deep-copied per
        call, so a function that modifies its input cannot spoil later cases).
    kwargs : dict
        Keyword arguments.
    expected : Any
        The correct return value (required unless ``raises`` is given).
    hint : str
        Shown to the student when this case fails.
    name : str
        Short description of the case (e.g. "large logits").
    raises : type of Exception or None
        If given, the function must raise this exception type instead of returning.
    """

    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = _MISSING
    hint: str = ""
    name: str = ""
    raises: type[BaseException] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.args, tuple):
            raise TypeError(f"args must be a tuple, got {short_repr(self.args)}")
        if not isinstance(self.kwargs, Mapping):
            raise TypeError(f"kwargs must be a dict, got {short_repr(self.kwargs)}")
        if self.raises is not None and not (
            isinstance(self.raises, type) and issubclass(self.raises, BaseException)
        ):
            raise TypeError(f"raises must be an exception type or None, got {self.raises!r}")
        if self.expected is _MISSING and self.raises is None:
            raise TypeError("expected must be given (the correct return value), got nothing")
        if not isinstance(self.hint, str) or not isinstance(self.name, str):
            raise TypeError(f"hint and name must be str, got {self.hint!r} and {self.name!r}")


@dataclass
class CheckResult:
    """Outcome of ``run_check``; ``str(result)`` is the feedback that was printed.

    Attributes
    ----------
    name : str
        Name of the exercise.
    n_cases : int
        Number of cases.
    n_passed : int
        Number of cases that passed.
    attempted : bool
        False when the function still raises ``NotImplementedError``.
    failures : list of str
        One report per failing case.
    """

    name: str
    n_cases: int
    n_passed: int
    attempted: bool
    failures: list[str]

    @property
    def passed(self) -> bool:
        """True if the exercise was attempted and every case passed."""
        return self.attempted and self.n_passed == self.n_cases

    def __str__(self) -> str:
        if not self.attempted:
            return (
                f"✎ {self.name}: not attempted yet "
                "(the cell above still raises NotImplementedError)"
            )
        if self.passed:
            return f"✔ {self.name}: {self.n_passed}/{self.n_cases} cases passed"
        head = f"✘ {self.name}: {self.n_passed}/{self.n_cases} cases passed"
        return head + "\n" + self.failures[0]

    def __repr__(self) -> str:
        return (
            f"CheckResult(name={self.name!r}, n_passed={self.n_passed}, "
            f"n_cases={self.n_cases}, attempted={self.attempted})"
        )

    def _ipython_display_(self) -> None:
        # run_check already printed the feedback; showing the return value of
        # a check cell as well would print it twice.
        return None


class CheckFailed(AssertionError):
    """A visible check failed (or was not attempted when grading); its report was printed.

    IPython shows an exception's ``_render_traceback_()`` lines instead of its
    traceback: a student sees the report and one line, never the frames of
    coursekit's checks.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m✘ check failed:\x1b[0m {self}"]


def _grading() -> bool:
    """True in a grading or validation run: an unattempted exercise must not pass quietly."""
    return os.environ.get(GRADING_ENV) == "1" or bool(os.environ.get(NBGRADER_ENV))


# --------------------------------------------------------------------------- #
# Short, deterministic descriptions (nbval compares them)
# --------------------------------------------------------------------------- #
def short_repr(x: Any, limit: int = 80) -> str:
    """Describe ``x`` in one short, deterministic line (arrays by shape and dtype)."""
    if isinstance(x, np.ndarray):
        head = f"array(shape={x.shape}, dtype={x.dtype}"
        if x.size <= 6 and x.dtype != object:
            values = np.array2string(x, precision=6, separator=", ").replace("\n", "")
            return f"{head}, {values})"
        return head + ")"
    if isinstance(x, tuple | list) and not hasattr(x, "_fields"):
        inner = ", ".join(short_repr(v, limit) for v in x)
        text = f"({inner},)" if isinstance(x, tuple) and len(x) == 1 else None
        if text is None:
            text = f"({inner})" if isinstance(x, tuple) else f"[{inner}]"
    elif isinstance(x, dict):
        text = "{" + ", ".join(f"{k!r}: {short_repr(v, limit)}" for k, v in x.items()) + "}"
    elif type(x).__module__ == "torch" and hasattr(x, "shape"):
        text = f"tensor(shape={tuple(x.shape)}, dtype={x.dtype})"
    else:
        try:
            text = repr(x)
        except Exception as exc:  # a broken __repr__ must not hide the feedback
            text = f"<{type(x).__name__} whose repr raised {type(exc).__name__}>"
    text = _ADDRESS.sub("", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(x: Any) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


# --------------------------------------------------------------------------- #
# Lenient comparison for visible checks: explains what differs
# --------------------------------------------------------------------------- #
def _is_real_scalar(x: Any) -> bool:
    return isinstance(x, numbers.Real | np.number) and not isinstance(x, bool | np.bool_)


def _diff(got: Any, expected: Any, mode: str, rtol: float, atol: float, check_type: bool) -> str:
    """Return "" if ``got`` matches ``expected``, else a sentence saying what differs."""
    if type(expected).__module__ == "torch" and hasattr(expected, "detach"):
        # Tensors are compared as arrays (torch is never imported here).
        if type(got) is not type(expected):
            if check_type:
                return f"expected a torch.Tensor, got {_type_name(got)}"
        else:
            got = got.detach().cpu().numpy()
        return _diff(got, expected.detach().cpu().numpy(), mode, rtol, atol, check_type)
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            if check_type:
                return f"expected a numpy array, got {_type_name(got)}"
            got = np.asarray(got)
        if got.shape != expected.shape:
            return f"shape mismatch: expected shape {expected.shape}, got shape {got.shape}"
        if check_type and got.dtype.kind != expected.dtype.kind:
            return f"dtype mismatch: expected dtype {expected.dtype}, got dtype {got.dtype}"
        try:
            if expected.dtype.kind in "fc" and got.dtype.kind in "fciub":
                tol = (0.0, 0.0) if mode == "equal" else (rtol, atol)
                bad = ~np.isclose(got, expected, rtol=tol[0], atol=tol[1], equal_nan=True)
            else:
                bad = ~np.asarray(got == expected, dtype=bool)
        except TypeError:
            return f"cannot compare dtype {got.dtype} with dtype {expected.dtype}"
        if not bad.any():
            return ""
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return (
            f"{int(bad.sum())} of {bad.size} values differ; first at index {idx}: "
            f"expected {expected[idx].item()!r}, got {got[idx].item()!r}"
        )
    if isinstance(expected, bool | np.bool_):
        if check_type and not isinstance(got, bool | np.bool_):
            return f"expected a bool, got {_type_name(got)}"
        return "" if bool(got) == bool(expected) else "values differ"
    if _is_real_scalar(expected):
        if isinstance(got, np.ndarray) and got.ndim == 0:
            got = got.item()
        if isinstance(got, np.ndarray):
            return f"expected a scalar number, got an array of shape {got.shape}"
        if not _is_real_scalar(got):
            return f"expected a number, got {_type_name(got)}"
        if (
            check_type
            and isinstance(expected, numbers.Integral)
            and not isinstance(got, numbers.Integral)
        ):
            return f"expected an integer, got {_type_name(got)}"
        got_f, exp_f = float(got), float(expected)
        if mode == "equal":
            return "" if got_f == exp_f else "values differ"
        if math.isnan(exp_f) and math.isnan(got_f):
            return ""
        if math.isinf(exp_f):  # its tolerance would be infinite: only the same infinity passes
            return "" if got_f == exp_f else "values differ"
        close = abs(got_f - exp_f) <= atol + rtol * abs(exp_f)
        return "" if close else f"values differ by {abs(got_f - exp_f):.3g}"
    if isinstance(expected, tuple | list):
        if check_type and type(got) is not type(expected):
            return f"expected a {type(expected).__name__}, got {_type_name(got)}"
        if not isinstance(got, tuple | list):
            return f"expected a sequence, got {_type_name(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            why = _diff(g, e, mode, rtol, atol, check_type)
            if why:
                return f"item {i}: {why}"
        return ""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict, got {_type_name(got)}"
        missing = [k for k in expected if k not in got]
        if missing:
            return f"missing key {missing[0]!r}"
        extra = [k for k in got if k not in expected]
        if extra:
            return f"unexpected key {extra[0]!r}"
        for k in expected:
            why = _diff(got[k], expected[k], mode, rtol, atol, check_type)
            if why:
                return f"key {k!r}: {why}"
        return ""
    if check_type and type(got) is not type(expected):
        return f"expected a {_type_name(expected)}, got {_type_name(got)}"
    try:
        return "" if bool(expected == got) else "values differ"
    except Exception as exc:
        return f"comparing raised {type(exc).__name__}: {exc}"


def _case_label(index: int, case: Case) -> str:
    return f"case {index + 1}" + (f" ({case.name})" if case.name else "")


def _describe_input(case: Case) -> str:
    parts = [short_repr(a) for a in case.args]
    parts += [f"{k}={short_repr(v)}" for k, v in case.kwargs.items()]
    return ", ".join(parts)


def _report(index: int, case: Case, lines: list[tuple[str, str]]) -> str:
    rows = [f"  {_case_label(index, case)} failed", f"  input:    {_describe_input(case)}"]
    rows += [f"  {key + ':':<9} {value}" for key, value in lines]
    if case.hint:
        rows.append(f"  hint:     {case.hint}")
    return "\n".join(rows)


# --------------------------------------------------------------------------- #
# run_check
# --------------------------------------------------------------------------- #
def run_check(
    name: str,
    fn: Callable[..., Any],
    cases: Sequence[Case],
    compare: str | Callable[[Any, Any], bool] = "allclose",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    check_type: bool = True,
    forbid: Sequence[str] = (),
) -> CheckResult:
    """Run ``fn`` on every case, print feedback and raise if a case fails.

    Parameters
    ----------
    name : str
        Exercise name shown in the feedback.
    fn : callable
        The student's function.
    cases : sequence of Case
        Inputs and expected outputs.
    compare : {"allclose", "equal"} or callable
        "allclose": numbers and arrays within ``atol + rtol * |expected|``;
        "equal": exact equality; or a callable ``compare(got, expected) -> bool``
        that may instead raise ``AssertionError("what differs")``, shown as the problem.
        Arrays and torch tensors must match in shape (no broadcasting).
    rtol, atol : float
        Tolerances for "allclose".
    check_type : bool
        Require the same kind of result: array vs list, integer vs float dtype
        (the dtype kind, so float32 passes where float64 is expected).
    forbid : sequence of str
        Modules the exercise must be solved without (``coursekit grade`` hides
        them): a case whose call reaches one of their functions directly fails.

    Returns
    -------
    CheckResult
        Also printed. Not attempted: printed, returned (raises when grading).

    Raises
    ------
    CheckFailed
        (an ``AssertionError``) If a case fails, or if ``fn`` is not attempted
        during a grading or nbgrader validation run.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {short_repr(fn)} ({_type_name(fn)})")
    if isinstance(cases, Case) or not isinstance(cases, Sequence) or len(cases) == 0:
        raise TypeError(f"cases must be a non-empty list of Case, got {short_repr(cases)}")
    for i, case in enumerate(cases):
        if not isinstance(case, Case):
            raise TypeError(f"cases[{i}] must be a Case, got {short_repr(case)}")
    if not callable(compare) and compare not in ("allclose", "equal"):
        raise ValueError(f"compare must be 'allclose', 'equal' or a callable, got {compare!r}")
    rtol = check_positive(rtol, "rtol", allow_zero=True)
    atol = check_positive(atol, "atol", allow_zero=True)
    check_bool(check_type, "check_type")

    collecting = _COLLECTING.get()
    if collecting is not None:
        collecting.append(
            Collected(name, fn, list(cases), compare, rtol, atol, check_type, tuple(forbid))
        )
        return CheckResult(name, len(cases), 0, attempted=False, failures=[])

    failures: list[str] = []
    n_passed = 0
    watched = _module_files(forbid)
    for index, case in enumerate(cases):
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(dict(case.kwargs))
        used: list[str] = []
        # The student's warnings (overflow in exp, ...) are caught, not printed
        # between the report and the notebook: a failing case's report names the first.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with _watching(watched, used):
                    got = fn(*args, **kwargs)
            except NotImplementedError:
                result = CheckResult(name, len(cases), 0, attempted=False, failures=[])
                print(result)
                if _grading():
                    raise CheckFailed(f"{name}: not attempted") from None
                return result
            except Exception as exc:
                if case.raises is not None and isinstance(exc, case.raises):
                    n_passed += 1
                else:
                    want = f"raise {case.raises.__name__}" if case.raises else "return a value"
                    lines = [("expected", want), ("raised", _exc_line(exc))]
                    failures.append(_report(index, case, lines + _warning_line(caught)))
                continue
        if used:
            module = used[0].rsplit(".", 1)[0]
            failures.append(
                _report(
                    index,
                    case,
                    [
                        ("uses", used[0]),
                        (
                            "problem",
                            f"solve this exercise without {module}: it cannot be "
                            "imported when the exercise is graded",
                        ),
                    ],
                )
            )
            continue
        if case.raises is not None:
            failures.append(
                _report(
                    index,
                    case,
                    [("expected", f"raise {case.raises.__name__}"), ("got", short_repr(got))],
                )
            )
            continue
        why = _compare(got, case.expected, compare, rtol, atol, check_type)
        if why:
            lines = [
                ("expected", short_repr(case.expected)),
                ("got", short_repr(got)),
                ("problem", why),
            ]
            failures.append(_report(index, case, lines + _warning_line(caught)))
        else:
            n_passed += 1

    result = CheckResult(name, len(cases), n_passed, attempted=True, failures=failures)
    print(result)
    if failures:
        first = failures[0].splitlines()[0].strip()
        raise CheckFailed(f"{name}: {first} (see the report above)")
    return result


def _warning_line(caught: list[warnings.WarningMessage]) -> list[tuple[str, str]]:
    """The report's "warning" line: the first warning the student's code gave, if any."""
    if not caught:
        return []
    first = caught[0]
    text = f"{first.category.__name__}: {_ADDRESS.sub('', str(first.message))}"
    more = f" (and {len(caught) - 1} more)" if len(caught) > 1 else ""
    return [("warning", text + more)]


def _module_files(names: Sequence[str]) -> dict[str, str]:
    """Source file -> module name, for the forbidden modules that exist."""
    import importlib.util

    files = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            files[spec.origin] = name
    return files


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def _watching(files: Mapping[str, str], used: list[str]):
    """Record calls into ``files`` made directly from code outside coursekit (the student's).

    A profile hook, so it sees a function however it was imported or renamed;
    calls from coursekit's own code (a check's reference) do not count.
    """
    if not files:
        yield
        return

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename in files and not used:
            caller = frame.f_back.f_code.co_filename if frame.f_back else ""
            if not os.path.abspath(caller).startswith(_PACKAGE_DIR):
                used.append(f"{files[frame.f_code.co_filename]}.{frame.f_code.co_name}")

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)


@dataclass(frozen=True)
class Collected:
    """What a visible check would run: its cases and how it compares (see ``collect_cases``)."""

    name: str
    fn: Callable[..., Any]
    cases: list[Case]
    compare: str | Callable[[Any, Any], bool]
    rtol: float
    atol: float
    check_type: bool
    forbid: tuple[str, ...] = ()

    def verdict(self, index: int, got: Any) -> str:
        """Return "" if ``got`` passes case ``index``, else the report the student would see."""
        case = self.cases[index]
        if case.raises is not None:  # a value where an exception was due: as run_check says it
            return _report(
                index,
                case,
                [("expected", f"raise {case.raises.__name__}"), ("got", short_repr(got))],
            )
        why = _compare(got, case.expected, self.compare, self.rtol, self.atol, self.check_type)
        if not why:
            return ""
        lines = [
            ("expected", short_repr(case.expected)),
            ("got", short_repr(got)),
            ("problem", why),
        ]
        return _report(index, case, lines)

    def raised(self, index: int, error: str) -> str:
        """Return "" if raising ``error`` ("Type: message") passes case ``index``, else the report."""
        case = self.cases[index]
        if case.raises is not None and error.split(":")[0] == case.raises.__name__:
            return ""
        want = f"raise {case.raises.__name__}" if case.raises else "return a value"
        return _report(index, case, [("expected", want), ("raised", error)])


_COLLECTING: contextvars.ContextVar[list[Collected] | None] = contextvars.ContextVar(
    "coursekit_collecting", default=None
)


def collect_cases(check: Callable[[Any], Any], obj: Any = None) -> Collected:
    """Return the cases ``check(obj)`` would run, without running any of them.

    The grader uses this to call a student's function on exactly the inputs of
    the visible check, outside the student's process, and to judge the answers
    with the check's own comparison.
    """
    token = _COLLECTING.set([])
    try:
        check(obj if obj is not None else _placeholder)
        collected = _COLLECTING.get()
    finally:
        _COLLECTING.reset(token)
    if not collected or len(collected) != 1:
        raise ValueError(f"check must call run_check once, got {len(collected or [])} calls")
    return collected[0]


def _placeholder(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError


def _exc_line(exc: BaseException) -> str:
    msg = _ADDRESS.sub("", str(exc))
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _compare(
    got: Any, expected: Any, compare: Any, rtol: float, atol: float, check_type: bool
) -> str:
    if callable(compare):
        try:
            ok = compare(got, expected)
        except AssertionError as exc:
            return str(exc) or "the comparison failed"
        except Exception as exc:
            return f"comparing raised {_exc_line(exc)}"
        return "" if ok is True or ok is np.True_ else "the comparison failed"
    return _diff(got, expected, compare, rtol, atol, check_type)


# --------------------------------------------------------------------------- #
# strict: for hidden tests
# --------------------------------------------------------------------------- #
# Exact types whose comparison we trust; a subclass (which could override
# __eq__) is never in this set, so membership is tested with ``type(x) in``.
_FLOAT_TYPES = frozenset({float, np.float16, np.float32, np.float64, np.longdouble})
_INT_TYPES = frozenset(
    {int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64}
)
_BOOL_TYPES = frozenset({bool, np.bool_})
_EXACT_TYPES = frozenset({str, bytes, type(None), complex, np.complex64, np.complex128})


def _category(t: type) -> str | None:
    if t in _FLOAT_TYPES:
        return "float"
    if t in _INT_TYPES:
        return "int"
    if t in _BOOL_TYPES:
        return "bool"
    return None


def _fail(path: str, message: str) -> None:
    where = f" at {path}" if path else ""
    raise AssertionError(f"strict check failed{where}: {message}")


def _strict(got: Any, expected: Any, rtol: float, atol: float, close: bool, path: str) -> None:
    tg, te = type(got), type(expected)
    cat = _category(te)
    if cat is not None:
        # float vs numpy float64 (both trusted C types) is not a student trick.
        if _category(tg) != cat:
            _fail(path, f"expected type {te.__name__}, got type {_type_name(got)}")
        if cat == "float":
            g, e = float(got), float(expected)
            if _isnan_scalar(e) or _isnan_scalar(g):
                if not (_isnan_scalar(e) and _isnan_scalar(g)):
                    _fail(path, f"expected {e!r}, got {g!r}")
                return
            ok = _isclose(g, e, rel_tol=rtol, abs_tol=atol) if close else g == e
            if not ok:
                _fail(path, f"expected {e!r}, got {g!r}")
        elif int(got) != int(expected):
            _fail(path, f"expected {int(expected)!r}, got {int(got)!r}")
        return
    if tg is not te:
        _fail(path, f"expected type {_type_name(expected)}, got type {_type_name(got)}")
    if te is _ndarray:
        _strict_array(got, expected, rtol, atol, close, path)
    elif te in _EXACT_TYPES:
        # Exact built-in types: their __eq__ is the C implementation.
        if not (got == expected):
            _fail(path, f"expected {short_repr(expected)}, got {short_repr(got)}")
    elif te is tuple or te is list:
        if len(got) != len(expected):
            _fail(path, f"expected {len(expected)} items, got {len(got)}")
        for i in range(len(expected)):
            _strict(got[i], expected[i], rtol, atol, close, f"{path}[{i}]")
    elif te is dict:
        if len(got) != len(expected):
            _fail(path, f"expected {len(expected)} keys, got {len(got)}")
        got_items = list(dict.items(got))
        for ek, ev in dict.items(expected):
            match = [gv for gk, gv in got_items if type(gk) is type(ek) and _same_key(gk, ek)]
            if not match:
                _fail(path, f"missing key {ek!r}")
            _strict(match[0], ev, rtol, atol, close, f"{path}[{ek!r}]")
    else:
        raise TypeError(
            f"expected must be a number, str, bytes, None, ndarray, tuple, list or dict, "
            f"got {_type_name(expected)}"
        )


def _same_key(a: Any, b: Any) -> bool:
    try:
        _strict(a, b, 0.0, 0.0, False, "")
    except (AssertionError, TypeError):
        return False
    return True


def _strict_array(
    got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, close: bool, path: str
) -> None:
    if got.dtype != expected.dtype:
        _fail(path, f"expected dtype {expected.dtype}, got dtype {got.dtype}")
    if got.shape != expected.shape:
        _fail(path, f"expected shape {expected.shape}, got shape {got.shape}")
    if expected.dtype == object:
        for i, (g, e) in enumerate(
            zip(got.ravel().tolist(), expected.ravel().tolist(), strict=True)
        ):
            _strict(g, e, rtol, atol, close, f"{path}.flat[{i}]")
        return
    if close and expected.dtype.kind in "fc":
        diff = _np_abs(got - expected)
        ok = _np_less_equal(diff, atol + rtol * _np_abs(expected))
        ok = _np_logical_or(ok, _np_logical_and(_np_isnan(got), _np_isnan(expected)))
    else:
        ok = _np_equal(got, expected)
        if expected.dtype.kind in "fc":
            ok = _np_logical_or(ok, _np_logical_and(_np_isnan(got), _np_isnan(expected)))
    if not bool(_ndarray.all(ok)):
        n_bad = int(ok.size - _ndarray.sum(ok))
        _fail(path, f"{n_bad} of {ok.size} values differ")


class _Strict:
    """Tamper-resistant comparisons for hidden tests (exposed as ``strict``)."""

    __slots__ = ()

    @staticmethod
    def check_equal(got: Any, expected: Any) -> None:
        """Raise ``AssertionError`` unless ``got`` equals ``expected`` exactly.

        Types must match exactly (a Python float and a NumPy float64 count as
        the same kind; subclasses never do); arrays need the same dtype and
        shape. Containers (tuple, list, dict) are compared item by item.
        """
        _strict(got, expected, 0.0, 0.0, close=False, path="")

    @staticmethod
    def check_close(got: Any, expected: Any, rtol: float = 1e-7, atol: float = 1e-9) -> None:
        """Like ``check_equal`` but floats may differ by ``atol + rtol * |expected|``.

        Scalars use ``math.isclose`` (captured at import); arrays use
        ``|got - expected| <= atol + rtol * |expected|`` element-wise. NaN
        matches only NaN.
        """
        rtol = check_positive(rtol, "rtol", allow_zero=True)
        atol = check_positive(atol, "atol", allow_zero=True)
        _strict(got, expected, rtol, atol, close=True, path="")

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("strict checks cannot be replaced")


strict = _Strict()
