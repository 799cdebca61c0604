"""Visible checks for notebook 03 (backpropagation by hand).

The expected values come from closed-form backprop formulas written out here
in plain NumPy; ``tests/test_checks_nb03.py`` confirms them against PyTorch
autograd in float64.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks.framework import Case, CheckResult, run_check
from coursekit.checks.inputs import log_sum_exp, sin_times_x, sum_of_cubes

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.gradcheck",)
#: The topological order must not come from the course's own engine either.
FORBID_TOPO = (*FORBID, "coursekit.autodiff")

__all__ = [
    "WORKED_EXAMPLE",
    "forward_221",
    "backward_221_reference",
    "linear_tanh_backward_reference",
    "check_backward_221",
    "check_linear_tanh_backward",
    "check_numerical_gradient",
    "topological_order_reference",
    "order_problem",
    "check_iterative_topological_order",
]

#: The 2-2-1 network of the notebook's worked example: x, y and the parameters.
WORKED_EXAMPLE: dict[str, Any] = {
    "x": np.array([1.0, 2.0]),
    "y": 1.0,
    "params": {
        "W2": np.array([[0.5, -0.5], [0.25, 0.5]]),
        "b2": np.array([0.2, -0.5]),
        "w3": np.array([1.5, -1.0]),
        "b3": 0.25,
    },
}


# --------------------------------------------------------------------------- references
def forward_221(x: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
    """Forward pass of the 2-2-1 tanh/sigmoid network.

    Parameters
    ----------
    x : ndarray of shape (2,)
    params : dict with "W2" (2, 2), "b2" (2,), "w3" (2,), "b3" float

    Returns
    -------
    dict with "z2", "a2" (each of shape (2,)), "z3" and "y_hat" (floats)
    """
    z2 = params["W2"] @ x + params["b2"]
    a2 = np.tanh(z2)
    z3 = float(params["w3"] @ a2 + params["b3"])
    y_hat = 1.0 / (1.0 + np.exp(-z3))
    return {"z2": z2, "a2": a2, "z3": z3, "y_hat": float(y_hat)}


def backward_221_reference(x: np.ndarray, y: float, params: dict[str, Any]) -> dict[str, Any]:
    """Gradients of the binary cross-entropy of the 2-2-1 network for one example.

    Parameters
    ----------
    x : ndarray of shape (2,)
    y : float, 0 or 1
    params : dict with "W2" (2, 2), "b2" (2,), "w3" (2,), "b3" float

    Returns
    -------
    dict with "W2" (2, 2), "b2" (2,), "w3" (2,) and "b3" (float)
    """
    f = forward_221(x, params)
    delta3 = f["y_hat"] - y  # sigmoid and BCE together: dE/dz3 = y_hat - y
    delta2 = delta3 * params["w3"] * (1.0 - f["a2"] ** 2)  # (2,)
    return {
        "W2": np.outer(delta2, x),
        "b2": delta2,
        "w3": delta3 * f["a2"],
        "b3": float(delta3),
    }


def linear_tanh_backward_reference(
    dout: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of ``out = tanh(x @ w.T + b)`` for a mini-batch.

    Parameters
    ----------
    dout : ndarray of shape (N, M)
    x : ndarray of shape (N, D)
    w : ndarray of shape (M, D)
    b : ndarray of shape (M,)

    Returns
    -------
    dx : ndarray of shape (N, D)
    dw : ndarray of shape (M, D)
    db : ndarray of shape (M,)
    """
    a = np.tanh(x @ w.T + b)
    dz = dout * (1.0 - a**2)
    return dz @ w, dz.T @ x, dz.sum(axis=0)


# --------------------------------------------------------------------------- exercise 1
def _params(W2, b2, w3, b3) -> dict[str, Any]:
    return {
        "W2": np.array(W2, dtype=np.float64),
        "b2": np.array(b2, dtype=np.float64),
        "w3": np.array(w3, dtype=np.float64),
        "b3": float(b3),
    }


def _case_221(x, y, params, name: str, hint: str) -> Case:
    x = np.array(x, dtype=np.float64)
    expected = backward_221_reference(x, y, params)
    return Case(args=(x, float(y), params), expected=expected, name=name, hint=hint)


