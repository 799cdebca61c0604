"""Unit tests of the plain data that crosses the sandbox wall (coursekit.grading.plaindata).

Fast: encode and decode themselves, no sandbox, no subprocess. A hostile submission
controls what ``decode`` reads, so every refusal is checked with its exact message,
and every limit exactly at it and one past it. torch is imported only by the tests
that need it.
"""

from __future__ import annotations

import base64
import math
import sys
import types

import numpy as np
import pytest

from coursekit.checks import inputs
from coursekit.grading import plaindata
from coursekit.grading.plaindata import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_ELEMENTS,
    DecodeError,
    Function,
    Opaque,
    decode,
    encode,
)

ALL_DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
TORCH_DTYPES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def refused(data, message: str) -> None:
    """decode(data) raises DecodeError with exactly this message."""
    with pytest.raises(DecodeError) as info:
        decode(data)
    assert str(info.value) == message


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def nest(n: int, leaf: dict, tag: str = "list") -> dict:
    """``leaf`` inside ``n`` encoded lists (or tuples): the leaf sits at depth ``n``."""
    for _ in range(n):
        leaf = {"t": tag, "v": [leaf]}
    return leaf


def same(a, b) -> bool:
    """Equal values of exactly the same types, all the way down (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            same(k1, k2) and same(a[k1], b[k2]) for k1, k2 in zip(a, b, strict=True)
        )
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (float, np.floating)):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return bool(a == b)


def test_the_limits():
    assert MAX_DEPTH == 32
    assert MAX_ELEMENTS == 20_000_000
    assert set(plaindata._DTYPES) == set(ALL_DTYPES)
    assert set(plaindata._TORCH_DTYPES) == set(TORCH_DTYPES)
    assert set(plaindata.__all__) == {
        "Opaque",
        "Function",
        "DecodeError",
        "encode",
        "decode",
        "FUNCTIONS",
        "MAX_DEPTH",
        "MAX_ELEMENTS",
    }
    assert issubclass(DecodeError, ValueError)


# --------------------------------------------------------------------------- #
# Exact encoded forms (the format both sides read)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, {"t": "none"}),
        (True, {"t": "bool", "v": True}),
        (False, {"t": "bool", "v": False}),
        (np.True_, {"t": "npbool", "v": True}),
        (np.False_, {"t": "npbool", "v": False}),
        (0, {"t": "int", "v": "0"}),
        (-7, {"t": "int", "v": "-7"}),
        (2**100, {"t": "int", "v": str(2**100)}),
        (1.5, {"t": "float", "v": 1.5}),
        (float("nan"), {"t": "float", "v": "nan"}),
        (float("inf"), {"t": "float", "v": "inf"}),
        (float("-inf"), {"t": "float", "v": "-inf"}),
        (np.int8(-3), {"t": "npint", "dtype": "int8", "v": "-3"}),
        (np.uint64(2**64 - 1), {"t": "npint", "dtype": "uint64", "v": str(2**64 - 1)}),
        (np.int64(5), {"t": "npint", "dtype": "int64", "v": "5"}),
        (np.float32(1.5), {"t": "npfloat", "dtype": "float32", "v": 1.5}),
        (np.float16(np.nan), {"t": "npfloat", "dtype": "float16", "v": "nan"}),
        (np.float64(-np.inf), {"t": "npfloat", "dtype": "float64", "v": "-inf"}),
        ("", {"t": "str", "v": ""}),
        ("é\0x", {"t": "str", "v": "é\0x"}),
        ((), {"t": "tuple", "v": []}),
        ([1, "a"], {"t": "list", "v": [{"t": "int", "v": "1"}, {"t": "str", "v": "a"}]}),
        ((None,), {"t": "tuple", "v": [{"t": "none"}]}),
        (
            {1: None, "k": [True]},
            {
                "t": "dict",
                "v": [
                    [{"t": "int", "v": "1"}, {"t": "none"}],
                    [{"t": "str", "v": "k"}, {"t": "list", "v": [{"t": "bool", "v": True}]}],
                ],
            },
        ),
        (
            np.array([1, 2], dtype="<i2"),
            {"t": "ndarray", "dtype": "int16", "shape": [2], "b64": b64(b"\x01\x00\x02\x00")},
        ),
        (
            np.array([[1.0], [2.0]], dtype=">f4"),  # big-endian: sent little-endian
            {
                "t": "ndarray",
                "dtype": "float32",
                "shape": [2, 1],
                "b64": b64(np.array([1.0, 2.0], dtype="<f4").tobytes()),
            },
        ),
        (
            np.array(7, dtype=np.uint8),  # a 0-d array keeps its empty shape
            {"t": "ndarray", "dtype": "uint8", "shape": [], "b64": b64(b"\x07")},
        ),
        (
            np.zeros((0, 3), dtype=bool),
            {"t": "ndarray", "dtype": "bool", "shape": [0, 3], "b64": ""},
        ),
        (
            Function("scale", 2.0),
            {"t": "fn", "name": "scale", "params": [{"t": "float", "v": 2.0}]},
        ),
        (
            Function("sum_tanh_times_square"),
            {"t": "fn", "name": "sum_tanh_times_square", "params": []},
        ),
        (inputs.grad_parabola, {"t": "fn", "ref": "coursekit.checks.inputs:grad_parabola"}),
        (inputs.log_sum_exp, {"t": "fn", "ref": "coursekit.checks.inputs:log_sum_exp"}),
    ],
)
def test_exact_encoded_form(value, encoded):
    assert encode(value) == encoded


def test_negative_zero_keeps_its_sign():
    out = encode(-0.0)
    assert out["t"] == "float" and math.copysign(1, out["v"]) == -1
    assert math.copysign(1, decode(out)) == -1
    assert math.copysign(1, decode(encode(np.float32(-0.0)))) == -1


def test_an_array_in_any_memory_layout_is_sent_in_c_order():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    for x in (a.T, np.asfortranarray(a), a[:, ::2], a[::-1]):
        out = encode(x)
        assert out["shape"] == list(x.shape)
        assert base64.b64decode(out["b64"]) == np.ascontiguousarray(x).astype("<i4").tobytes()
        assert same(decode(out), np.ascontiguousarray(x))


class Outer:
    class Inner:
        pass


class MyInt(int):
    pass


class MyInt64(np.int64):
    pass


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (b"x", "bytes"),
        (1 + 2j, "complex"),
        (range(3), "range"),
        (len, "builtin_function_or_method"),
        (lambda x: x, "function"),  # not one of coursekit.checks.inputs
        (Opaque("x"), "coursekit.grading.plaindata.Opaque"),
        (np.complex128(1), "numpy.complex128"),
        (np.longdouble(1), "numpy.longdouble"),  # no dtype decode knows
        (np.timedelta64(3), "numpy.timedelta64"),  # an np.integer without a plain dtype
        (np.datetime64("2020-01-01"), "numpy.datetime64"),
        (np.array(["a"]), "numpy.ndarray"),
        (np.array([None]), "numpy.ndarray"),
        (np.zeros(2, dtype=np.longdouble), "numpy.ndarray"),
        (np.float64, "type"),
    ],
)
def test_what_plain_data_cannot_carry_is_named_by_its_type(value, type_name):
    assert encode(value) == {"t": "other", "type": type_name}
    assert decode(encode(value)) == Opaque(type_name)


def test_type_names_of_classes_from_elsewhere():
    mod = __name__
    assert encode(Outer.Inner()) == {"t": "other", "type": f"{mod}.Outer.Inner"}
    assert encode(MyInt(3)) == {"t": "other", "type": f"{mod}.MyInt"}  # not an int
    assert encode(MyInt64(3)) == {"t": "other", "type": f"{mod}.MyInt64"}
    sub = np.zeros(2).view(np.ma.MaskedArray)
    assert encode(sub) == {"t": "other", "type": "numpy.ma.MaskedArray"}


def test_only_functions_of_coursekit_checks_inputs_travel_by_reference():
    def grad_parabola(theta):
        return theta

    assert encode(grad_parabola)["t"] == "other"
    fake = types.FunctionType(grad_parabola.__code__, {}, "grad_parabola")
    fake.__module__ = "coursekit.checks.inputs"
    fake.__qualname__ = "grad_parabola"
    assert encode(fake) == {"t": "fn", "ref": "coursekit.checks.inputs:grad_parabola"}
    fake.__module__ = "coursekit.checks.inputsX"
    assert encode(fake)["t"] == "other"
    fake.__module__ = "Xcoursekit.checks.inputs"
    assert encode(fake)["t"] == "other"
    fake.__module__, fake.__qualname__ = "coursekit.checks.inputs", "a.b"
    assert encode(fake)["t"] == "other"


def test_encode_stops_at_the_depth_decode_accepts():
    # depth 0 is the value itself; decode accepts values down to depth MAX_DEPTH.
    deep: list = [1]
    for _ in range(MAX_DEPTH - 2):
        deep = [deep]
    # 31 lists: the 1 sits at depth 31
    out = encode(deep)
    node = out
    for _ in range(MAX_DEPTH - 1):
        node = node["v"][0]
    assert node == {"t": "int", "v": "1"}
    assert decode(out) == deep
    deeper = [deep]  # the 1 at depth 32, where encode stops
    out = encode(deeper)
    node = out
    for _ in range(MAX_DEPTH):
        node = node["v"][0]
    assert node == {"t": "other", "type": "too deeply nested"}
    got = decode(out)
    for _ in range(MAX_DEPTH):
        got = got[0]
    assert got == Opaque("too deeply nested")
    loop: list = []
    loop.append(loop)
    assert decode(encode(loop))  # no RecursionError, and decode reads it
    d: dict = {}
    d[0] = d
    decode(encode(d))
    t: tuple = (1,)
    for _ in range(100):
        t = (t,)
    decode(encode(t))
    f = Function("scale", np.ones(2))
    for _ in range(100):
        f = [f]
    decode(encode(f))
    assert encode(5, MAX_DEPTH - 1) == {"t": "int", "v": "5"}
    assert encode(5, MAX_DEPTH) == {"t": "other", "type": "too deeply nested"}


def leaves(enc: dict, depth: int = 0):
    """(depth, node) of every node of an encoded value that holds no other node."""
    t = enc["t"]
    if t in ("list", "tuple"):
        for x in enc["v"]:
            yield from leaves(x, depth + 1)
    elif t == "dict":
        for k, v in enc["v"]:
            yield from leaves(k, depth + 1)
            yield from leaves(v, depth + 1)
    elif t == "fn" and "params" in enc:
        for p in enc["params"]:
            yield from leaves(p, depth + 1)
    else:
        yield depth, enc


@pytest.mark.parametrize(
    ("wrap", "inside"),
    [
        (lambda x: (x,), 1),
        (lambda x: [None, x], 1),
        (lambda x: {x: None}, 1),  # a key
        (lambda x: {None: x}, 1),  # a value
        (lambda x: Function("scale", x), 1),  # a parameter (nested tuples: an array)
    ],
)
def test_encode_counts_the_depth_in_every_container(wrap, inside):
    one = {"t": "int", "v": "1"}
    too_deep = {"t": "other", "type": "too deeply nested"}
    for depth in (MAX_DEPTH - 1, MAX_DEPTH):
        x = 1
        for _ in range(depth - inside):
            x = (x,)
        out = encode(wrap(x))
        found = [n for d, n in leaves(out) if n in (one, too_deep)]
        if depth < MAX_DEPTH:
            assert (depth, one) in leaves(out) and too_deep not in found
        else:
            assert (depth, too_deep) in leaves(out) and one not in found
        if depth < MAX_DEPTH or type(wrap(1)) is not Function:
            decode(out)  # (a scale factor of Opaque is refused: below)


# --------------------------------------------------------------------------- #
# Round trips with exact types
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -(10**50),
        0.1,
        1e308,
        5e-324,
        -0.0,
        float("inf"),
        float("-inf"),
        "text",
        "",
        (),
        [],
        {},
        (1, [2, (3,)], {"a": (4.0,)}),
        [(), []],
        {(1, "a"): [None], 2: "x", "2": 3, None: 0, True: 1.0, 2.5: "f", (): ()},
        [np.int8(-128), np.int16(7), np.int32(-9), np.int64(2**63 - 1)],
        [np.uint8(255), np.uint16(65535), np.uint32(2**32 - 1), np.uint64(2**64 - 1)],
        [np.float16(0.1), np.float32(0.1), np.float64(0.1), np.float64(np.nan), np.float32(np.inf)],
        [np.True_, np.False_],
    ],
)
def test_round_trip(value):
    assert same(decode(encode(value)), value)


def test_nan_round_trip():
    assert math.isnan(decode(encode(float("nan"))))
    x = decode(encode(np.float32(np.nan)))
    assert type(x) is np.float32 and np.isnan(x)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4), (1, 1, 1, 2)])
def test_array_round_trip(dtype, shape):
    rng = np.random.default_rng(0)
    n = math.prod(shape)
    x = (rng.standard_normal(n) * 100).astype(dtype).reshape(shape)
    if dtype.startswith("complex"):
        x = np.asarray(x * (1 + 2j) + 0.5j, dtype=dtype)
    got = decode(encode(x))
    assert type(got) is np.ndarray
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.shape == shape
    assert np.array_equal(got, x)
    assert got.flags.writeable and got.flags.c_contiguous


def test_special_floats_in_arrays():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324], dtype=np.float64)
    got = decode(encode(x))
    assert np.array_equal(got, x, equal_nan=True) and np.signbit(got[3])


def test_decoded_array_is_a_copy():
    x = np.arange(4.0)
    got = decode(encode(x))
    got[0] = 9.0
    assert x[0] == 0.0


def test_scalar_types_come_back_exactly():
    assert type(decode(encode(True))) is bool
    assert type(decode(encode(np.True_))) is np.bool_
    assert type(decode(encode(3))) is int
    assert type(decode(encode(3.0))) is float
    for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        assert type(decode(encode(t(1)))) is t
    for t in (np.float16, np.float32, np.float64):
        assert type(decode(encode(t(1)))) is t
    assert type(decode({"t": "float", "v": 3})) is float
    assert decode({"t": "float", "v": 3}) == 3.0
    assert decode({"t": "npfloat", "dtype": "float32", "v": 2}) == np.float32(2.0)


# --------------------------------------------------------------------------- #
# Functions
# --------------------------------------------------------------------------- #
def test_function_factories():
    assert sorted(FUNCTIONS) == ["cubic_sum", "scale", "sum_tanh_times_square"]
    a = np.array([0.5, -1.0, 2.0])
    f = Function("scale", [1.0, 2.0, 3.0])
    assert f.name == "scale" and f.params == ([1.0, 2.0, 3.0],)
    got = f(a)
    assert got.dtype == np.float64 and np.array_equal(got, np.array([0.5, -2.0, 6.0]))
    assert np.array_equal(Function("scale", np.array([2, 3]))(np.array([1, 1])), [2.0, 3.0])
    assert Function("scale", np.array([2, 3]))(np.array([1, 1])).dtype == np.float64
    g = Function("sum_tanh_times_square")
    assert g.params == ()
    assert g(a) == float(np.sum(np.tanh(a) * a**2))
    assert type(g(a)) is float
    h = Function("cubic_sum", np.array([1, 2, 3]))
    assert h(a) == float(np.sum(np.array([1.0, 2.0, 3.0]) * a**3 + np.sin(a)))
    assert type(h(a)) is float
    assert repr(h) == "Function('cubic_sum')"
    # the parameters are float64 whatever they came as: float32 data is not computed in
    # float32, and int64 data does not overflow
    a32 = np.array([0.1, 0.7, -1.3], dtype=np.float32)
    c32 = np.array([0.3, 1.1, 2.9], dtype=np.float32)
    want = float(np.sum(c32.astype(np.float64) * a32**3 + np.sin(a32)))
    assert Function("cubic_sum", c32)(a32) == want
    assert Function("scale", c32)(a32).dtype == np.float64
    assert Function("cubic_sum", np.array([2**62]))(np.array([4])) == float(2**68) + math.sin(4)
    with pytest.raises(ValueError) as info:
        Function("open", "/etc/passwd")
    assert str(info.value) == (
        "name must be one of ['cubic_sum', 'scale', 'sum_tanh_times_square'], got 'open'"
    )
    with pytest.raises(AttributeError):
        f.other = 1  # __slots__


def test_function_round_trip():
    a = np.array([0.5, -1.0, 2.0])
    for f in (
        Function("scale", np.array([1.0, 2.0, 3.0])),
        Function("sum_tanh_times_square"),
        Function("cubic_sum", np.array([3.0, 2.0, 1.0])),
    ):
        got = decode(encode(f))
        assert type(got) is Function and got.name == f.name
        assert same(list(got.params), list(f.params))
        assert np.array_equal(got(a), f(a))
    assert decode(encode(inputs.grad_parabola)) is inputs.grad_parabola
    assert decode(encode(inputs.sum_of_cubes)) is inputs.sum_of_cubes


# --------------------------------------------------------------------------- #
# Opaque
# --------------------------------------------------------------------------- #
def test_opaque():
    o = Opaque("set")
    assert o.type_name == "set"
    assert repr(o) == "<set object>"
    assert o == Opaque("set") and o != Opaque("dict")
    assert o != "set" and not (o == "set")
    assert hash(o) == hash("set") and len({o, Opaque("set")}) == 1
    with pytest.raises(AttributeError):
        o.other = 1  # __slots__
    assert decode({"t": "other", "type": "x" * 300}) == Opaque("x" * 200)
    assert decode({"t": "other", "type": ""}) == Opaque("")


# --------------------------------------------------------------------------- #
# Refusals, each with its exact message
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "every value must be a tagged object"),
        (5, "every value must be a tagged object"),
        ([{"t": "none"}], "every value must be a tagged object"),
        ({}, "every value must be a tagged object"),
        ({"v": 1}, "every value must be a tagged object"),
        ({"t": 1}, "every value must be a tagged object"),
        ({"t": None}, "every value must be a tagged object"),
        ({"t": "pickle"}, "unknown tag 'pickle'"),
        ({"t": "NONE"}, "unknown tag 'NONE'"),
        ({"t": ""}, "unknown tag ''"),
        ({"t": "bool"}, "a bool must be true or false"),
        ({"t": "bool", "v": 1}, "a bool must be true or false"),
        ({"t": "bool", "v": "true"}, "a bool must be true or false"),
        ({"t": "npbool", "v": 0}, "a bool must be true or false"),
        ({"t": "int"}, "an int must be a decimal string"),
        ({"t": "int", "v": 5}, "an int must be a decimal string"),
        ({"t": "int", "v": 5.0}, "an int must be a decimal string"),
        ({"t": "int", "v": "5.0"}, "an int must be a decimal string"),
        ({"t": "int", "v": "x"}, "an int must be a decimal string"),
        ({"t": "int", "v": ""}, "an int must be a decimal string"),
        ({"t": "int", "v": "1" * 4001}, "an int must be a decimal string"),
        ({"t": "float"}, "a float must be a number, got NoneType"),
        ({"t": "float", "v": True}, "a float must be a number, got bool"),
        ({"t": "float", "v": "1.5"}, "a float must be a number, got str"),
        ({"t": "float", "v": "NaN"}, "a float must be a number, got str"),
        ({"t": "float", "v": "Infinity"}, "a float must be a number, got str"),
        ({"t": "float", "v": "+inf"}, "a float must be a number, got str"),
        ({"t": "float", "v": [1.0]}, "a float must be a number, got list"),
        ({"t": "str"}, "a str must be text"),
        ({"t": "str", "v": 5}, "a str must be text"),
        ({"t": "tuple"}, "a tuple must hold a list"),
        ({"t": "tuple", "v": {}}, "a tuple must hold a list"),
        ({"t": "list", "v": "ab"}, "a list must hold a list"),
        ({"t": "list", "v": [5]}, "every value must be a tagged object"),
        ({"t": "dict"}, "a dict must hold a list of pairs"),
        ({"t": "dict", "v": {"a": 1}}, "a dict must hold a list of pairs"),
        ({"t": "dict", "v": [5]}, "a dict item must be a pair"),
        ({"t": "dict", "v": [[{"t": "none"}]]}, "a dict item must be a pair"),
        (
            {"t": "dict", "v": [[{"t": "none"}, {"t": "none"}, {"t": "none"}]]},
            "a dict item must be a pair",
        ),
        ({"t": "dict", "v": [({"t": "none"}, {"t": "none"})]}, "a dict item must be a pair"),
        (
            {"t": "dict", "v": [[{"t": "list", "v": []}, {"t": "none"}]]},
            "a dict key must be hashable",
        ),
        (
            {"t": "dict", "v": [[encode((1, [2])), {"t": "none"}]]},
            "a dict key must be hashable",
        ),
        ({"t": "dict", "v": [[encode(np.zeros(2)), {"t": "none"}]]}, "a dict key must be hashable"),
        ({"t": "dict", "v": [[{"t": "none"}, {"t": "bad"}]]}, "unknown tag 'bad'"),
        ({"t": "fn", "ref": 5}, "bad ref 5"),
        ({"t": "fn", "ref": None}, "bad ref None"),
        ({"t": "fn", "ref": "os:system"}, "bad ref 'os:system'"),
        (
            {"t": "fn", "ref": "coursekit.checks.inputs:grad_parabola.__globals__"},
            "bad ref 'coursekit.checks.inputs:grad_parabola.__globals__'",
        ),
        (
            {"t": "fn", "ref": "coursekit.checks.inputs:grad_parabola\n"},
            "bad ref 'coursekit.checks.inputs:grad_parabola\\n'",
        ),
        (
            {"t": "fn", "ref": "xcoursekit.checks.inputs:grad_parabola"},
            "bad ref 'xcoursekit.checks.inputs:grad_parabola'",
        ),
        (
            {"t": "fn", "ref": "coursekit.checks.inputs:nope"},
            "coursekit.checks.inputs:nope is not a function",
        ),
        (
            {"t": "fn", "ref": "coursekit.checks.inputs:np"},
            "coursekit.checks.inputs:np is not a function",
        ),
        (
            {"t": "fn", "ref": "coursekit.checks.inputs:__all__"},
            "coursekit.checks.inputs:__all__ is not a function",
        ),
        ({"t": "fn"}, "unknown function None"),
        ({"t": "fn", "name": "open", "params": []}, "unknown function 'open'"),
        ({"t": "fn", "name": ["scale"], "params": []}, "unknown function ['scale']"),
        ({"t": "fn", "name": "scale"}, "function parameters must be a list"),
        ({"t": "fn", "name": "scale", "params": {}}, "function parameters must be a list"),
        ({"t": "fn", "name": "scale", "params": [5]}, "every value must be a tagged object"),
        ({"t": "fn", "name": "scale", "params": []}, "bad parameters for function 'scale'"),
        (
            {"t": "fn", "name": "scale", "params": [encode(1.0), encode(2.0)]},
            "bad parameters for function 'scale'",
        ),
        (
            {"t": "fn", "name": "scale", "params": [encode({1, 2})]},
            "bad parameters for function 'scale'",
        ),
        (
            {"t": "fn", "name": "cubic_sum", "params": [encode("x")]},
            "bad parameters for function 'cubic_sum'",
        ),
        (
            {"t": "fn", "name": "sum_tanh_times_square", "params": [encode(1.0)]},
            "bad parameters for function 'sum_tanh_times_square'",
        ),
        (
            {"t": "fn", "name": "scale", "params": [{"t": "int", "v": "x"}]},
            "an int must be a decimal string",  # not rewritten as a bad parameter
        ),
        ({"t": "other"}, "a type name must be text"),
        ({"t": "other", "type": 5}, "a type name must be text"),
    ],
)
def test_refusals(data, message):
    refused(data, message)


def test_int_digits_limit():
    assert decode({"t": "int", "v": "9" * 4000}) == int("9" * 4000)
    assert decode({"t": "int", "v": "-" + "9" * 3999}) == -int("9" * 3999)
    assert decode({"t": "int", "v": "0"}) == 0
    assert type(decode({"t": "int", "v": "-12"})) is int


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"t": "npint", "v": "1"}, "unsupported dtype None"),
        ({"t": "npint", "dtype": ["int8"], "v": "1"}, "unsupported dtype ['int8']"),
        ({"t": "npint", "dtype": "int128", "v": "1"}, "unsupported dtype 'int128'"),
        ({"t": "npint", "dtype": "object", "v": "1"}, "unsupported dtype 'object'"),
        ({"t": "npfloat", "dtype": "float128", "v": 1.0}, "unsupported dtype 'float128'"),
        ({"t": "npfloat", "dtype": "longdouble", "v": 1.0}, "unsupported dtype 'longdouble'"),
        ({"t": "npint", "dtype": "float64", "v": "1"}, "dtype float64 does not fit npint"),
        ({"t": "npint", "dtype": "bool", "v": "1"}, "dtype bool does not fit npint"),
        ({"t": "npint", "dtype": "complex64", "v": "1"}, "dtype complex64 does not fit npint"),
        ({"t": "npfloat", "dtype": "int8", "v": 1.0}, "dtype int8 does not fit npfloat"),
        ({"t": "npfloat", "dtype": "uint8", "v": 1.0}, "dtype uint8 does not fit npfloat"),
        (
            {"t": "npfloat", "dtype": "complex128", "v": 1.0},
            "dtype complex128 does not fit npfloat",
        ),
        ({"t": "npfloat", "dtype": "bool", "v": 1.0}, "dtype bool does not fit npfloat"),
        ({"t": "npint", "dtype": "int8", "v": 1}, "an int must be a decimal string"),
        ({"t": "npint", "dtype": "int8", "v": "1.5"}, "an int must be a decimal string"),
        ({"t": "npfloat", "dtype": "float32", "v": "1"}, "a float must be a number, got str"),
        ({"t": "npfloat", "dtype": "float32"}, "a float must be a number, got NoneType"),
        ({"t": "npint", "dtype": "int8", "v": "128"}, "128 does not fit int8"),
        ({"t": "npint", "dtype": "int8", "v": "-129"}, "-129 does not fit int8"),
        ({"t": "npint", "dtype": "uint8", "v": "256"}, "256 does not fit uint8"),
        ({"t": "npint", "dtype": "uint8", "v": "-1"}, "-1 does not fit uint8"),
        ({"t": "npint", "dtype": "uint64", "v": str(2**64)}, f"{2**64} does not fit uint64"),
        ({"t": "npint", "dtype": "int64", "v": str(2**63)}, f"{2**63} does not fit int64"),
    ],
)
def test_numpy_scalar_refusals(data, message):
    refused(data, message)


def test_numpy_scalars_at_their_bounds():
    for dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        info = np.iinfo(dtype)
        for v in (info.min, info.max):
            got = decode({"t": "npint", "dtype": dtype, "v": str(int(v))})
            assert type(got) is np.dtype(dtype).type and int(got) == int(v)
    for dtype in ("float16", "float32", "float64"):
        got = decode({"t": "npfloat", "dtype": dtype, "v": "-inf"})
        assert type(got) is np.dtype(dtype).type and got == -np.inf
        got = decode({"t": "npfloat", "dtype": dtype, "v": 0.5})
        assert type(got) is np.dtype(dtype).type and got == 0.5


def array(dtype="float64", shape=(2,), raw: bytes | None = None, **extra) -> dict:
    if raw is None:
        raw = np.zeros(shape, dtype=dtype).tobytes()
    d = {"t": "ndarray", "dtype": dtype, "shape": list(shape), "b64": b64(raw)}
    d.update(extra)
    return d


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"t": "ndarray", "shape": [1], "b64": ""}, "unsupported dtype None"),
        (array(dtype="object", raw=b""), "unsupported dtype 'object'"),
        (array(dtype="float128", raw=b""), "unsupported dtype 'float128'"),
        (array(dtype="<f8", raw=b""), "unsupported dtype '<f8'"),
        (array(dtype="f8", raw=b""), "unsupported dtype 'f8'"),
        (array(dtype="str32", raw=b""), "unsupported dtype 'str32'"),
        (array(dtype="datetime64", raw=b""), "unsupported dtype 'datetime64'"),
        ({**array(), "dtype": 5}, "unsupported dtype 5"),
        ({**array(), "shape": None}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": (2,)}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": 2}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": [-1]}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": [2, -1]}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": [True, True]}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": [2.0]}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": ["2"]}, "shape must be a list of non-negative ints"),
        ({**array(), "shape": [1] * 33}, "shape must be a list of non-negative ints"),
        ({**array(), "b64": None}, "array data must be base64 text"),
        ({**array(), "b64": b"AAAA"}, "array data must be base64 text"),
        ({**array(), "b64": "AAA"}, "array data is not valid base64"),
        ({**array(), "b64": "AA AA"}, "array data is not valid base64"),
        ({**array(), "b64": "AA\nAA"}, "array data is not valid base64"),
        ({**array(), "b64": "é"}, "array data is not valid base64"),
        (array(raw=bytes(15)), "array data does not match its shape and dtype"),
        (array(raw=bytes(17)), "array data does not match its shape and dtype"),
        (array(raw=b""), "array data does not match its shape and dtype"),
        (array(dtype="float32", raw=bytes(16)), "array data does not match its shape and dtype"),
        (array(shape=(0,), raw=bytes(1)), "array data does not match its shape and dtype"),
        (array(shape=(), raw=b""), "array data does not match its shape and dtype"),
    ],
)
def test_array_refusals(data, message):
    refused(data, message)


def test_array_dimensions_limit():
    got = decode(array(shape=(1,) * 32))
    assert got.shape == (1,) * 32 and got.dtype == np.float64
    assert decode(array(shape=[])).shape == ()
    assert decode(array(shape=[0])).shape == (0,)


def test_big_endian_arrays_come_back_native():
    for dt in (">f4", ">i8", ">c16", ">u2"):
        x = np.arange(6).reshape(3, 2).astype(dt)
        got = decode(encode(x))
        assert got.dtype == x.dtype.newbyteorder("=") and got.dtype.isnative
        assert np.array_equal(got, x) and got.shape == (3, 2)


def test_array_data_is_read_little_endian():
    raw = np.array([1, 256], dtype="<u2").tobytes()
    got = decode(array(dtype="uint16", raw=raw))
    assert got.tolist() == [1, 256] and got.dtype == np.dtype("uint16") and got.dtype.isnative
    got = decode(array(dtype="float64", shape=(2,), raw=np.array([1.5, -2.0], "<f8").tobytes()))
    assert got.tolist() == [1.5, -2.0]


# --------------------------------------------------------------------------- #
# Depth and element budget
# --------------------------------------------------------------------------- #
LEAF = {"t": "int", "v": "1"}


def test_depth_limit_exactly():
    got = decode(nest(MAX_DEPTH, LEAF))
    for _ in range(MAX_DEPTH):
        got = got[0]
    assert got == 1
    refused(nest(MAX_DEPTH + 1, LEAF), "nested too deeply")
    refused(nest(MAX_DEPTH + 1, {"t": "pickle"}), "nested too deeply")
    refused(nest(1000, LEAF), "nested too deeply")


@pytest.mark.parametrize(
    ("wrap", "tag"),
    [
        (lambda x: {"t": "tuple", "v": [x]}, "list"),
        (lambda x: {"t": "list", "v": [{"t": "none"}, x]}, "list"),
        (lambda x: {"t": "dict", "v": [[x, {"t": "none"}]]}, "tuple"),
        (lambda x: {"t": "dict", "v": [[{"t": "none"}, x]]}, "list"),
        (lambda x: {"t": "fn", "name": "scale", "params": [x]}, "list"),
    ],
)
def test_depth_counts_every_container(wrap, tag):
    deep = nest(MAX_DEPTH - 1, {"t": "float", "v": 1.0}, tag)
    decode(wrap(deep))  # the float at depth MAX_DEPTH
    refused(wrap(nest(MAX_DEPTH, {"t": "float", "v": 1.0}, tag)), "nested too deeply")


def test_element_budget_message_at_the_real_limit():
    # The budget is taken before the data is read: no need for 20 M elements of data.
    refused(
        array(dtype="bool", shape=(MAX_ELEMENTS,), raw=b""),
        "array data does not match its shape and dtype",
    )
    refused(
        array(dtype="bool", shape=(MAX_ELEMENTS + 1,), raw=b""), "more than 20000000 array elements"
    )
    refused(array(dtype="bool", shape=(2**40, 2**40, 0), raw=b""), "array shape is too large")
    refused(array(dtype="bool", shape=(2**63, 0), raw=b""), "array shape is too large")
    refused(array(dtype="bool", shape=(2**62, 4, 0), raw=b""), "array shape is too large")
    got = decode(array(dtype="bool", shape=(2**20, 2**20, 0), raw=b""))
    assert got.shape == (2**20, 2**20, 0)
    refused(array(dtype="bool", shape=(2**40, 2**40), raw=b""), "more than 20000000 array elements")
    refused(
        {"t": "list", "v": [array(dtype="bool", shape=(MAX_ELEMENTS,), raw=b"")]},
        "more than 20000000 array elements",  # the list's one item counts too
    )


@pytest.fixture
def budget10(monkeypatch):
    monkeypatch.setattr(plaindata, "MAX_ELEMENTS", 10)


def test_element_budget_counts_items_and_array_elements(budget10):
    ints = [{"t": "int", "v": "1"}]
    assert decode({"t": "list", "v": ints * 10}) == [1] * 10
    refused({"t": "list", "v": ints * 11}, "more than 10 array elements")
    assert decode({"t": "tuple", "v": ints * 10}) == (1,) * 10
    refused({"t": "tuple", "v": ints * 11}, "more than 10 array elements")
    pairs = [[encode(i), encode(i)] for i in range(11)]
    assert decode({"t": "dict", "v": pairs[:10]}) == {i: i for i in range(10)}
    refused({"t": "dict", "v": pairs}, "more than 10 array elements")
    assert decode(array(shape=(10,))).shape == (10,)
    assert decode(array(shape=(2, 5))).shape == (2, 5)
    refused(array(shape=(11,)), "more than 10 array elements")
    refused(array(shape=(3, 4)), "more than 10 array elements")
    # shared by everything in one value: 2 (the list's items) + 4 + 4 = 10
    assert len(decode({"t": "list", "v": [array(shape=(4,)), array(shape=(4,))]})) == 2
    refused(
        {"t": "list", "v": [array(shape=(4,)), array(shape=(5,))]}, "more than 10 array elements"
    )
    # nested containers: 2 + 4 + 4 = 10, then one more
    inner = {"t": "list", "v": ints * 4}
    assert decode({"t": "list", "v": [inner, inner]}) == [[1] * 4] * 2
    refused({"t": "list", "v": [inner, inner, {"t": "none"}]}, "more than 10 array elements")
    # a dict: 1 pair + 9 elements = 10
    assert decode({"t": "dict", "v": [[encode(0), array(shape=(9,))]]})[0].shape == (9,)
    refused({"t": "dict", "v": [[encode(0), array(shape=(10,))]]}, "more than 10 array elements")
    refused({"t": "dict", "v": [[encode((1,) * 10), {"t": "none"}]]}, "more than 10 array elements")
    # a function's parameters
    f = decode({"t": "fn", "name": "scale", "params": [array(shape=(10,))]})
    assert type(f) is Function
    refused(
        {"t": "fn", "name": "scale", "params": [array(shape=(10,)), array(shape=(1,))]},
        "more than 10 array elements",
    )
    # each decode starts afresh
    for _ in range(3):
        decode(array(shape=(10,)))


# --------------------------------------------------------------------------- #
# torch
# --------------------------------------------------------------------------- #
def test_torch_dtype_round_trip(torch):
    for name in TORCH_DTYPES:
        dt = getattr(torch, name)
        assert encode(dt) == {"t": "torch_dtype", "v": name}
        assert decode(encode(dt)) is dt
    refused({"t": "torch_dtype", "v": "float128"}, "unsupported torch dtype 'float128'")
    refused({"t": "torch_dtype", "v": "uint16"}, "unsupported torch dtype 'uint16'")
    refused({"t": "torch_dtype"}, "unsupported torch dtype None")
    refused({"t": "torch_dtype", "v": "Tensor"}, "unsupported torch dtype 'Tensor'")


@pytest.mark.parametrize("name", TORCH_DTYPES)
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 2)])
def test_tensor_round_trip(torch, name, shape):
    dt = getattr(torch, name)
    x = (torch.arange(math.prod(shape), dtype=torch.float64) * 1.5 - 2).reshape(shape).to(dt)
    got = decode(encode(x))
    assert type(got) is torch.Tensor
    assert got.dtype == dt and tuple(got.shape) == shape
    assert torch.equal(got, x)
    assert not got.requires_grad


def test_tensor_encoded_form(torch):
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float32, requires_grad=True)
    assert encode(x) == {
        "t": "tensor",
        "dtype": "float32",
        "shape": [1, 2],
        "b64": b64(np.array([1.0, 2.0], "<f4").tobytes()),
        "torch_dtype": "float32",
        "requires_grad": True,
    }
    y = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    assert encode(y) == {
        "t": "tensor",
        "dtype": "float32",  # NumPy has no bfloat16: the values travel as float32
        "shape": [2],
        "b64": b64(np.array([1.5, -2.0], "<f4").tobytes()),
        "torch_dtype": "bfloat16",
        "requires_grad": False,
    }
    z = torch.tensor(3, dtype=torch.int64)
    assert encode(z) == {
        "t": "tensor",
        "dtype": "int64",
        "shape": [],
        "b64": b64(np.array(3, "<i8").tobytes()),
        "torch_dtype": "int64",
        "requires_grad": False,
    }


def test_tensor_requires_grad(torch):
    for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.complex64):
        x = torch.tensor([1.0, 2.0], dtype=dt, requires_grad=True)
        got = decode(encode(x))
        assert got.requires_grad and got.dtype == dt and got.is_leaf
        assert torch.equal(got.detach(), x.detach())
    t = encode(torch.tensor([1, 2]))
    assert not decode({**t, "requires_grad": True}).requires_grad  # ints cannot need grad
    f = encode(torch.tensor([1.0]))
    assert not decode({**f, "requires_grad": 1}).requires_grad  # only true itself
    assert not decode({**f, "requires_grad": "true"}).requires_grad
    assert decode({**f, "requires_grad": True}).requires_grad
    g = {k: v for k, v in f.items() if k != "requires_grad"}
    assert not decode(g).requires_grad


def test_tensor_layouts_and_subclasses(torch):
    x = torch.arange(6.0).reshape(2, 3)
    for y in (x.T, x[:, ::2], torch.nn.Parameter(x.clone()), x.expand(2, 2, 3)):
        got = decode(encode(y))
        assert type(got) is torch.Tensor and torch.equal(got, y.detach())
    got = decode(encode(x))
    got[0, 0] = 5.0
    assert x[0, 0] == 0.0
    assert got.is_contiguous()


def test_tensor_refusals(torch):
    good = encode(torch.tensor([1.0, 2.0]))
    refused({**good, "torch_dtype": "float128"}, "unsupported tensor dtype 'float128'")
    refused({**good, "torch_dtype": None}, "unsupported tensor dtype None")
    refused({k: v for k, v in good.items() if k != "torch_dtype"}, "unsupported tensor dtype None")
    refused({**good, "torch_dtype": "float"}, "unsupported tensor dtype 'float'")
    refused({**good, "dtype": "object"}, "unsupported dtype 'object'")
    refused({**good, "b64": "AAAA"}, "array data does not match its shape and dtype")
    refused({**good, "shape": [-2]}, "shape must be a list of non-negative ints")


def test_tensor_budget(torch, budget10):
    t = encode(torch.zeros(10))
    assert decode(t).shape == (10,)
    refused(encode(torch.zeros(11)), "more than 10 array elements")
    refused({"t": "list", "v": [t]}, "more than 10 array elements")


def test_tensors_of_other_dtypes_are_opaque(torch):
    for x in (torch.zeros(2, dtype=torch.uint16), torch.zeros(2, dtype=torch.float8_e4m3fn)):
        assert encode(x) == {"t": "other", "type": "torch.Tensor"}
    assert encode(torch.device("cpu")) == {"t": "other", "type": "torch.device"}
    assert encode(torch.Size([2])) == {"t": "other", "type": "torch.Size"}


def test_without_torch_nothing_is_a_tensor(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert encode(np.float64) == {"t": "other", "type": "type"}
    assert encode(Outer()) == {"t": "other", "type": f"{__name__}.Outer"}
    assert not plaindata._is_tensor(np.zeros(2))
