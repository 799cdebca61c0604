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


@pytest.mark.parametrize(
    "k, s, p",
    [(2, 1, 1), (3, 2, 1), ((3, 2), 1, (1, 0)), (2, 1, (0, 1)), (4, 1, 2), ((5, 3), 2, (2, 1))],
)
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


# --- behaviours a planted bug would otherwise slip past (mutation testing, docs/mutation.md) ---


def test_messages_start_with_the_argument():
    x = np.zeros((1, 2, 4, 4))
    for fn in (maxpool2d_forward, avgpool2d_forward):
        with pytest.raises(TypeError, match=r"^x must hold real numbers"):
            fn(np.array([["a"]]), 2)
        with pytest.raises(ValueError, match=r"^x must be 4-D \(N, C, H, W\), got 3-D"):
            fn(x[0], 2)
        with pytest.raises(ValueError, match=r"^kernel_size must be >= 1, got 0$"):
            fn(x, 0)
        with pytest.raises(TypeError, match=r"^kernel_size must be an int or a pair of ints"):
            fn(x, 1.5)
        with pytest.raises(ValueError, match=r"^stride must be >= 1, got \(1, 0\)$"):
            fn(x, 2, (1, 0))
        with pytest.raises(TypeError, match=r"^stride must be an int or a pair of ints"):
            fn(x, 2, "2")
        with pytest.raises(ValueError, match=r"^padding must be >= 0, got -1$"):
            fn(x, 2, 1, -1)
        with pytest.raises(TypeError, match=r"^padding must be an int or a pair of ints"):
            fn(x, 2, 1, None)
        with pytest.raises(
            ValueError,
            match=r"^padding must be at most half the kernel size, got padding=\(2, 0\) "
            r"for kernel_size=\(3, 3\)$",
        ):
            fn(x, 3, 1, (2, 0))
        with pytest.raises(
            ValueError,
            match=r"^padding must be at most half the kernel size, got padding=\(0, 2\) "
            r"for kernel_size=\(3, 3\)$",
        ):
            fn(x, 3, 1, (0, 2))
        with pytest.raises(
            ValueError,
            match=r"^pooling window of size 5x5 \(dilation 1x1, effective size 5x5\) is larger "
            r"than the padded input 4x4 \(input 4x4, padding 0x0\)$",
        ):
            fn(x, 5)
    for layer in (MaxPool2d, AvgPool2d):
        with pytest.raises(ValueError, match=r"^kernel_size must be >= 1, got 0$"):
            layer(0)
        with pytest.raises(ValueError, match=r"^stride must be >= 1, got 0$"):
            layer(2, 0)
        with pytest.raises(ValueError, match=r"^padding must be >= 0, got \(0, -1\)$"):
            layer(2, 1, (0, -1))
    gp = GlobalAvgPool2d()
    with pytest.raises(TypeError, match=r"^x must hold real numbers"):
        gp(np.array([["a"]]))
    with pytest.raises(ValueError, match=r"^x must be 4-D \(N, C, H, W\), got 2-D"):
        gp(np.zeros((2, 3)))


@pytest.mark.parametrize(
    "forward, backward, k, s, p",
    [
        (maxpool2d_forward, maxpool2d_backward, 2, None, 0),  # the tiling fast path
        (maxpool2d_forward, maxpool2d_backward, 3, 1, 1),  # the general path
        (avgpool2d_forward, avgpool2d_backward, 3, 1, 1),
        (avgpool2d_forward, avgpool2d_backward, 2, None, 0),
    ],
)
def test_backward_messages_name_dout(forward, backward, k, s, p):
    out, cache = forward(np.zeros((1, 2, 4, 4)), k, s, p)
    n, c, ho, wo = out.shape
    with pytest.raises(TypeError, match=r"^dout must hold real numbers"):
        backward(np.full(out.shape, "a"), cache)
    with pytest.raises(
        ValueError, match=rf"^dout must have shape \({n}, {c}, {ho}, {wo}\), got \(1, 2, 9, 9\)$"
    ):
        backward(np.zeros((1, 2, 9, 9)), cache)


def test_global_average_pool_errors_and_edges():
    gp = GlobalAvgPool2d()
    for shape in [(1, 2, 0, 3), (1, 2, 3, 0), (1, 2, 0, 0)]:
        with pytest.raises(
            ValueError,
            match=rf"^x must have H >= 1 and W >= 1 to average over, got \({shape[0]}, "
            rf"{shape[1]}, {shape[2]}, {shape[3]}\)$",
        ):
            gp(np.zeros(shape))
    # a 1x1 map (and 1xW, Hx1) is fine: the mean of one value is that value
    x = np.random.default_rng(9).standard_normal((2, 3, 1, 1))
    np.testing.assert_array_equal(gp(x), x[:, :, 0, 0])
    np.testing.assert_array_equal(gp.backward(np.ones((2, 3))), np.ones((2, 3, 1, 1)))
    assert gp(np.ones((2, 3, 1, 4))).shape == (2, 3) and gp(np.ones((2, 3, 4, 1))).shape == (2, 3)
    with pytest.raises(TypeError, match=r"^dout must hold real numbers"):
        gp.backward(np.full((2, 3), "a"))
    with pytest.raises(ValueError, match=r"^dout must have shape \(2, 3\), got \(3, 2\)$"):
        gp.backward(np.zeros((3, 2)))
    # the gradient is a fresh, writable array, not a read-only broadcast view of dout
    dx = gp.backward(np.ones((2, 3)))
    assert dx.flags.writeable and dx.flags.c_contiguous
    dx += 1.0
    # float32 stays float32
    x32 = np.random.default_rng(10).standard_normal((2, 3, 4, 5)).astype(np.float32)
    assert gp(x32).dtype == np.float32
    assert gp.backward(np.ones((2, 3), np.float32)).dtype == np.float32
    # integers count as float64
    assert gp(np.ones((1, 1, 2, 2), dtype=int)).dtype == np.float64


