"""2-D test functions for watching optimisers move (notebook 02).

A :class:`Surface` bundles a loss ``f(x, y)`` that works on meshgrids (for
contour plots), its gradient at a point, the minimum and a plotting window.
:func:`run_optimizer` runs any optimiser from :mod:`coursekit.optimizers` on a
surface and returns the trajectory; :func:`gd_1d` is plain gradient descent on
a 1-D function for the learning-rate demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from coursekit._validate import (
    as_float_array,
    check_finite,
    check_nonneg_int,
    check_positive,
    check_shape,
)

__all__ = ["Surface", "quadratic", "rosenbrock", "SURFACES", "run_optimizer", "gd_1d"]


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface.

    Attributes
    ----------
    name : str
    f : callable (x, y) -> value
        Works element-wise on floats and arrays, e.g. ``f(X, Y)`` on a meshgrid
        of shape (H, W) (plain arithmetic only, so torch tensors work too).
    grad : callable (p: ndarray of shape (2,)) -> ndarray of shape (2,)
        Gradient at one point.
    minimum : ndarray of shape (2,)
        Location of the global minimum.
    xlim, ylim : (float, float)
        A plotting window that shows the interesting part.
    default_start : ndarray of shape (2,)
        A starting point that shows the surface's difficulty.
    """

    name: str
    f: Callable[[Any, Any], Any]
    grad: Callable[[np.ndarray], np.ndarray]
    minimum: np.ndarray
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    default_start: np.ndarray

    def value(self, p) -> float:
        """f at one point ``p`` of shape (2,)."""
        p = _point(p, "p")
        return float(self.f(p[0], p[1]))


def _point(p: Any, name: str) -> np.ndarray:
    p = as_float_array(p, name).astype(np.float64)
    check_shape(p, (2,), name)
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must hold finite numbers, got {p.tolist()}")
    return p


def quadratic(kappa: float = 10.0) -> Surface:
    """Ill-conditioned bowl ``f(x, y) = 0.5 (x^2 + kappa y^2)``.

    The Hessian is diag(1, kappa): its condition number kappa makes gradient
    descent zig-zag across the steep y direction while crawling along x, since
    any lr above 2 / kappa diverges in y.

    Parameters
    ----------
    kappa : float > 0
        Curvature ratio (condition number for kappa >= 1).

    Returns
    -------
    Surface
        Minimum at (0, 0).
    """
    kappa = check_positive(kappa, "kappa")

    def f(x, y):
        return 0.5 * (x**2 + kappa * y**2)

    def grad(p: np.ndarray) -> np.ndarray:
        p = _point(p, "p")
        return np.array([p[0], kappa * p[1]])

    return Surface(
        name=f"quadratic (kappa={kappa:g})",
        f=f,
        grad=grad,
        minimum=np.zeros(2),
        xlim=(-10.0, 10.0),
        ylim=(-5.0, 5.0),
        default_start=np.array([-9.0, 3.0]),
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    """Rosenbrock's banana ``f(x, y) = (a - x)^2 + b (y - x^2)^2``.

    The minimum (a, a^2) lies at the bottom of a long, curved, flat valley:
    finding the valley is easy, following it is hard.

    Gradient: ``df/dx = -2 (a - x) - 4 b x (y - x^2)``, ``df/dy = 2 b (y - x^2)``.

    Parameters
    ----------
    a : float
    b : float > 0

    Returns
    -------
    Surface
    """
    a = check_finite(a, "a")
    b = check_positive(b, "b")

    def f(x, y):
        return (a - x) ** 2 + b * (y - x**2) ** 2

    def grad(p: np.ndarray) -> np.ndarray:
        x, y = _point(p, "p")
        return np.array([-2.0 * (a - x) - 4.0 * b * x * (y - x * x), 2.0 * b * (y - x * x)])

    return Surface(
        name=f"rosenbrock (a={a:g}, b={b:g})",
        f=f,
        grad=grad,
        minimum=np.array([a, a * a]),
        xlim=(a - 3.0, a + 1.5),
        ylim=(a * a - 2.0, a * a + 3.0),
        default_start=np.array([a - 2.5, a * a + 2.0]),
    )


#: name -> factory with default arguments, for widgets' drop-downs.
SURFACES: dict[str, Callable[[], Surface]] = {"quadratic": quadratic, "rosenbrock": rosenbrock}


def run_optimizer(
    optimizer_cls: type, surface: Surface, start=None, steps: int = 100, **hyper
) -> np.ndarray:
    """Run an optimiser on a surface and record where it goes.

    Parameters
    ----------
    optimizer_cls : class from :mod:`coursekit.optimizers`
        E.g. ``SGD`` or ``Adam``; called as ``optimizer_cls(params, **hyper)``.
    surface : Surface
    start : ndarray of shape (2,) or None
        Starting point; ``surface.default_start`` if None.
    steps : int >= 0
    **hyper
        Hyper-parameters for the optimiser, e.g. ``lr=0.1, momentum=0.9``.

    Returns
    -------
    ndarray of shape (steps + 1, 2)
        Row 0 is ``start``, row t the point after t updates. If the iterates
        diverge (overflow to inf/NaN), the remaining rows are NaN so plots
        simply stop there.
    """
    if not callable(optimizer_cls):
        raise TypeError(
            f"optimizer_cls must be an optimizer class such as coursekit.optimizers.SGD, "
            f"got {optimizer_cls!r}"
        )
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface, got {type(surface).__name__}")
    steps = check_nonneg_int(steps, "steps")
    start = surface.default_start if start is None else start
    xy = _point(start, "start").copy()
    grad = np.zeros(2)
    opt = optimizer_cls(({"xy": xy}, {"xy": grad}), **hyper)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = xy
    # A too-large learning rate is part of the lesson: let it overflow quietly.
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            grad[...] = surface.grad(xy)
            opt.step()
            if not np.all(np.isfinite(xy)):
                break
            path[t] = xy
    return path


def gd_1d(f_grad: Callable[[float], float], x0: float, lr: float, steps: int) -> np.ndarray:
    """Plain gradient descent ``x <- x - lr * f'(x)`` on a 1-D function.

    Parameters
    ----------
    f_grad : callable float -> float
        The derivative f'.
    x0 : float
        Starting point.
    lr : float >= 0
    steps : int >= 0

    Returns
    -------
    ndarray of shape (steps + 1,)
        The iterates x_0 ... x_steps; NaN after divergence to inf/NaN.
    """
    if not callable(f_grad):
        raise TypeError(f"f_grad must be a callable x -> f'(x), got {f_grad!r}")
    x0 = check_finite(x0, "x0")
    lr = check_positive(lr, "lr", allow_zero=True)
    steps = check_nonneg_int(steps, "steps")
    xs = np.full(steps + 1, np.nan)
    # NumPy scalars overflow to inf (silenced below) where Python floats would raise.
    x = np.float64(x0)
    xs[0] = x
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            try:
                x = x - lr * np.float64(f_grad(x))
            except OverflowError:
                break
            if not np.isfinite(x):
                break
            xs[t] = x
    return xs
