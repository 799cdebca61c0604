"""Unit tests of the grader's exercise specs and strict comparison (coursekit.grading.spec).

Fast: the functions themselves, no sandbox, no notebook, no subprocess.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import types
import warnings

import numpy as np
import pytest
import torch

from coursekit.checks.framework import Case, run_check
from coursekit.grading.spec import (
    Call,
    Exercise,
    Verdict,
    _bf16,
    _kind,
    check_exercises,
    hidden_rng,
    mismatch,
)


# --------------------------------------------------------------------------- #
# _kind
# --------------------------------------------------------------------------- #
class MyInt(int):
    """An int subclass from outside NumPy: its __eq__ could be anything."""


class MyFloat(float):
    """A float subclass from outside NumPy."""


class Tensor:
    """Named like torch's tensor, but not from torch."""


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "bool"),
        (False, "bool"),
        (np.bool_(True), "bool"),
        (0, "int"),
        (-3, "int"),
        (np.int8(1), "int"),
        (np.int64(1), "int"),
        (np.uint16(1), "int"),
        (1.5, "float"),
        (np.float16(1), "float"),
        (np.float32(1), "float"),
        (np.float64(1), "float"),
        (torch.zeros(2), "tensor"),
        (torch.zeros(2, dtype=torch.bfloat16), "tensor"),
        (torch.nn.Parameter(torch.zeros(1)), "Parameter"),  # module torch.nn.parameter
        (np.zeros(2), "ndarray"),
        ("a", "str"),
        (None, "NoneType"),
        ((), "tuple"),
        ([], "list"),
        ({}, "dict"),
        (1j, "complex"),
        (np.complex128(1), "complex128"),
        (torch.float32, "dtype"),
        (MyInt(1), "MyInt"),
        (MyFloat(1.0), "MyFloat"),
        (Tensor(), "Tensor"),
        (object(), "object"),
    ],
)
def test_kind(value, kind):
    assert _kind(value) == kind


def test_kind_of_a_numpy_dtype_is_its_class_name():
    assert _kind(np.dtype("float64")) == type(np.dtype("float64")).__name__ != "dtype"


def test_bf16_is_torchs_bfloat16():
    assert _bf16() is torch.bfloat16


# --------------------------------------------------------------------------- #
# mismatch: types
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("got", "expected"),
    [
        (True, 1),
        (1, True),
        (np.bool_(False), 0),
        (1, 1.0),
        (1.0, 1),
        (np.int64(1), 1.0),
        (np.float32(1), 1),
        (MyInt(1), 1),
        (1, MyInt(1)),
        (MyFloat(1.0), 1.0),
        ([1], (1,)),
        ((1,), [1]),
        (np.zeros(2), torch.zeros(2)),
        (torch.zeros(2), np.zeros(2)),
        ("1", 1),
        (None, 0),
        (1j, 1),  # a type mismatch is reported before the kind is refused
    ],
)
def test_mismatch_types(got, expected):
    assert mismatch(got, expected, 1.0, 1.0) == "wrong type"
    assert mismatch(got, expected, 1.0, 1.0, "[2]") == "wrong type at [2]"


@pytest.mark.parametrize(
    ("got", "expected"),
    [
        (np.float32(2.0), 2.0),
        (2.0, np.float64(2.0)),
        (np.float16(0.5), np.float32(0.5)),
        (np.int64(3), 3),
        (3, np.uint8(3)),
        (np.bool_(True), True),
        (True, np.bool_(True)),
    ],
)
def test_numpy_scalars_are_the_python_kind(got, expected):
    assert mismatch(got, expected, 0.0, 0.0) == ""


# --------------------------------------------------------------------------- #
# mismatch: floats and tolerances
# --------------------------------------------------------------------------- #
def _above(x):
    return float(np.nextafter(x, math.inf))


def _below(x):
    return float(np.nextafter(x, -math.inf))


def test_float_scalars():
    assert mismatch(2.0, 2.0, 0.0, 0.0) == ""
    assert mismatch(2.0, 2.5, 0.0, 0.0) == "wrong value"
    assert mismatch(2.0, 2.5, 0.0, 0.0, "['b']") == "wrong value at ['b']"
    assert mismatch(-0.0, 0.0, 0.0, 0.0) == ""


