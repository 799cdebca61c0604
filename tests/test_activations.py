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


# --------------------------------------------------------------------------- #
# behaviours a planted bug would otherwise slip through (mutation testing)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "f",
    [
        A.sigmoid,
        A.sigmoid_grad,
        A.tanh,
        A.tanh_grad,
        A.relu,
        A.relu_grad,
        A.leaky_relu,
        A.leaky_relu_grad,
        lambda x: A.prelu(x, 0.1),
        lambda x: A.prelu_grad(x, 0.1),
    ],
)
def test_messages_name_x(f):
    # anchored at the start: a mangled or missing name ("XXxXX must", "None must") fails
    with pytest.raises(TypeError, match=r"^x must hold real numbers \(float or int\), got dtype"):
        f("a")


def test_messages_name_the_slopes():
    for f in (A.leaky_relu, A.leaky_relu_grad):
        with pytest.raises(ValueError, match=r"^negative_slope must be finite, got inf$"):
            f(np.zeros(2), float("inf"))
        with pytest.raises(TypeError, match=r"^negative_slope must be a real number, got '0.1'$"):
            f(np.zeros(2), "0.1")
    for f in (A.prelu, A.prelu_grad):
        with pytest.raises(TypeError, match=r"^alpha must hold real numbers \(float or int\)"):
            f(np.zeros((2, 2)), "a")
        with pytest.raises(
            ValueError,
            match=r"^alpha must be 1-D \(C,\) \(one slope per channel\) or a scalar, "
            r"got 2-D with shape \(2, 2\)$",
        ):
            f(np.zeros((2, 2)), np.ones((2, 2)))


def test_prelu_per_channel_on_a_two_d_input_matches_torch():
    # (N, C) input: the channels are axis 1, as for nn.PReLU(C) after a Linear layer
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3))
    alpha = np.array([0.1, 0.2, 0.3])
    xt = torch.tensor(x, requires_grad=True)
    at = torch.tensor(alpha, requires_grad=True)
    yt = F.prelu(xt, at)
    yt.sum().backward()
    np.testing.assert_allclose(A.prelu(x, alpha), yt.detach().numpy(), rtol=1e-15)
    dy_dx, dy_dalpha = A.prelu_grad(x, alpha)
    np.testing.assert_allclose(dy_dx, xt.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(dy_dalpha.sum(axis=0), at.grad.numpy(), rtol=1e-14)


def test_prelu_one_element_alpha_is_one_shared_slope_like_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3))  # 3 channels, yet one slope of shape (1,) serves them all
    one = np.array([0.3])
    np.testing.assert_array_equal(A.prelu(x, one), A.prelu(x, 0.3))
    np.testing.assert_array_equal(
        A.prelu(x, one), F.prelu(torch.tensor(x), torch.tensor(one)).numpy()
    )
    for got, want in zip(A.prelu_grad(x, one), A.prelu_grad(x, 0.3), strict=True):
        np.testing.assert_array_equal(got, want)
    # two channels, two slopes: per channel, not a scalar
    x2 = np.array([[-1.0, -1.0], [2.0, -4.0]])
    np.testing.assert_array_equal(A.prelu(x2, np.array([0.5, 0.25])), [[-0.5, -0.25], [2, -1]])
    # a 0-d input keeps its shape, as in torch
    assert F.prelu(torch.tensor(-2.0), torch.tensor([0.25])).shape == ()
    assert A.prelu(np.float64(-2.0), one).shape == ()
    assert [g.shape for g in A.prelu_grad(np.float64(-2.0), one)] == [(), ()]


@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_float32_multiplies_by_the_float32_slope_like_torch(per_channel):
    # alpha is cast to x's dtype before the product: float64 alpha * x rounded to float32
    # differs in the last bit for some x
    x = np.random.default_rng(5).standard_normal((64, 3, 8)).astype(np.float32)
    alpha = np.array([0.1, 0.3, 0.7]) if per_channel else 0.1
    want = F.prelu(torch.tensor(x), torch.tensor(np.atleast_1d(alpha), dtype=torch.float32))
    got = A.prelu(x, alpha)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want.numpy())
    dy_dx, dy_dalpha = A.prelu_grad(x, alpha)
    assert dy_dx.dtype == np.float32 and dy_dalpha.dtype == np.float32


def test_negative_slope_keeps_torch_s_signed_zeros():
    # x > 0 picks x, anything else slope * x: at +0 a negative slope gives -0, at -0 it gives +0
    x = np.array([0.0, -0.0, 1.0, -1.0])
    want = F.leaky_relu(torch.tensor(x), -0.5).numpy()
    assert list(np.signbit(want)) == [True, False, False, False]
    for got in (A.leaky_relu(x, -0.5), A.prelu(x, -0.5), A.prelu(x[None], np.full(4, -0.5))[0]):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