def check_backward_221(fn: Callable) -> CheckResult:
    """Check ``backward_221(x, y, params)`` -> dict of gradients of the 2-2-1 network.

    Parameters
    ----------
    fn : callable (ndarray (2,), float, dict) -> dict
        Returns "W2" (2, 2), "b2" (2,), "w3" (2,) and "b3" (a float).

    Returns
    -------
    CheckResult
    """
    ex = WORKED_EXAMPLE
    cases = [
        _case_221(
            ex["x"],
            ex["y"],
            {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in ex["params"].items()},
            "the worked example",
            "start from dE/dz3 = y_hat - y; the section above prints every value to compare with",
        ),
        _case_221(
            [1.0, 2.0],
            0.0,
            _params([[0.5, -0.5], [0.25, 0.5]], [0.2, -0.5], [1.5, -1.0], 0.25),
            "label y = 0",
            "use y from the argument: with y = 0, dE/dz3 = y_hat (positive)",
        ),
        _case_221(
            [-1.0, 3.0],
            1.0,
            _params([[0.3, 0.1], [-0.4, 0.2]], [0.0, 0.1], [2.0, 0.5], -1.0),
            "x_1 differs from x_2",
            "dE/dW2[j, k] = delta2_j * x_k: row j belongs to hidden unit j, column k to input k "
            "(np.outer(delta2, x), not np.outer(x, delta2))",
        ),
        _case_221(
            [0.5, -1.5],
            1.0,
            _params([[2.0, 1.0], [-1.0, 0.5]], [0.5, -0.2], [-0.7, 1.2], 0.3),
            "large pre-activations",
            "tanh'(z2) = 1 - tanh(z2)^2 = 1 - a2^2; evaluate it at z2, not at x or at a2",
        ),
    ]
    return run_check("backward_221", fn, cases, rtol=1e-9, atol=1e-12, forbid=FORBID)


# --------------------------------------------------------------------------- exercise 2
def _case_linear_tanh(rng: np.random.Generator, n: int, d: int, m: int, name: str, hint: str):
    dout, x = rng.normal(size=(n, m)), rng.normal(size=(n, d))
    w, b = 0.5 * rng.normal(size=(m, d)), 0.5 * rng.normal(size=m)
    expected = linear_tanh_backward_reference(dout, x, w, b)
    return Case(args=(dout, x, w, b), expected=expected, name=name, hint=hint)


