"""Argument checks shared by every public function.

Every message names the argument, the value received and what was expected,
so a student sees at once which call went wrong.
"""

from __future__ import annotations

import numbers
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "check_ndim",
    "check_shape",
    "check_same_shape",
    "check_same_length",
    "check_positive_int",
    "check_nonneg_int",
    "check_int_pair",
    "check_positive",
    "check_finite",
    "check_probability",
    "check_in",
    "check_labels",
    "check_bool",
    "check_seed",
    "check_rng",
    "shape_str",
    "user_stacklevel",
]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return repr(x)


def as_float_array(x: Any, name: str, dtype: type = np.float64) -> np.ndarray:
    """Return ``x`` as a floating-point array (float64 unless ``x`` already floats).

    Raises ``TypeError`` for anything that is not numeric (strings, objects,
    complex numbers), naming ``name``.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of numbers, got {_describe(x)}") from exc
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(dtype)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(
            f"{name} must hold real numbers (float or int), got dtype {arr.dtype} ({_describe(x)})"
        )
    return arr


def check_ndim(x: np.ndarray, ndim: int | Sequence[int], name: str, layout: str = "") -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is ``ndim`` (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{name} must be {want}{hint}, got {x.ndim}-D with shape {x.shape}")


def shape_str(shape: Sequence[int | None]) -> str:
    """A shape as Python writes a tuple, ``None`` (any size) as ``*``: (4,), (N, *)."""
    parts = ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_shape(x: np.ndarray, shape: tuple, name: str, why: str = "") -> None:
    """Raise ``ValueError`` unless ``x.shape`` matches ``shape`` (``None`` = any size).

    ``why`` is appended to the message, e.g. "to match x's 4 channels".
    """
    ok = x.ndim == len(shape) and all(
        s is None or s == d for s, d in zip(shape, x.shape, strict=False)
    )
    if not ok:
        reason = f" {why}" if why else ""
        raise ValueError(f"{name} must have shape {shape_str(shape)}{reason}, got {x.shape}")


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` if the shapes differ: no silent broadcasting."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}"
        )


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` if the first dimensions (batch sizes) differ."""
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same batch size, got {len(a)} and {len(b)} "
            f"(shapes {np.shape(a)} and {np.shape(b)})"
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_positive_int(v: Any, name: str) -> int:
    """Return ``v`` as ``int`` if it is an integer >= 1, else raise."""
    if not _is_int(v):
        raise TypeError(f"{name} must be an integer >= 1, got {v!r} ({type(v).__name__})")
    if v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v}")
    return int(v)


def check_nonneg_int(v: Any, name: str) -> int:
    """Return ``v`` as ``int`` if it is an integer >= 0, else raise."""
    if not _is_int(v):
        raise TypeError(f"{name} must be an integer >= 0, got {v!r} ({type(v).__name__})")
    if v < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {v}")
    return int(v)


