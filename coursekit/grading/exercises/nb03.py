"""Graded exercises of notebook 03 (backpropagation by hand).

The gradients are judged against PyTorch autograd in float64; the numerical
gradient against :func:`coursekit.gradcheck.numerical_gradient`, which no
solution may use (it solves the exercise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from coursekit import gradcheck
from coursekit.checks import nb03
from coursekit.grading.plaindata import Function
from coursekit.grading.spec import Call, Exercise, mismatch

FORBID = nb03.FORBID  # the rule the visible checks state


# --------------------------------------------------------------------------- backward_221
def _backward_221_calls(rng: np.random.Generator) -> list[Call]:
    def call(y: float, scale: float, label: str) -> Call:
        params = {
            "W2": rng.normal(size=(2, 2)) * scale,
            "b2": rng.normal(size=2) * scale,
            "w3": rng.normal(size=2) * scale,
            "b3": float(rng.normal() * scale),
        }
        return Call((rng.normal(size=2) * scale, float(y), params), label=label)

    return [
        call(0.0, 1.0, "label zero"),
        call(1.0, 1.0, "label one"),
        call(float(rng.integers(0, 2)), rng.uniform(1.5, 2.5), "large pre-activations"),
        call(float(rng.integers(0, 2)), rng.uniform(0.05, 0.2), "small weights"),
    ]


def _backward_221_reference(x: np.ndarray, y: float, params: Mapping) -> dict[str, Any]:
    """PyTorch autograd of the binary cross-entropy (computed from the logit, as it is stable)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    z3 = t["w3"] @ torch.tanh(t["W2"] @ torch.from_numpy(x) + t["b2"]) + t["b3"]
    F.binary_cross_entropy_with_logits(z3, torch.tensor(y, dtype=torch.float64)).backward()
    grads: dict[str, Any] = {k: v.grad.numpy() for k, v in t.items()}
    grads["b3"] = float(grads["b3"])
    return grads


# --------------------------------------------------------------------------- linear_tanh_backward
def _linear_tanh_calls(rng: np.random.Generator) -> list[Call]:
    def call(n: int, d: int, m: int, scale: float, label: str) -> Call:
        dout, x = rng.normal(size=(n, m)), rng.normal(size=(n, d))
        w, b = rng.normal(size=(m, d)) * scale, rng.normal(size=m) * scale
        return Call((dout, x, w, b), label=label)

    def size() -> int:
        return int(rng.integers(2, 8))

    return [
        call(size(), size(), size(), 0.5, "a batch"),
        call(1, size(), size(), 0.5, "one example"),
        call(size(), size(), 1, 0.5, "one output unit"),
        call(size(), 1, size(), 0.5, "one input feature"),
        call(size(), size(), size(), rng.uniform(2.0, 4.0), "saturated tanh"),
    ]