def check_linear_tanh_backward(fn: Callable) -> CheckResult:
    """Check ``linear_tanh_backward(dout, x, w, b)`` -> ``(dx, dw, db)`` for out = tanh(x w^T + b).

    Parameters
    ----------
    fn : callable (dout (N, M), x (N, D), w (M, D), b (M,))
        -> tuple (dx (N, D), dw (M, D), db (M,))

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(3)
    cases = [
        _case_linear_tanh(
            rng,
            1,
            3,
            2,
            "one example, 3 -> 2",
            "first dz = dout * (1 - tanh(z)^2) with z = x @ w.T + b; then dx = dz @ w",
        ),
        _case_linear_tanh(
            rng,
            4,
            3,
            2,
            "batch of 4, 3 -> 2",
            "dw = dz.T @ x has w's shape (M, D); db sums dz over the batch axis",
        ),
        _case_linear_tanh(
            rng,
            5,
            2,
            3,
            "batch of 5, 2 -> 3",
            "every gradient has the shape of what it is the gradient of: dx like x, dw like w",
        ),
    ]
    return run_check("linear_tanh_backward", fn, cases, rtol=1e-9, atol=1e-12, forbid=FORBID)


# --------------------------------------------------------------------------- exercise 3
def _grad_and_restored_input(fn: Callable) -> Callable:
    """Wrap ``numerical_gradient`` so the check also sees ``x`` after the call."""

    def run(f: Callable, x: np.ndarray, h: float) -> tuple[Any, np.ndarray]:
        grad = fn(f, x, h)
        return grad, x

    return run


def _numgrad_compare(got: Any, expected: tuple[np.ndarray, np.ndarray]) -> bool:
    """Compare (gradient, x after the call); the message says which of the two is wrong.

    Raises ``AssertionError`` with a problem and the advice that fits it: an ``x``
    that was not restored gets advice about restoring, a wrong gradient about the
    formula, so a student is never pointed at the wrong half of the exercise.
    """
    grad_expected, x_expected = expected
    if not isinstance(got, tuple) or len(got) != 2:
        raise AssertionError(f"expected the gradient, got {type(got).__name__}")
    grad, x_after = got
    if not np.array_equal(x_after, x_expected):
        bad = np.argwhere(x_after != x_expected)[0]
        idx = tuple(int(i) for i in bad)
        raise AssertionError(
            f"x was changed by your function: x{list(idx)} is {float(x_after[idx])!r} after the "
            f"call, was {float(x_expected[idx])!r}. Save old = x[i] before perturbing x[i] and set "
            f"x[i] = old afterwards (adding and subtracting h does not always give old "
            f"back exactly in floating point)"
        )
    if not isinstance(grad, np.ndarray) or grad.shape != grad_expected.shape:
        shape = grad.shape if isinstance(grad, np.ndarray) else type(grad).__name__
        raise AssertionError(
            f"the gradient must be an array of x's shape {grad_expected.shape}, got {shape}: "
            f"loop over every index of x with np.ndindex(x.shape)"
        )
    bad = ~np.isclose(grad, grad_expected, rtol=1e-7, atol=1e-9)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} gradient entries differ; first at index {idx}: "
            f"expected {float(grad_expected[idx])!r}, got {float(grad[idx])!r}. Use the centred difference "
            f"(f(x + h e_i) - f(x - h e_i)) / (2 h) with the h you are given; a one-sided "
            f"difference (f(x + h e_i) - f(x)) / h is only accurate to O(h)"
        )
    return True


def check_numerical_gradient(fn: Callable) -> CheckResult:
    """Check ``numerical_gradient(f, x, h)`` -> centred-difference gradient of shape x.shape.

    The function must leave ``x`` as it found it. Each failure says whether the
    gradient or ``x`` after the call is wrong, with advice for that failure.

    Parameters
    ----------
    fn : callable (f: ndarray -> float, x: ndarray of shape S, h: float) -> ndarray of shape S

    Returns
    -------
    CheckResult
    """
    x1 = np.array([1.0, 2.0, -1.5])
    x2 = np.array([[0.3, -1.2, 2.0], [1.5, 0.0, -0.7]])
    x3 = np.array([2.0, -1.0, 0.5, 3.0])
    softmax3 = np.exp(x3 - x3.max()) / np.sum(np.exp(x3 - x3.max()))
    cases = [
        Case(
            args=(sum_of_cubes, x1, 1e-5),
            expected=(3 * x1**2, x1.copy()),
            name="sum of cubes, x of shape (3,)",
        ),
        Case(
            args=(sin_times_x, x2, 1e-5),
            expected=(np.sin(x2) + x2 * np.cos(x2), x2.copy()),
            name="x sin x, x of shape (2, 3)",
        ),
        Case(
            args=(log_sum_exp, x3, 1e-6),
            expected=(softmax3, x3.copy()),
            name="log-sum-exp, h = 1e-6",
        ),
    ]
    return run_check(
        "numerical_gradient",
        _grad_and_restored_input(fn),
        cases,
        compare=_numgrad_compare,
        forbid=FORBID,
    )


# --------------------------------------------------------------------------- exercise 4
def topological_order_reference(inputs: dict[str, list[str]], root: str) -> list[str]:
    """``root`` and every node it depends on, each after all of its inputs (``root`` last).

    Parameters
    ----------
    inputs : dict str -> list of str
        The names of the nodes each node was computed from ([] for an input).
    root : str

    Returns
    -------
    list of str
    """
    order: list[str] = []
    visited: set[str] = set()
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:  # an iterative depth-first search: no recursion limit
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((parent, False) for parent in reversed(inputs[node]))
    return order


def order_problem(got: Any, inputs: dict[str, list[str]], root: str) -> str:
    """Why ``got`` is not a topological order of ``root``'s graph, or "" if it is one.

    Names the first offending node and says what to change.
    """
    if not isinstance(got, list) or not all(isinstance(n, str) for n in got):
        return f"return a list of node names (str), got {type(got).__name__}"
    needed = set(topological_order_reference(inputs, root))
    counts = Counter(got)
    for node in got:
        if counts[node] > 1:
            return (
                f"{node!r} appears {counts[node]} times: a node used by several others must "
                f"still be listed once (remember which nodes you have visited, in a set)"
            )
    for node in got:
        if node not in needed:
            return (
                f"{root!r} does not depend on {node!r}: start from root and follow the inputs, "
                f"rather than listing every key of the dict"
            )
    for node in sorted(needed - set(got)):
        return (
            f"{root!r} depends on {node!r}, which is missing: visit the inputs of every node "
            f"you reach, and their inputs, down to the graph's inputs"
        )
    position = {node: i for i, node in enumerate(got)}
    for node in got:
        for parent in inputs[node]:
            if position[parent] > position[node]:
                return (
                    f"{node!r} comes before its input {parent!r}: append a node only after "
                    f"all of its inputs have been appended"
                )
    return ""


class _AnyTopologicalOrder:
    """What a case of ``check_topological_order`` expects: any valid order, not one list."""

    def __init__(self, inputs: dict[str, list[str]], root: str):
        self.inputs, self.root = inputs, root
        self.example = topological_order_reference(inputs, root)

    def __repr__(self) -> str:
        return f"the {len(self.example)} nodes in an order like {self.example}"


def _topo_compare(got: Any, expected: _AnyTopologicalOrder) -> bool:
    advice = order_problem(got, expected.inputs, expected.root)
    if advice:
        raise AssertionError(advice)
    return True


def check_iterative_topological_order(fn: Callable) -> CheckResult:
    """Check ``iterative_topological_order(inputs, root)`` -> names, each after its inputs.

    Any valid order passes; a wrong one is told what is wrong with it. The last
    case is a chain deeper than Python's recursion limit.

    Parameters
    ----------
    fn : callable (inputs: dict str -> list of str, root: str) -> list of str

    Returns
    -------
    CheckResult
    """
    section_1 = {"f": ["q", "z"], "q": ["x", "y"], "x": [], "y": [], "z": []}
    used_twice = {"g": ["xy", "x"], "xy": ["x", "y"], "x": [], "y": []}
    with_unused = {"out": ["a", "b"], "a": ["x"], "b": ["x", "c"], "c": [], "x": [], "d": ["x"]}
    network_221 = {
        "E": ["y_hat", "y"],
        "y_hat": ["z3"],
        "z3": ["w3", "a2", "b3"],
        "a2": ["z2"],
        "z2": ["W2", "x", "b2"],
        **{leaf: [] for leaf in ("y", "w3", "b3", "W2", "x", "b2")},
    }
    deep_chain = {f"c{i}": [f"c{i - 1}"] if i else [] for i in range(5000)}
    cases = [
        Case(
            args=(section_1, "f"),
            expected=_AnyTopologicalOrder(section_1, "f"),
            name="f = (x + y) z",
        ),
        Case(
            args=(used_twice, "g"),
            expected=_AnyTopologicalOrder(used_twice, "g"),
            name="g = x y + x, x used twice",
        ),
        Case(
            args=(with_unused, "out"),
            expected=_AnyTopologicalOrder(with_unused, "out"),
            name="a node out does not depend on",
        ),
        Case(
            args=(network_221, "E"),
            expected=_AnyTopologicalOrder(network_221, "E"),
            name="the 2-2-1 network, layer by layer",
        ),
        Case(
            args=(deep_chain, "c4999"),
            expected=_AnyTopologicalOrder(deep_chain, "c4999"),
            name="a chain of 5000 nodes",
            hint="deeper than Python's recursion limit (a few thousand nested calls): a recursive "
            "search raises RecursionError here; keep your own stack of nodes to visit instead "
            "(a list: append, pop)",
        ),
    ]
    return run_check(
        "iterative_topological_order", fn, cases, compare=_topo_compare, forbid=FORBID_TOPO
    )
