"""Losses and their gradients against PyTorch autograd in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import losses as L

RTOL, ATOL = 1e-10, 1e-12


def _autograd(fn, x, *rest):
    """Value and gradient of ``fn(x_tensor, *rest)`` w.r.t. the first argument."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = fn(xt, *rest)
    out.backward()
    return out.item(), xt.grad.numpy()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_zero_one_loss_worked_example():
    assert L.zero_one_loss([0, 1, 2, 2], [0, 2, 2, 1]) == 0.5
    assert L.zero_one_loss(np.array([1, 1, 1]), np.array([1, 1, 1])) == 0.0


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2)])
def test_mse_mae_match_torch(rng, shape):
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    t_target = torch.tensor(target)
    val, grad = _autograd(lambda p: F.mse_loss(p, t_target), pred)
    np.testing.assert_allclose(L.mse(pred, target), val, rtol=RTOL)
    np.testing.assert_allclose(L.mse_grad(pred, target), grad, rtol=RTOL, atol=ATOL)
    val, grad = _autograd(lambda p: F.l1_loss(p, t_target), pred)
    np.testing.assert_allclose(L.mae(pred, target), val, rtol=RTOL)
    np.testing.assert_allclose(L.mae_grad(pred, target), grad, rtol=RTOL, atol=ATOL)


def test_mse_mae_worked_example():
    pred, target = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])
    assert L.mse(pred, target) == pytest.approx((0 + 4 + 9) / 3)
    assert L.mae(pred, target) == pytest.approx((0 + 2 + 3) / 3)
    # |d| has subgradient 0 at d = 0, like torch.
    np.testing.assert_allclose(L.mae_grad(pred, target), [0.0, 1 / 3, 1 / 3])
    _, torch_grad = _autograd(lambda p: F.l1_loss(p, torch.tensor(target)), pred)
    np.testing.assert_allclose(L.mae_grad(pred, target), torch_grad)


def test_bce_matches_torch_including_saturated_probabilities(rng):
    p = rng.uniform(0.01, 0.99, size=(5, 3))
    y = rng.integers(0, 2, size=(5, 3)).astype(float)
    p[0, 0], p[0, 1], p[0, 2] = 0.0, 1.0, 1.0
    y[0, 0], y[0, 1], y[0, 2] = 1.0, 0.0, 1.0
    yt = torch.tensor(y)
    val, grad = _autograd(lambda q: F.binary_cross_entropy(q, yt), p)
    loss = L.binary_cross_entropy(p, y)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, val, rtol=RTOL)
    g = L.binary_cross_entropy_grad(p, y)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, grad, rtol=RTOL, atol=ATOL)


def test_bce_clamps_log_at_minus_100():
    # p = 0 for a positive example costs exactly 100 (log clamped at -100), as in torch.
    assert L.binary_cross_entropy(np.array([0.0]), np.array([1.0])) == pytest.approx(100.0)


def test_bce_with_logits_matches_torch_and_is_stable(rng):
    z = rng.standard_normal((6, 2)) * 3
    z[0, 0], z[0, 1], z[1, 0] = 1e4, -1e4, -1e4
    y = rng.uniform(0, 1, size=(6, 2))
    y[0, 0], y[0, 1], y[1, 0] = 0.0, 1.0, 0.0
    yt = torch.tensor(y)
    val, grad = _autograd(lambda q: F.binary_cross_entropy_with_logits(q, yt), z)
    loss = L.binary_cross_entropy_with_logits(z, y)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, val, rtol=RTOL)
    g = L.binary_cross_entropy_with_logits_grad(z, y)
    np.testing.assert_allclose(g, grad, rtol=RTOL, atol=ATOL)


def test_bce_with_logits_agrees_with_bce_of_sigmoid(rng):
    z = rng.standard_normal(10)
    y = rng.integers(0, 2, 10).astype(float)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(
        L.binary_cross_entropy_with_logits(z, y), L.binary_cross_entropy(p, y), rtol=1e-12
    )


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family_matches_torch_for_huge_logits(rng, axis):
    x = rng.standard_normal((4, 5)) * 1e4
    xt = torch.tensor(x)
    for ours, theirs in [
        (L.softmax(x, axis=axis), torch.softmax(xt, dim=axis)),
        (L.log_softmax(x, axis=axis), torch.log_softmax(xt, dim=axis)),
        (L.logsumexp(x, axis=axis), torch.logsumexp(xt, dim=axis)),
        (L.logsumexp(x, axis=axis, keepdims=True), torch.logsumexp(xt, dim=axis, keepdim=True)),
    ]:
        assert np.all(np.isfinite(ours))
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(L.softmax(x, axis=axis).sum(axis=axis), 1.0, rtol=1e-12)