def test_float_tolerance_is_atol_plus_rtol_times_expected_exactly_at_the_limit():
    # 4 +- (0.5 + 0.25 * 4): 1.5 either way, all exact in binary
    for got in (5.5, 2.5, 4.0):
        assert mismatch(got, 4.0, 0.25, 0.5) == ""
    assert mismatch(_above(5.5), 4.0, 0.25, 0.5) == "wrong value"
    assert mismatch(_below(2.5), 4.0, 0.25, 0.5) == "wrong value"
    # the relative part scales with |expected|, not with the answer
    assert mismatch(-5.5, -4.0, 0.25, 0.5) == ""
    assert mismatch(_below(-5.5), -4.0, 0.25, 0.5) == "wrong value"
    assert mismatch(5.0, 4.0, 0.25, 0.0) == ""
    assert mismatch(_above(5.0), 4.0, 0.25, 0.0) == "wrong value"
    assert mismatch(3.0, 4.0, 0.25, 0.0) == ""
    assert mismatch(_below(3.0), 4.0, 0.25, 0.0) == "wrong value"
    # the absolute part alone
    assert mismatch(4.5, 4.0, 0.0, 0.5) == ""
    assert mismatch(_above(4.5), 4.0, 0.0, 0.5) == "wrong value"
    assert mismatch(0.5, 0.0, 0.0, 0.5) == ""
    assert mismatch(_above(0.5), 0.0, 0.0, 0.5) == "wrong value"
    # numpy scalars are compared as Python floats
    assert mismatch(np.float32(5.5), np.float64(4.0), 0.25, 0.5) == ""


def test_float_nan_matches_only_nan():
    nan = math.nan
    assert mismatch(nan, nan, 0.0, 0.0) == ""
    assert mismatch(np.float32("nan"), nan, 0.0, 0.0) == ""
    assert mismatch(1.0, nan, 1e9, 1e9) == "wrong value"
    assert mismatch(nan, 1.0, 1e9, 1e9) == "wrong value"
    assert mismatch(nan, 1.0, 1e9, 1e9, "[0]") == "wrong value at [0]"


def test_float_infinity_matches_only_the_same_infinity():
    inf = math.inf
    assert mismatch(inf, inf, 0.0, 0.0) == ""
    assert mismatch(-inf, -inf, 1e-9, 1e-12) == ""
    # An infinite expected value has an infinite relative tolerance: without the
    # check, any finite answer and even the opposite infinity passed (rtol > 0).
    assert mismatch(1.0, inf, 1e-9, 1e-12) == "wrong value"
    assert mismatch(-inf, inf, 1e-9, 1e-12) == "wrong value"
    assert mismatch(inf, -inf, 1e-9, 1e-12, "[1]") == "wrong value at [1]"
    assert mismatch(inf, 1.0, 1e-9, 1e9) == "wrong value"
    assert mismatch(1e308, inf, 0.5, 1e308) == "wrong value"


@pytest.mark.parametrize(
    ("got", "expected", "why"),
    [
        (3, 3, ""),
        (3, 4, "wrong value"),
        (np.int32(4), 3, "wrong value"),
        (True, True, ""),
        (True, False, "wrong value"),
        (np.bool_(False), True, "wrong value"),
        ("abc", "abc", ""),
        ("abc", "abd", "wrong value"),
        (None, None, ""),
        (torch.float32, torch.float32, ""),
        (torch.float32, torch.float64, "wrong value"),
    ],
)
def test_exact_kinds_ignore_the_tolerances(got, expected, why):
    assert mismatch(got, expected, 10.0, 10.0) == why
    assert mismatch(got, expected, 10.0, 10.0, "[0]") == (why and f"{why} at [0]")


# --------------------------------------------------------------------------- #
# mismatch: arrays and tensors
# --------------------------------------------------------------------------- #
def test_arrays_dtype_shape_values():
    a = np.arange(6.0).reshape(2, 3)
    assert mismatch(a.copy(), a, 0.0, 0.0) == ""
    assert mismatch(a.astype(np.float32), a, 1.0, 1.0) == "wrong dtype"
    assert mismatch(a, a.astype(np.float32), 1.0, 1.0, "[0]") == "wrong dtype at [0]"
    assert mismatch(a.T.copy(), a, 1.0, 1.0) == "wrong shape"
    assert mismatch(a.ravel(), a, 1.0, 1.0, "['W']") == "wrong shape at ['W']"
    b = a.copy()
    b[1, 2] += 0.5
    assert mismatch(b, a, 0.0, 0.0) == "wrong values"
    assert mismatch(b, a, 0.0, 0.0, "[3]") == "wrong values at [3]"
    assert mismatch(b, a, 0.0, 0.5) == ""
    assert mismatch(np.zeros((0, 3)), np.zeros((0, 3)), 0.0, 0.0) == ""


