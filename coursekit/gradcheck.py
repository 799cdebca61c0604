"""Gradient checking with centred finite differences (notebook 03, CS231n style).

The centred difference ``(f(x + h) - f(x - h)) / 2h`` has error O(h^2), against
O(h) for the one-sided one, so with h = 1e-6 in float64 a correct analytic
gradient typically agrees to a relative error below 1e-7. Always check in
float64: in float32 rounding error alone is ~1e-3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit._validate import as_float_array, check_positive, check_same_shape

__all__ = ["rel_error", "numerical_gradient", "numerical_gradient_array", "check_layer"]


def rel_error(a, b) -> float:
    """Largest element-wise relative error ``|a - b| / max(1e-8, |a| + |b|)``.

    Parameters
    ----------
    a, b : ndarray of the same shape S (or scalars)

    Returns
    -------
    float
        About 1e-7 or less means the gradients agree; 1e-2 or more means a bug.
    """
    a = as_float_array(a, "a").astype(np.float64)
    b = as_float_array(b, "b").astype(np.float64)
    check_same_shape(a, b, "a", "b")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _check_x(x: Any) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "x must be a float64 np.ndarray (it is perturbed in place), got "
            + (f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__)
        )
    return x


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Centred-difference gradient of a scalar function.

    ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)``. ``x`` is changed in
    place one entry at a time (so ``f`` may close over it) and restored.

    Parameters
    ----------
    f : callable ndarray -> float
    x : ndarray of any shape S, float64
    h : float > 0

    Returns
    -------
    ndarray of shape S
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {f!r}")

    def scalar_f(z: np.ndarray) -> float:
        out = np.asarray(f(z))
        if out.size != 1 or out.dtype.kind not in "biuf":
            raise ValueError(
                f"f must return one real number (a scalar loss), got {out!r} of shape "
                f"{out.shape}; use numerical_gradient_array for array-valued functions"
            )
        return float(out.reshape(()))

    # A scalar function is the array case with a 0-d output and upstream gradient 1.
    return numerical_gradient_array(scalar_f, x, np.ones(()), h)


def numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Centred-difference gradient of ``sum(dout * f(x))`` for an array-valued ``f``.

    This is exactly what a layer's backward pass computes: the upstream
    gradient ``dout`` contracted with the Jacobian of ``f``.

    Parameters
    ----------
    f : callable ndarray -> ndarray of shape T
    x : ndarray of any shape S, float64 (perturbed in place, then restored)
    dout : ndarray of shape T
    h : float > 0

    Returns
    -------
    ndarray of shape S
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {f!r}")
    x = _check_x(x)
    dout = as_float_array(dout, "dout")
    h = check_positive(h, "h")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        # Copy: f may return a buffer it overwrites on the next call.
        pos = np.array(f(x), dtype=np.float64)
        x[i] = old - h
        neg = np.array(f(x), dtype=np.float64)
        x[i] = old  # restore, or every later entry is checked at the wrong point
        check_same_shape(pos, dout, "f(x)", "dout")
        grad[i] = np.sum((pos - neg) * dout) / (2 * h)
    return grad


def check_layer(layer: Any, x, seed: int = 0, h: float = 1e-6) -> dict[str, float]:
    """Compare a layer's backward pass with finite differences.

    Uses the ``Layer`` API: ``layer.forward(x) -> out``, ``layer.backward(dout)
    -> dx`` (which fills ``layer.grads``), and ``layer.params`` (dict of arrays).
    A random upstream gradient ``dout`` turns the layer into the scalar
    ``sum(dout * forward(x))``. Put random layers (dropout) in eval mode first.

    Parameters
    ----------
    layer : Layer
        Its parameters must be float64 arrays.
    x : ndarray of the layer's input shape
    seed : int
        Seed for ``dout``.
    h : float > 0

    Returns
    -------
    dict str -> float
        Relative error for ``"x"`` and for each key of ``layer.params``.
    """
    for attr in ("forward", "backward", "params"):
        if not hasattr(layer, attr):
            raise TypeError(
                f"layer must have forward, backward and params, got {layer!r} without {attr!r}"
            )
    x = np.array(as_float_array(x, "x"), dtype=np.float64)  # a private float64 copy
    h = check_positive(h, "h")
    out = np.asarray(layer.forward(x))
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    dx = np.array(layer.backward(dout), dtype=np.float64)
    # Copy now: the numerical passes below call forward again.
    analytic = {k: np.array(layer.grads[k], dtype=np.float64) for k in layer.params}

    errors = {"x": rel_error(dx, numerical_gradient_array(layer.forward, x, dout, h))}
    for key, p in layer.params.items():
        num = numerical_gradient_array(lambda _: layer.forward(x), _check_param(p, key), dout, h)
        errors[key] = rel_error(analytic[key], num)
    return errors


def _check_param(p: Any, key: str) -> np.ndarray:
    if not isinstance(p, np.ndarray) or p.dtype != np.float64:
        raise TypeError(
            f"layer.params[{key!r}] must be a float64 np.ndarray for gradient checking, got "
            + (f"dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__)
        )
    return p