def test_logsumexp_of_minus_inf_row_is_minus_inf():
    out = L.logsumexp(np.array([[-np.inf, -np.inf], [0.0, 0.0]]))
    assert out[0] == -np.inf
    assert out[1] == pytest.approx(np.log(2))


def test_softmax_preserves_order_and_float32(rng):
    x = rng.standard_normal(6).astype(np.float32)
    s = L.softmax(x)
    assert s.dtype == np.float32
    assert np.argmax(s) == np.argmax(x)
    np.testing.assert_array_equal(np.argsort(s), np.argsort(x))


def test_softmax_jacobian_matches_autograd(rng):
    x = torch.tensor(rng.standard_normal(5))
    jac = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, 0), x)
    s = L.softmax(x.numpy())
    np.testing.assert_allclose(L.softmax_jacobian(s), jac.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_cross_entropy_matches_torch(rng, smoothing):
    logits = rng.standard_normal((8, 5)) * 4
    logits[0] *= 1e4
    y = rng.integers(0, 5, 8)
    yt = torch.tensor(y)
    val, grad = _autograd(lambda z: F.cross_entropy(z, yt, label_smoothing=smoothing), logits)
    np.testing.assert_allclose(L.cross_entropy(logits, y, smoothing), val, rtol=RTOL)
    g = L.cross_entropy_grad(logits, y, label_smoothing=smoothing)
    np.testing.assert_allclose(g, grad, rtol=RTOL, atol=ATOL)


def test_softmax_cross_entropy_returns_loss_and_grad(rng):
    logits = rng.standard_normal((6, 3))
    y = rng.integers(0, 3, 6)
    loss, dlogits = L.softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(L.cross_entropy(logits, y), rel=1e-14)
    np.testing.assert_allclose(dlogits, L.cross_entropy_grad(logits, y), rtol=1e-12, atol=1e-15)
    # Worked example: uniform logits over K classes give loss log K.
    loss, _ = L.softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    assert loss == pytest.approx(np.log(4))


def test_grads_keep_float32():
    p = np.array([0.2, 0.7], dtype=np.float32)
    y = np.array([0.0, 1.0], dtype=np.float32)
    assert L.mse_grad(p, y).dtype == np.float32
    assert L.binary_cross_entropy_grad(p, y).dtype == np.float32
    assert L.cross_entropy_grad(np.zeros((2, 3), np.float32), [0, 1]).dtype == np.float32
    assert L.mse_grad([1, 2], [0, 0]).dtype == np.float64


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="pred and target must have the same shape"):
        L.mse(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"p must hold values in \[0, 1\], got 1.5"):
        L.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"y must hold values in \[0, 1\], got -1"):
        L.binary_cross_entropy_with_logits(np.zeros(2), np.array([-1.0, 1.0]))
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 2\] for 3 classes, got 3"):
        L.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="logits and y must have the same batch size, got 2 and 3"):
        L.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"logits must be 2-D \(N, K\), got 1-D"):
        L.cross_entropy_grad(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\], got 1.5"):
        L.cross_entropy(np.zeros((1, 3)), np.array([0]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        L.cross_entropy(np.zeros((1, 3)), np.array([0.5]))
    with pytest.raises(ValueError, match=r"s must be 1-D \(K,\), got 2-D"):
        L.softmax_jacobian(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"axis must lie in \[-2, 1\]"):
        L.softmax(np.zeros((2, 2)), axis=2)
    with pytest.raises(ValueError, match="y_pred and y_true must have the same shape"):
        L.zero_one_loss([0, 1], [0, 1, 1])
    with pytest.raises(TypeError, match="pred must hold real numbers"):
        L.mae(np.array(["a"]), np.array([1.0]))
