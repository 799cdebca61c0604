"""Losses and their gradients against PyTorch autograd in float64."""

import re
import warnings

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


# Every error names the argument at fault, as the student typed it (mutation testing
# showed that a swapped or missing name in any of these messages went unnoticed).
TEXT = np.array(["a", "b"])
GOOD = {
    "zero_one_loss": ([0, 1], [0, 1]),
    "mse": (np.zeros(2), np.zeros(2)),
    "mse_grad": (np.zeros(2), np.zeros(2)),
    "mae": (np.zeros(2), np.zeros(2)),
    "mae_grad": (np.zeros(2), np.zeros(2)),
    "binary_cross_entropy": (np.full(2, 0.5), np.zeros(2)),
    "binary_cross_entropy_grad": (np.full(2, 0.5), np.zeros(2)),
    "binary_cross_entropy_with_logits": (np.zeros(2), np.zeros(2)),
    "binary_cross_entropy_with_logits_grad": (np.zeros(2), np.zeros(2)),
}
NAMES = {
    "zero_one_loss": ("y_pred", "y_true"),
    "mse": ("pred", "target"),
    "mse_grad": ("pred", "target"),
    "mae": ("pred", "target"),
    "mae_grad": ("pred", "target"),
    "binary_cross_entropy": ("p", "y"),
    "binary_cross_entropy_grad": ("p", "y"),
    "binary_cross_entropy_with_logits": ("z", "y"),
    "binary_cross_entropy_with_logits_grad": ("z", "y"),
}


@pytest.mark.parametrize("fn", sorted(set(GOOD) - {"zero_one_loss"}))
@pytest.mark.parametrize("position", [0, 1])
def test_every_pair_function_names_its_bad_argument(fn, position):
    args = list(GOOD[fn])
    name = NAMES[fn][position]
    args[position] = TEXT
    with pytest.raises(TypeError, match=rf"^{name} must hold real numbers"):
        getattr(L, fn)(*args)
    args = list(GOOD[fn])
    args[position] = np.zeros(3)
    a, b = NAMES[fn]
    with pytest.raises(ValueError, match=rf"^{a} and {b} must have the same shape"):
        getattr(L, fn)(*args)
    with pytest.raises(ValueError, match=rf"^{a} must not be empty, got shape \(0,\)"):
        getattr(L, fn)(np.zeros(0), np.zeros(0))


@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_grad"])
def test_probabilities_outside_the_unit_interval_or_nan_are_named(fn):
    f = getattr(L, fn)
    # The first bad value is reported, not a boundary value before it.
    with pytest.raises(ValueError, match=r"^p must hold values in \[0, 1\], got 1.5"):
        f(np.array([0.0, 1.5]), np.zeros(2))
    with pytest.raises(ValueError, match=r"^p must hold values in \[0, 1\], got -0.5"):
        f(np.array([1.0, -0.5]), np.zeros(2))
    with pytest.raises(ValueError, match=r"^p must hold values in \[0, 1\], got nan"):
        f(np.array([0.5, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match=r"^y must hold values in \[0, 1\], got 2.0"):
        f(np.full(2, 0.5), np.array([1.0, 2.0]))
    assert np.isfinite(f(np.array([0.0, 1.0]), np.array([0.0, 1.0]))).all()  # 0 and 1 are fine


@pytest.mark.parametrize(
    "fn", ["binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad"]
)
def test_targets_of_the_logit_losses_are_checked_and_named(fn):
    with pytest.raises(ValueError, match=r"^y must hold values in \[0, 1\], got nan"):
        getattr(L, fn)(np.zeros(2), np.array([0.0, np.nan]))


def test_zero_one_loss_of_one_example_and_its_errors():
    assert L.zero_one_loss([3], [3]) == 0.0 and L.zero_one_loss([3], [2]) == 1.0
    with pytest.raises(ValueError, match=r"^y_pred must not be empty, got shape \(0,\)"):
        L.zero_one_loss([], [])


@pytest.mark.parametrize("fn", [L.softmax, L.log_softmax, L.logsumexp])
def test_softmax_family_errors_and_a_single_entry_axis(fn):
    with pytest.raises(TypeError, match=r"^x must hold real numbers"):
        fn(TEXT)
    with pytest.raises(
        ValueError, match=r"^x must be an array with at least 1 axis, got the 0-D value 2.0"
    ):
        fn(2.0)
    for axis in (True, 1.0, "0"):
        with pytest.raises(TypeError, match=rf"^axis must be an int, got {re.escape(repr(axis))}"):
            fn(np.zeros((2, 2)), axis=axis)
    with pytest.raises(
        ValueError,
        match=r"^x must have at least one entry along axis 1 to reduce over, got shape \(2, 0\)",
    ):
        fn(np.zeros((2, 0)), axis=1)
    one = fn(np.array([[3.0], [-1.0]]), axis=1)  # one entry: softmax 1, log-softmax 0, lse = x
    expected = {L.softmax: [[1.0], [1.0]], L.log_softmax: [[0.0], [0.0]], L.logsumexp: [3.0, -1.0]}
    np.testing.assert_allclose(one, expected[fn])


def test_logsumexp_keeps_the_other_axes_of_length_one_and_warns_nothing():
    x = np.array([[1.0, 2.0, 3.0]])  # shape (1, 3)
    assert L.logsumexp(x, axis=1).shape == (1,)
    assert L.logsumexp(x, axis=1, keepdims=True).shape == (1, 1)
    with pytest.raises(TypeError, match=r"^keepdims must be a bool"):
        L.logsumexp(x, keepdims=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) of an all -inf row is no warning
        assert L.logsumexp(np.full((1, 2), -np.inf)).tolist() == [-np.inf]
        assert L.binary_cross_entropy(np.array([0.0]), np.array([0.0])) == 0.0


def test_cross_entropy_input_errors_are_named():
    with pytest.raises(TypeError, match=r"^logits must hold real numbers"):
        L.cross_entropy(np.array([["a", "b"]]), np.array([0]))
    for shape in [(0, 3), (2, 0)]:
        with pytest.raises(
            ValueError, match=r"^logits must have N >= 1 rows and K >= 1 classes, got shape"
        ):
            L.cross_entropy(np.zeros(shape), np.zeros(shape[0], dtype=int))
    with pytest.raises(ValueError, match=r"^y must be 1-D \(N,\) of integer labels, got 2-D"):
        L.cross_entropy(np.zeros((2, 3)), np.zeros((2, 1), dtype=int))
    # One class: a valid (if pointless) problem whose loss is 0.
    assert L.cross_entropy(np.array([[2.0], [-1.0]]), np.array([0, 0])) == 0.0


def test_softmax_jacobian_names_s():
    with pytest.raises(TypeError, match=r"^s must hold real numbers"):
        L.softmax_jacobian(TEXT)