def test_array_tolerance_exactly_at_the_limit():
    e = np.array([4.0, -4.0, 0.0])
    assert mismatch(np.array([5.5, -2.5, 0.5]), e, 0.25, 0.5) == ""
    assert mismatch(np.array([2.5, -5.5, -0.5]), e, 0.25, 0.5) == ""
    assert mismatch(np.array([_above(5.5), -4.0, 0.0]), e, 0.25, 0.5) == "wrong values"
    assert mismatch(np.array([4.0, _below(-5.5), 0.0]), e, 0.25, 0.5) == "wrong values"
    assert mismatch(np.array([4.0, -4.0, _above(0.5)]), e, 0.25, 0.5) == "wrong values"
    assert mismatch(np.array([5.0, -3.0, 0.0]), e, 0.25, 0.0) == ""
    assert mismatch(np.array([_above(5.0), -4.0, 0.0]), e, 0.25, 0.0) == "wrong values"
    assert mismatch(np.array([4.5, -3.5, 0.5]), e, 0.0, 0.5) == ""
    assert mismatch(np.array([4.0, _above(-3.5), 0.0]), e, 0.0, 0.5) == "wrong values"
    f32 = e.astype(np.float32)
    assert mismatch(np.array([5.5, -2.5, 0.5], dtype=np.float32), f32, 0.25, 0.5) == ""


def test_array_nan_and_infinities():
    nan, inf = np.nan, np.inf
    e = np.array([nan, inf, -inf, 1.0])
    assert mismatch(e.copy(), e, 0.0, 0.0) == ""
    assert mismatch(e.copy(), e, 1e-9, 1e-12) == ""
    assert mismatch(np.array([0.0, inf, -inf, 1.0]), e, 1e9, 1e9) == "wrong values"
    assert mismatch(np.array([nan, inf, -inf, nan]), e, 1e9, 1e9) == "wrong values"
    # an infinity is matched only by itself, whatever the tolerances
    assert mismatch(np.array([nan, 1e300, -inf, 1.0]), e, 1e-9, 1e-12) == "wrong values"
    assert mismatch(np.array([nan, -inf, -inf, 1.0]), e, 1e-9, 1e-12) == "wrong values"
    assert mismatch(np.array([nan, inf, inf, 1.0]), e, 0.5, 1e300) == "wrong values"
    assert mismatch(np.array([inf]), np.array([1.0]), 0.5, 1e300) == "wrong values"


