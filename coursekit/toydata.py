"""Small 2-D toy data sets, generated in code (notebooks 01-05).

Every generator takes a ``seed`` and uses its own ``np.random.Generator``, so
the same seed always gives the same data and no global state is touched.
Classification sets return ``X`` of shape (n, 2), float64, and ``y`` of shape
(n,), int64, shuffled so the classes are interleaved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit._validate import (
    as_float_array,
    check_bool,
    check_positive,
    check_positive_int,
    check_same_length,
    check_seed,
)

__all__ = [
    "make_xor",
    "make_moons",
    "make_circles",
    "make_spirals",
    "make_regression_1d",
    "train_val_test_split",
]


def _check_seed(seed: Any) -> int:
    return check_seed(seed)


def _split_counts(n: int, parts: int) -> list[int]:
    """Split n into ``parts`` near-equal counts (the first ones get the remainder)."""
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def _shuffle(X: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


def _two_classes(X0: np.ndarray, X1: np.ndarray, noise: float, rng: np.random.Generator):
    """Points X0 (n0, 2) as class 0 and X1 (n1, 2) as class 1, plus noise, shuffled."""
    y = np.repeat(np.array([0, 1], dtype=np.int64), [len(X0), len(X1)])
    X = np.concatenate([X0, X1]) + noise * rng.standard_normal((len(y), 2))
    return _shuffle(X, y, rng)


def make_xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """XOR: four Gaussian blobs at (+-1, +-1); label 1 where the signs of x and y differ.

    No straight line separates the classes, so logistic regression fails and
    one hidden layer suffices.

    Parameters
    ----------
    n : int >= 1
    noise : float >= 0
        Standard deviation of each blob.
    seed : int

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int64
    """
    n = check_positive_int(n, "n")
    noise = check_positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(_check_seed(seed))
    corners = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    labels = np.array([0, 0, 1, 1])
    which = np.repeat(np.arange(4), _split_counts(n, 4))
    X = corners[which] + noise * rng.standard_normal((n, 2))
    return _shuffle(X, labels[which].astype(np.int64), rng)


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (like ``sklearn.datasets.make_moons``).

    Class 0: (cos t, sin t); class 1: (1 - cos t, 0.5 - sin t), t in [0, pi].

    Parameters
    ----------
    n : int >= 2
    noise : float >= 0
        Standard deviation of Gaussian noise added to every point.
    seed : int

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int64
    """
    n = check_positive_int(n, "n")
    noise = check_positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(_check_seed(seed))
    n0, n1 = _split_counts(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], 1)  # (n0, 2)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)  # (n1, 2)
    return _two_classes(upper, lower, noise, rng)


def make_circles(
    n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1, radius ``factor``) inside a unit circle (class 0).

    Parameters
    ----------
    n : int >= 1
    noise : float >= 0
    factor : float in (0, 1)
        Radius of the inner circle.
    seed : int

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int64
    """
    n = check_positive_int(n, "n")
    noise = check_positive(noise, "noise", allow_zero=True)
    factor = check_positive(factor, "factor")
    if factor >= 1:
        raise ValueError(f"factor must lie in (0, 1), got {factor}")
    rng = np.random.default_rng(_check_seed(seed))
    n0, n1 = _split_counts(n, 2)
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    outer = np.stack([np.cos(t0), np.sin(t0)], 1)  # (n0, 2)
    inner = factor * np.stack([np.cos(t1), np.sin(t1)], 1)  # (n1, 2)
    return _two_classes(outer, inner, noise, rng)


def make_spirals(
    n: int = 300, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n spiral data).

    Arm k: radius r in [0, 1], angle ``4 r + 2 pi k / K`` plus Gaussian
    angular noise of standard deviation ``noise``.

    Parameters
    ----------
    n : int >= 1
        Total number of points (split as evenly as possible between classes).
    n_classes : int >= 2
    noise : float >= 0
    seed : int

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int64, values in [0, n_classes)
    """
    n = check_positive_int(n, "n")
    n_classes = check_positive_int(n_classes, "n_classes")
    if n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes}")
    noise = check_positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(_check_seed(seed))
    xs, ys = [], []
    for k, m in enumerate(_split_counts(n, n_classes)):
        r = np.linspace(0.0, 1.0, m)
        t = 4.0 * r + 2 * np.pi * k / n_classes + noise * rng.standard_normal(m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(m, k, dtype=np.int64))
    return _shuffle(np.concatenate(xs), np.concatenate(ys), rng)


_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": lambda x: np.sin(np.pi * x),
    "cubic": lambda x: x**3 - 0.5 * x,
    "abs": np.abs,
    "step": lambda x: (x > 0).astype(np.float64),
}


