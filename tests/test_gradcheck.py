"""Finite-difference gradient checking."""

import numpy as np
import pytest
import torch

from coursekit import gradcheck as G


def test_rel_error_worked_example():
    assert G.rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # |1 - 1.1| / (1 + 1.1) = 0.1 / 2.1; the larger of the two entries wins.
    assert G.rel_error([1.0, 5.0], [1.1, 5.0]) == pytest.approx(0.1 / 2.1)
    # Both zero: the 1e-8 floor avoids 0/0.
    assert G.rel_error([0.0], [0.0]) == 0.0
    assert G.rel_error([0.0], [1e-12]) == pytest.approx(1e-4)


def test_numerical_gradient_matches_autograd_and_restores_x():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()

    def f(v):
        return float(np.sum(np.sin(v) * v**2))

    xt = torch.tensor(x, requires_grad=True)
    (torch.sin(xt) * xt**2).sum().backward()
    num = G.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, x0)
    assert G.rel_error(num, xt.grad.numpy()) < 1e-7


def test_numerical_gradient_array_is_vector_jacobian_product():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5)
    W = rng.standard_normal((3, 5))
    dout = rng.standard_normal(3)
    num = G.numerical_gradient_array(lambda v: np.tanh(W @ v), x, dout)
    analytic = W.T @ (dout * (1 - np.tanh(W @ x) ** 2))
    assert G.rel_error(num, analytic) < 1e-7


class TinyLinear:
    """A local stand-in for coursekit.layers.Linear: out = x @ W.T + b."""

    def __init__(self, n_in, n_out, rng, bug=False):
        self.params = {"W": rng.standard_normal((n_out, n_in)), "b": rng.standard_normal(n_out)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.bug = bug

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = dout.T @ self.x
        # The buggy version forgets to sum the bias gradient over the batch.
        self.grads["b"] = dout[0] if self.bug else dout.sum(0)
        return dout @ self.params["W"]


def test_check_layer_passes_correct_layer():
    rng = np.random.default_rng(2)
    layer = TinyLinear(4, 3, rng)
    x = rng.standard_normal((6, 4))
    errors = G.check_layer(layer, x, seed=1)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-7


def test_check_layer_catches_a_bug_and_restores_params():
    rng = np.random.default_rng(3)
    layer = TinyLinear(4, 3, rng, bug=True)
    W0 = layer.params["W"].copy()
    errors = G.check_layer(layer, rng.standard_normal((5, 4)))
    assert errors["b"] > 1e-2
    assert errors["W"] < 1e-7 and errors["x"] < 1e-7
    np.testing.assert_array_equal(layer.params["W"], W0)


def test_errors():
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        G.rel_error(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="x must be a float64 np.ndarray.*got dtype float32"):
        G.numerical_gradient(np.sum, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="h must be a finite number > 0, got 0.0"):
        G.numerical_gradient(np.sum, np.zeros(2), h=0.0)
    with pytest.raises(ValueError, match=r"f\(x\) and dout must have the same shape"):
        G.numerical_gradient_array(lambda v: v * 2, np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match="layer must have forward, backward and params"):
        G.check_layer(object(), np.zeros((2, 2)))