def test_equal_infinities_give_no_warning():
    e = np.array([np.inf, -np.inf, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mismatch(e.copy(), e, 1e-9, 1e-12) == ""
        assert mismatch(e.astype(complex), e.astype(complex), 1e-9, 1e-12) == ""


def test_complex_arrays():
    e = np.array([3 + 4j, 1 - 1j])
    assert mismatch(e.copy(), e, 0.0, 0.0) == ""
    assert mismatch(np.array([3 + 4.5j, 1 - 1j]), e, 0.0, 0.0) == "wrong values"
    # |got - expected| <= atol + rtol * |expected| with complex moduli: |3+4j| = 5
    assert mismatch(np.array([3.6 + 4.8j, 1 - 1j]), e, 0.2, 0.0) == ""
    assert mismatch(np.array([3.5 + 4j, 1 - 1j]), e, 0.0, 0.5) == ""
    assert mismatch(np.array([3.5 + 4j, 1 - 1j]), e, 0.0, 0.25) == "wrong values"
    assert mismatch(e.astype(np.complex64), e, 1.0, 1.0) == "wrong dtype"
    n = np.array([complex(np.nan, 0.0)])
    assert mismatch(n.copy(), n, 0.0, 0.0) == ""
    assert mismatch(np.array([1 + 0j]), n, 1.0, 1.0) == "wrong values"


def test_int_and_bool_arrays_are_compared_exactly():
    e = np.array([4, -4, 0])
    assert mismatch(np.array([4, -4, 0]), e, 0.0, 0.0) == ""
    assert mismatch(np.array([5, -4, 0]), e, 10.0, 10.0) == "wrong values"
    assert mismatch(np.array([4, -4, 0], dtype=np.int32), e, 0.0, 0.0) == "wrong dtype"
    assert mismatch(e.astype(np.uint8), e.astype(np.uint8), 0.0, 0.0) == ""
    b = np.array([True, False])
    assert mismatch(b.copy(), b, 0.0, 0.0) == ""
    assert mismatch(~b, b, 10.0, 10.0) == "wrong values"


def test_tensors():
    t = torch.arange(6.0, dtype=torch.float64).reshape(2, 3)
    assert mismatch(t.clone(), t, 0.0, 0.0) == ""
    assert mismatch(t.float(), t, 1.0, 1.0) == "wrong dtype"
    assert mismatch(t.float(), t, 1.0, 1.0, "[1]") == "wrong dtype at [1]"
    assert mismatch(t.T.contiguous(), t, 1.0, 1.0) == "wrong shape"
    assert mismatch(t + 0.5, t, 0.0, 0.0, "['b']") == "wrong values at ['b']"
    assert mismatch(t + 0.5, t, 0.0, 0.5) == ""
    assert mismatch(t + 1.5, t, 0.25, 0.5) == "wrong values"  # 0 +- 0.5 fails first
    i = torch.tensor([1, 2])
    assert mismatch(i.clone(), i, 0.0, 0.0) == ""
    assert mismatch(i + 1, i, 10.0, 10.0) == "wrong values"
    assert mismatch(i.int(), i, 0.0, 0.0) == "wrong dtype"


def test_tensors_that_need_grad_are_compared_by_value():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    assert mismatch(w, w.detach().clone(), 0.0, 0.0) == ""
    assert mismatch(w.detach() + 1, w, 0.0, 0.0) == "wrong values"


def test_bfloat16_tensors():
    b = torch.tensor([1.0, 2.5, -3.0], dtype=torch.bfloat16)
    assert mismatch(b.clone(), b, 0.0, 0.0) == ""
    assert mismatch(b + 1, b, 0.0, 0.0) == "wrong values"
    assert mismatch(b + 1, b, 0.0, 1.0) == ""
    assert mismatch(b.float(), b, 1.0, 1.0) == "wrong dtype"
    assert mismatch(b, b.float(), 1.0, 1.0) == "wrong dtype"
    assert mismatch(b.half(), b, 1.0, 1.0) == "wrong dtype"
    assert mismatch(b.reshape(3, 1), b, 1.0, 1.0) == "wrong shape"
    # NumPy has no bfloat16: the values are compared as float32, even when they need grad
    g = b.clone().requires_grad_(True)
    assert mismatch(g, b, 0.0, 0.0) == ""
    assert mismatch(b, g, 0.0, 0.0) == ""
    assert mismatch(torch.tensor([math.nan], dtype=torch.bfloat16), b[:1], 1.0, 1.0) == (
        "wrong values"
    )


# --------------------------------------------------------------------------- #
# mismatch: containers
# --------------------------------------------------------------------------- #
def test_sequences():
    assert mismatch((), (), 0.0, 0.0) == ""
    assert mismatch([1, 2.0, "a"], [1, 2.0, "a"], 0.0, 0.0) == ""
    assert mismatch((1, 2), (1, 2, 3), 0.0, 0.0) == "wrong length"
    assert mismatch([1, 2, 3], [1, 2], 0.0, 0.0) == "wrong length"
    assert mismatch((1, [2, 3]), (1, [2]), 0.0, 0.0) == "wrong length at [1]"
    # the first differing item is named, with its path
    assert mismatch((1, 2.0), (2, 3.0), 0.0, 0.0) == "wrong value at [0]"
    assert mismatch((1, 2.0), (1, 3.0), 0.0, 0.0) == "wrong value at [1]"
    assert mismatch((1, (2, (3, 4))), (1, (2, (3, 5))), 0.0, 0.0) == "wrong value at [1][1][1]"
    assert mismatch([1, (2.0,)], [1, (2,)], 0.0, 0.0) == "wrong type at [1][0]"
    assert mismatch((1, 2), (1, 3), 0.0, 0.0, "['x']") == "wrong value at ['x'][1]"


def test_nested_paths_name_keys_and_indices():
    a = np.zeros(2)
    assert mismatch((1, {"W": a + 1}), (1, {"W": a}), 0.0, 0.0) == "wrong values at [1]['W']"
    assert mismatch((1, {"W": a[:1]}), (1, {"W": a}), 0.0, 0.0) == "wrong shape at [1]['W']"
    assert mismatch({"p": [1.0, {3: "a"}]}, {"p": [1.0, {3: "b"}]}, 0.0, 0.0) == (
        "wrong value at ['p'][1][3]"
    )


def test_tolerances_reach_the_items():
    assert mismatch((5.5, [np.array([4.5])]), (4.0, [np.array([4.0])]), 0.25, 0.5) == ""
    assert mismatch({"a": 5.5, "b": (4.5,)}, {"a": 4.0, "b": (4.0,)}, 0.25, 0.5) == ""
    assert mismatch((4.0, _above(5.5)), (4.0, 4.0), 0.25, 0.5) == "wrong value at [1]"
    assert mismatch({"a": _above(4.5)}, {"a": 4.0}, 0.0, 0.5) == "wrong value at ['a']"
    assert mismatch([5.0], [4.0], 0.25, 0.0) == ""
    assert mismatch({"a": 5.0}, {"a": 4.0}, 0.25, 0.0) == ""


def test_dicts():
    assert mismatch({}, {}, 0.0, 0.0) == ""
    assert mismatch({"b": 1, "a": 2.0}, {"a": 2.0, "b": 1}, 0.0, 0.0) == ""  # order is free
    assert mismatch({"a": 1}, {"a": 1, "b": 2}, 0.0, 0.0) == "wrong keys"
    assert mismatch({"a": 1, "b": 2}, {"a": 1}, 0.0, 0.0) == "wrong keys"
    assert mismatch({"a": 1, "c": 2}, {"a": 1, "b": 2}, 0.0, 0.0) == "wrong keys"
    assert mismatch({1: 1}, {"1": 1}, 0.0, 0.0, "[0]") == "wrong keys at [0]"
    assert mismatch({"a": 1}, {"a": 2}, 0.0, 0.0) == "wrong value at ['a']"
    assert mismatch({1: 1}, {1: 2}, 0.0, 0.0) == "wrong value at [1]"
    assert mismatch({"a": 1}, {"a": 2}, 0.0, 0.0, "[3]") == "wrong value at [3]['a']"
    # the expected dict's order decides which differing key is named
    assert mismatch({"a": 1, "b": 2}, {"b": 3, "a": 4}, 0.0, 0.0) == "wrong value at ['b']"
    assert mismatch({"a": 1, "b": 2}, {"a": 1, "b": 3}, 0.0, 0.0) == "wrong value at ['b']"


def test_dict_items_are_looked_up_by_key():
    got = types.MappingProxyType({"a": 1})
    assert mismatch(dict(got), {"a": 1}, 0.0, 0.0) == ""
    assert mismatch({"a": 2.0, "b": 1}, {"b": 1, "a": 2.0}, 0.0, 0.0) == ""


@pytest.mark.parametrize(
    ("value", "kind"),
    [(1j, "complex"), (np.complex128(1), "complex128"), ({1, 2}, "set"), (object(), "object")],
)
def test_unsupported_kinds_are_refused(value, kind):
    message = f"expected must be a number, str, array, tensor or container, got {kind}"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        mismatch(value, value, 0.0, 0.0)
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        mismatch([value], [value], 0.0, 0.0)


# --------------------------------------------------------------------------- #
# hidden_rng
# --------------------------------------------------------------------------- #
def _sha_rng(secret: bytes, grade_id: str) -> np.random.Generator:
    digest = hashlib.sha256(secret + b"\x00" + grade_id.encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


@pytest.mark.parametrize(("secret", "grade_id"), [(b"k" * 32, "g"), (b"", ""), (b"s", "é-tests")])
def test_hidden_rng_is_seeded_by_sha256_of_secret_nul_grade_id(secret, grade_id):
    got = hidden_rng(secret, grade_id).integers(0, 2**62, size=8)
    assert got.tolist() == _sha_rng(secret, grade_id).integers(0, 2**62, size=8).tolist()
    assert isinstance(hidden_rng(secret, grade_id), np.random.Generator)


def test_hidden_rng_depends_on_both_secret_and_grade_id():
    def draw(secret, grade_id):
        return hidden_rng(secret, grade_id).integers(0, 2**62, size=4).tolist()

    assert draw(b"one", "g") == draw(b"one", "g")
    assert draw(b"one", "g") != draw(b"two", "g")
    assert draw(b"one", "g") != draw(b"one", "h")
    assert draw(b"ab", "c") != draw(b"a", "bc")  # the NUL keeps them apart


# --------------------------------------------------------------------------- #
# Exercise
# --------------------------------------------------------------------------- #
def _check_triple(fn):
    return run_check(
        "triple",
        fn,
        [
            Case(args=(1,), kwargs={"k": 2}, expected=6, name="with k"),
            Case(args=(0,), raises=ValueError),
            Case(args=(2,), kwargs=types.MappingProxyType({"k": 1}), expected=6),
        ],
    )


def _triple(x, k=1):
    if x == 0:
        raise ValueError("zero")
    return 3 * x * k


def _exercise(**kw):
    hidden = kw.pop("hidden", lambda rng: [Call((int(rng.integers(1, 100)),))])
    return Exercise("g", "triple", _check_triple, hidden, kw.pop("reference", _triple), **kw)


def test_call_verdict_and_exercise_defaults():
    assert Call() == Call((), {}, "call", False, "", False)
    assert Verdict("l", "", True) == Verdict(label="l", problem="", public=True)
    ex = _exercise()
    assert (ex.rtol, ex.atol, ex.exact) == (1e-9, 1e-12, False)
    assert (ex.public, ex.answer, ex.judge, ex.forbid) == (None, None, None, ())


def test_visible_collects_the_checks_cases():
    collected = _exercise().visible()
    assert collected.name == "triple"
    assert [(c.args, dict(c.kwargs)) for c in collected.cases] == [
        ((1,), {"k": 2}),
        ((0,), {}),
        ((2,), {"k": 1}),
    ]


def test_public_calls_default_to_the_cases_arguments():
    calls = _exercise().public_calls()
    assert calls == [
        Call((1,), {"k": 2}, public=True),
        Call((0,), {}, public=True),
        Call((2,), {"k": 1}, public=True),
    ]
    assert all(type(c.kwargs) is dict for c in calls)  # a plain dict, even from a Mapping
    assert all(c.public is True and c.driver == "call" and not c.after for c in calls)


def test_public_calls_with_a_custom_conversion_are_marked_public():
    seen = []

    def to_call(case):
        seen.append(case.args)
        return Call((case.args[0] * 10,), {"z": 1}, driver="d", after=True, label="x")

    calls = _exercise(public=to_call).public_calls()
    assert seen == [(1,), (0,), (2,)]
    assert calls == [
        Call((10,), {"z": 1}, "d", True, "x", True),
        Call((0,), {"z": 1}, "d", True, "x", True),
        Call((20,), {"z": 1}, "d", True, "x", True),
    ]


def test_hidden_calls_are_drawn_from_the_secrets_generator():
    seen = []

    def hidden(rng):
        seen.append(rng)
        return [Call((int(rng.integers(10**9)),), label="a"), Call((5,), label="b")]

    ex = _exercise(hidden=hidden)
    calls = ex.hidden_calls(b"secret")
    assert isinstance(seen[0], np.random.Generator)
    want = int(hidden_rng(b"secret", "g").integers(10**9))
    assert calls == [Call((want,), label="a"), Call((5,), label="b")]
    assert ex.hidden_calls(b"secret") == calls
    assert ex.hidden_calls(b"other") != calls
    other_id = dataclasses.replace(ex, grade_id="h")
    assert other_id.hidden_calls(b"secret")[0].args == (
        int(hidden_rng(b"secret", "h").integers(10**9)),
    )


@pytest.mark.parametrize(
    "drawn",
    [[], (), None, [Call(), (1,)], [(1,), Call()], ["x"], [Call(), dict(args=())]],
)
def test_hidden_calls_must_be_a_non_empty_list_of_call(drawn):
    ex = _exercise(hidden=lambda rng: drawn)
    with pytest.raises(TypeError, match=r"^g: hidden\(\) must return a non-empty list of Call$"):
        ex.hidden_calls(b"k")


def test_hidden_calls_accept_a_single_call():
    assert _exercise(hidden=lambda rng: [Call(label="one")]).hidden_calls(b"k") == [
        Call(label="one")
    ]


# judge_public: the visible check's own reports
REPORT_RAISED = (
    "  case 1 (with k) failed\n  input:    1, k=2\n  expected: return a value\n  raised:   {}"
)


def test_judge_public_passes_right_answers():
    ex = _exercise()
    collected = ex.visible()
    assert ex.judge_public(collected, 0, {"status": "ok", "value": 6}) == ""
    assert ex.judge_public(collected, 2, {"status": "ok", "value": 6}) == ""
    assert ex.judge_public(collected, 1, {"status": "error", "error": "ValueError: zero"}) == ""


def test_judge_public_reports_what_the_student_sees():
    ex = _exercise()
    collected = ex.visible()
    assert ex.judge_public(collected, 0, {"status": "ok", "value": 7}) == (
        "  case 1 (with k) failed\n  input:    1, k=2\n  expected: 6\n  got:      7\n"
        "  problem:  values differ by 1"
    )
    got = ex.judge_public(collected, 0, {"status": "error", "error": "KeyError: 'W'"})
    assert got == REPORT_RAISED.format("KeyError: 'W'")
    # not ok and no error: "no answer"
    assert ex.judge_public(collected, 0, {"status": "timeout"}) == REPORT_RAISED.format("no answer")
    assert ex.judge_public(collected, 1, {"error": "TypeError: x"}) == (
        "  case 2 failed\n  input:    0\n  expected: raise ValueError\n  raised:   TypeError: x"
    )
    assert ex.judge_public(collected, 1, {"status": "error", "error": 12}) == (
        "  case 2 failed\n  input:    0\n  expected: raise ValueError\n  raised:   12"
    )


def test_judge_public_pairs_the_value_with_the_arguments_after_the_call():
    seen = []

    def answer(got, call):
        seen.append((got, call))
        return got[0] + len(got[1])

    ex = _exercise(answer=answer)
    collected = ex.visible()
    call = Call((1,), label="c")
    assert (
        ex.judge_public(collected, 0, {"status": "ok", "value": 4, "after_value": [1, 2]}, call)
        == ""
    )
    assert seen == [((4, [1, 2]), call)]
    # without an answer function the pair itself is judged
    plain = _exercise()
    report = plain.judge_public(collected, 0, {"status": "ok", "value": 6, "after_value": [1]})
    assert report == collected.verdict(0, (6, [1])) != ""
    assert "got:      (6, [1])" in report


def test_judge_public_hands_the_value_and_call_to_answer():
    seen = []

    def answer(got, call):
        seen.append((got, call))
        return got * 2

    ex = _exercise(answer=answer)
    collected = ex.visible()
    assert ex.judge_public(collected, 0, {"status": "ok", "value": 3}) == ""
    assert seen == [(3, None)]  # no call given
    assert ex.judge_public(collected, 0, {"status": "ok", "value": 6}, Call(label="z")) != ""
    assert seen[1] == (6, Call(label="z"))


def test_judge_public_reports_an_answer_that_cannot_be_used():
    def answer(got, call):
        raise KeyError("W")

    ex = _exercise(answer=answer)
    got = ex.judge_public(ex.visible(), 0, {"status": "ok", "value": 6}, Call())
    assert got == REPORT_RAISED.format("KeyError: 'W'")

    def answer2(got, call):
        return got["x"]

    ex2 = _exercise(answer=answer2)
    got = ex2.judge_public(ex2.visible(), 0, {"status": "ok", "value": 6})
    assert got == REPORT_RAISED.format("TypeError: 'int' object is not subscriptable")


# judge_hidden: only the property that failed
@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"status": "error", "error": "ValueError: bad"}, "raised ValueError"),
        ({"status": "error", "error": "ValueError: a: b"}, "raised ValueError"),
        ({"status": "error", "error": "KeyboardInterrupt"}, "raised KeyboardInterrupt"),
        ({"status": "error", "error": "np.linalg.LinAlgError: x"}, "raised an exception"),
        ({"status": "error", "error": "timed out after 3 s"}, "raised an exception"),
        ({"status": "error", "error": ": no type"}, "raised an exception"),
        ({"status": "error", "error": ""}, "raised an exception"),
        ({"status": "error"}, "raised an exception"),
        ({"status": "timeout", "error": "MemoryError"}, "raised MemoryError"),
        ({"error": "OSError: gone"}, "raised OSError"),
        ({"status": "error", "error": 5}, "raised an exception"),
    ],
)
def test_judge_hidden_names_only_the_exceptions_type(record, problem):
    calls = []
    ex = _exercise(reference=lambda *a, **k: calls.append(a) or 3)
    assert ex.judge_hidden(Call((1,)), record) == problem
    assert calls == []  # the reference is not computed for a call that raised


