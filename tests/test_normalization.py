"""coursekit.normalization against torch batch_norm / layer_norm + autograd (float64)."""

import re

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


# --- behaviours a planted bug would otherwise slip past (mutation testing, docs/mutation.md) ---


def test_messages_start_with_the_argument():
    x, g, b = np.zeros((4, 3)), np.ones(3), np.zeros(3)
    why = r"\(one per channel of x, axis 1 of shape \(4, 3\)\)"
    for name, args in [
        ("x", (np.full((4, 3), "a"), g, b)),
        ("gamma", (x, np.full(3, "a"), b)),
        ("beta", (x, g, np.full(3, "a"))),
    ]:
        with pytest.raises(TypeError, match=rf"^{name} must hold real numbers"):
            batchnorm_forward(*args, None, None, True)
        with pytest.raises(TypeError, match=rf"^{name} must hold real numbers"):
            layernorm_forward(*args)
    with pytest.raises(ValueError, match=rf"^gamma must have shape \(3,\) {why}, got \(2,\)$"):
        batchnorm_forward(x, np.ones(2), b, None, None, True)
    with pytest.raises(ValueError, match=rf"^beta must have shape \(3,\) {why}, got \(4,\)$"):
        batchnorm_forward(x, g, np.zeros(4), None, None, True)
    with pytest.raises(
        ValueError,
        match=r"^x must be 2-D or 3-D or 4-D \(N, C\), \(N, C, L\) or \(N, C, H, W\), got 1-D",
    ):
        batchnorm_forward(np.zeros(4), g, b, None, None, True)
    for name, rm, rv in [
        ("running_mean", np.zeros(3, dtype=int), np.ones(3)),
        ("running_var", np.zeros(3), [1.0, 1.0, 1.0]),
        ("running_var", np.zeros(3), np.ones(3, dtype=np.int64)),
    ]:
        with pytest.raises(
            TypeError,
            match=rf"^{name} must be a float ndarray of shape \(3,\) \(it is updated in place\), "
            r"got ",
        ):
            batchnorm_forward(x, g, b, rm, rv, True)
    with pytest.raises(
        ValueError,
        match=r"^running_mean must have shape \(3,\) \(one per channel of x, 3 channels\), "
        r"got \(2,\)$",
    ):
        batchnorm_forward(x, g, b, np.zeros(2), np.ones(3), False)
    with pytest.raises(TypeError, match=r"^training must be a bool, got 1$"):
        batchnorm_forward(x, g, b, None, None, 1)
    with pytest.raises(ValueError, match=r"^momentum must lie in \[0, 1\], got -0.1$"):
        batchnorm_forward(x, g, b, None, None, True, momentum=-0.1)
    with pytest.raises(ValueError, match=r"^eps must be a finite number > 0, got 0.0$"):
        batchnorm_forward(x, g, b, None, None, True, eps=0.0)
    with pytest.raises(
        ValueError,
        match=r"^batch norm in training mode needs more than 1 value per channel, got x of "
        r"shape \(1, 3\); use a larger batch or eval\(\)$",
    ):
        batchnorm_forward(np.zeros((1, 3)), g, b, None, None, True)
    _, cache = batchnorm_forward(x + np.arange(4)[:, None], g, b, None, None, True)
    with pytest.raises(TypeError, match=r"^dout must hold real numbers"):
        batchnorm_backward(np.full((4, 3), "a"), cache)
    with pytest.raises(ValueError, match=r"^dout must have shape \(4, 3\), got \(3, 4\)$"):
        batchnorm_backward(np.zeros((3, 4)), cache)
    # layer norm
    with pytest.raises(
        ValueError, match=r"^gamma and beta must have the same shape, got \(3,\) and \(2,\)$"
    ):
        layernorm_forward(x, np.ones(3), np.zeros(2))
    for gamma in (np.ones(4), np.ones((3, 4)), np.ones((2, 4, 3)), np.float64(1.0)):
        with pytest.raises(
            ValueError,
            match=rf"^x of shape \(4, 3\) must end with the normalized shape "
            rf"{re.escape(str(gamma.shape))} of gamma$",
        ):
            layernorm_forward(x, gamma, np.zeros_like(gamma))
    with pytest.raises(ValueError, match=r"^eps must be a finite number > 0, got -1.0$"):
        layernorm_forward(x, g, b, eps=-1.0)
    _, cache = layernorm_forward(np.arange(12.0).reshape(4, 3), g, b)
    with pytest.raises(TypeError, match=r"^dout must hold real numbers"):
        layernorm_backward(np.full((4, 3), "a"), cache)
    with pytest.raises(ValueError, match=r"^dout must have shape \(4, 3\), got \(4, 4\)$"):
        layernorm_backward(np.zeros((4, 4)), cache)


