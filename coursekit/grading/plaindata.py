"""Plain data across the sandbox wall: values in, results out, nothing executable.

The grader sends a student's functions their inputs and reads back what they
return as JSON in which every value carries an explicit type tag. Arrays and
tensors travel as raw little-endian bytes (base64) with their dtype and shape.
No pickle, no ``eval``: :func:`decode` builds only built-in types, NumPy
arrays of numeric dtypes and torch tensors, so a result forged by the
student's code is at worst a wrong answer.

Both sides import this module; it needs only the standard library and NumPy
(torch is imported only when a tensor or a torch dtype is encoded or decoded).
"""

from __future__ import annotations

import base64
import importlib
import math
import re
import types
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "Opaque",
    "Function",
    "DecodeError",
    "encode",
    "decode",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
]

MAX_DEPTH = 32
MAX_ELEMENTS = 20_000_000  # array elements in one decoded value, all arrays together
_CHECK_FUNCTION = re.compile(r"coursekit\.checks\.inputs:[A-Za-z_][A-Za-z0-9_]*")
_DTYPES = frozenset(
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 "
    "float16 float32 float64 complex64 complex128".split()
)
_TORCH_DTYPES = frozenset(
    "bool uint8 int8 int16 int32 int64 float16 bfloat16 float32 float64 complex64 complex128".split()
)


class DecodeError(ValueError):
    """The data is not well-formed plain data (too deep, too large, unknown tag ...)."""


