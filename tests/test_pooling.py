"""coursekit.pooling against torch max_pool2d / avg_pool2d + autograd (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.pooling import (
    AvgPool2d,
    GlobalAvgPool2d,
    MaxPool2d,
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

TOL = dict(rtol=1e-10, atol=1e-12)

# (shape, kernel, stride, padding): overlapping, non-square, padded and odd-sized windows
CASES = [
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 3, 7, 9), 3, 2, 1),
    ((1, 2, 7, 6), (3, 2), (2, 1), (1, 0)),
    ((3, 1, 5, 5), 3, 1, 0),
    ((1, 2, 6, 7), (2, 4), (3, 2), (1, 2)),
]


def _torch(fn, x, dout_seed=0, **kw):
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt, **kw)
    dout = np.random.default_rng(dout_seed).standard_normal(tuple(out.shape))
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), dout, xt.grad.numpy()


@pytest.mark.parametrize("shape, k, s, p", CASES)
def test_maxpool_matches_torch(shape, k, s, p):
    x = np.random.default_rng(1).standard_normal(shape)
    t_out, dout, t_dx = _torch(F.max_pool2d, x, kernel_size=k, stride=s, padding=p)
    out, cache = maxpool2d_forward(x, k, s, p)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(maxpool2d_backward(dout, cache), t_dx, **TOL)


@pytest.mark.parametrize("shape, k, s, p", CASES)
def test_avgpool_matches_torch_count_include_pad(shape, k, s, p):
    x = np.random.default_rng(2).standard_normal(shape)
    t_out, dout, t_dx = _torch(
        F.avg_pool2d, x, kernel_size=k, stride=s, padding=p, count_include_pad=True
    )
    out, cache = avgpool2d_forward(x, k, s, p)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(avgpool2d_backward(dout, cache), t_dx, **TOL)


def test_maxpool_ties_go_to_the_first_maximum_like_torch():
    # small integers make many ties inside each (overlapping) window
    x = np.random.default_rng(3).integers(0, 2, (2, 2, 6, 6)).astype(np.float64)
    t_out, dout, t_dx = _torch(F.max_pool2d, x, kernel_size=3, stride=1)
    out, cache = maxpool2d_forward(x, 3, 1)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_allclose(maxpool2d_backward(dout, cache), t_dx, **TOL)
    # a constant window sends all of its gradient to its top-left element
    _, cache = maxpool2d_forward(np.ones((1, 1, 2, 2)), 2)
    np.testing.assert_array_equal(
        maxpool2d_backward(np.ones((1, 1, 1, 1)), cache)[0, 0], [[1, 0], [0, 0]]
    )


def test_maxpool_worked_example():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)
    out, _ = maxpool2d_forward(x[None, None], 2, 2)
    np.testing.assert_array_equal(out[0, 0], [[6, 8], [3, 4]])
    avg, _ = avgpool2d_forward(x[None, None], 2)
    np.testing.assert_array_equal(avg[0, 0], [[3.25, 5.25], [2, 2]])


def test_pool_layers_and_global_average():
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 5))
    mp, ap, gp = MaxPool2d(2), AvgPool2d(3, stride=1, padding=1), GlobalAvgPool2d()
    np.testing.assert_allclose(mp(x), F.max_pool2d(torch.tensor(x), 2).numpy(), **TOL)
    np.testing.assert_allclose(ap(x), F.avg_pool2d(torch.tensor(x), 3, 1, 1).numpy(), **TOL)
    assert mp.params == {} and mp.parameters() == []  # pooling has no parameters
    assert mp(x).shape == (2, 3, 3, 2) and mp.backward(np.ones((2, 3, 3, 2))).shape == x.shape
    assert ap.backward(np.ones_like(ap(x))).shape == x.shape
    t_out, dout, t_dx = _torch(lambda t: t.mean(dim=(2, 3)), x)
    np.testing.assert_allclose(gp(x), t_out, **TOL)
    np.testing.assert_allclose(gp.backward(dout), t_dx, **TOL)
    assert repr(mp) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"


def test_pooling_keeps_float32():
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 4)).astype(np.float32)
    out, cache = maxpool2d_forward(x, 2)
    assert out.dtype == np.float32 and maxpool2d_backward(out, cache).dtype == np.float32
    out, cache = avgpool2d_forward(x, 2)
    assert out.dtype == np.float32 and avgpool2d_backward(out, cache).dtype == np.float32


def test_pooling_errors():
    x = np.zeros((1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got 3-D"):
        maxpool2d_forward(x[0], 2)
    with pytest.raises(
        ValueError, match=r"pooling window of size 5x5 .* larger than the padded input 4x4"
    ):
        maxpool2d_forward(x, 5)
    with pytest.raises(
        ValueError, match=r"padding must be at most half the kernel size, got padding=\(2, 2\)"
    ):
        avgpool2d_forward(x, 3, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1, got 0"):
        MaxPool2d(0)
    _, cache = maxpool2d_forward(x, 2)
    with pytest.raises(
        ValueError, match=r"dout must have shape \(1, 2, 2, 2\), got \(1, 2, 3, 3\)"
    ):
        maxpool2d_backward(np.zeros((1, 2, 3, 3)), cache)
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 2\), got \(2, 2\)"):
        gp = GlobalAvgPool2d()
        gp(x)
        gp.backward(np.zeros((2, 2)))


def _maxpool_torch(x: np.ndarray, k, s, p) -> tuple[np.ndarray, np.ndarray]:
    tx = torch.tensor(x, requires_grad=True)
    out = F.max_pool2d(tx, k, s, p)
    out.backward(torch.ones_like(out))
    return out.detach().numpy(), tx.grad.numpy()


@pytest.mark.parametrize("k, s, p", [(2, 1, 1), (3, 2, 1), ((3, 2), 1, (1, 0))])
def test_maxpool_of_minus_inf_sends_the_gradient_to_the_first_real_cell_like_torch(k, s, p):
    """A window of -inf and padding: the gradient must not vanish into the padding."""
    x = np.full((2, 2, 4, 5), -np.inf)
    x[0, 1, 2, 3] = 1.0  # one ordinary window among the -inf ones
    out, cache = maxpool2d_forward(x, k, s, p)
    dx = maxpool2d_backward(np.ones_like(out), cache)
    ref_out, ref_dx = _maxpool_torch(x, k, s, p)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(dx, ref_dx)
    assert dx.sum() == out.size  # every window's gradient arrived somewhere in x


def test_maxpool_with_nan_routes_the_gradient_like_torch():
    x = np.arange(2 * 3 * 6 * 6, dtype=np.float64).reshape(2, 3, 6, 6) % 7
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[1, 2, 3, 4] = np.nan
    out, cache = maxpool2d_forward(x, 3, 2, 1)
    dx = maxpool2d_backward(np.ones_like(out), cache)
    ref_out, ref_dx = _maxpool_torch(x, 3, 2, 1)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (1, 3)])
def test_tiling_windows_fast_path_matches_torch_with_ties_and_nans(kernel):
    """stride = kernel, no padding: the fast path; ties, NaNs and uncovered edges as torch."""
    rng = np.random.default_rng(7)
    x = rng.integers(-2, 3, size=(2, 3, 7, 8)).astype(np.float64)  # many ties
    x[0, 1, 2, 3] = np.nan
    x[1, 2, 0, 0] = x[1, 2, 0, 1] = np.nan
    out, cache = maxpool2d_forward(x, kernel)
    assert cache[0] == "tiles"
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.max_pool2d(xt, kernel)
    np.testing.assert_array_equal(out, ref.detach().numpy())
    dout = rng.normal(size=out.shape)
    ref.backward(torch.tensor(dout))
    np.testing.assert_array_equal(maxpool2d_backward(dout, cache), xt.grad.numpy())


@pytest.mark.parametrize("kernel", [(2, 2), (3, 2)])
def test_tiling_fast_path_backward_sends_nothing_but_to_the_maximum_even_for_inf(kernel):
    """The fast backward multiplies dout by a 0/1 mask; inf * 0 would be NaN, torch gives 0."""
    rng = np.random.default_rng(8)
    x = rng.integers(-2, 3, size=(2, 3, 7, 8)).astype(np.float32)  # ties, float32
    out, cache = maxpool2d_forward(x, kernel)
    assert cache[0] == "tiles"
    dout = rng.normal(size=out.shape).astype(np.float32)
    dout[0, 0, 0, 0], dout[1, 2, 1, 1], dout[0, 1, 0, 1] = np.inf, -np.inf, np.nan
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, kernel).backward(torch.tensor(dout))
    dx = maxpool2d_backward(dout, cache)
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(dx, xt.grad.numpy())
