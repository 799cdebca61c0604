"""Graded exercises of notebook 04 (multi-layer perceptrons).

The expected values come from PyTorch (``nn.Linear`` layers, autograd in
float64, parameter counts of layers built on the ``meta`` device).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.checks import nb04
from coursekit.grading.spec import Call, Exercise, mismatch


# --------------------------------------------------------------------------- collapse_linear
def _collapse_calls(rng: np.random.Generator) -> list[Call]:
    def call(n: int, h: int, m: int, label: str) -> Call:
        W1, b1 = rng.normal(size=(h, n)), rng.normal(size=h)
        W2, b2 = rng.normal(size=(m, h)), rng.normal(size=m)
        return Call((W1, b1, W2, b2), label=label)

    def size() -> int:
        return int(rng.integers(2, 8))

    n, h = rng.choice(np.arange(2, 9), size=2, replace=False)
    return [
        call(size(), size(), size(), "random sizes"),
        call(int(n), int(h), int(rng.integers(2, 8)), "input and hidden sizes differ"),
        call(size(), size(), 1, "one output"),
        call(1, size(), size(), "one input"),
        call(size(), 1, size(), "one hidden unit"),
    ]


def _collapse_reference(W1, b1, W2, b2) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) read off the two layers in torch: W maps the basis vectors (biases off), b = net(0)."""
    W1, b1, W2, b2 = (torch.from_numpy(a) for a in (W1, b1, W2, b2))
    eye, zero = (
        torch.eye(W1.shape[1], dtype=torch.float64),
        torch.zeros(1, W1.shape[1], dtype=torch.float64),
    )
    W = F.linear(F.linear(eye, W1), W2).T
    b = F.linear(F.linear(zero, W1, b1), W2, b2)[0]
    return W.contiguous().numpy(), b.numpy()


# --------------------------------------------------------------------------- xor_weights
_XOR_SHAPES = {"W1": (2, 2), "b1": (2,), "w2": (2,), "b2": ()}


def _xor_calls(rng: np.random.Generator) -> list[Call]:
    # xor_weights takes no input: there is nothing to draw, the call is always the same.
    return [Call((), label="outputs on the four Boolean inputs, and the shapes")]


def _xor_reference() -> dict[str, Any]:
    return {"outputs": nb04.XOR_TARGETS.copy(), "shapes": dict(_XOR_SHAPES)}


def _shape(value: Any) -> tuple[int, ...] | None:
    try:
        return np.shape(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        return None


def _xor_answer(got: Any, call: Call | None) -> Any:
    """The network's outputs on the four inputs, computed here from the returned weights."""
    if call is None or call.public:  # a public call: what the visible check compares
        return nb04.relu_net_221(got)
    if not isinstance(got, dict):
        return None
    if any(key not in got for key in _XOR_SHAPES):  # extra keys are ignored, as by the check
        return {"keys": False}
    shapes = {key: _shape(got[key]) for key in _XOR_SHAPES}
    if shapes != _XOR_SHAPES:
        return {"keys": True, "shapes": shapes}
    return {"keys": True, "shapes": shapes, "outputs": nb04.relu_net_221(got)}


def _xor_judge(got: Any, expected: dict[str, Any], call: Call) -> str:
    """Outputs within 1e-9 of XOR, after the keys and shapes of the weights."""
    if got is None:
        return "wrong type"
    if not got["keys"]:
        return "wrong keys"
    for key, shape in expected["shapes"].items():
        if got["shapes"][key] != shape:
            return f"wrong shape at [{key!r}]"
    return mismatch(got["outputs"], expected["outputs"], 0.0, 1e-9)


# --------------------------------------------------------------------------- mlp_loss_and_grads
def _mlp_calls(rng: np.random.Generator) -> list[Call]:
    def call(n: int, d: int, h: int, k: int, scale: float, label: str) -> Call:
        return Call(nb04.random_mlp_inputs(rng, n, d, h, k, scale), label=label)

    def size(low: int = 2, high: int = 8) -> int:
        return int(rng.integers(low, high))

    return [
        call(size(4, 13), size(), size(), size(3, 11), 1.0, "a batch"),
        call(1, size(), size(), size(), 1.0, "one example"),
        call(size(4, 13), size(), size(), 2, 1.0, "two classes"),
        call(size(4, 13), size(), size(), size(3, 6), rng.uniform(20.0, 40.0), "large logits"),
        call(size(20, 41), size(10, 30), size(8, 20), 10, 0.3, "a larger network"),
    ]


def _mlp_reference(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray]):
    """PyTorch autograd in float64: relu MLP, mean softmax cross-entropy."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    hidden = torch.relu(torch.from_numpy(X) @ t["W1"].T + t["b1"])
    loss = F.cross_entropy(hidden @ t["W2"].T + t["b2"], torch.from_numpy(y).long())
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def _mlp_judge(got: Any, expected: tuple, call: Call) -> str:
    """The loss within 1e-10 (relative), the gradients within 1e-8, as the notebook's tests."""
    if type(got) is not tuple or len(got) != 2:
        return mismatch(got, expected, 1e-8, 1e-12)
    return mismatch(got[0], expected[0], 1e-10, 1e-12, "[0]") or mismatch(
        got[1], expected[1], 1e-8, 1e-12, "[1]"
    )


# --------------------------------------------------------------------------- count_mlp_params
def _count_calls(rng: np.random.Generator) -> list[Call]:
    def sizes(n_layers: int, high: int) -> tuple[int, ...]:
        return tuple(int(s) for s in rng.integers(1, high + 1, size=n_layers + 1))

    return [
        Call((sizes(1, 1000),), label="no hidden layer"),
        Call((sizes(2, 1000),), label="one hidden layer"),
        Call((sizes(int(rng.integers(3, 7)), 300),), label="several hidden layers"),
        Call(((1, 1),), label="one weight and one bias"),
        Call((sizes(int(rng.integers(2, 5)), 3),), label="tiny layers"),
    ]


def _count_reference(sizes: tuple[int, ...]) -> int:
    """The parameters of nn.Linear layers built on the meta device (no memory taken)."""
    layers = [nn.Linear(n, m, device="meta") for n, m in zip(sizes[:-1], sizes[1:], strict=True)]
    return sum(p.numel() for layer in layers for p in layer.parameters())


EXERCISES = [
    Exercise(
        grade_id="nb04-collapse-linear-tests",
        target="collapse_linear",
        check=nb04.check_collapse_linear,
        hidden=_collapse_calls,
        reference=_collapse_reference,
        rtol=1e-12,
        atol=1e-12,
    ),
    Exercise(
        grade_id="nb04-xor-weights-tests",
        target="xor_weights",
        check=nb04.check_xor_weights,
        hidden=_xor_calls,
        reference=_xor_reference,
        answer=_xor_answer,
        judge=_xor_judge,
        rtol=0.0,
        atol=1e-9,
    ),
    Exercise(
        grade_id="nb04-mlp-loss-grads-tests",
        target="mlp_loss_and_grads",
        check=nb04.check_mlp_loss_and_grads,
        hidden=_mlp_calls,
        reference=_mlp_reference,
        judge=_mlp_judge,
        rtol=1e-8,
        atol=1e-12,
    ),
    Exercise(
        grade_id="nb04-count-params-tests",
        target="count_mlp_params",
        check=nb04.check_count_mlp_params,
        hidden=_count_calls,
        reference=_count_reference,
        exact=True,
    ),
]
