"""Weight initialisers (notebook 05).

Weights use torch's layout: a linear layer's weight has shape (out, in) and a
convolution's (C_out, C_in, kh, kw). Fans are computed exactly like
``torch.nn.init``::

    fan_in  = shape[1] * prod(shape[2:])
    fan_out = shape[0] * prod(shape[2:])

Every function takes ``rng``: an int seed, a ``np.random.Generator`` or
``None`` (fresh entropy); none of them reads NumPy's global random state.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from coursekit._validate import check_positive, check_rng

__all__ = [
    "fans",
    "uniform",
    "normal",
    "xavier_uniform",
    "xavier_normal",
    "he_normal",
    "he_uniform",
    "zeros",
]


def _shape(shape: Any) -> tuple[int, ...]:
    """Accept an int or a sequence of ints >= 1 and return a tuple."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape
    ):
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}")
    if any(s < 1 for s in shape):
        raise ValueError(f"shape must contain sizes >= 1, got {tuple(shape)}")
    return tuple(int(s) for s in shape)


def _rng(rng: Any) -> np.random.Generator:
    return check_rng(rng)


def fans(shape) -> tuple[int, int]:
    """Fan-in and fan-out of a weight of the given shape, as in ``torch.nn.init``.

    Parameters
    ----------
    shape : tuple of int, length >= 2
        (out, in) for a linear layer, (C_out, C_in, kh, kw) for a convolution.

    Returns
    -------
    fan_in, fan_out : int
        Number of inputs feeding one output unit, and of outputs fed by one input.
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(
            f"shape must have at least 2 dimensions, (out, in, ...), to define fans, got {shape}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def uniform(shape, low: float = -0.05, high: float = 0.05, rng=None) -> np.ndarray:
    """Samples from U(low, high).

    Parameters
    ----------
    shape : int or tuple of int
    low, high : float, low < high
    rng : int, np.random.Generator or None

    Returns
    -------
    ndarray of shape ``shape``, float64
    """
    shape = _shape(shape)
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise TypeError(f"{name} must be a finite real number, got {v!r}")
    if not low < high:
        raise ValueError(f"low must be smaller than high, got low={low} and high={high}")
    return _rng(rng).uniform(low, high, size=shape)


def normal(shape, std: float = 0.01, rng=None) -> np.ndarray:
    """Samples from N(0, std^2).

    Parameters
    ----------
    shape : int or tuple of int
    std : float > 0
    rng : int, np.random.Generator or None

    Returns
    -------
    ndarray of shape ``shape``, float64
    """
    shape = _shape(shape)
    std = check_positive(std, "std")
    return _rng(rng).normal(0.0, std, size=shape)


def xavier_uniform(shape, gain: float = 1.0, rng=None) -> np.ndarray:
    """Glorot/Xavier uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    The variance ``2 / (fan_in + fan_out)`` balances keeping the forward
    activations and the backward gradients at constant scale for tanh-like units.

    Parameters
    ----------
    shape : tuple of int, length >= 2
    gain : float > 0
    rng : int, np.random.Generator or None

    Returns
    -------
    ndarray of shape ``shape``, float64
    """
    fan_in, fan_out = fans(shape)
    gain = check_positive(gain, "gain")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _rng(rng).uniform(-a, a, size=_shape(shape))


def xavier_normal(shape, gain: float = 1.0, rng=None) -> np.ndarray:
    """Glorot/Xavier normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : tuple of int, length >= 2
    gain : float > 0
    rng : int, np.random.Generator or None

    Returns
    -------
    ndarray of shape ``shape``, float64
    """
    fan_in, fan_out = fans(shape)
    gain = check_positive(gain, "gain")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _rng(rng).normal(0.0, std, size=_shape(shape))


def he_normal(shape, rng=None) -> np.ndarray:
    """He/Kaiming normal: N(0, std^2) with ``std = sqrt(2 / fan_in)``.

    A ReLU zeroes half of its input, halving the second moment; the factor 2
    makes up for it, so activation variance stays constant with depth
    (``torch.nn.init.kaiming_normal_`` with its defaults).

    Parameters
    ----------
    shape : tuple of int, length >= 2
    rng : int, np.random.Generator or None

    Returns
    -------
    ndarray of shape ``shape``, float64
    """
    fan_in, _ = fans(shape)
    return _rng(rng).normal(0.0, math.sqrt(2.0 / fan_in), size=_shape(shape))


def he_uniform(shape, rng=None) -> np.ndarray:
    """He/Kaiming uniform: U(-b, b) with ``b = sqrt(6 / fan_in)`` (variance ``2 / fan_in``).

    Parameters
    ----------
    shape : tuple of int, length >= 2
    rng : int, np.random.Generator or None

    Returns
    -------
    ndarray of shape ``shape``, float64
    """
    fan_in, _ = fans(shape)
    b = math.sqrt(6.0 / fan_in)
    return _rng(rng).uniform(-b, b, size=_shape(shape))


def zeros(shape) -> np.ndarray:
    """All zeros: fine for biases, but weights must not be zeros.

    With equal weights every unit in a layer computes the same thing and gets
    the same gradient, so they stay identical: random initialisation breaks
    this symmetry.

    Parameters
    ----------
    shape : int or tuple of int

    Returns
    -------
    ndarray of shape ``shape``, float64
    """
    return np.zeros(_shape(shape))