def test_judge_hidden_compares_with_the_reference():
    ex = _exercise(exact=True)
    assert ex.judge_hidden(Call((2,), {"k": 5}), {"status": "ok", "value": 30}) == ""
    assert ex.judge_hidden(Call((2,), {"k": 5}), {"status": "ok", "value": 31}) == "wrong value"
    assert ex.judge_hidden(Call((2,)), {"status": "ok", "value": 6.0}) == "wrong type"
    # the arguments after the call are ignored unless the call asks for them
    assert ex.judge_hidden(Call((2,)), {"status": "ok", "value": 6, "after_value": (9,)}) == ""


def test_judge_hidden_with_the_arguments_after_the_call():
    ex = _exercise(reference=lambda x: (2 * x, (x,)), exact=True)
    call = Call((4,), after=True)
    assert ex.judge_hidden(call, {"status": "ok", "value": 8, "after_value": (4,)}) == ""
    assert ex.judge_hidden(call, {"status": "ok", "value": 8, "after_value": (5,)}) == (
        "wrong value at [1][0]"
    )
    assert ex.judge_hidden(call, {"status": "ok", "value": 9, "after_value": (4,)}) == (
        "wrong value at [0]"
    )
    # missing: None in its place
    assert ex.judge_hidden(call, {"status": "ok", "value": 8}) == "wrong type at [1]"
    loose = _exercise(reference=lambda x: (2 * x, None), exact=True)
    assert loose.judge_hidden(call, {"status": "ok", "value": 8}) == ""


