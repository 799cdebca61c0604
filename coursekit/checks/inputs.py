"""Functions that visible checks pass to a student's function as inputs.

They live apart from the checks (which hold reference answers) so that the
grading sandbox can import them while every ``checks.nbXX`` module is hidden
from it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["grad_parabola", "grad_bowl", "sum_of_cubes", "sin_times_x", "log_sum_exp"]


def grad_parabola(theta: np.ndarray) -> np.ndarray:
    """Gradient of f(theta) = sum(theta^2): ``2 theta``, same shape as ``theta``."""
    return 2.0 * theta


def grad_bowl(theta: np.ndarray) -> np.ndarray:
    """Gradient of f(theta) = 0.5 (theta_0^2 + 10 theta_1^2), theta of shape (2,)."""
    return np.array([1.0, 10.0]) * theta


def sum_of_cubes(x: np.ndarray) -> float:
    """f(x) = sum(x^3); gradient 3 x^2."""
    return float(np.sum(x**3))


def sin_times_x(x: np.ndarray) -> float:
    """f(x) = sum(x sin(x)); gradient sin(x) + x cos(x)."""
    return float(np.sum(x * np.sin(x)))


def log_sum_exp(x: np.ndarray) -> float:
    """f(x) = log(sum(exp(x))); gradient softmax(x)."""
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))