class Opaque:
    """Stands for a value of a type plain data cannot carry; only its type name is known."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)


# --------------------------------------------------------------------------- #
# Functions passed as inputs (gradient descent takes a gradient function ...)
# --------------------------------------------------------------------------- #
def _scale(c: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    c = np.asarray(c, dtype=np.float64)
    return lambda theta: c * theta


def _sum_tanh_times_square(a: np.ndarray) -> float:
    return float(np.sum(np.tanh(a) * a**2))


def _cubic_sum(c: np.ndarray) -> Callable[[np.ndarray], float]:
    c = np.asarray(c, dtype=np.float64)
    return lambda a: float(np.sum(c * a**3 + np.sin(a)))


#: name -> factory(*params) returning the function. Encoded as
#: ``{"t": "fn", "name": ..., "params": [...]}``; both sides build the same function.
FUNCTIONS: dict[str, Callable[..., Callable]] = {
    "scale": _scale,  # theta -> c * theta, the gradient of sum(c * theta**2 / 2)
    "sum_tanh_times_square": lambda: _sum_tanh_times_square,  # a -> sum(tanh(a) * a**2)
    "cubic_sum": _cubic_sum,  # a -> sum(c * a**3 + sin(a))
}


class Function:
    """A function input, named by a key of :data:`FUNCTIONS` and its parameters."""

    __slots__ = ("name", "params", "_fn")

    def __init__(self, name: str, *params: Any) -> None:
        if name not in FUNCTIONS:
            raise ValueError(f"name must be one of {sorted(FUNCTIONS)}, got {name!r}")
        self.name, self.params = name, params
        self._fn = FUNCTIONS[name](*params)

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __repr__(self) -> str:
        return f"Function({self.name!r})"


# --------------------------------------------------------------------------- #
# Encoding (either side)
# --------------------------------------------------------------------------- #
def _array(kind: str, arr: np.ndarray, **extra: Any) -> dict:
    # tobytes() writes C order whatever the layout (np.ascontiguousarray would make a
    # 0-d array 1-d, and a scalar loss would come back with shape (1,))
    data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return {
        "t": kind,
        "dtype": arr.dtype.name,
        "shape": list(arr.shape),
        "b64": base64.b64encode(data).decode("ascii"),
        **extra,
    }


def _type_name(x: Any) -> str:
    t = type(x)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def encode(x: Any, _depth: int = 0) -> dict:
    """Return ``x`` as tagged plain data (a JSON-ready dict).

    Types that plain data cannot carry become ``{"t": "other", "type": name}``.
    """
    if _depth >= MAX_DEPTH:  # decode reads down to depth MAX_DEPTH: this node is the last
        return {"t": "other", "type": "too deeply nested"}
    t = type(x)
    if x is None:
        return {"t": "none"}
    if t is bool or t is np.bool_:
        return {"t": "bool" if t is bool else "npbool", "v": bool(x)}
    if t is int:
        return {"t": "int", "v": str(x)}  # str: JSON readers lose big ints
    if t is float:
        return {"t": "float", "v": _float(x)}
    # np.longdouble, np.timedelta64 ...: no dtype decode reads, so they are "other"
    if isinstance(x, np.integer) and t.__module__ == "numpy" and np.dtype(t).name in _DTYPES:
        return {"t": "npint", "dtype": np.dtype(t).name, "v": str(int(x))}
    if isinstance(x, np.floating) and t.__module__ == "numpy" and np.dtype(t).name in _DTYPES:
        return {"t": "npfloat", "dtype": np.dtype(t).name, "v": _float(float(x))}
    if t is str:
        return {"t": "str", "v": x}
    if t is tuple or t is list:
        return {"t": t.__name__, "v": [encode(v, _depth + 1) for v in x]}
    if t is dict:
        return {
            "t": "dict",
            "v": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in x.items()],
        }
    if t is np.ndarray and x.dtype.name in _DTYPES:
        return _array("ndarray", x)
    if t is Function:
        return {"t": "fn", "name": x.name, "params": [encode(p, _depth + 1) for p in x.params]}
    if t is types.FunctionType and _CHECK_FUNCTION.fullmatch(f"{x.__module__}:{x.__qualname__}"):
        # A function that visible checks pass as an input (coursekit.checks.inputs).
        return {"t": "fn", "ref": f"{x.__module__}:{x.__qualname__}"}
    if t.__module__ == "torch" and t.__name__ == "dtype":
        return {"t": "torch_dtype", "v": str(x).removeprefix("torch.")}
    if _is_tensor(x):
        name = str(x.dtype).removeprefix("torch.")
        if name in _TORCH_DTYPES:
            t_cpu = x.detach().cpu()
            if name == "bfloat16":
                t_cpu = t_cpu.float()
            return _array(
                "tensor",
                t_cpu.contiguous().numpy(),
                torch_dtype=name,
                requires_grad=bool(x.requires_grad),
            )
    return {"t": "other", "type": _type_name(x)}


def _is_tensor(x: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _float(x: float) -> float | str:
    # JSON has no NaN or infinity; strings keep them exact.
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


# --------------------------------------------------------------------------- #
# Decoding (the grader reads untrusted data with this)
# --------------------------------------------------------------------------- #
class _Budget:
    def __init__(self) -> None:
        self.elements = 0

    def take(self, n: int) -> None:
        self.elements += n
        if self.elements > MAX_ELEMENTS:
            raise DecodeError(f"more than {MAX_ELEMENTS} array elements")


def decode(data: Any) -> Any:
    """Build the value that :func:`encode` described; raise DecodeError on anything else."""
    return _decode(data, 0, _Budget())


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise DecodeError(what)


def _to_float(v: Any) -> float:
    if type(v) is str and v in ("nan", "inf", "-inf"):
        return float(v)
    _need(type(v) in (int, float), f"a float must be a number, got {type(v).__name__}")
    return float(v)


def _to_int(v: Any) -> int:
    _need(type(v) is str and len(v) <= 4000, "an int must be a decimal string")
    try:
        return int(v)
    except ValueError:
        raise DecodeError("an int must be a decimal string") from None


def _decode_array(d: dict, budget: _Budget) -> np.ndarray:
    dtype, shape, b64 = d.get("dtype"), d.get("shape"), d.get("b64")
    _need(type(dtype) is str and dtype in _DTYPES, f"unsupported dtype {dtype!r}")
    _need(
        type(shape) is list and len(shape) <= 32 and all(type(s) is int and s >= 0 for s in shape),
        "shape must be a list of non-negative ints",
    )
    n = math.prod(shape)
    budget.take(n)
    _need(type(b64) is str, "array data must be base64 text")
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise DecodeError("array data is not valid base64") from None
    dt = np.dtype(dtype).newbyteorder("<")
    _need(len(raw) == n * dt.itemsize, "array data does not match its shape and dtype")
    try:  # a shape with a zero can still be too large for NumPy: (2**40, 2**40, 0)
        return np.frombuffer(raw, dtype=dt).astype(np.dtype(dtype), copy=True).reshape(shape)
    except ValueError:
        raise DecodeError("array shape is too large") from None


def _decode(d: Any, depth: int, budget: _Budget) -> Any:
    _need(depth <= MAX_DEPTH, "nested too deeply")
    _need(type(d) is dict and type(d.get("t")) is str, "every value must be a tagged object")
    tag = d["t"]
    v = d.get("v")
    if tag == "none":
        return None
    if tag in ("bool", "npbool"):
        _need(type(v) is bool, "a bool must be true or false")
        return v if tag == "bool" else np.bool_(v)
    if tag == "int":
        return _to_int(v)
    if tag == "float":
        return _to_float(v)
    if tag in ("npint", "npfloat"):
        dtype = d.get("dtype")
        kinds = "iu" if tag == "npint" else "f"
        _need(type(dtype) is str and dtype in _DTYPES, f"unsupported dtype {dtype!r}")
        _need(np.dtype(dtype).kind in kinds, f"dtype {dtype} does not fit {tag}")
        value = _to_int(v) if tag == "npint" else _to_float(v)
        try:
            return np.dtype(dtype).type(value)
        except OverflowError:
            raise DecodeError(f"{value} does not fit {dtype}") from None
    if tag == "str":
        _need(type(v) is str, "a str must be text")
        return v
    if tag in ("tuple", "list"):
        _need(type(v) is list, f"a {tag} must hold a list")
        budget.take(len(v))
        items = [_decode(x, depth + 1, budget) for x in v]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        _need(type(v) is list, "a dict must hold a list of pairs")
        budget.take(len(v))
        out = {}
        for pair in v:
            _need(type(pair) is list and len(pair) == 2, "a dict item must be a pair")
            key = _decode(pair[0], depth + 1, budget)
            try:
                hash(key)
            except TypeError:
                raise DecodeError("a dict key must be hashable") from None
            out[key] = _decode(pair[1], depth + 1, budget)
        return out
    if tag == "ndarray":
        return _decode_array(d, budget)
    if tag == "tensor":
        import torch

        name = d.get("torch_dtype")
        _need(type(name) is str and name in _TORCH_DTYPES, f"unsupported tensor dtype {name!r}")
        arr = _decode_array(d, budget)
        tensor = torch.from_numpy(arr).to(getattr(torch, name))
        if d.get("requires_grad") is True and (tensor.is_floating_point() or tensor.is_complex()):
            tensor.requires_grad_(True)
        return tensor
    if tag == "torch_dtype":
        import torch

        _need(type(v) is str and v in _TORCH_DTYPES, f"unsupported torch dtype {v!r}")
        return getattr(torch, v)
    if tag == "fn" and "ref" in d:
        ref = d["ref"]
        _need(type(ref) is str and _CHECK_FUNCTION.fullmatch(ref) is not None, f"bad ref {ref!r}")
        module, name = ref.split(":")
        fn = getattr(importlib.import_module(module), name, None)
        _need(type(fn) is types.FunctionType, f"{ref} is not a function")
        return fn
    if tag == "fn":
        name, params = d.get("name"), d.get("params")
        _need(type(name) is str and name in FUNCTIONS, f"unknown function {name!r}")
        _need(type(params) is list, "function parameters must be a list")
        args = [_decode(p, depth + 1, budget) for p in params]
        try:  # the factory's own refusal (too many parameters, one that is not a number)
            return Function(name, *args)
        except (TypeError, ValueError):
            raise DecodeError(f"bad parameters for function {name!r}") from None
    if tag == "other":
        name = d.get("type")
        _need(type(name) is str, "a type name must be text")
        return Opaque(name[:200])
    raise DecodeError(f"unknown tag {tag!r}")