def test_judge_hidden_hands_the_value_and_call_to_answer():
    seen = []

    def answer(got, call):
        seen.append((got, call))
        return got[0] * 10

    ex = _exercise(reference=lambda x: 30 * x, answer=answer, exact=True)
    call = Call((2,), after=True, label="l")
    assert ex.judge_hidden(call, {"status": "ok", "value": 6, "after_value": [2]}) == ""
    assert seen == [((6, [2]), call)]
    assert ex.judge_hidden(call, {"status": "ok", "value": 5, "after_value": [2]}) == "wrong value"


def test_judge_hidden_reports_an_answer_that_cannot_be_used():
    def answer(got, call):
        return got["W"]

    ex = _exercise(answer=answer)
    assert ex.judge_hidden(Call((1,)), {"status": "ok", "value": 3}) == (
        "the answer has the wrong structure"
    )
    assert ex.judge_hidden(Call((1,)), {"status": "ok", "value": {"W": 3}}) == ""


def test_judge_hidden_uses_a_custom_judge():
    seen = []

    def judge(got, expected, call):
        seen.append((got, expected, call))
        return "" if got == expected else "custom says no"

    ex = _exercise(judge=judge, answer=lambda got, call: got + 1, exact=True)
    call = Call((2,), {"k": 2}, label="j")
    assert ex.judge_hidden(call, {"status": "ok", "value": 11}) == ""
    assert ex.judge_hidden(call, {"status": "ok", "value": 12.0}) == "custom says no"
    assert seen == [(12, 12, call), (13.0, 12, call)]


