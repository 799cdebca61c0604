"""Visible checks for notebook 04 (multi-layer perceptrons).

The expected values come from short NumPy references written out here;
``tests/test_checks_nb04.py`` confirms them against PyTorch in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks.framework import Case, CheckResult, run_check

__all__ = [
    "XOR_INPUTS",
    "XOR_TARGETS",
    "relu_net_221",
    "mlp_loss_and_grads_reference",
    "check_collapse_linear",
    "check_xor_weights",
    "check_mlp_loss_and_grads",
    "check_count_mlp_params",
]

#: The four Boolean inputs, shape (4, 2), and XOR of each, shape (4,).
XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([0.0, 1.0, 1.0, 0.0])


# --------------------------------------------------------------------------- exercise 1
def _collapse_case(rng: np.random.Generator, n: int, h: int, m: int, name: str, hint: str):
    W1, b1 = rng.normal(size=(h, n)), rng.normal(size=h)
    W2, b2 = rng.normal(size=(m, h)), rng.normal(size=m)
    return Case(args=(W1, b1, W2, b2), expected=(W2 @ W1, W2 @ b1 + b2), name=name, hint=hint)


def check_collapse_linear(fn: Callable) -> CheckResult:
    """Check ``collapse_linear(W1, b1, W2, b2)`` -> ``(W, b)`` with W x + b = W2 (W1 x + b1) + b2.

    Parameters
    ----------
    fn : callable (W1 (H, N), b1 (H,), W2 (M, H), b2 (M,)) -> tuple (W (M, N), b (M,))

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(40)
    cases = [
        _collapse_case(
            rng,
            2,
            2,
            2,
            "2 -> 2 -> 2",
            "expand W2 (W1 x + b1) + b2: the x term gives W, the rest gives b",
        ),
        _collapse_case(
            rng,
            3,
            4,
            2,
            "3 -> 4 -> 2",
            "W maps R^3 to R^2, so it is 2 x 3: W2 @ W1, not W1 @ W2",
        ),
        _collapse_case(
            rng,
            5,
            3,
            1,
            "5 -> 3 -> 1",
            "the first layer's bias passes through W2 as well: b = W2 @ b1 + b2",
        ),
    ]
    return run_check("collapse_linear", fn, cases, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- exercise 2
def relu_net_221(params: Any, X: np.ndarray = XOR_INPUTS) -> np.ndarray:
    """Outputs ``w2 . relu(W1 x + b1) + b2`` of a 2-2-1 ReLU network for each row x of ``X``.

    Parameters
    ----------
    params : dict with "W1" (2, 2), "b1" (2,), "w2" (2,) and "b2" (a number)
    X : ndarray of shape (n, 2)

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    TypeError, ValueError
        If ``params`` lacks a key or an entry has the wrong shape.
    """
    if not isinstance(params, dict):
        raise TypeError(
            f"params must be a dict with keys W1, b1, w2, b2, got {type(params).__name__}"
        )
    shapes = {"W1": (2, 2), "b1": (2,), "w2": (2,), "b2": ()}
    arrays = {}
    for key, shape in shapes.items():
        if key not in params:
            raise ValueError(f"params must have the key {key!r}, got keys {sorted(params)}")
        arr = np.asarray(params[key], dtype=np.float64)
        if arr.shape != shape:
            raise ValueError(f"params[{key!r}] must have shape {shape}, got {arr.shape}")
        arrays[key] = arr
    hidden = np.maximum(X @ arrays["W1"].T + arrays["b1"], 0.0)
    return hidden @ arrays["w2"] + float(arrays["b2"])


def _xor_outputs(fn: Callable) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        return relu_net_221(fn())

    return run


def check_xor_weights(fn: Callable) -> CheckResult:
    """Check ``xor_weights()`` -> parameters of a 2-2-1 ReLU network that computes XOR exactly.

    The network outputs ``w2 . relu(W1 x + b1) + b2``; on the inputs (0, 0),
    (0, 1), (1, 0), (1, 1) it must give 0, 1, 1, 0.

    Parameters
    ----------
    fn : callable () -> dict with "W1" (2, 2), "b1" (2,), "w2" (2,), "b2" (float)

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(
            expected=XOR_TARGETS.copy(),
            name="outputs on (0,0), (0,1), (1,0), (1,1)",
            hint="one hidden unit can count the ones, relu(x1 + x2); a second one, "
            "relu(x1 + x2 - 1), fires only for (1, 1); combine them so (1, 1) gives 0",
        )
    ]
    return run_check("xor_weights", _xor_outputs(fn), cases, rtol=0.0, atol=1e-9)


# --------------------------------------------------------------------------- exercise 3
def mlp_loss_and_grads_reference(
    X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy of a one-hidden-layer ReLU MLP and its gradients.

    ``logits = relu(X W1^T + b1) W2^T + b2``.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,), integer labels in [0, K)
    params : dict with "W1" (H, D), "b1" (H,), "W2" (K, H), "b2" (K,)

    Returns
    -------
    loss : float
    grads : dict with the keys and shapes of ``params``
    """
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = np.maximum(Z1, 0.0)
    logits = A1 @ params["W2"].T + params["b2"]
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp never overflows
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = float(-log_p[np.arange(n), y].mean())
    dlogits = np.exp(log_p)
    dlogits[np.arange(n), y] -= 1.0
    dlogits /= n
    dA1 = dlogits @ params["W2"]
    dZ1 = dA1 * (Z1 > 0)
    grads = {
        "W1": dZ1.T @ X,
        "b1": dZ1.sum(axis=0),
        "W2": dlogits.T @ A1,
        "b2": dlogits.sum(axis=0),
    }
    return loss, grads


def random_mlp_inputs(
    rng: np.random.Generator, n: int, d: int, h: int, k: int, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Random ``(X (N, D), y (N,), params)`` for a D-H-K network, weights scaled by ``scale``."""
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, size=n)
    params = {
        "W1": scale * rng.normal(size=(h, d)),
        "b1": scale * rng.normal(size=h),
        "W2": scale * rng.normal(size=(k, h)),
        "b2": scale * rng.normal(size=k),
    }
    return X, y, params


def _mlp_case(rng, n, d, h, k, name, hint, scale=1.0) -> Case:
    X, y, params = random_mlp_inputs(rng, n, d, h, k, scale)
    return Case(
        args=(X, y, params),
        expected=mlp_loss_and_grads_reference(X, y, params),
        name=name,
        hint=hint,
    )


def check_mlp_loss_and_grads(fn: Callable) -> CheckResult:
    """Check ``mlp_loss_and_grads(X, y, params)`` -> ``(loss, grads)`` for a 1-hidden-layer MLP.

    Parameters
    ----------
    fn : callable (X (N, D), y (N,), params dict) -> tuple (float, dict)
        ``params`` has "W1" (H, D), "b1" (H,), "W2" (K, H), "b2" (K,); ``grads``
        the same keys and shapes.

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(41)
    cases = [
        _mlp_case(
            rng,
            1,
            3,
            4,
            2,
            "one example",
            "loss = -log softmax(logits)[y]; dlogits = softmax(logits) - onehot(y)",
        ),
        _mlp_case(
            rng,
            6,
            5,
            4,
            3,
            "batch of 6",
            "average the loss over the batch, so dlogits is divided by N; "
            "relu passes the gradient only where its input was > 0",
        ),
        _mlp_case(
            rng,
            4,
            3,
            5,
            4,
            "large logits",
            "log-softmax = shifted - log(sum(exp(shifted))) with shifted = logits - row max: "
            "exp of raw logits overflows, and log(softmax) gives -inf for tiny probabilities",
            scale=30.0,
        ),
    ]
    return run_check("mlp_loss_and_grads", fn, cases, rtol=1e-8, atol=1e-11)


# --------------------------------------------------------------------------- exercise 4
def check_count_mlp_params(fn: Callable) -> CheckResult:
    """Check ``count_mlp_params(sizes)`` -> number of weights and biases of an MLP.

    Parameters
    ----------
    fn : callable (tuple of int) -> int

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(
            args=((2, 2, 1),),
            expected=9,
            name="the 2-2-1 network",
            hint="a layer from n inputs to m outputs has n * m weights and m biases",
        ),
        Case(
            args=((784, 10),),
            expected=7850,
            name="logistic regression on digits",
            hint="no hidden layer: one layer 784 -> 10",
        ),
        Case(
            args=((784, 128, 10),),
            expected=101770,
            name="the digit MLP",
            hint="add up the layers: 784 -> 128, then 128 -> 10",
        ),
        Case(
            args=((3, 5, 5, 5, 2),),
            expected=92,
            name="three hidden layers",
            hint="consecutive pairs of sizes: (3, 5), (5, 5), (5, 5), (5, 2)",
        ),
    ]
    return run_check("count_mlp_params", fn, cases, compare="equal")
