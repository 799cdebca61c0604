"""Activation functions and their derivatives (notebooks 03 and 04).

Each ``f(x)`` has a partner ``f_grad(x)``: the element-wise derivative
``f'(x)`` evaluated at ``x``, an array of the same shape. Because these
functions act element by element, their Jacobian is diagonal, and backprop
only needs ``dout * f_grad(x)``.

Where the derivative does not exist (ReLU and friends at 0) we use torch's
convention, so gradients agree with autograd exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit._validate import as_float_array, check_ndim

__all__ = [
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "ACTIVATIONS",
]


def _in_dtype_of(y, x: np.ndarray):
    """``y`` in ``x``'s dtype, copied only if its dtype differs (callers never write to it)."""
    return y.astype(x.dtype, copy=False)


def sigmoid(x) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for large |x|.

    For x < 0 the textbook form computes exp(-x), which overflows for x = -1000;
    the equivalent ``exp(x) / (1 + exp(x))`` does not, so we only ever
    exponentiate ``-|x|``.

    Parameters
    ----------
    x : ndarray of any shape S

    Returns
    -------
    ndarray of shape S, values in [0, 1]
    """
    x = as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    return _in_dtype_of(np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), x)


def sigmoid_grad(x) -> np.ndarray:
    """Derivative of the sigmoid: ``sigma(x) (1 - sigma(x))``.

    Parameters
    ----------
    x : ndarray of any shape S

    Returns
    -------
    ndarray of shape S, values in [0, 0.25]
    """
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent.

    Parameters
    ----------
    x : ndarray of any shape S

    Returns
    -------
    ndarray of shape S, values in [-1, 1]
    """
    return np.tanh(as_float_array(x, "x"))


def tanh_grad(x) -> np.ndarray:
    """Derivative of tanh: ``1 - tanh(x)^2``.

    Parameters
    ----------
    x : ndarray of any shape S

    Returns
    -------
    ndarray of shape S, values in [0, 1]
    """
    t = tanh(x)
    return 1.0 - t * t


def relu(x) -> np.ndarray:
    """Rectified linear unit ``max(x, 0)``.

    Parameters
    ----------
    x : ndarray of any shape S

    Returns
    -------
    ndarray of shape S
    """
    x = as_float_array(x, "x")
    return _in_dtype_of(np.maximum(x, 0.0), x)


def relu_grad(x) -> np.ndarray:
    """Derivative of ReLU: 1 where x > 0, else 0 (torch also uses 0 at x = 0).

    Parameters
    ----------
    x : ndarray of any shape S

    Returns
    -------
    ndarray of shape S, values in {0, 1}
    """
    x = as_float_array(x, "x")
    return (x > 0).astype(x.dtype)


def _check_slope(negative_slope) -> float:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float, np.number)):
        raise TypeError(f"negative_slope must be a real number, got {negative_slope!r}")
    if not np.isfinite(negative_slope):
        raise ValueError(f"negative_slope must be finite, got {negative_slope}")
    return float(negative_slope)


def leaky_relu(x, negative_slope: float = 0.01) -> np.ndarray:
    """Leaky ReLU: ``x`` for x > 0, ``negative_slope * x`` otherwise.

    Parameters
    ----------
    x : ndarray of any shape S
    negative_slope : float

    Returns
    -------
    ndarray of shape S
    """
    x = as_float_array(x, "x")
    a = _check_slope(negative_slope)
    return _in_dtype_of(np.where(x > 0, x, a * x), x)


def leaky_relu_grad(x, negative_slope: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU: 1 for x > 0, ``negative_slope`` otherwise (also at 0, like torch).

    Parameters
    ----------
    x : ndarray of any shape S
    negative_slope : float

    Returns
    -------
    ndarray of shape S
    """
    x = as_float_array(x, "x")
    a = _check_slope(negative_slope)
    return _in_dtype_of(np.where(x > 0, 1.0, a), x)


def _prelu_alpha(x: np.ndarray, alpha) -> np.ndarray:
    """Return ``alpha`` shaped to broadcast against ``x`` along axis 1, like ``nn.PReLU``."""
    a = as_float_array(alpha, "alpha")
    if a.ndim == 0 or a.shape == (1,):
        return _in_dtype_of(a.reshape(()), x)
    check_ndim(a, 1, "alpha", "(C,) (one slope per channel) or a scalar")
    if x.ndim < 2 or x.shape[1] != a.shape[0]:
        raise ValueError(
            f"alpha of shape {a.shape} needs x with {a.shape[0]} channels on axis 1, "
            f"got x of shape {x.shape}"
        )
    # (C,) -> (1, C, 1, ..., 1) so it lines up with axis 1 of x.
    return _in_dtype_of(a.reshape((1, -1) + (1,) * (x.ndim - 2)), x)


def prelu(x, alpha) -> np.ndarray:
    """Parametric ReLU: ``x`` for x > 0, ``alpha * x`` otherwise, with a learned ``alpha``.

    Parameters
    ----------
    x : ndarray of shape (N, C, ...) (any shape if ``alpha`` is a scalar)
    alpha : float or ndarray of shape (C,)
        One slope shared by all inputs, or one per channel (axis 1), like
        ``torch.nn.PReLU(num_parameters=C)``.

    Returns
    -------
    ndarray of the same shape as ``x``
    """
    x = as_float_array(x, "x")
    a = _prelu_alpha(x, alpha)
    return _in_dtype_of(np.where(x > 0, x, a * x), x)


def prelu_grad(x, alpha) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise partial derivatives of PReLU.

    Parameters
    ----------
    x : ndarray of shape (N, C, ...) (any shape if ``alpha`` is a scalar)
    alpha : float or ndarray of shape (C,)

    Returns
    -------
    dy_dx : ndarray of the same shape as ``x``
        1 for x > 0, ``alpha`` otherwise (``alpha`` at 0, like torch).
    dy_dalpha : ndarray of the same shape as ``x``
        0 for x > 0, ``x`` otherwise. For the gradient of a loss with respect
        to ``alpha``, sum ``dout * dy_dalpha`` over every axis except 1 (over
        every axis if ``alpha`` is a scalar), because ``alpha`` is shared.
    """
    x = as_float_array(x, "x")
    a = _prelu_alpha(x, alpha)
    dy_dx = _in_dtype_of(np.where(x > 0, 1.0, a), x)
    dy_dalpha = _in_dtype_of(np.where(x > 0, 0.0, x), x)
    return dy_dx, dy_dalpha


#: name -> (f, f_grad), for plots and widgets that loop over activations.
ACTIVATIONS: dict[
    str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
] = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    # PReLU's slope is learned; 0.25 is torch.nn.PReLU's starting value.
    "prelu": (lambda x: prelu(x, 0.25), lambda x: prelu_grad(x, 0.25)[0]),
}
