"""The exercise-check framework: student feedback (run_check) and strict hidden-test helpers."""

import math

import numpy as np
import pytest

from coursekit.checks import (
    GRADING_ENV,
    Case,
    CheckFailed,
    CheckResult,
    run_check,
    short_repr,
    strict,
)
from coursekit.checks.framework import NBGRADER_ENV


def mse_ref(a, b):
    return float(np.mean((a - b) ** 2))


def mse_cases():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=4), rng.normal(size=4)
    # Expected value in plain Python, independent of the NumPy reference.
    plain = sum((x - y) ** 2 for x, y in zip(a.tolist(), b.tolist(), strict=True)) / 4
    return [
        Case(args=(np.array([1.0, 2.0]), np.array([1.0, 4.0])), expected=2.0, hint="average"),
        Case(args=(a, b), expected=plain, name="random"),
        Case(args=(np.zeros(3), np.ones(3)), expected=1.0, hint="1 per element"),
    ]


@pytest.fixture(autouse=True)
def _not_grading(monkeypatch):
    monkeypatch.delenv(GRADING_ENV, raising=False)
    monkeypatch.delenv(NBGRADER_ENV, raising=False)


# --------------------------------------------------------------------------- #
# run_check
# --------------------------------------------------------------------------- #
def test_all_cases_pass_prints_one_line(capsys):
    result = run_check("mse", mse_ref, mse_cases())
    assert capsys.readouterr().out == "✔ mse: 3/3 cases passed\n"
    assert isinstance(result, CheckResult)
    assert result.passed and result.attempted
    assert (result.n_passed, result.n_cases, result.failures) == (3, 3, [])
    assert str(result) == "✔ mse: 3/3 cases passed"


def test_first_failing_case_is_reported_precisely(capsys):
    def wrong(a, b):  # forgets to square
        return float(np.mean(np.abs(a - b)))

    with pytest.raises(AssertionError, match=r"mse: case 1 failed"):
        run_check("mse", wrong, mse_cases())
    out = capsys.readouterr().out
    lines = out.splitlines()
    # Case 3 (zeros vs ones) passes by accident: 1 of 3 passed.
    assert lines[0] == "✘ mse: 1/3 cases passed"
    assert lines[1] == "  case 1 failed"
    assert "array(shape=(2,), dtype=float64, [1., 2.])" in lines[2]
    assert lines[3] == "  expected: 2.0"
    assert lines[4] == "  got:      1.0"
    assert "differ by 1" in lines[5]
    assert lines[6] == "  hint:     average"
    assert "case 2" not in out  # only the first failure is detailed


def test_shape_mismatch_is_called_out(capsys):
    def grad(x):
        return x.sum(axis=0)  # wrong shape: (3,) instead of (2, 3)

    case = Case(args=(np.ones((2, 3)),), expected=np.ones((2, 3)), name="ones")
    with pytest.raises(AssertionError, match=r"case 1 \(ones\) failed"):
        run_check("grad", grad, [case])
    out = capsys.readouterr().out
    assert "shape mismatch: expected shape (2, 3), got shape (3,)" in out


def test_scalar_expected_array_got_and_dtype_mismatch(capsys):
    with pytest.raises(AssertionError):
        run_check("mse", lambda a, b: np.array([2.0]), mse_cases()[:1])
    assert "expected a scalar number, got an array of shape (1,)" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        run_check(
            "argmax",
            lambda x: np.argmax(x, axis=1).astype(float),
            [Case(args=(np.eye(3),), expected=np.arange(3))],
        )
    assert "dtype mismatch: expected dtype int64, got dtype float64" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        run_check(
            "relu",
            lambda x: list(np.maximum(x, 0)),
            [Case(args=(np.ones(2),), expected=np.ones(2))],
        )
    assert "expected a numpy array, got list" in capsys.readouterr().out


def test_value_mismatch_reports_first_index(capsys):
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.copy()
    got[1, 2] = 7.0
    with pytest.raises(AssertionError):
        run_check("f", lambda: got, [Case(expected=expected)])
    assert "1 of 6 values differ; first at index (1, 2): expected 5.0, got 7.0" in (
        capsys.readouterr().out
    )


def test_exception_in_student_code_shows_type_and_message_only(capsys):
    def broken(a, b):
        return a @ np.ones((5, 5))

    with pytest.raises(AssertionError, match="case 1 failed"):
        run_check("mse", broken, mse_cases())
    out = capsys.readouterr().out
    assert "raised:   ValueError: matmul" in out
    assert "Traceback" not in out and "line " not in out