@pytest.mark.parametrize(
    "k, s, p",
    [
        (1, None, 0),  # a 1x1 window: pooling is the identity
        (1, 2, 0),  # a 1x1 window that skips pixels
        (2, 2, 1),  # windows that tile the padded input, not the input
        ((2, 3), (2, 3), (1, 0)),
        ((2, 3), (2, 3), (0, 1)),
        (4, 2, 2),  # padding exactly half an even kernel
        ((4, 3), 1, (2, 1)),
        ((3, 4), (1, 2), (1, 2)),
        (3, (3, 1), 0),  # the stride equals the kernel in one direction only
        ((3, 2), (3, 2), 0),
        (2, (1, 2), 0),
    ],
)
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_edge_geometries_match_torch(pool, k, s, p):
    x = np.random.default_rng(11).standard_normal((2, 3, 7, 8)) - 0.5
    fn = F.max_pool2d if pool == "max" else F.avg_pool2d
    forward = maxpool2d_forward if pool == "max" else avgpool2d_forward
    backward = maxpool2d_backward if pool == "max" else avgpool2d_backward
    t_out, dout, t_dx = _torch(fn, x, kernel_size=k, stride=s, padding=p)
    out, cache = forward(x, k, s, p)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(backward(dout, cache), t_dx, **TOL)
    layer = (MaxPool2d if pool == "max" else AvgPool2d)(k, s, p)
    np.testing.assert_allclose(layer(x), t_out, **TOL)
    np.testing.assert_allclose(layer.backward(dout), t_dx, **TOL)


def test_maxpool_padding_is_minus_inf_not_zero():
    # every real value is negative: a zero (or +inf) padding would win the corner windows
    x = -1.0 - np.random.default_rng(12).random((1, 2, 4, 5))
    t_out, dout, t_dx = _torch(F.max_pool2d, x, kernel_size=3, stride=2, padding=1)
    out, cache = maxpool2d_forward(x, 3, 2, 1)
    assert (out < -1).all()
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(maxpool2d_backward(dout, cache), t_dx)
    # and the average counts padded zeros (count_include_pad=True)
    avg, _ = avgpool2d_forward(np.ones((1, 1, 2, 2)), 2, 1, 1)
    np.testing.assert_array_equal(
        avg[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    )


@pytest.mark.parametrize("k, s, p", [(3, 1, 1), (2, 2, 0), ((3, 2), (2, 1), (1, 0))])
def test_pooling_keeps_float32_on_every_path(k, s, p):
    x = np.random.default_rng(13).standard_normal((2, 3, 6, 5)).astype(np.float32)
    for pool, fn in [
        (maxpool2d_forward, maxpool2d_backward),
        (avgpool2d_forward, avgpool2d_backward),
    ]:
        out, cache = pool(x, k, s, p)
        dx = fn(np.ones_like(out), cache)
        assert out.dtype == np.float32 and dx.dtype == np.float32, pool.__name__
    for layer in (MaxPool2d(k, s, p), AvgPool2d(k, s, p)):
        out = layer(x)
        assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
    # integer input is pooled as float64
    out, cache = maxpool2d_forward(np.arange(16).reshape(1, 1, 4, 4), 2)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[0, 0], [[5, 7], [13, 15]])


@pytest.mark.parametrize("k, s, p", [(3, 1, 1), (2, 2, 0), (3, 2, 0), (2, 1, 1)])
def test_maxpool_ties_and_nans_everywhere_like_torch(k, s, p):
    """Ties, NaNs at the first, middle and last cell of windows, -inf and +inf: as torch."""
    rng = np.random.default_rng(14)
    x = rng.integers(-1, 2, size=(3, 2, 6, 6)).astype(np.float64)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 1, 5, 5] = x[1, 0, 2, 3] = np.nan
    x[1, 1] = np.nan  # a channel of NaN only
    x[2, 0] = -np.inf  # a channel of -inf only
    x[2, 1, ::2, ::2] = np.inf
    t_out, dout, t_dx = _torch(F.max_pool2d, x, kernel_size=k, stride=s, padding=p)
    out, cache = maxpool2d_forward(x, k, s, p)
    np.testing.assert_array_equal(out, t_out)
    # overlapping windows add their gradients in another order than torch: rounding only
    np.testing.assert_allclose(maxpool2d_backward(dout, cache), t_dx, **TOL)


@pytest.mark.parametrize("k, s, p", [(3, 1, 1), (2, 2, 0), (3, 2, 1)])
def test_maxpool_of_a_constant_sends_each_gradient_to_the_windows_first_cell(k, s, p):
    x = np.full((1, 1, 6, 6), 2.0)
    out, cache = maxpool2d_forward(x, k, s, p)
    dx = maxpool2d_backward(np.ones_like(out), cache)
    _, ref_dx = _maxpool_torch(x, k, s, p)
    np.testing.assert_array_equal(dx, ref_dx)
    assert dx.sum() == out.size


def test_layer_reprs_and_stride_defaults():
    assert (
        repr(AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )
    assert repr(MaxPool2d((3, 2), padding=(1, 0))) == (
        "MaxPool2d(kernel_size=(3, 2), stride=(3, 2), padding=(1, 0))"
    )
    assert repr(GlobalAvgPool2d()) == "GlobalAvgPool2d()"
    assert GlobalAvgPool2d().params == {} and AvgPool2d(2).parameters() == []
