"""Loss functions and their gradients (notebook 01).

Every loss uses the *mean* reduction, like PyTorch's defaults, and every
``*_grad`` function returns the gradient of that mean loss with respect to the
loss's first argument, with the same shape as it.

The softmax family is written to be numerically stable: logits of magnitude
1e4 give no overflow, no NaN and no infinity.
"""

from __future__ import annotations

import numpy as np

from coursekit._validate import (
    as_float_array,
    check_bool,
    check_labels,
    check_ndim,
    check_probability,
    check_same_length,
    check_same_shape,
)
from coursekit.activations import sigmoid

__all__ = [
    "zero_one_loss",
    "mse",
    "mse_grad",
    "mae",
    "mae_grad",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "logsumexp",
    "softmax",
    "log_softmax",
    "softmax_jacobian",
    "cross_entropy",
    "cross_entropy_grad",
    "softmax_cross_entropy",
]

# torch clamps log(p) at -100 so that p = 0 or 1 gives a large but finite loss.
_LOG_CLAMP = -100.0
# torch's floor for p(1 - p) in the BCE backward pass (aten/src/ATen/native/Loss.cpp);
# it is a C float there, so its value is float32(1e-12), not exactly 1e-12.
_BCE_GRAD_EPS = float(np.float32(1e-12))