def test_not_attempted_prints_and_does_not_raise(capsys):
    def stub(a, b):
        # YOUR CODE HERE
        raise NotImplementedError()

    result = run_check("mse", stub, mse_cases())
    assert capsys.readouterr().out == (
        "✎ mse: not attempted yet (the cell above still raises NotImplementedError)\n"
    )
    assert not result.attempted and not result.passed


def test_not_attempted_raises_when_grading(capsys, monkeypatch):
    monkeypatch.setenv(GRADING_ENV, "1")

    def stub(a, b):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="mse: not attempted"):
        run_check("mse", stub, mse_cases())
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["validate", "autograde"])
def test_not_attempted_raises_under_nbgrader(capsys, monkeypatch, mode):
    # nbgrader's Validate must not call an unattempted notebook a success.
    monkeypatch.setenv(NBGRADER_ENV, mode)

    def stub(a, b):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="mse: not attempted"):
        run_check("mse", stub, mse_cases())
    assert "not attempted yet" in capsys.readouterr().out


def test_failure_is_a_check_failed_shown_in_one_line(capsys):
    def wrong(a, b):
        return 0.0

    with pytest.raises(CheckFailed) as info:
        run_check("mse", wrong, mse_cases())
    assert isinstance(info.value, AssertionError)  # nbgrader scores the cell 0
    # IPython shows these lines instead of a traceback.
    lines = info.value._render_traceback_()
    assert len(lines) == 1 and "check failed" in lines[0] and "mse: case 1" in lines[0]


def test_student_warnings_are_caught_and_named_in_the_report(capsys, recwarn):
    def overflowing(z):
        return np.exp(z) / np.exp(z).sum()

    cases = [Case(args=(np.array([1000.0, 1001.0]),), expected=np.array([0.25, 0.75]))]
    with pytest.raises(CheckFailed):
        run_check("softmax", overflowing, cases)
    out = capsys.readouterr().out
    assert "warning:  RuntimeWarning: overflow encountered in exp (and 2 more)" in out
    assert len(recwarn) == 0  # nothing printed after the report


def test_warnings_of_passing_cases_are_not_reported(capsys, recwarn):
    def noisy(z):
        with np.errstate(divide="warn"):
            np.log(np.zeros(1))
        return z

    run_check("identity", noisy, [Case(args=(1.0,), expected=1.0)])
    assert capsys.readouterr().out == "✔ identity: 1/1 cases passed\n"
    assert len(recwarn) == 0


def test_cases_are_deep_copied_so_in_place_changes_do_not_leak(capsys):
    x = np.array([-1.0, 2.0])

    def relu_in_place(v):
        v[v < 0] = 0.0
        return v

    cases = [Case(args=(x,), expected=np.array([0.0, 2.0]))] * 2
    run_check("relu", relu_in_place, cases)
    assert x.tolist() == [-1.0, 2.0]


def test_raises_cases_and_custom_compare(capsys):
    def safe_log(p):
        if p <= 0:
            raise ValueError("p must be > 0")
        return math.log(p)

    cases = [Case(args=(math.e,), expected=1.0), Case(args=(0.0,), raises=ValueError)]
    assert run_check("log", safe_log, cases).passed
    with pytest.raises(AssertionError):
        run_check("log", lambda p: math.log(abs(p)), [Case(args=(-2.0,), raises=ValueError)])
    assert "expected: raise ValueError" in capsys.readouterr().out

    is_int = lambda got, expected: isinstance(got, int)  # noqa: E731
    assert run_check("n", lambda: 760, [Case(expected=0)], compare=is_int).passed
    with pytest.raises(AssertionError):
        run_check("n", lambda: 760.0, [Case(expected=0)], compare=is_int)
    assert "the comparison failed" in capsys.readouterr().out


def test_equal_and_tolerances(capsys):
    close = lambda: 1.0 + 1e-12  # noqa: E731
    assert run_check("x", close, [Case(expected=1.0)]).passed
    with pytest.raises(AssertionError):
        run_check("x", close, [Case(expected=1.0)], compare="equal")
    with pytest.raises(AssertionError):
        run_check("x", lambda: 1.001, [Case(expected=1.0)], rtol=1e-4, atol=0.0)
    assert run_check("x", lambda: 1.001, [Case(expected=1.0)], rtol=1e-2).passed
    nested = lambda: (np.ones(2), {"w": 1.0})  # noqa: E731
    assert run_check("t", nested, [Case(expected=(np.ones(2), {"w": 1.0}))]).passed
    with pytest.raises(AssertionError):
        run_check("t", nested, [Case(expected=(np.ones(2), {"w": 2.0}))])
    assert "item 1: key 'w': values differ" in capsys.readouterr().out


