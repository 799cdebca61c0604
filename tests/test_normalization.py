"""coursekit.normalization against torch batch_norm / layer_norm + autograd (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.gradcheck import check_layer
from coursekit.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    LayerNorm,
    batchnorm_backward,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
)

TOL = dict(rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("shape", [(8, 3), (5, 4, 6), (4, 3, 5, 2), (2, 1, 3, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_torch(shape, training):
    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    t_out = F.batch_norm(xt, t_rm, t_rv, gt, bt, training=training, momentum=0.2, eps=1e-3)
    out, cache = batchnorm_forward(x, gamma, beta, rm, rv, training, momentum=0.2, eps=1e-3)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL)
    np.testing.assert_allclose(rm, t_rm.numpy(), **TOL)  # updated in place like torch
    np.testing.assert_allclose(rv, t_rv.numpy(), **TOL)
    dout = rng.standard_normal(shape)
    t_out.backward(torch.tensor(dout))
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), **TOL)


def test_batchnorm_worked_example_uses_minibatch_variance():
    # erratum: mean and variance over the K values of the mini-batch (1/K), sqrt(var + eps)
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    out, _ = batchnorm_forward(x, np.ones(1), np.zeros(1), None, None, True, eps=1e-5)
    mu, var = 2.5, (1.5**2 + 0.5**2 + 0.5**2 + 1.5**2) / 4  # 1.25, not the unbiased 5/3
    np.testing.assert_allclose(out[:, 0], (x[:, 0] - mu) / np.sqrt(var + 1e-5), rtol=1e-12)
    assert abs(out.mean()) < 1e-12 and abs(out.var() - var / (var + 1e-5)) < 1e-12


@pytest.mark.parametrize(
    "cls, ref_cls, shape",
    [
        (BatchNorm1d, torch.nn.BatchNorm1d, (6, 4)),
        (BatchNorm1d, torch.nn.BatchNorm1d, (3, 4, 5)),
        (BatchNorm2d, torch.nn.BatchNorm2d, (3, 4, 5, 2)),
    ],
)
def test_batchnorm_layer_running_stats_over_steps(cls, ref_cls, shape):
    layer = cls(4, eps=1e-4, momentum=0.3)
    ref = ref_cls(4, eps=1e-4, momentum=0.3).double()
    with torch.no_grad():
        ref.weight.copy_(torch.linspace(0.5, 2.0, 4, dtype=torch.float64))
        ref.bias.copy_(torch.linspace(-1.0, 1.0, 4, dtype=torch.float64))
    layer.params["gamma"][:] = ref.weight.detach().numpy()
    layer.params["beta"][:] = ref.bias.detach().numpy()
    rng = np.random.default_rng(1)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        np.testing.assert_allclose(layer(x), ref(torch.tensor(x)).detach().numpy(), **TOL)
        np.testing.assert_allclose(layer.running_mean, ref.running_mean.numpy(), **TOL)
        np.testing.assert_allclose(layer.running_var, ref.running_var.numpy(), **TOL)
    layer.eval()
    ref.eval()
    x = rng.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    t_out = ref(xt)
    np.testing.assert_allclose(layer(x), t_out.detach().numpy(), **TOL)
    before = layer.running_mean.copy()
    layer(x)
    np.testing.assert_array_equal(layer.running_mean, before)  # eval never updates
    dout = rng.standard_normal(shape)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.grads["gamma"], ref.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.grads["beta"], ref.bias.grad.numpy(), **TOL)


def test_batchnorm2d_gradcheck():
    layer = BatchNorm2d(3)
    layer.params["gamma"][:] = [0.5, 1.5, -1.0]
    layer.params["beta"][:] = [0.1, 0.0, -0.2]
    errors = check_layer(layer, np.random.default_rng(2).standard_normal((3, 3, 2, 2)))
    assert set(errors) == {"x", "gamma", "beta"} and max(errors.values()) < 1e-6


@pytest.mark.parametrize(
    "shape, norm_shape", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4, 2), (4, 2))]
)
def test_layernorm_matches_torch(shape, norm_shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 3 + 2
    gamma, beta = rng.standard_normal(norm_shape), rng.standard_normal(norm_shape)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    t_out = F.layer_norm(xt, norm_shape, gt, bt, eps=1e-4)
    out, cache = layernorm_forward(x, gamma, beta, eps=1e-4)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL)
    dout = rng.standard_normal(shape)
    t_out.backward(torch.tensor(dout))
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), **TOL)


def test_layernorm_layer_is_per_example_and_gradchecks():
    layer = LayerNorm((3, 2))
    assert repr(layer) == "LayerNorm((3, 2), eps=1e-05)"
    x = np.random.default_rng(4).standard_normal((5, 3, 2))
    out = layer(x)
    # statistics per example: each example is normalised on its own, whatever the batch
    np.testing.assert_allclose(layer(x[:1]), out[:1], rtol=1e-12)
    np.testing.assert_allclose(out.reshape(5, -1).mean(axis=1), 0, atol=1e-12)
    layer.params["gamma"][:] = [[1.0, 2.0], [0.5, -1.0], [1.5, 0.3]]
    errors = check_layer(layer, x)
    assert max(errors.values()) < 1e-6


def test_normalization_errors():
    x = np.zeros((4, 3))
    g, b = np.ones(3), np.zeros(3)
    with pytest.raises(
        ValueError, match=r"gamma must have shape \(3,\) \(one per channel of x.*\), got \(2,\)"
    ):
        batchnorm_forward(x, np.ones(2), b, None, None, True)
    with pytest.raises(ValueError, match=r"x must be 2-D or 3-D or 4-D"):
        batchnorm_forward(np.zeros(4), g, b, None, None, True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batchnorm_forward(np.zeros((1, 3)), g, b, np.zeros(3), np.ones(3), True)
    with pytest.raises(TypeError, match="running_mean must be a float ndarray"):
        batchnorm_forward(x, g, b, [0.0, 0.0, 0.0], np.ones(3), True)
    with pytest.raises(
        ValueError, match=r"running_var must have shape \(3,\) \(one per .*got \(4,\)"
    ):
        batchnorm_forward(x, g, b, np.zeros(3), np.ones(4), True)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\], got 1.5"):
        batchnorm_forward(x, g, b, None, None, True, momentum=1.5)
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got 2-D"):
        BatchNorm2d(3)(x)
    # the layer's own gamma is not to blame when x has the wrong number of channels
    with pytest.raises(
        ValueError,
        match=r"x must have 3 channels \(axis 1\) for BatchNorm1d\(3\), got x of shape \(4, 4\)",
    ):
        BatchNorm1d(3).forward(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="training must be a bool, got 'False'"):
        batchnorm_forward(x, g, b, None, None, "False")
    _, cache = batchnorm_forward(x + np.arange(4)[:, None], g, b, None, None, True)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\), got \(3, 4\)"):
        batchnorm_backward(np.zeros((3, 4)), cache)
    with pytest.raises(ValueError, match=r"must end with the normalized shape \(4,\) of gamma"):
        layernorm_forward(x, np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="gamma and beta must have the same shape"):
        layernorm_forward(x, np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0.0"):
        LayerNorm(3, eps=0.0)


@pytest.mark.parametrize("shape", [(64, 4, 8, 8), (32, 5)])
def test_batchnorm_keeps_float32_and_matches_torch_float32(shape):
    """float32 stays float32 (no silent upcast) and agrees with torch's float32 kernel."""
    rng = np.random.default_rng(5)
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 10).astype(np.float32)  # an offset mean
    dout = rng.standard_normal(shape).astype(np.float32)
    gamma, beta = (
        rng.standard_normal(c).astype(np.float32),
        rng.standard_normal(c).astype(np.float32),
    )
    rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
    out, cache = batchnorm_forward(x, gamma, beta, rm, rv, True)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert {a.dtype for a in (out, dx, dgamma, dbeta, rm, rv)} == {np.dtype(np.float32)}
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    t_rm, t_rv = torch.zeros(c), torch.ones(c)
    t_out = F.batch_norm(xt, t_rm, t_rv, gt, bt, training=True)
    t_out.backward(torch.tensor(dout))
    tol = dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **tol)
    np.testing.assert_allclose(rm, t_rm.numpy(), **tol)
    np.testing.assert_allclose(rv, t_rv.numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), **tol)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), **tol)
