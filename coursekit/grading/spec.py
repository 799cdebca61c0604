"""What the grader asks of each exercise, and how it judges the answers.

An :class:`Exercise` names the object a solution cell defines and lists two
kinds of :class:`Call`:

* **public** calls: exactly the cases of the notebook's visible check (the
  student has seen them), judged with that check's own comparison, so the
  feedback can show the same report the notebook shows;
* **hidden** calls: inputs drawn at grading time from a generator seeded by the
  instructor's secret and the exercise's ``grade_id``, judged strictly
  (exact types, dtypes, shapes; values within the tolerances). Their feedback
  names only the property that failed, never an input or an expected value.

The expected values are computed here, in the grader's process, by the
exercise's ``reference``; only the inputs travel into the sandbox and only
plain data comes back (:mod:`coursekit.grading.plaindata`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coursekit.checks.framework import Case, Collected, collect_cases

__all__ = ["Call", "Exercise", "Verdict", "hidden_rng", "mismatch"]


@dataclass(frozen=True)
class Call:
    """One call of the student's object inside the sandbox.

    Parameters
    ----------
    args, kwargs
        Inputs (plain data, or :class:`coursekit.grading.plaindata.Function`).
    driver : str
        How to call it (a key of :data:`coursekit.grading.drivers.DRIVERS`).
    after : bool
        Also send back the positional arguments as they are after the call
        (for exercises that must not modify, or must restore, their inputs):
        the value judged is then ``(result, args_after)``, ``args_after``
        being the tuple of positional arguments.
    label : str
        A short description without values, shown in the feedback.
    public : bool
        True for the calls made from the visible check's cases (set by
        :meth:`Exercise.public_calls`): ``answer`` and ``judge`` may treat them apart.
    """

    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    driver: str = "call"
    after: bool = False
    label: str = ""
    public: bool = False


@dataclass(frozen=True)
class Verdict:
    """The grader's judgement of one call: ``problem`` is "" when it passed."""

    label: str
    problem: str
    public: bool


@dataclass(frozen=True)
class Exercise:
    """How one graded exercise is tested.

    Parameters
    ----------
    grade_id : str
        ``grade_id`` of the exercise's graded test cell in the source notebook.
    target : str
        The name the solution cell defines (function or class).
    check : callable
        The visible check (``coursekit.checks.nbXX.check_*``); its cases are the public calls.
    hidden : callable (numpy Generator) -> list of Call
        Draws the hidden calls.
    reference : callable (*args, **kwargs) -> expected
        The right answer for a hidden call, computed in the grader's process.
    rtol, atol : float
        Tolerances of the hidden comparison.
    exact : bool
        Compare hidden answers exactly (integers, shapes, lists of ints).
    public : callable (Case) -> Call, optional
        Turns a visible case into a call (default: the case's own arguments).
    answer : callable (result, Call) -> value, optional
        Turns what came back into the value that is compared (default: unchanged);
        for example the outputs of a network built from returned weights.
    judge : callable (got, expected, Call) -> str, optional
        A custom hidden comparison returning "" or the property that failed.
    forbid : tuple of str
        Modules the exercise must not use; they are absent from the sandbox
        while the notebook's solutions are graded.
    """

    grade_id: str
    target: str
    check: Callable[[Any], Any]
    hidden: Callable[[np.random.Generator], list[Call]]
    reference: Callable[..., Any]
    rtol: float = 1e-9
    atol: float = 1e-12
    exact: bool = False
    public: Callable[[Case], Call] | None = None
    answer: Callable[[Any, Call], Any] | None = None
    judge: Callable[[Any, Any, Call], str] | None = None
    forbid: tuple[str, ...] = ()

    def visible(self) -> Collected:
        """The visible check's cases and comparison."""
        return collect_cases(self.check)

    def public_calls(self) -> list[Call]:
        """One call per case of the visible check, in order."""
        to_call = self.public or (lambda case: Call(case.args, dict(case.kwargs)))
        return [dataclasses.replace(to_call(case), public=True) for case in self.visible().cases]

    def hidden_calls(self, secret: bytes) -> list[Call]:
        """The hidden calls for this secret (the same secret always gives the same calls)."""
        calls = self.hidden(hidden_rng(secret, self.grade_id))
        if not calls or not all(isinstance(c, Call) for c in calls):
            raise TypeError(f"{self.grade_id}: hidden() must return a non-empty list of Call")
        return calls

    def judge_public(
        self, collected: Collected, index: int, record: Mapping, call: Call | None = None
    ) -> str:
        """Return "" if a public call's record passes its visible case, else the report."""
        if record.get("status") != "ok":
            return collected.raised(index, str(record.get("error", "no answer")))
        got = record["value"]
        if "after_value" in record:
            got = (got, record["after_value"])
        if self.answer is not None:
            try:
                got = self.answer(got, call)
            except Exception as exc:  # the answer could not be used (wrong keys, shapes ...)
                return collected.raised(index, f"{type(exc).__name__}: {exc}")
        return collected.verdict(index, got)

    def judge_hidden(self, call: Call, record: Mapping) -> str:
        """Return "" if a hidden call's record is right, else the property that failed."""
        if record.get("status") != "ok":
            error = str(record.get("error", ""))
            kind = error.split(":")[0] if error else "no answer"
            return f"raised {kind}" if kind.isidentifier() else "raised an exception"
        expected = self.reference(*call.args, **call.kwargs)
        got = record["value"]
        if call.after:
            got = (got, record.get("after_value"))
        if self.answer is not None:
            try:
                got = self.answer(got, call)
            except Exception:
                return "the answer has the wrong structure"
        if self.judge is not None:
            return self.judge(got, expected, call)
        return mismatch(
            got, expected, 0.0 if self.exact else self.rtol, 0.0 if self.exact else self.atol
        )