def test_layer_messages_start_with_the_argument():
    for cls in (BatchNorm1d, BatchNorm2d):
        with pytest.raises(ValueError, match=r"^num_features must be an integer >= 1, got 0$"):
            cls(0)
        with pytest.raises(TypeError, match=r"^num_features must be an integer >= 1, got 2.0"):
            cls(2.0)
        with pytest.raises(ValueError, match=r"^eps must be a finite number > 0, got 0.0$"):
            cls(3, eps=0.0)
        with pytest.raises(ValueError, match=r"^momentum must lie in \[0, 1\], got 1.5$"):
            cls(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"^x must be 2-D or 3-D \(N, C\) or \(N, C, L\), got 4-D"):
        BatchNorm1d(3)(np.zeros((2, 3, 2, 2)))
    for shape in [(4, 3), (2, 3, 4), (2, 3, 2, 2, 2)]:
        with pytest.raises(ValueError, match=rf"^x must be 4-D \(N, C, H, W\), got {len(shape)}-D"):
            BatchNorm2d(3)(np.zeros(shape))
    with pytest.raises(
        ValueError,
        match=r"^x must have 3 channels \(axis 1\) for BatchNorm2d\(3\), "
        r"got x of shape \(2, 4, 2, 2\)$",
    ):
        BatchNorm2d(3)(np.zeros((2, 4, 2, 2)))
    with pytest.raises(TypeError, match=r"^x must hold real numbers"):
        BatchNorm1d(3)(np.full((4, 3), "a"))
    for shape in (0, (3, 0), [2, -1]):
        with pytest.raises(ValueError, match=r"^normalized_shape must be an integer >= 1, got"):
            LayerNorm(shape)
    with pytest.raises(ValueError, match=r"^eps must be a finite number > 0, got 0.0$"):
        LayerNorm(3, eps=0.0)
    with pytest.raises(RuntimeError, match=r"^BatchNorm1d.backward called before forward"):
        BatchNorm1d(3).backward(np.zeros((4, 3)))


def test_layers_defaults_and_reprs_are_torchs():
    for cls, ref_cls, shape in [
        (BatchNorm1d, torch.nn.BatchNorm1d, (5, 4)),
        (BatchNorm1d, torch.nn.BatchNorm1d, (5, 4, 3)),
        (BatchNorm2d, torch.nn.BatchNorm2d, (5, 4, 3, 2)),
    ]:
        layer, ref = cls(4), ref_cls(4).double()
        assert repr(layer) == f"{cls.__name__}(4, eps=1e-05, momentum=0.1)"
        assert (layer.eps, layer.momentum) == (ref.eps, ref.momentum)
        for ours, theirs in [
            (layer.params["gamma"], ref.weight),
            (layer.params["beta"], ref.bias),
            (layer.running_mean, ref.running_mean),
            (layer.running_var, ref.running_var),
        ]:
            np.testing.assert_array_equal(ours, theirs.detach().numpy())
        assert set(layer.grads) == {"gamma", "beta"}
        assert all(g.shape == (4,) and not g.any() for g in layer.grads.values())
        assert layer.num_parameters() == 8
        x = np.random.default_rng(20).standard_normal(shape) * 0.01  # eps visible
        np.testing.assert_allclose(layer(x), ref(torch.tensor(x)).detach().numpy(), **TOL)
        np.testing.assert_allclose(layer.running_var, ref.running_var.numpy(), **TOL)
    ln, ref = LayerNorm(4), torch.nn.LayerNorm(4).double()
    assert ln.normalized_shape == (4,) and ln.eps == ref.eps
    assert set(ln.grads) == {"gamma", "beta"} and not ln.grads["gamma"].any()
    x = np.random.default_rng(21).standard_normal((3, 4)) * 0.01
    np.testing.assert_allclose(ln(x), ref(torch.tensor(x)).detach().numpy(), **TOL)
    assert LayerNorm([3, 2]).normalized_shape == (3, 2)
    assert repr(LayerNorm(5, eps=1e-3)) == "LayerNorm((5,), eps=0.001)"
    # the layer's own eps reaches the formula
    ln, ref = LayerNorm(4, eps=0.5), torch.nn.LayerNorm(4, eps=0.5).double()
    np.testing.assert_allclose(ln(x), ref(torch.tensor(x)).detach().numpy(), **TOL)