def _linear_tanh_reference(dout, x, w, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.tanh(xt @ wt.T + bt).backward(torch.from_numpy(dout))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


# --------------------------------------------------------------------------- numerical_gradient
def _numgrad_calls(rng: np.random.Generator) -> list[Call]:
    def x_of(shape: tuple[int, ...]) -> np.ndarray:
        return rng.normal(size=shape) * rng.uniform(0.5, 2.0)

    def h() -> float:
        return float(10.0 ** rng.uniform(-6, -4))

    def cubic(size: int) -> Function:
        return Function("cubic_sum", rng.uniform(-2.0, 2.0, size=size))

    n = int(rng.integers(2, 7))
    rows, cols = (int(s) for s in rng.integers(2, 5, size=2))
    cube = tuple(int(s) for s in rng.integers(2, 4, size=3))
    tanh_sq = Function("sum_tanh_times_square")
    return [
        Call((cubic(n), x_of((n,)), h()), after=True, label="x of one dimension"),
        Call((tanh_sq, x_of((rows, cols)), h()), after=True, label="x of two dimensions"),
        Call((tanh_sq, x_of(cube), h()), after=True, label="x of three dimensions"),
        Call((cubic(1), x_of((1,)), h()), after=True, label="x of one entry"),
        Call((tanh_sq, x_of((int(rng.integers(2, 6)),))), after=True, label="the default h"),
    ]


def _numgrad_reference(f: Any, x: np.ndarray, h: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    # The gradient, and x as it must be after the call (restored exactly).
    return gradcheck.numerical_gradient(f, x.copy(), h), x.copy()


def _numgrad_answer(got: tuple, call: Call | None) -> tuple[Any, Any]:
    """(gradient, arguments after the call) -> (gradient, x after the call)."""
    grad, after = got
    return grad, after[1]


_NUMGRAD_RTOL, _NUMGRAD_ATOL = 1e-6, 1e-9


def _numgrad_judge(got: tuple, expected: tuple, call: Call) -> str:
    """The gradient within the tolerances; x exactly as it was (every entry restored)."""
    return mismatch(got[0], expected[0], _NUMGRAD_RTOL, _NUMGRAD_ATOL, "[0]") or mismatch(
        got[1], expected[1], 0.0, 0.0, "[1]"
    )


# --------------------------------------------------------------------------- iterative_topological_order
def _topo_calls(rng: np.random.Generator) -> list[Call]:
    def shuffled(inputs: dict[str, list[str]]) -> dict[str, list[str]]:
        # keys in a random order: listing the dict's keys is not an answer
        keys = list(inputs)
        return {keys[i]: inputs[keys[i]] for i in rng.permutation(len(keys))}

    def random_graph(n: int) -> tuple[dict[str, list[str]], str]:
        names = [f"v{i}" for i in rng.permutation(n)]  # names say nothing about the order
        inputs = {}
        for i, name in enumerate(names):  # three inputs, then nodes of one to three inputs
            k = int(rng.integers(1, min(i, 3) + 1)) if i >= 3 else 0
            inputs[name] = [names[j] for j in rng.choice(i, size=k, replace=False)]
        inputs[names[-1]] = names[-4:-1]  # the root uses the three newest nodes
        return shuffled(inputs), names[-1]

    def chain(n: int) -> tuple[dict[str, list[str]], str]:
        names = [f"c{i}" for i in rng.permutation(n)]
        inputs = {name: ([names[i - 1]] if i else []) for i, name in enumerate(names)}
        return shuffled(inputs), names[-1]

    def shared(n: int) -> tuple[dict[str, list[str]], str]:
        users = [f"u{i}" for i in range(n)]
        inputs = {"x": [], **{u: ["x", "x"] if i % 2 else ["x"] for i, u in enumerate(users)}}
        inputs["out"] = users
        return shuffled(inputs), "out"

    def with_unused(n: int) -> tuple[dict[str, list[str]], str]:
        inputs, root = random_graph(n)
        others = list(inputs)
        for i in range(int(rng.integers(2, 5))):
            inputs[f"extra{i}"] = [others[int(rng.integers(len(others)))]]
        return shuffled(inputs), root

    single = f"s{int(rng.integers(100))}"
    return [
        Call(random_graph(int(rng.integers(8, 16))), label="a random graph"),
        Call(random_graph(int(rng.integers(30, 61))), label="a larger random graph"),
        Call(chain(int(rng.integers(20, 41))), label="a chain"),
        Call(chain(int(rng.integers(4000, 8001))), label="a chain deeper than the recursion limit"),
        Call(shared(int(rng.integers(3, 8))), label="one input used by many nodes"),
        Call(with_unused(int(rng.integers(6, 12))), label="nodes the root does not depend on"),
        Call(({single: []}, single), label="a single node"),
    ]


def _topo_judge(got: Any, expected: list[str], call: Call) -> str:
    """Any valid order passes; otherwise the property that fails, naming no node."""
    if not nb03.order_problem(got, *call.args):
        return ""
    if not isinstance(got, list) or not all(isinstance(n, str) for n in got):
        return "wrong type"
    return "wrong length" if len(got) != len(expected) else "wrong values"


EXERCISES = [
    Exercise(
        grade_id="nb03-backward-221-tests",
        target="backward_221",
        check=nb03.check_backward_221,
        hidden=_backward_221_calls,
        reference=_backward_221_reference,
        rtol=1e-10,
        atol=1e-12,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb03-linear-tanh-backward-tests",
        target="linear_tanh_backward",
        check=nb03.check_linear_tanh_backward,
        hidden=_linear_tanh_calls,
        reference=_linear_tanh_reference,
        rtol=1e-10,
        atol=1e-12,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb03-numerical-gradient-tests",
        target="numerical_gradient",
        check=nb03.check_numerical_gradient,
        hidden=_numgrad_calls,
        reference=_numgrad_reference,
        public=lambda case: Call(case.args, dict(case.kwargs), after=True),
        answer=_numgrad_answer,
        judge=_numgrad_judge,
        rtol=_NUMGRAD_RTOL,
        atol=_NUMGRAD_ATOL,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb03-iterative-topological-order-tests",
        target="iterative_topological_order",
        check=nb03.check_iterative_topological_order,
        hidden=_topo_calls,
        reference=nb03.topological_order_reference,
        judge=_topo_judge,
        forbid=nb03.FORBID_TOPO,
    ),
]