def test_judge_hidden_tolerances():
    call = Call((4.0,))
    ref = {"reference": lambda x: x}
    # the defaults: rtol 1e-9, atol 1e-12
    ex = _exercise(**ref)
    assert ex.judge_hidden(call, {"status": "ok", "value": 4.0 + 3.9e-9}) == ""
    assert ex.judge_hidden(call, {"status": "ok", "value": 4.0 + 4.1e-9}) == "wrong value"
    zero = Call((0.0,))
    assert ex.judge_hidden(zero, {"status": "ok", "value": 1e-12}) == ""
    assert ex.judge_hidden(zero, {"status": "ok", "value": 2e-12}) == "wrong value"
    # each tolerance at its own limit
    both = _exercise(rtol=0.25, atol=0.5, **ref)
    assert both.judge_hidden(call, {"status": "ok", "value": 5.5}) == ""
    assert both.judge_hidden(call, {"status": "ok", "value": _above(5.5)}) == "wrong value"
    rel = _exercise(rtol=0.25, atol=0.0, **ref)
    assert rel.judge_hidden(call, {"status": "ok", "value": 5.0}) == ""
    assert rel.judge_hidden(call, {"status": "ok", "value": _above(5.0)}) == "wrong value"
    ab = _exercise(rtol=0.0, atol=0.5, **ref)
    assert ab.judge_hidden(call, {"status": "ok", "value": 4.5}) == ""
    assert ab.judge_hidden(call, {"status": "ok", "value": _above(4.5)}) == "wrong value"
    # exact: no tolerance at all, whatever rtol and atol say
    exact = _exercise(rtol=0.25, atol=0.5, exact=True, **ref)
    assert exact.judge_hidden(call, {"status": "ok", "value": 4.0}) == ""
    assert exact.judge_hidden(call, {"status": "ok", "value": _above(4.0)}) == "wrong value"
    assert exact.judge_hidden(zero, {"status": "ok", "value": 5e-324}) == "wrong value"


# --------------------------------------------------------------------------- #
# check_exercises
# --------------------------------------------------------------------------- #
def test_check_exercises_indexes_by_grade_id():
    a, b = _exercise(), dataclasses.replace(_exercise(), grade_id="h")
    assert check_exercises([]) == {}
    got = check_exercises([b, a])
    assert got == {"h": b, "g": a} and list(got) == ["h", "g"]
    assert got["g"] is a and got["h"] is b


def test_check_exercises_refuses_a_grade_id_twice():
    a = _exercise()
    b = dataclasses.replace(a, target="other")
    with pytest.raises(ValueError, match=r"^grade_id 'g' is specified twice$"):
        check_exercises([a, dataclasses.replace(a, grade_id="x"), b])