def test_functional_defaults_are_torchs():
    rng = np.random.default_rng(22)
    x = rng.standard_normal((6, 3, 2)) * 0.01  # small: the default eps shows
    g, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = np.zeros(3), np.ones(3)
    t_rm, t_rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    out, _ = batchnorm_forward(x, g, b, rm, rv, True)
    ref = F.batch_norm(torch.tensor(x), t_rm, t_rv, torch.tensor(g), torch.tensor(b), True)
    np.testing.assert_allclose(out, ref.numpy(), **TOL)
    np.testing.assert_allclose(rm, t_rm.numpy(), **TOL)
    np.testing.assert_allclose(rv, t_rv.numpy(), **TOL)
    out, _ = layernorm_forward(x, np.ones(2), np.zeros(2))
    ref = F.layer_norm(torch.tensor(x), (2,))
    np.testing.assert_allclose(out, ref.numpy(), **TOL)


@pytest.mark.parametrize("momentum", [0.0, 1.0, 0.5])
def test_running_statistics_momentum_limits_and_unbiased_variance(momentum):
    rng = np.random.default_rng(23)
    x = rng.standard_normal((3, 2, 2)) * 2 + 1  # K = 6 values per channel
    rm, rv = np.array([0.5, -0.5]), np.array([2.0, 0.5])
    t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
    out, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), rm, rv, True, momentum=momentum)
    ref = F.batch_norm(torch.tensor(x), t_rm, t_rv, training=True, momentum=momentum)
    np.testing.assert_allclose(out, ref.numpy(), **TOL)
    np.testing.assert_allclose(rm, t_rm.numpy(), **TOL)
    np.testing.assert_allclose(rv, t_rv.numpy(), **TOL)
    if momentum == 1.0:  # the running statistics become this batch's, variance unbiased
        np.testing.assert_allclose(rm, x.mean(axis=(0, 2)), rtol=1e-12)
        np.testing.assert_allclose(rv, x.var(axis=(0, 2), ddof=1), rtol=1e-12)
    if momentum == 0.0:
        np.testing.assert_array_equal(rm, [0.5, -0.5])
        np.testing.assert_array_equal(rv, [2.0, 0.5])
    layer = BatchNorm1d(2, momentum=momentum)
    layer(x)
    np.testing.assert_allclose(
        layer.running_var, momentum * x.var(axis=(0, 2), ddof=1) + (1 - momentum), rtol=1e-12
    )


def test_two_values_per_channel_are_enough_in_training():
    x = np.array([[1.0, -2.0], [3.0, 5.0]])  # K = 2: the unbiased variance divides by 1
    rm, rv = np.zeros(2), np.ones(2)
    t_rm, t_rv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    out, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), rm, rv, True, momentum=1.0)
    ref = F.batch_norm(torch.tensor(x), t_rm, t_rv, training=True, momentum=1.0)
    np.testing.assert_allclose(out, ref.numpy(), **TOL)
    np.testing.assert_allclose(rv, [2.0, 24.5], rtol=1e-12)
    np.testing.assert_allclose(rv, t_rv.numpy(), **TOL)
    # in eval mode with running statistics, one value per channel is fine
    out, _ = batchnorm_forward(x[:1], np.ones(2), np.zeros(2), rm, rv, False)
    np.testing.assert_allclose(out[0], (x[0] - rm) / np.sqrt(rv + 1e-5), rtol=1e-12)


@pytest.mark.parametrize("rm, rv", [(None, None), (None, np.ones(3)), (np.zeros(3), None)])
@pytest.mark.parametrize("training", [True, False])
def test_without_both_running_statistics_batch_norm_uses_the_batch(rm, rv, training):
    rng = np.random.default_rng(24)
    x = rng.standard_normal((5, 3, 2)) * 3 + 2
    before = [None if v is None else v.copy() for v in (rm, rv)]
    out, cache = batchnorm_forward(x, np.ones(3), np.zeros(3), rm, rv, training, eps=1e-3)
    mean, var = x.mean(axis=(0, 2), keepdims=True), x.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10)
    for v, v0 in zip((rm, rv), before, strict=True):  # nothing is updated without both
        if v is not None:
            np.testing.assert_array_equal(v, v0)
    # and the backward pass is the batch one (the statistics depend on x)
    xt = torch.tensor(x, requires_grad=True)
    ref = F.batch_norm(xt, None, None, training=True, eps=1e-3)
    dout = rng.standard_normal(x.shape)
    ref.backward(torch.tensor(dout))
    np.testing.assert_allclose(batchnorm_backward(dout, cache)[0], xt.grad.numpy(), **TOL)