def check_int_pair(v: Any, name: str, minimum: int = 0) -> tuple[int, int]:
    """Accept ``k`` or ``(kh, kw)`` and return ``(kh, kw)`` of ints >= ``minimum``."""
    pair = (v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(_is_int(p) for p in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    if any(p < minimum for p in pair):
        raise ValueError(f"{name} must be >= {minimum}, got {v!r}")
    return int(pair[0]), int(pair[1])


def check_bool(v: Any, name: str, allow_none: bool = False) -> bool | None:
    """Return ``v`` if it is True or False (or None where None means "choose for me").

    Only real bools pass: 0, 1 or "yes" are more often a slip than a choice.
    """
    if v is None and allow_none:
        return None
    if not isinstance(v, bool):
        want = "True, False or None (auto)" if allow_none else "a bool"
        raise TypeError(f"{name} must be {want}, got {v!r}")
    return v


#: torch.Generator.manual_seed takes a signed 64-bit integer: seeds stay below 2**63.
TORCH_SEED_MAX = 2**63 - 1


def check_seed(seed: Any, name: str = "seed", for_torch: bool = False) -> int:
    """Return ``seed`` as ``int`` if it is an integer >= 0, the seeds numpy and torch accept.

    NumPy takes any size; with ``for_torch=True`` the seed must also fit torch's
    generators (at most ``TORCH_SEED_MAX``).
    """
    seed = check_nonneg_int(seed, name)
    if for_torch and seed > TORCH_SEED_MAX:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1] for torch, got {seed}")
    return seed


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A numpy Generator from ``rng``: None (fresh entropy), a seed >= 0 or a Generator.

    A Generator is returned as it is, so a caller can share one stream of
    random numbers between several layers.
    """
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if not _is_int(rng):
        raise TypeError(
            f"{name} must be None, an int seed or a np.random.Generator, got {rng!r} "
            f"({type(rng).__name__})"
        )
    if rng < 0:
        raise ValueError(
            f"{name} must be an int seed >= 0 (or None or a np.random.Generator), got {rng}"
        )
    return np.random.default_rng(int(rng))


def check_positive(v: Any, name: str, allow_zero: bool = False) -> float:
    """Return ``v`` as ``float`` if it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{name} must be a real number, got {v!r} ({type(v).__name__})")
    v = float(v)
    bad = (v < 0 if allow_zero else v <= 0) or not np.isfinite(v)
    if bad:
        want = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {want}, got {v}")
    return v


def check_finite(v: Any, name: str) -> float:
    """Return ``v`` as ``float`` if it is a finite real number (any sign)."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{name} must be a finite real number, got {v!r} ({type(v).__name__})")
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {v}")
    return v


def check_probability(v: Any, name: str, allow_one: bool = False) -> float:
    """Return ``v`` as ``float`` if it lies in [0, 1) (or [0, 1] with ``allow_one``)."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{name} must be a real number in [0, 1), got {v!r}")
    v = float(v)
    if not (0.0 <= v <= 1.0) or (v == 1.0 and not allow_one):
        want = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must lie in {want}, got {v}")
    return v


def check_in(v: Any, allowed: Sequence[Any], name: str) -> Any:
    """Raise ``ValueError`` unless ``v`` is one of ``allowed``."""
    if v not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {v!r}")
    return v


def check_labels(y: Any, num_classes: int | None, name: str = "y", why: str = "") -> np.ndarray:
    """Return integer class labels as an int64 array, checking they lie in [0, num_classes).

    NaN and inf are never labels (ValueError). ``num_classes=None`` checks only
    that the labels are integers >= 0. ``why`` replaces "for <num_classes> classes"
    in the message, e.g. "for the 2 class_names ['a', 'b']".
    """
    arr = np.asarray(y.detach().cpu()) if hasattr(y, "detach") else np.asarray(y)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)][0]
        raise ValueError(
            f"{name} must hold integer class labels, got {bad} (NaN or inf) in {_describe(arr)}"
        )
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))
    ):
        raise TypeError(f"{name} must hold integer class labels, got {_describe(arr)}")
    arr = arr.astype(np.int64)
    if num_classes is None:
        if arr.size and arr.min() < 0:
            raise ValueError(
                f"{name} must hold class labels >= 0, got {arr.min()} in {_describe(arr)}"
            )
        return arr
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        bad = arr[(arr < 0) | (arr >= num_classes)][0]
        why = why or f"for {num_classes} classes"
        raise ValueError(
            f"{name} must hold labels in [0, {num_classes - 1}] {why}, got {bad} in "
            f"{_describe(arr)}"
        )
    return arr


def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first caller outside coursekit.

    Called by the function that warns: a warning then names the learner's line
    (the notebook cell that called ``load_dataset``), however many coursekit
    functions lie in between. Python 3.12's ``skip_file_prefixes`` does this,
    but the course runs on 3.11 too.
    """
    frame, level = sys._getframe(1), 1  # level 1: the function that warns
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level