def hidden_rng(secret: bytes, grade_id: str) -> np.random.Generator:
    """A generator seeded by the instructor's secret and the exercise (SHA-256 of both)."""
    digest = hashlib.sha256(secret + b"\0" + grade_id.encode()).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


# --------------------------------------------------------------------------- #
# Strict comparison that reports only the property that failed
# --------------------------------------------------------------------------- #
_FLOATS = (float, np.floating)
_INTS = (int, np.integer)


def _kind(x: Any) -> str:
    t = type(x)
    if t is bool or t is np.bool_:
        return "bool"
    if isinstance(x, _INTS) and (t is int or t.__module__ == "numpy"):
        return "int"
    if isinstance(x, _FLOATS) and (t is float or t.__module__ == "numpy"):
        return "float"
    if t.__module__ == "torch" and t.__name__ == "Tensor":
        return "tensor"
    return t.__name__


def mismatch(got: Any, expected: Any, rtol: float, atol: float, path: str = "") -> str:
    """Return "" if ``got`` matches ``expected``, else which property differs (no values).

    Types must match (a Python float and a NumPy float count as the same kind);
    arrays and tensors need the same dtype and shape; containers are compared
    item by item. The answer reads like "wrong shape at [1]".
    """
    where = f" at {path}" if path else ""
    ke, kg = _kind(expected), _kind(got)
    if ke != kg:
        return f"wrong type{where}"
    if ke == "tensor":
        if got.dtype != expected.dtype:
            return f"wrong dtype{where}"
        got, expected, ke = _tensor_values(got), _tensor_values(expected), "ndarray"
    if ke == "ndarray":
        if got.dtype != expected.dtype:
            return f"wrong dtype{where}"
        if got.shape != expected.shape:
            return f"wrong shape{where}"
        if expected.dtype.kind in "fc":
            with np.errstate(invalid="ignore"):  # inf - inf is NaN, not a warning
                ok = np.abs(got - expected) <= atol + rtol * np.abs(expected)
            # an infinity (whose tolerance is infinite) is matched only by itself, below
            ok &= np.isfinite(expected)
            ok |= np.isnan(got) & np.isnan(expected)
            ok |= got == expected  # equal infinities
        else:
            ok = got == expected
        return "" if bool(np.all(ok)) else f"wrong values{where}"
    if ke == "float":
        g, e = float(got), float(expected)
        if math.isnan(e) or math.isnan(g):
            return "" if math.isnan(e) and math.isnan(g) else f"wrong value{where}"
        if math.isinf(e):  # its tolerance is infinite: only the same infinity matches
            return "" if g == e else f"wrong value{where}"
        return "" if abs(g - e) <= atol + rtol * abs(e) else f"wrong value{where}"
    if ke in ("int", "bool", "str", "NoneType", "dtype"):
        return "" if got == expected else f"wrong value{where}"
    if ke in ("tuple", "list"):
        if len(got) != len(expected):
            return f"wrong length{where}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            why = mismatch(g, e, rtol, atol, f"{path}[{i}]")
            if why:
                return why
        return ""
    if ke == "dict":
        if sorted(map(repr, got)) != sorted(map(repr, expected)):
            return f"wrong keys{where}"
        for k, e in expected.items():
            why = mismatch(got[k], e, rtol, atol, f"{path}[{k!r}]")
            if why:
                return why
        return ""
    raise TypeError(f"expected must be a number, str, array, tensor or container, got {ke}")


def _bf16() -> Any:
    import torch

    return torch.bfloat16


def _tensor_values(t: Any) -> np.ndarray:
    """A tensor's values as a NumPy array (bfloat16, which NumPy lacks, as float32)."""
    t = t.detach().cpu()
    return (t.float() if t.dtype == _bf16() else t).numpy()


def check_exercises(exercises: Sequence[Exercise]) -> dict[str, Exercise]:
    """Index exercises by grade_id, refusing duplicates."""
    out: dict[str, Exercise] = {}
    for ex in exercises:
        if ex.grade_id in out:
            raise ValueError(f"grade_id {ex.grade_id!r} is specified twice")
        out[ex.grade_id] = ex
    return out