def test_an_infinity_is_matched_only_by_itself(capsys):
    # its tolerance atol + rtol * |inf| would be infinite: any number would pass
    inf = math.inf
    assert run_check("x", lambda: inf, [Case(expected=inf)]).passed
    for wrong in (1.0, -inf, math.nan, 1e308):
        with pytest.raises(AssertionError):
            run_check("x", lambda w=wrong: w, [Case(expected=inf)])
        assert "  problem:  values differ\n" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        run_check("x", lambda: inf, [Case(expected=1e308)])  # and inf is not a large number
    capsys.readouterr()


def test_the_grader_reports_a_value_where_an_exception_was_due_as_the_check_does(capsys):
    from coursekit.checks.framework import collect_cases

    cases = [Case(args=(math.e,), expected=1.0), Case(args=(0.0,), raises=ValueError)]

    def check(f):
        return run_check("safe_log", f, cases)

    with pytest.raises(AssertionError):
        check(lambda p: math.log(p) if p > 0 else 0)
    shown = capsys.readouterr().out
    collected = collect_cases(check)
    report = collected.verdict(1, 0)
    assert report and report in shown  # the same report, word for word
    assert report.splitlines()[2:] == ["  expected: raise ValueError", "  got:      0"]
    assert collected.verdict(0, 1.0) == ""


class Opaque:
    pass


def test_torch_tensors_are_compared_as_arrays(capsys):
    torch = pytest.importorskip("torch")
    expected = torch.arange(6.0).reshape(2, 3)
    assert run_check("t", lambda: expected + 1e-12, [Case(expected=expected)]).passed
    with pytest.raises(AssertionError):
        run_check("t", lambda: expected.T, [Case(expected=expected)])
    assert "shape mismatch: expected shape (2, 3), got shape (3, 2)" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        run_check("t", lambda: expected.numpy(), [Case(expected=expected)])
    assert "expected a torch.Tensor, got numpy.ndarray" in capsys.readouterr().out
    assert short_repr(expected) == "tensor(shape=(2, 3), dtype=torch.float32)"


def test_custom_compare_may_explain_with_assertion(capsys):
    def same_list(got, expected):
        if len(got) != len(expected):
            raise AssertionError(f"expected {len(expected)} items, got {len(got)}")
        return got == expected

    with pytest.raises(AssertionError):
        run_check("l", lambda: [1, 2, 3], [Case(expected=[1, 2])], compare=same_list)
    assert "problem:  expected 2 items, got 3" in capsys.readouterr().out


def test_output_is_deterministic_without_addresses(capsys):
    with pytest.raises(AssertionError):
        run_check("obj", lambda: Opaque(), [Case(expected=1.0)])
    first = capsys.readouterr().out
    with pytest.raises(AssertionError):
        run_check("obj", lambda: Opaque(), [Case(expected=1.0)])
    assert capsys.readouterr().out == first
    assert "0x" not in short_repr(Opaque()) and "Opaque object" in short_repr(Opaque())
    assert short_repr(np.zeros((100, 100))) == "array(shape=(100, 100), dtype=float64)"
    assert len(short_repr("x" * 500)) == 80


def test_checkresult_is_not_displayed_twice():
    result = CheckResult("mse", 1, 1, True, [])
    assert result._ipython_display_() is None
    assert repr(result) == "CheckResult(name='mse', n_passed=1, n_cases=1, attempted=True)"