def test_eval_mode_uses_running_statistics_and_eps_inside_the_root():
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    rm, rv = np.array([1.0, -1.0]), np.array([0.0, 3.0])  # a zero variance: only eps remains
    g, b = np.array([2.0, 0.5]), np.array([0.25, -1.0])
    out, cache = batchnorm_forward(x, g, b, rm, rv, False, eps=0.25)
    expected = g * (x - rm) / np.sqrt(rv + 0.25) + b
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(rm, [1.0, -1.0])  # eval never updates
    np.testing.assert_array_equal(rv, [0.0, 3.0])
    dout = np.array([[1.0, -1.0], [0.5, 2.0]])
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    np.testing.assert_allclose(dx, dout * g / np.sqrt(rv + 0.25), rtol=1e-12)
    np.testing.assert_allclose(dgamma, (dout * (x - rm) / np.sqrt(rv + 0.25)).sum(axis=0))
    np.testing.assert_allclose(dbeta, dout.sum(axis=0), rtol=1e-12)


def test_eval_mode_accepts_an_empty_batch():
    out, cache = batchnorm_forward(
        np.zeros((0, 3, 2, 2)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), False
    )
    assert out.shape == (0, 3, 2, 2)
    dx, dgamma, dbeta = batchnorm_backward(np.zeros((0, 3, 2, 2)), cache)
    assert dx.shape == (0, 3, 2, 2)
    np.testing.assert_array_equal(dgamma, np.zeros(3))
    np.testing.assert_array_equal(dbeta, np.zeros(3))


def test_mixed_dtypes_promote_like_the_formula():
    """out = gamma * x_hat + beta and dx promote as NumPy would promote the whole expression."""
    rng = np.random.default_rng(25)
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    g32, b32 = np.ones(3, np.float32), np.zeros(3, np.float32)
    g64, b64 = np.ones(3), np.zeros(3)
    for g, b, want in [(g32, b32, np.float32), (g32, b64, np.float64), (g64, b32, np.float64)]:
        out, cache = batchnorm_forward(x, g, b, None, None, True)
        assert out.dtype == want
        dx, dgamma, dbeta = batchnorm_backward(np.ones(x.shape, np.float32), cache)
        assert dx.dtype == np.result_type(np.float32, g), (g.dtype, b.dtype)
    # float64 x with float32 gamma and beta: float64, as gamma * x_hat + beta would be
    out, _ = batchnorm_forward(x.astype(np.float64), g32, b32, None, None, True)
    assert out.dtype == np.float64
    # float32 x normalised in eval mode by float64 running statistics: x_hat is float64
    out, _ = batchnorm_forward(x, g32, b32, np.zeros(3), np.full(3, 3.0), False)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, x.astype(np.float64) / np.sqrt(3.0 + 1e-5), rtol=1e-12)
    _, cache = batchnorm_forward(x, g32, b32, None, None, True)
    dout = rng.standard_normal(x.shape)  # float64 dout, float32 everything else
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert dx.dtype == np.float64
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    F.batch_norm(xt, None, None, training=True).backward(torch.tensor(dout))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_layernorm_single_example_and_float32():
    rng = np.random.default_rng(26)
    x = rng.standard_normal(5) * 2 + 1  # x is just the normalized shape: one example
    g, b = rng.standard_normal(5), rng.standard_normal(5)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    ref = F.layer_norm(xt, (5,), gt, bt, eps=1e-3)
    out, cache = layernorm_forward(x, g, b, eps=1e-3)
    np.testing.assert_allclose(out, ref.detach().numpy(), **TOL)
    dout = rng.standard_normal(5)
    ref.backward(torch.tensor(dout))
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), **TOL)
    x32 = rng.standard_normal((3, 4)).astype(np.float32)
    g32, b32 = np.ones(4, np.float32), np.zeros(4, np.float32)
    out, cache = layernorm_forward(x32, g32, b32)
    dx, dgamma, dbeta = layernorm_backward(np.ones_like(out), cache)
    assert {a.dtype for a in (out, dx, dgamma, dbeta)} == {np.dtype(np.float32)}


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_of_zero_channels_is_empty_like_torch(training):
    x = np.zeros((4, 0, 3, 3))
    empty = np.zeros(0)
    out, cache = batchnorm_forward(x, empty + 1, empty, empty.copy(), empty + 1, training)
    ref = torch.nn.functional.batch_norm(
        torch.zeros(4, 0, 3, 3), torch.zeros(0), torch.ones(0), training=training
    )
    assert out.shape == tuple(ref.shape)
    dx, dgamma, dbeta = batchnorm_backward(np.zeros_like(out), cache)
    assert dx.shape == x.shape and dgamma.shape == dbeta.shape == (0,)