def _pair(a, b, name_a: str, name_b: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert two arrays to float and insist on identical shapes (no broadcasting)."""
    a = as_float_array(a, name_a)
    b = as_float_array(b, name_b)
    check_same_shape(a, b, name_a, name_b)
    if a.size == 0:
        raise ValueError(f"{name_a} must not be empty, got shape {a.shape}")
    return a, b.astype(a.dtype, copy=False)


def _check_unit_interval(x: np.ndarray, name: str) -> None:
    if np.any((x < 0) | (x > 1)) or np.any(np.isnan(x)):
        bad = x[(x < 0) | (x > 1) | np.isnan(x)][0]
        raise ValueError(f"{name} must hold values in [0, 1], got {bad}")


# ---------------------------------------------------------------------------
# 0-1, MSE and MAE
# ---------------------------------------------------------------------------


def zero_one_loss(y_pred, y_true) -> float:
    """Fraction of wrong labels: the loss we care about but cannot differentiate.

    Parameters
    ----------
    y_pred : ndarray of shape (N,)
        Predicted labels.
    y_true : ndarray of shape (N,)
        True labels.

    Returns
    -------
    float
        ``mean(y_pred != y_true)``.
    """
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    check_same_shape(y_pred, y_true, "y_pred", "y_true")
    if y_pred.size == 0:
        raise ValueError(f"y_pred must not be empty, got shape {y_pred.shape}")
    return float(np.mean(y_pred != y_true))


def mse(pred, target) -> float:
    """Mean squared error over all elements, like ``nn.MSELoss()``.

    Parameters
    ----------
    pred : ndarray of any shape S
    target : ndarray of shape S

    Returns
    -------
    float
        ``mean((pred - target) ** 2)``.
    """
    pred, target = _pair(pred, target, "pred", "target")
    return float(np.mean((pred - target) ** 2))


def mse_grad(pred, target) -> np.ndarray:
    """Gradient of :func:`mse` w.r.t. ``pred``: ``2 (pred - target) / pred.size``.

    Parameters
    ----------
    pred : ndarray of any shape S
    target : ndarray of shape S

    Returns
    -------
    ndarray of shape S
    """
    pred, target = _pair(pred, target, "pred", "target")
    return 2.0 * (pred - target) / pred.size


def mae(pred, target) -> float:
    """Mean absolute error over all elements, like ``nn.L1Loss()``.

    Parameters
    ----------
    pred : ndarray of any shape S
    target : ndarray of shape S

    Returns
    -------
    float
        ``mean(|pred - target|)``.
    """
    pred, target = _pair(pred, target, "pred", "target")
    return float(np.mean(np.abs(pred - target)))


def mae_grad(pred, target) -> np.ndarray:
    """(Sub)gradient of :func:`mae` w.r.t. ``pred``: ``sign(pred - target) / pred.size``.

    |d| has no derivative at d = 0; like torch we pick the subgradient 0 there.

    Parameters
    ----------
    pred : ndarray of any shape S
    target : ndarray of shape S

    Returns
    -------
    ndarray of shape S
    """
    pred, target = _pair(pred, target, "pred", "target")
    return np.sign(pred - target) / pred.size


# ---------------------------------------------------------------------------
# Binary cross-entropy
# ---------------------------------------------------------------------------


def binary_cross_entropy(p, y) -> float:
    """Binary cross-entropy from probabilities, like ``F.binary_cross_entropy``.

    ``-mean(y log p + (1 - y) log(1 - p))`` with each log clamped at -100, so
    ``p = 0`` or ``p = 1`` gives a finite loss instead of ``inf`` or ``nan``.

    Parameters
    ----------
    p : ndarray of any shape S
        Predicted probabilities in [0, 1].
    y : ndarray of shape S
        Targets in [0, 1] (usually 0 or 1).

    Returns
    -------
    float
    """
    p, y = _pair(p, y, "p", "y")
    _check_unit_interval(p, "p")
    _check_unit_interval(y, "y")
    # np.log(0) is -inf (with a warning); the clamp below makes it -100.
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), _LOG_CLAMP)
        log_1mp = np.maximum(np.log1p(-p), _LOG_CLAMP)
    return float(-np.mean(y * log_p + (1.0 - y) * log_1mp))


def binary_cross_entropy_grad(p, y) -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy` w.r.t. ``p``.

    ``(p - y) / max(p (1 - p), 1e-12) / N``, where N = ``p.size``; the floor is
    torch's, and keeps p = 0 or 1 finite.

    Parameters
    ----------
    p : ndarray of any shape S
    y : ndarray of shape S

    Returns
    -------
    ndarray of shape S
    """
    p, y = _pair(p, y, "p", "y")
    _check_unit_interval(p, "p")
    _check_unit_interval(y, "y")
    return (p - y) / np.maximum((1.0 - p) * p, _BCE_GRAD_EPS) / p.size


def binary_cross_entropy_with_logits(z, y) -> float:
    """Binary cross-entropy from logits, like ``F.binary_cross_entropy_with_logits``.

    Uses ``max(z, 0) - z y + log(1 + exp(-|z|))``, which equals
    ``-[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]`` but never exponentiates
    a large positive number, so it is exact even for |z| = 1e4.

    Parameters
    ----------
    z : ndarray of any shape S
        Logits (any real numbers).
    y : ndarray of shape S
        Targets in [0, 1].

    Returns
    -------
    float
    """
    z, y = _pair(z, y, "z", "y")
    _check_unit_interval(y, "y")
    return float(np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def binary_cross_entropy_with_logits_grad(z, y) -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy_with_logits` w.r.t. ``z``: ``(sigmoid(z) - y) / N``.

    Parameters
    ----------
    z : ndarray of any shape S
    y : ndarray of shape S

    Returns
    -------
    ndarray of shape S
    """
    z, y = _pair(z, y, "z", "y")
    _check_unit_interval(y, "y")
    # sigmoid only ever exponentiates -|z|, so this stays finite for |z| = 1e4.
    return (sigmoid(z) - y) / z.size


# ---------------------------------------------------------------------------
# Softmax family
# ---------------------------------------------------------------------------


def _float_with_axis(x, axis: int) -> np.ndarray:
    """Return ``x`` as a float array of at least one dimension that ``axis`` indexes."""
    x = as_float_array(x, "x")
    if x.ndim == 0:  # a 0-d array has no axis to reduce over
        raise ValueError(f"x must be an array with at least 1 axis, got the 0-D value {x.item()!r}")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"axis must lie in [{-x.ndim}, {x.ndim - 1}] for x of shape {x.shape}, got {axis}"
        )
    if x.shape[axis] == 0:
        # a softmax over no classes is undefined (numpy: "zero-size array to reduction")
        raise ValueError(
            f"x must have at least one entry along axis {axis} to reduce over, got shape {x.shape}"
        )
    return x


def logsumexp(x, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``log(sum(exp(x)))`` along ``axis``, computed stably.

    Subtracting the maximum m first, ``m + log(sum(exp(x - m)))``, keeps every
    exponent <= 0, so nothing overflows.

    Parameters
    ----------
    x : ndarray of shape (..., K, ...)
    axis : int
        Axis to reduce.
    keepdims : bool
        Keep the reduced axis with size 1.

    Returns
    -------
    ndarray
        Shape of ``x`` without ``axis`` (or with size 1 there if ``keepdims``).
    """
    x = _float_with_axis(x, axis)
    keepdims = check_bool(keepdims, "keepdims")
    m = np.max(x, axis=axis, keepdims=True)
    # A row of all -inf would give -inf - (-inf) = nan; shifting by 0 there is harmless.
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer there
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(x, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``: ``exp(x - max) / sum(exp(x - max))``.

    Order preserving and sums to 1, but not a calibrated probability.

    Parameters
    ----------
    x : ndarray of shape (..., K, ...)
    axis : int

    Returns
    -------
    ndarray of the same shape as ``x``
    """
    x = _float_with_axis(x, axis)
    with np.errstate(invalid="ignore"):  # a row holding +inf is NaN, silently as in torch
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> np.ndarray:
    """Log of the softmax, ``x - logsumexp(x)``; never takes log(0).

    Parameters
    ----------
    x : ndarray of shape (..., K, ...)
    axis : int

    Returns
    -------
    ndarray of the same shape as ``x``
    """
    x = _float_with_axis(x, axis)
    # torch's order: shift by the row maximum, then subtract log(sum(exp)). A row
    # holding +inf (inf - inf) or only -inf is NaN throughout, as in torch.
    with np.errstate(invalid="ignore", divide="ignore"):
        z = x - np.max(x, axis=axis, keepdims=True)
        return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def softmax_jacobian(s) -> np.ndarray:
    """Jacobian of the softmax at output ``s``: ``diag(s) - s s^T``.

    Parameters
    ----------
    s : ndarray of shape (K,)
        A softmax output (a probability vector).

    Returns
    -------
    ndarray of shape (K, K)
        ``J[i, j] = d s_i / d x_j = s_i (delta_ij - s_j)``.
    """
    s = as_float_array(s, "s")
    check_ndim(s, 1, "s", "(K,)")
    return np.diag(s) - np.outer(s, s)


def _ce_inputs(logits, y, label_smoothing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate cross-entropy inputs; return logits, labels and the (smoothed) target."""
    logits = as_float_array(logits, "logits")
    check_ndim(logits, 2, "logits", "(N, K)")
    n, k = logits.shape
    if n == 0 or k == 0:
        raise ValueError(
            f"logits must have N >= 1 rows and K >= 1 classes, got shape {logits.shape}"
        )
    y_arr = np.asarray(y)
    check_ndim(y_arr, 1, "y", "(N,) of integer labels")
    check_same_length(logits, y_arr, "logits", "y")
    labels = check_labels(y_arr, k, "y")
    eps = check_probability(label_smoothing, "label_smoothing", allow_one=True)
    # torch's smoothed target: (1 - eps) on the true class plus eps/K spread over all K.
    target = np.full((n, k), eps / k, dtype=logits.dtype)
    target[np.arange(n), labels] += 1.0 - eps
    return logits, labels, target


def cross_entropy(logits, y, label_smoothing: float = 0.0) -> float:
    """Softmax cross-entropy from logits, like ``F.cross_entropy``.

    ``-(1/N) sum_n sum_k t_nk log softmax(logits_n)_k`` with the target
    ``t = (1 - eps) onehot(y) + eps / K``.

    Parameters
    ----------
    logits : ndarray of shape (N, K)
        Unnormalised class scores.
    y : ndarray of shape (N,)
        Integer labels in [0, K).
    label_smoothing : float in [0, 1]

    Returns
    -------
    float
    """
    logits, labels, _ = _ce_inputs(logits, y, label_smoothing)
    return float(np.mean(_ce_per_example(log_softmax(logits, axis=1), labels, label_smoothing)))


def _ce_per_example(log_p: np.ndarray, labels: np.ndarray, eps: float) -> np.ndarray:
    """``-sum_k t_nk log_p_nk`` as torch computes it: the true class's term, plus
    the smoothing term only when ``eps > 0`` (so a -inf logit of another class
    costs nothing without smoothing, instead of 0 * -inf = NaN)."""
    nll = -log_p[np.arange(len(labels)), labels]
    if eps == 0:
        return nll
    return (1.0 - eps) * nll - eps / log_p.shape[1] * np.sum(log_p, axis=1)


def cross_entropy_grad(logits, y, label_smoothing: float = 0.0) -> np.ndarray:
    """Gradient of :func:`cross_entropy` w.r.t. the logits: ``(softmax(logits) - t) / N``.

    Parameters
    ----------
    logits : ndarray of shape (N, K)
    y : ndarray of shape (N,)
    label_smoothing : float in [0, 1]

    Returns
    -------
    ndarray of shape (N, K)
    """
    logits, _, target = _ce_inputs(logits, y, label_smoothing)
    return (softmax(logits, axis=1) - target) / logits.shape[0]


def softmax_cross_entropy(logits, y) -> tuple[float, np.ndarray]:
    """Loss and gradient in one call, for training loops (CS231n's ``softmax_loss``).

    Parameters
    ----------
    logits : ndarray of shape (N, K)
    y : ndarray of shape (N,)

    Returns
    -------
    loss : float
    dlogits : ndarray of shape (N, K)
    """
    logits, labels, target = _ce_inputs(logits, y, 0.0)
    log_p = log_softmax(logits, axis=1)
    n = logits.shape[0]
    loss = float(np.mean(_ce_per_example(log_p, labels, 0.0)))
    return loss, (np.exp(log_p) - target) / n
