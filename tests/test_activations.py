"""Activations and their derivatives against PyTorch autograd in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import activations as A


def _torch_value_and_grad(fn, x):
    """f(x) and the element-wise derivative f'(x) by autograd (sum trick: Jacobian is diagonal)."""
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    y.sum().backward()
    return y.detach().numpy(), xt.grad.numpy()


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    # Include exact zeros: the derivative's convention at 0 must match torch.
    v = rng.standard_normal((4, 3, 5)) * 3
    v[0, 0, :2] = 0.0
    return v


@pytest.mark.parametrize(
    "ours, theirs",
    [
        ((A.sigmoid, A.sigmoid_grad), torch.sigmoid),
        ((A.tanh, A.tanh_grad), torch.tanh),
        ((A.relu, A.relu_grad), torch.relu),
        ((A.leaky_relu, A.leaky_relu_grad), F.leaky_relu),
    ],
)
def test_value_and_derivative_match_autograd(x, ours, theirs):
    f, f_grad = ours
    y, dy = _torch_value_and_grad(theirs, x)
    np.testing.assert_allclose(f(x), y, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(f_grad(x), dy, rtol=1e-12, atol=1e-15)


def test_derivatives_at_zero_follow_torch():
    z = np.zeros(1)
    assert A.relu_grad(z)[0] == 0.0
    assert A.leaky_relu_grad(z, 0.2)[0] == pytest.approx(0.2)
    assert A.sigmoid_grad(z)[0] == pytest.approx(0.25)
    assert A.tanh_grad(z)[0] == 1.0


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.5])
def test_leaky_relu_slope(x, slope):
    y, dy = _torch_value_and_grad(lambda t: F.leaky_relu(t, slope), x)
    np.testing.assert_allclose(A.leaky_relu(x, slope), y, rtol=1e-14)
    np.testing.assert_allclose(A.leaky_relu_grad(x, negative_slope=slope), dy, rtol=1e-14)


def test_sigmoid_stable_for_large_inputs():
    x = np.array([-1e4, -800.0, 0.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = A.sigmoid(x)
        ds = A.sigmoid_grad(x)
    np.testing.assert_allclose(s, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-14)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert np.all(np.isfinite(ds))


def test_identities():
    x = np.linspace(-5, 5, 41)
    s = A.sigmoid(x)
    np.testing.assert_allclose(A.sigmoid_grad(x), s * (1 - s), rtol=1e-14)
    np.testing.assert_allclose(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, atol=1e-14)
    np.testing.assert_allclose(A.tanh_grad(x), 1 - np.tanh(x) ** 2, rtol=1e-14)


def test_prelu_per_channel_matches_nn_prelu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2, 2))
    x[0, 0, 0, 0] = 0.0
    alpha = rng.uniform(0.05, 0.5, 4)
    dout = rng.standard_normal(x.shape)

    layer = torch.nn.PReLU(num_parameters=4).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(alpha))
    xt = torch.tensor(x, requires_grad=True)
    yt = layer(xt)
    yt.backward(torch.tensor(dout))

    np.testing.assert_allclose(A.prelu(x, alpha), yt.detach().numpy(), rtol=1e-14)
    dy_dx, dy_dalpha = A.prelu_grad(x, alpha)
    assert dy_dx.shape == x.shape and dy_dalpha.shape == x.shape
    np.testing.assert_allclose(dout * dy_dx, xt.grad.numpy(), rtol=1e-13)
    # alpha is shared over every axis but the channel axis, so its gradient sums there.
    dalpha = (dout * dy_dalpha).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(dalpha, layer.weight.grad.numpy(), rtol=1e-12)


def test_prelu_scalar_alpha_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3))
    xt = torch.tensor(x, requires_grad=True)
    at = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    F.prelu(xt, at).sum().backward()
    np.testing.assert_allclose(A.prelu(x, 0.3), F.prelu(xt, at).detach().numpy(), rtol=1e-14)
    dy_dx, dy_dalpha = A.prelu_grad(x, 0.3)
    np.testing.assert_allclose(dy_dx, xt.grad.numpy(), rtol=1e-14)
    assert dy_dalpha.sum() == pytest.approx(at.grad.item(), rel=1e-12)


def test_float32_kept_and_ints_converted():
    x32 = np.array([-1.0, 2.0], dtype=np.float32)
    for f, f_grad in A.ACTIVATIONS.values():
        assert f(x32).dtype == np.float32
        assert f_grad(x32).dtype == np.float32
        assert f([-1, 2]).dtype == np.float64
    assert A.prelu(x32, 0.1).dtype == np.float32


def test_activations_registry():
    assert set(A.ACTIVATIONS) == {"sigmoid", "tanh", "relu", "leaky_relu", "prelu"}
    prelu, prelu_grad = A.ACTIVATIONS["prelu"]
    x = torch.tensor([-2.0, -0.5, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    y = torch.nn.PReLU(init=0.25).double()(x)  # torch's default starting slope
    y.sum().backward()
    np.testing.assert_allclose(prelu(x.detach().numpy()), y.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(prelu_grad(x.detach().numpy()), x.grad.numpy(), rtol=1e-15)
    f, f_grad = A.ACTIVATIONS["relu"]
    np.testing.assert_array_equal(f(np.array([-1.0, 2.0])), [0.0, 2.0])
    np.testing.assert_array_equal(f_grad(np.array([-1.0, 2.0])), [0.0, 1.0])


def test_errors():
    with pytest.raises(
        ValueError, match=r"alpha of shape \(3,\) needs x with 3 channels on axis 1"
    ):
        A.prelu(np.zeros((2, 4)), np.ones(3))
    with pytest.raises(ValueError, match="alpha must be 1-D"):
        A.prelu_grad(np.zeros((2, 4)), np.ones((2, 2)))
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        A.leaky_relu(np.zeros(2), "0.1")
    with pytest.raises(TypeError, match="x must hold real numbers"):
        A.relu(np.array(["a", "b"]))