def make_regression_1d(
    n: int = 100, noise: float = 0.1, fn: str | Callable = "sin", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy samples of a 1-D function on [-1, 1], sorted by x (for line plots).

    ``y = g(x) + noise * N(0, 1)`` with g one of ``"sin"`` (sin(pi x)),
    ``"cubic"`` (x^3 - x/2), ``"abs"`` (|x|), ``"step"`` (1 for x > 0) or any
    callable on arrays.

    Parameters
    ----------
    n : int >= 1
    noise : float >= 0
    fn : str or callable
    seed : int

    Returns
    -------
    x : ndarray of shape (n, 1), float64
    y : ndarray of shape (n, 1), float64
    """
    n = check_positive_int(n, "n")
    noise = check_positive(noise, "noise", allow_zero=True)
    if callable(fn):
        g = fn
    elif fn in _FUNCTIONS:
        g = _FUNCTIONS[fn]
    else:
        raise ValueError(f"fn must be one of {list(_FUNCTIONS)} or a callable, got {fn!r}")
    rng = np.random.default_rng(_check_seed(seed))
    x = np.sort(rng.uniform(-1.0, 1.0, n))
    # check fn's output before adding the noise, which would broadcast a wrong shape
    gx = as_float_array(g(x), "fn(x)")
    if gx.shape != (n,):
        raise ValueError(f"fn must map an array of shape ({n},) to the same shape, got {gx.shape}")
    y = gx + noise * rng.standard_normal(n)
    return x[:, None], y[:, None]


def _apportion(counts: np.ndarray, total: int) -> np.ndarray:
    """Share ``total`` between groups in proportion to ``counts`` (largest remainders)."""
    exact = counts * total / counts.sum()
    share = np.floor(exact).astype(np.int64)
    # Hand the leftover units to the groups that lost the largest fractions.
    order = np.argsort(-(exact - share), kind="stable")
    share[order[: total - share.sum()]] += 1
    return share


def train_val_test_split(
    X,
    y,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    stratify: bool = True,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Shuffle and split into training, validation and test sets.

    Train on "train", choose hyper-parameters and stop early on "val", and
    report "test" once at the end. The split sizes are
    ``round(val_fraction * n)`` and ``round(test_fraction * n)``; with
    ``stratify`` each class keeps (as nearly as possible) its proportion in
    every split. Stratification applies to integer class labels and is skipped
    for real-valued (regression) targets.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
    y : ndarray of shape (n,) or (n, ...)
    val_fraction, test_fraction : float >= 0, sum < 1
    seed : int
    stratify : bool

    Returns
    -------
    dict
        ``{"train": (X, y), "val": (X, y), "test": (X, y)}``, each a subset of
        the rows of the inputs, in shuffled order.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y must have a batch axis, got shapes {X.shape} and {y.shape}")
    check_same_length(X, y, "X", "y")
    as_float_array(X, "X")  # type check only: X must be numeric
    y_float = as_float_array(y, "y")
    if not np.all(np.isfinite(y_float)):
        bad = y_float[~np.isfinite(y_float)][0]
        raise ValueError(
            f"y must hold finite labels or targets, got {bad} in an array of shape {y.shape}"
        )
    val_fraction = check_positive(val_fraction, "val_fraction", allow_zero=True)
    test_fraction = check_positive(test_fraction, "test_fraction", allow_zero=True)
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            "val_fraction + test_fraction must be < 1, "
            f"got {val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    check_bool(stratify, "stratify")
    rng = np.random.default_rng(_check_seed(seed))
    n = len(y)
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if n - n_val - n_test < 1:
        raise ValueError(
            f"the training split would be empty: n={n} is too small for these fractions"
        )

    is_labels = y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or y.dtype == bool)
    if stratify and is_labels:
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        test_per_class = _apportion(counts, n_test)
        val_per_class = _apportion(counts - test_per_class, n_val)
        parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
        for c in range(len(classes)):
            idx = rng.permutation(np.flatnonzero(inverse == c))
            nt, nv = test_per_class[c], val_per_class[c]
            parts["test"].append(idx[:nt])
            parts["val"].append(idx[nt : nt + nv])
            parts["train"].append(idx[nt + nv :])
        # Shuffle again so the classes are interleaved inside each split.
        index = {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}
    else:
        perm = rng.permutation(n)
        index = {
            "test": perm[:n_test],
            "val": perm[n_test : n_test + n_val],
            "train": perm[n_test + n_val :],
        }
    return {k: (X[index[k]], y[index[k]]) for k in ("train", "val", "test")}