def test_argument_errors():
    with pytest.raises(TypeError, match=r"fn must be a function, got 3"):
        run_check("x", 3, [Case(expected=1)])
    with pytest.raises(TypeError, match=r"cases must be a non-empty list of Case, got \[\]"):
        run_check("x", abs, [])
    with pytest.raises(TypeError, match=r"cases\[1\] must be a Case, got 2"):
        run_check("x", abs, [Case(expected=1), 2])
    with pytest.raises(
        ValueError, match=r"compare must be 'allclose', 'equal' or a callable, got 'near'"
    ):
        run_check("x", abs, [Case(expected=1)], compare="near")
    with pytest.raises(ValueError, match=r"rtol must be a finite number >= 0, got -1.0"):
        run_check("x", abs, [Case(expected=1)], rtol=-1.0)
    with pytest.raises(TypeError, match=r"name must be a non-empty str, got ''"):
        run_check("", abs, [Case(expected=1)])
    with pytest.raises(TypeError, match=r"expected must be given"):
        Case(args=(1,))
    with pytest.raises(TypeError, match=r"args must be a tuple, got \[1\]"):
        Case(args=[1], expected=1)
    with pytest.raises(TypeError, match=r"raises must be an exception type or None, got 'oops'"):
        Case(raises="oops")


# --------------------------------------------------------------------------- #
# strict
# --------------------------------------------------------------------------- #
class AlwaysEqual(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class AlwaysEqualArray(np.ndarray):
    def __eq__(self, other):
        return True


def test_strict_accepts_correct_values():
    a = np.linspace(0, 1, 5)
    strict.check_equal(a.copy(), a)
    strict.check_close(a + 1e-12, a)
    strict.check_close(2.0, 2.0 + 1e-12)
    strict.check_close(np.float64(2.0), 2.0)  # trusted numeric types are interchangeable
    strict.check_equal(760, 760)
    strict.check_equal((np.ones(2), [1, "a"], {"k": None}), (np.ones(2), [1, "a"], {"k": None}))
    strict.check_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))


@pytest.mark.parametrize(
    ("got", "expected", "message"),
    [
        (AlwaysEqual(3.0), 2.0, "expected type float, got type .*AlwaysEqual"),
        (np.ones(3).view(AlwaysEqualArray), np.zeros(3), "expected type numpy.ndarray"),
        (np.ones(3, dtype=np.float32), np.ones(3), "expected dtype float64, got dtype float32"),
        (np.ones((3, 1)), np.ones(3), r"expected shape \(3,\), got shape \(3, 1\)"),
        (np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]), "1 of 3 values differ"),
        (760.0, 760, "expected type int, got type float"),
        (True, 1, "expected type int, got type bool"),
        ([1, 2], (1, 2), "expected type tuple, got type list"),
        ((1, 2, 3), (1, 2), "expected 2 items, got 3"),
        ({"a": 1.0}, {"b": 1.0}, "missing key 'b'"),
        ((1.0, 2.5), (1.0, 2.0), r"at \[1\]: expected 2.0, got 2.5"),
    ],
)
def test_strict_rejects(got, expected, message):
    with pytest.raises(AssertionError, match=message):
        strict.check_close(got, expected)


def test_strict_survives_monkeypatched_comparisons(monkeypatch):
    # What a student's solution cell could do before the hidden tests run.
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    monkeypatch.setattr(np, "isclose", lambda *a, **k: np.ones(1, dtype=bool))
    monkeypatch.setattr(math, "isclose", lambda *a, **k: True)
    with pytest.raises(AssertionError, match="1 of 2 values differ"):
        strict.check_close(np.array([1.0, 5.0]), np.array([1.0, 2.0]))
    with pytest.raises(AssertionError, match="expected 2.0, got 3.0"):
        strict.check_close(3.0, 2.0)
    with pytest.raises(AssertionError):
        strict.check_equal(np.array([1, 2]), np.array([1, 3]))


def test_strict_cannot_be_replaced_and_validates():
    with pytest.raises(AttributeError, match="cannot be replaced"):
        strict.check_close = lambda *a, **k: None
    with pytest.raises(TypeError, match="expected must be a number, str, bytes, None"):
        strict.check_equal(object(), object())
    with pytest.raises(ValueError, match=r"atol must be a finite number >= 0, got -1.0"):
        strict.check_close(1.0, 1.0, atol=-1.0)


def test_a_forbidden_module_fails_the_visible_check_however_it_is_imported(capsys):
    import coursekit.losses as sneaky
    from coursekit.checks import nb01

    def softmax_rows(z):
        return sneaky.softmax(z, axis=1)

    with pytest.raises(AssertionError, match="case 1"):
        nb01.check_softmax_rows(softmax_rows)
    out = capsys.readouterr().out
    assert "uses:     coursekit.losses.softmax" in out
    assert "solve this exercise without coursekit.losses" in out

    def mine(z):  # the same maths written out passes: only the module is forbidden
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert nb01.check_softmax_rows(mine).passed
