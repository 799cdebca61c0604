"""coursekit.conv against torch.nn.functional.conv2d / conv_transpose2d + autograd (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.conv import (
    Conv2d,
    ConvTranspose2d,
    col2im,
    conv2d_backward,
    conv2d_forward,
    conv2d_naive,
    conv2d_naive_backward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
    im2col,
)
from coursekit.gradcheck import check_layer

TOL = dict(rtol=1e-10, atol=1e-12)

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation, bias)
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 0, 1, True),
    (2, 3, 7, 7, 4, 3, 2, 1, 1, True),
    (1, 2, 9, 8, 3, (3, 2), (2, 1), (1, 2), (2, 1), True),
    (3, 1, 5, 6, 2, 1, 1, 0, 1, False),
    (2, 4, 6, 5, 3, (2, 3), 3, (0, 1), 1, True),
    (1, 3, 11, 10, 2, 5, (1, 2), 2, 2, False),
    # stride 1 runs on shifted rows of the flattened image: rectangles and dilations
    (2, 3, 6, 9, 4, (3, 2), 1, (2, 1), (1, 2), True),
    (1, 2, 5, 7, 3, (2, 4), 1, (0, 3), (2, 1), False),
    (3, 4, 8, 5, 2, (1, 3), 1, (1, 0), 1, True),
    # the last two: the kernel fills the (padded) input
    (2, 2, 4, 4, 5, 4, 1, 0, 1, True),  # kernel = input: a 1x1 output
    (1, 2, 3, 3, 2, 3, 1, 2, 2, True),  # dilated kernel only fits because of the padding
]


def _torch_conv(x, w, b, stride, padding, dilation, dout):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation)
    if dout is None:
        return out.detach().numpy()
    out.backward(torch.tensor(dout))
    return (
        out.detach().numpy(),
        xt.grad.numpy(),
        wt.grad.numpy(),
        None if bt is None else bt.grad.numpy(),
    )


def _case_arrays(case, seed=0):
    n, c, h, w, f, k, s, p, d, bias = case
    rng = np.random.default_rng(seed)
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f) if bias else None
    return x, wt, b, s, p, d


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_backward_match_torch(case):
    x, w, b, s, p, d = _case_arrays(case)
    out, cache = conv2d_forward(x, w, b, stride=s, padding=p, dilation=d)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    t_out, t_dx, t_dw, t_db = _torch_conv(x, w, b, s, p, d, dout)
    np.testing.assert_allclose(out, t_out, **TOL)
    dx, dw, db = conv2d_backward(dout, cache)
    np.testing.assert_allclose(dx, t_dx, **TOL)
    np.testing.assert_allclose(dw, t_dw, **TOL)
    if b is None:
        assert db is None
    else:
        np.testing.assert_allclose(db, t_db, **TOL)


@pytest.mark.parametrize("case", CONV_CASES[:6])
def test_naive_conv_equals_vectorised(case):
    x, w, b, s, p, d = _case_arrays(case, seed=3)
    out, cache = conv2d_forward(x, w, b, stride=s, padding=p, dilation=d)
    np.testing.assert_allclose(conv2d_naive(x, w, b, s, p, d), out, **TOL)
    dout = np.random.default_rng(4).standard_normal(out.shape)
    dx, dw, _ = conv2d_backward(dout, cache)
    ndx, ndw, ndb = conv2d_naive_backward(dout, x, w, s, p, d)
    np.testing.assert_allclose(ndx, dx, **TOL)
    np.testing.assert_allclose(ndw, dw, **TOL)
    np.testing.assert_allclose(ndb, dout.sum(axis=(0, 2, 3)), **TOL)


def test_naive_conv_worked_example_top_left_is_4():
    # the curriculum's 5x5 binary image and 3x3 kernel: the top-left output is 4
    image = np.array(
        [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
    )
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    out = conv2d_naive(image[None, None], kernel[None, None])
    assert out.shape == (1, 1, 3, 3)
    assert out[0, 0, 0, 0] == 4
    np.testing.assert_array_equal(out[0, 0], [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_naive_conv_symbolic_2x2_example():
    # 3x3 image a..i with 2x2 kernel (j, k, l, m): out[0, 0] = aj + bk + dl + em, etc.
    img = np.arange(1.0, 10.0).reshape(3, 3)  # a..i = 1..9
    ker = np.array([[10.0, 20.0], [30.0, 40.0]])  # j, k, l, m
    out = conv2d_naive(img[None, None], ker[None, None])[0, 0]
    a, b, c, d, e, f, g, h, i = img.ravel()
    j, k, el, m = ker.ravel()
    expected = [[a * j + b * k + d * el + e * m, b * j + c * k + e * el + f * m],
                [d * j + e * k + g * el + h * m, e * j + f * k + h * el + i * m]]  # fmt: skip
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    "kernel, stride, padding, dilation",
    [(3, 1, 0, 1), ((2, 3), (2, 1), (1, 0), (1, 2)), (1, 2, 1, 1)],
)
def test_im2col_matches_unfold_and_col2im_matches_fold(kernel, stride, padding, dilation):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 7))
    cols = im2col(x, kernel, stride, padding, dilation)
    t_cols = F.unfold(torch.tensor(x), kernel, dilation=dilation, padding=padding, stride=stride)
    np.testing.assert_allclose(cols, t_cols.numpy(), **TOL)
    back = col2im(cols, x.shape, kernel, stride, padding, dilation)
    t_back = F.fold(t_cols, (6, 7), kernel, dilation=dilation, padding=padding, stride=stride)
    np.testing.assert_allclose(back, t_back.numpy(), **TOL)


def test_im2col_column_layout_gives_conv_as_matmul():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    cols = im2col(x, 3, padding=1)
    assert cols.shape == (2, 3 * 3 * 3, 5 * 5)
    # row c*kh*kw + p*kw + q, column i*W_out + j holds xpad[n, c, i + p, j + q]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert cols[1, 2 * 9 + 1 * 3 + 2, 3 * 5 + 4] == xp[1, 2, 3 + 1, 4 + 2]
    out = (w.reshape(4, -1) @ cols).reshape(2, 4, 5, 5)
    np.testing.assert_allclose(out, _torch_conv(x, w, None, 1, 1, 1, None), **TOL)


# (N, C_in, H, W, C_out, kernel, stride, padding, output_padding, dilation, bias)
TRANSPOSE_CASES = [
    (1, 1, 3, 3, 1, 3, 2, 1, 0, 1, True),  # the worked example: 3x3 -> 5x5
    (2, 3, 4, 5, 2, 3, 1, 0, 0, 1, True),
    (2, 2, 3, 4, 3, (3, 2), (2, 3), (1, 0), (1, 2), (1, 2), True),
    (1, 3, 5, 3, 2, 4, 2, 1, 1, 1, False),
    (2, 2, 2, 3, 2, 2, 1, 0, 1, 2, True),  # output_padding < dilation, >= stride
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose2d_matches_torch(case):
    n, c, h, w, f, k, s, p, op, d, bias = case
    rng = np.random.default_rng(7)
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((c, f, kh, kw))
    b = rng.standard_normal(f) if bias else None
    hyper = dict(stride=s, padding=p, output_padding=op, dilation=d)
    out, cache = conv_transpose2d_forward(x, wt, b, **hyper)

    xt = torch.tensor(x, requires_grad=True)
    wtt = torch.tensor(wt, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    t_out = F.conv_transpose2d(xt, wtt, bt, **hyper)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL)
    dout = rng.standard_normal(out.shape)
    t_out.backward(torch.tensor(dout))
    dx, dw, db = conv_transpose2d_backward(dout, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dw, wtt.grad.numpy(), **TOL)
    if b is None:
        assert db is None
    else:
        np.testing.assert_allclose(db, bt.grad.numpy(), **TOL)


def test_transpose_worked_example_shape():
    out, _ = conv_transpose2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), None, 2, 1)
    assert out.shape == (1, 1, 5, 5)


def test_conv2d_layer_matches_torch_module():
    layer = Conv2d(3, 5, (3, 2), stride=(1, 2), padding=1, dilation=(2, 1), rng=0)
    ref = torch.nn.Conv2d(3, 5, (3, 2), stride=(1, 2), padding=1, dilation=(2, 1)).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.params["w"]))
        ref.bias.copy_(torch.tensor(layer.params["b"]))
    x = np.random.default_rng(8).standard_normal((2, 3, 8, 9))
    xt = torch.tensor(x, requires_grad=True)
    t_out = ref(xt)
    out = layer(x)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL)
    dout = np.random.default_rng(9).standard_normal(out.shape)
    t_out.backward(torch.tensor(dout))
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.grads["w"], ref.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.grads["b"], ref.bias.grad.numpy(), **TOL)
    assert repr(layer) == repr(ref).replace(", bias=True", "")  # torch omits bias=True too


def test_conv_transpose2d_layer_matches_torch_module():
    layer = ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, rng=1)
    ref = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.params["w"]))
        ref.bias.copy_(torch.tensor(layer.params["b"]))
    x = np.random.default_rng(10).standard_normal((2, 2, 4, 3))
    np.testing.assert_allclose(layer(x), ref(torch.tensor(x)).detach().numpy(), **TOL)
    assert layer(x).shape == (2, 3, 8, 6)
    assert repr(layer) == repr(ref)


def test_conv2d_same_padding_keeps_size():
    x = np.random.default_rng(11).standard_normal((1, 2, 7, 6))
    for k, d in [(3, 1), (5, 1), (3, 2), ((5, 3), 1)]:
        layer = Conv2d(2, 3, k, padding="same", dilation=d, rng=0)
        assert layer(x).shape == (1, 3, 7, 6)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="odd effective kernel"):
        Conv2d(2, 3, 4, padding="same")
    with pytest.raises(ValueError, match="padding must be an int, a pair of ints or 'same'"):
        Conv2d(2, 3, 3, padding="valid")


def test_conv2d_default_init_like_torch():
    layer = Conv2d(16, 32, 3, rng=0)
    bound = 1 / np.sqrt(16 * 9)
    w = layer.params["w"]
    assert w.shape == (32, 16, 3, 3) and layer.params["b"].shape == (32,)
    assert np.abs(w).max() <= bound
    # U(-a, a) has standard deviation a / sqrt(3)
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    np.testing.assert_array_equal(Conv2d(16, 32, 3, rng=0).params["w"], w)  # seeded
    assert "b" not in Conv2d(16, 32, 3, bias=False).params


def test_conv2d_layer_gradcheck():
    layer = Conv2d(2, 3, 3, stride=2, padding=1, rng=2)
    x = np.random.default_rng(12).standard_normal((2, 2, 5, 4))
    errors = check_layer(layer, x)
    assert set(errors) == {"x", "w", "b"}
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("stride", [1, 2])  # shifted rows; window columns
def test_conv_keeps_float32(stride):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out, cache = conv2d_forward(x, w, b, stride=stride, padding=1)
    assert out.dtype == np.float32
    assert all(part.dtype == np.float32 for part in cache if isinstance(part, np.ndarray))
    dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    ref = conv2d_forward(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride=stride,
        padding=1,
    )  # fmt: skip
    np.testing.assert_allclose(out, ref[0], rtol=1e-4, atol=1e-4)
    t_out, _ = conv_transpose2d_forward(x, w.transpose(1, 0, 2, 3), None)
    assert t_out.dtype == np.float32
    layer = Conv2d(3, 4, 3, rng=0).astype(np.float32)
    assert layer(x).dtype == np.float32


def test_conv_errors_name_the_problem():
    x = np.zeros((2, 3, 5, 5))
    w = np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got 3-D"):
        conv2d_forward(x[0], w)
    with pytest.raises(ValueError, match="x has 3 channels but w expects 2 input channels"):
        conv2d_forward(x, np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\), got \(3,\)"):
        conv2d_forward(x, w, np.zeros(3))
    with pytest.raises(ValueError, match=r"kernel of size 8x8 .* larger than the padded input 7x7"):
        conv2d_forward(x, np.zeros((4, 3, 8, 8)), padding=1)
    with pytest.raises(
        ValueError, match=r"effective size 5x5\) is larger than the padded input 3x3"
    ):
        conv2d_forward(np.zeros((1, 3, 3, 3)), w, dilation=2)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        conv2d_forward(x, w, stride=0)
    with pytest.raises(TypeError, match="padding must be an int or a pair of ints"):
        conv2d_forward(x, w, padding=1.5)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        conv2d_forward(np.full((1, 3, 5, 5), "a"), w)
    _, cache = conv2d_forward(x, w)
    with pytest.raises(
        ValueError, match=r"dout must have shape \(2, 4, 3, 3\), got \(1, 4, 3, 3\)"
    ):
        conv2d_backward(np.zeros((1, 4, 3, 3)), cache)
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        conv_transpose2d_forward(x, np.zeros((3, 2, 3, 3)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="x has 3 channels but w expects 4 input channels"):
        conv_transpose2d_forward(x, np.zeros((4, 3, 3, 3)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Conv2d(3, 4, 3).backward(np.zeros((2, 4, 3, 3)))


# ---------------------------------------------------------------------------
# blocks of images shared among threads
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stride", [(2, 1), 1])  # window columns; shifted rows
def test_blocks_on_threads_give_the_same_numbers(monkeypatch, threads, dtype, stride):
    """Small blocks (2 images) on 1-3 threads: bit for bit the single-thread result, and torch's."""
    from threadpoolctl import threadpool_limits

    import coursekit.conv as conv

    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 6, 5)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    hyper = dict(stride=stride, padding=1, dilation=1)
    ho, wo = (3, 6) if stride != 1 else (6, 6)
    dout = rng.standard_normal((7, 4, ho, wo)).astype(dtype)
    # C kh kw times the columns of one image (flat positions on the shifted path), in bytes
    length = ho * wo if stride != 1 else (ho - 1) * 7 + wo
    per_image = 3 * 3 * 2 * length * x.itemsize
    monkeypatch.setattr(conv, "_BLOCK_BYTES", 2 * per_image)
    with threadpool_limits(limits=1, user_api="blas"):
        out1, cache1 = conv2d_forward(x, w, b, **hyper)
        grads1 = conv2d_backward(dout, cache1)
    with threadpool_limits(limits=threads, user_api="blas"):
        out, cache = conv2d_forward(x, w, b, **hyper)
        grads = conv2d_backward(dout, cache)
    np.testing.assert_array_equal(out, out1)
    for g, g1 in zip(grads, grads1, strict=True):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, g1)
    ref = _torch_conv(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                      stride, 1, 1, dout.astype(np.float64))  # fmt: skip
    tol = TOL if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for mine, theirs in zip((out, *grads), ref, strict=True):
        np.testing.assert_allclose(mine, theirs, **tol)


@pytest.mark.parametrize("stride", [(1, 2), 1])  # window columns; shifted rows
@pytest.mark.parametrize("padding", [0, (2, 1)])
def test_blocks_of_a_strided_view_with_and_without_padding(monkeypatch, padding, stride):
    """One image a block, read from a non-contiguous x (padded, or as it is)."""
    import coursekit.conv as conv

    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 7, 3, 9)).transpose(0, 2, 1, 3)[:, :, ::2, ::2]  # (5, 3, 4, 5)
    assert not x.flags.c_contiguous
    w, b = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2)
    monkeypatch.setattr(conv, "_BLOCK_BYTES", 1)
    out, cache = conv2d_forward(x, w, b, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    assert dx.flags.c_contiguous and dx.shape == x.shape
    ref = _torch_conv(np.ascontiguousarray(x), w, b, stride, padding, 1, dout)
    for mine, theirs in zip((out, dx, dw, db), ref, strict=True):
        np.testing.assert_allclose(mine, theirs, **TOL)


def test_map_column_blocks_order_threads_and_one_blas_thread_each(monkeypatch):
    import threading

    from threadpoolctl import threadpool_info, threadpool_limits

    import coursekit.conv as conv
    from coursekit.conv import _map_column_blocks, _pad, _windows

    x = np.arange(5 * 2 * 4 * 4, dtype=np.float64).reshape(5, 2, 4, 4)
    win = _windows(_pad(x, (1, 1)), (3, 3), (4, 4), (1, 1), (1, 1))
    monkeypatch.setattr(conv, "_BLOCK_BYTES", 2 * 2 * 9 * 16 * 8)  # 2 images a block
    seen = []

    def fn(start, cols):
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        seen.append((start, cols.shape, blas, threading.get_ident()))
        return start, cols.copy()

    with threadpool_limits(limits=2, user_api="blas"):
        results = _map_column_blocks(fn, win)
        after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert [r[0] for r in results] == [0, 2, 4]  # in block order, whichever thread ran it
    assert sorted(s[:2] for s in seen) == [(0, (2, 18, 16)), (2, (2, 18, 16)), (4, (1, 18, 16))]
    assert all(s[2] and set(s[2]) == {1} for s in seen)  # one BLAS thread inside each block
    assert threading.get_ident() not in {s[3] for s in seen}  # run by the pool's threads
    assert after and set(after) == {2}  # the limit is lifted afterwards
    cols = np.concatenate([r[1] for r in results])
    np.testing.assert_array_equal(cols, im2col(x, 3, stride=1, padding=1))
    seen.clear()
    with threadpool_limits(limits=1, user_api="blas"):
        again = _map_column_blocks(fn, win)
    assert {s[3] for s in seen} == {threading.get_ident()}  # one BLAS thread: no pool
    np.testing.assert_array_equal(np.concatenate([r[1] for r in again]), cols)


# ----------------------------------------------------------------------------
# error messages: each names the argument first
# ----------------------------------------------------------------------------


def test_conv_argument_errors_start_with_the_argument_name():
    x = np.zeros((2, 3, 5, 5))
    w = np.zeros((4, 3, 3, 3))
    with pytest.raises(TypeError, match=r"^w must hold real numbers"):
        conv2d_forward(x, np.full((4, 3, 3, 3), "a"))
    with pytest.raises(TypeError, match=r"^b must hold real numbers"):
        conv2d_forward(x, w, np.full(4, "a"))
    with pytest.raises(
        ValueError, match=r"^w must be 4-D \(C_out, C_in, kh, kw\), got 3-D with shape \(4, 3, 3\)$"
    ):
        conv2d_forward(x, w[:, :, 0])
    with pytest.raises(
        ValueError, match=r"^w must be 4-D \(C_in, C_out, kh, kw\), got 3-D with shape \(3, 2, 3\)$"
    ):
        conv_transpose2d_forward(x, np.zeros((3, 2, 3)))
    with pytest.raises(
        ValueError,
        match=r"^w must have no zero-size dimension \(layout \(C_out, C_in, kh, kw\)\), "
        r"got \(4, 3, 0, 3\)$",
    ):
        conv2d_forward(x, np.zeros((4, 3, 0, 3)))
    with pytest.raises(
        ValueError,
        match=r"^w must have no zero-size dimension \(layout \(C_in, C_out, kh, kw\)\), "
        r"got \(3, 0, 3, 3\)$",
    ):
        conv_transpose2d_forward(x, np.zeros((3, 0, 3, 3)))
    with pytest.raises(
        ValueError,
        match=r"^x has 3 channels but w expects 2 input channels "
        r"\(w must have layout \(C_out, C_in, kh, kw\), got shape \(4, 2, 3, 3\)\)$",
    ):
        conv2d_forward(x, np.zeros((4, 2, 3, 3)))
    with pytest.raises(
        ValueError,
        match=r"^x has 3 channels but w expects 4 input channels "
        r"\(w must have layout \(C_in, C_out, kh, kw\), got shape \(4, 3, 3, 3\)\)$",
    ):
        conv_transpose2d_forward(x, np.zeros((4, 3, 3, 3)))
    # a transposed convolution's bias has one entry per output channel: w.shape[1]
    with pytest.raises(ValueError, match=r"^b must have shape \(2,\), got \(3,\)$"):
        conv_transpose2d_forward(x, np.zeros((3, 2, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"^stride must be >= 1, got 0$"):
        conv2d_naive(x, w, stride=0)
    with pytest.raises(ValueError, match=r"^padding must be >= 0, got -1$"):
        conv2d_forward(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"^dilation must be >= 1, got 0$"):
        conv2d_forward(x, w, dilation=0)
    with pytest.raises(ValueError, match=r"^dilation must be >= 1, got \(1, 0\)$"):
        conv_transpose2d_forward(x, np.zeros((3, 2, 3, 3)), dilation=(1, 0))
    with pytest.raises(TypeError, match=r"^dilation must be an int or a pair of ints"):
        conv2d_forward(x, w, dilation=(1, 1, 1))


def test_conv_too_large_kernel_message_gives_both_directions():
    # every number differs between height and width, so a mixed-up index shows
    x = np.zeros((1, 3, 4, 6))
    w = np.zeros((4, 3, 2, 4))
    with pytest.raises(
        ValueError,
        match=r"^kernel of size 2x4 \(dilation 3x2, effective size 4x7\) is larger than the "
        r"padded input 6x6 \(input 4x6, padding 1x0\)$",
    ):
        conv2d_forward(x, w, padding=(1, 0), dilation=(3, 2))
    with pytest.raises(
        ValueError,
        match=r"^kernel of size 4x2 \(dilation 1x1, effective size 4x2\) is larger than the "
        r"padded input 3x8 \(input 3x4, padding 0x2\)$",
    ):
        conv2d_naive(np.zeros((1, 3, 3, 4)), np.zeros((4, 3, 4, 2)), padding=(0, 2))


def test_conv_transpose_errors_name_the_argument():
    x = np.zeros((1, 3, 2, 3))
    w = np.zeros((3, 2, 3, 2))
    with pytest.raises(ValueError, match=r"^output_padding must be >= 0, got -1$"):
        conv_transpose2d_forward(x, w, output_padding=-1)
    with pytest.raises(TypeError, match=r"^output_padding must be an int or a pair of ints"):
        conv_transpose2d_forward(x, w, output_padding=0.5)
    # output_padding equal to both stride and dilation is refused, as torch does
    with pytest.raises(
        ValueError,
        match=r"^output_padding must be smaller than either stride or dilation, got "
        r"output_padding=\(1, 1\), stride=\(1, 1\), dilation=\(1, 1\)$",
    ):
        conv_transpose2d_forward(x, w, output_padding=1)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        F.conv_transpose2d(torch.zeros(1, 3, 2, 3), torch.zeros(3, 2, 3, 2), output_padding=1)
    with pytest.raises(
        ValueError,
        match=r"^padding \(2, 1\) is too large for a transposed convolution of a 2x3 input with "
        r"kernel 3x2 and stride \(1, 2\): the output would be 0x4$",
    ):
        conv_transpose2d_forward(x, w, stride=(1, 2), padding=(2, 1))


def test_conv_backward_errors_name_dout():
    x = np.zeros((2, 3, 5, 5))
    w = np.zeros((4, 3, 3, 3))
    _, cache = conv2d_forward(x, w)
    with pytest.raises(TypeError, match=r"^dout must hold real numbers"):
        conv2d_backward(np.full((2, 4, 3, 3), "a"), cache)
    with pytest.raises(TypeError, match=r"^dout must hold real numbers"):
        conv2d_naive_backward(np.full((2, 4, 3, 3), "a"), x, w)
    with pytest.raises(
        ValueError, match=r"^dout must have shape \(2, 4, 3, 3\), got \(2, 4, 3, 2\)$"
    ):
        conv2d_naive_backward(np.zeros((2, 4, 3, 2)), x, w)
    _, t_cache = conv_transpose2d_forward(x, np.zeros((3, 2, 3, 3)), stride=2)
    with pytest.raises(TypeError, match=r"^dout must hold real numbers"):
        conv_transpose2d_backward(np.full((2, 2, 11, 11), "a"), t_cache)
    with pytest.raises(
        ValueError, match=r"^dout must have shape \(2, 2, 11, 11\), got \(2, 2, 11, 10\)$"
    ):
        conv_transpose2d_backward(np.zeros((2, 2, 11, 10)), t_cache)


def test_im2col_col2im_errors_name_the_argument():
    x = np.zeros((1, 1, 3, 3))
    cols = np.zeros((1, 4, 4))  # a 2x2 kernel over a 3x3 image
    with pytest.raises(TypeError, match=r"^x must hold real numbers"):
        im2col(np.full((1, 1, 3, 3), "a"), 2)
    with pytest.raises(
        ValueError, match=r"^x must be 4-D \(N, C, H, W\), got 3-D with shape \(1, 3, 3\)$"
    ):
        im2col(x[0], 2)
    with pytest.raises(ValueError, match=r"^kernel_size must be >= 1, got 0$"):
        im2col(x, 0)
    with pytest.raises(TypeError, match=r"^cols must hold real numbers"):
        col2im(np.full((1, 4, 4), "a"), x.shape, 2)
    with pytest.raises(
        ValueError,
        match=r"^cols must be 3-D \(N, C \* kh \* kw, H_out \* W_out\), got 2-D with shape "
        r"\(4, 4\)$",
    ):
        col2im(cols[0], x.shape, 2)
    with pytest.raises(ValueError, match=r"^x_shape must be \(N, C, H, W\), got \(1, 3, 3\)$"):
        col2im(cols, (1, 3, 3), 2)
    with pytest.raises(ValueError, match=r"^x_shape entries must be an integer >= 1, got 0$"):
        col2im(cols, (1, 0, 3, 3), 2)
    with pytest.raises(ValueError, match=r"^kernel_size must be >= 1, got 0$"):
        col2im(cols, x.shape, 0)
    with pytest.raises(ValueError, match=r"^cols must have shape \(1, 4, 4\), got \(1, 4, 5\)$"):
        col2im(np.zeros((1, 4, 5)), x.shape, 2)


@pytest.mark.parametrize("cls", [Conv2d, ConvTranspose2d])
def test_layer_constructor_errors_name_the_argument(cls):
    with pytest.raises(ValueError, match=r"^in_channels must be an integer >= 1, got 0$"):
        cls(0, 3, 3)
    with pytest.raises(ValueError, match=r"^out_channels must be an integer >= 1, got 0$"):
        cls(2, 0, 3)
    with pytest.raises(ValueError, match=r"^kernel_size must be >= 1, got 0$"):
        cls(2, 3, 0)
    with pytest.raises(ValueError, match=r"^kernel_size must be >= 1, got \(3, 0\)$"):
        cls(2, 3, (3, 0))
    with pytest.raises(ValueError, match=r"^stride must be >= 1, got 0$"):
        cls(2, 3, 3, stride=0)
    with pytest.raises(ValueError, match=r"^padding must be >= 0, got -1$"):
        cls(2, 3, 3, padding=-1)
    with pytest.raises(TypeError, match=r"^padding must be an int or a pair of ints, got 1.5$"):
        cls(2, 3, 3, padding=1.5)
    with pytest.raises(ValueError, match=r"^dilation must be >= 1, got \(1, 0\)$"):
        cls(2, 3, 3, dilation=(1, 0))
    with pytest.raises(TypeError, match=r"^bias must be a bool, got 1$"):
        cls(2, 3, 3, bias=1)
    # the smallest kernel, 1x1, is allowed
    assert cls(2, 3, 1, rng=0).params["w"].shape[2:] == (1, 1)


def test_conv_transpose2d_layer_output_padding_errors():
    with pytest.raises(ValueError, match=r"^output_padding must be >= 0, got \(0, -1\)$"):
        ConvTranspose2d(2, 3, 3, stride=2, output_padding=(0, -1))
    with pytest.raises(ValueError, match=r"^output_padding must be smaller than either stride"):
        ConvTranspose2d(2, 3, 3, output_padding=1)


def test_same_padding_errors_give_the_effective_size():
    with pytest.raises(
        ValueError,
        match=r"^padding='same' needs an odd effective kernel size, got kernel_size=\(3, 4\) "
        r"with dilation=\(1, 1\) \(effective size 4\)$",
    ):
        Conv2d(2, 3, (3, 4), padding="same")
    with pytest.raises(
        ValueError,
        match=r"^padding='same' needs an odd effective kernel size, got kernel_size=\(2, 3\) "
        r"with dilation=\(3, 1\) \(effective size 4\)$",
    ):
        Conv2d(2, 3, (2, 3), padding="same", dilation=(3, 1))
    with pytest.raises(ValueError, match=r"^padding='same' needs stride 1, got stride=\(1, 2\)$"):
        Conv2d(2, 3, 3, stride=(1, 2), padding="same")


# ----------------------------------------------------------------------------
# defaults, edge sizes and dtypes
# ----------------------------------------------------------------------------


def test_functions_default_to_torch_defaults():
    # stride 1, padding 0, dilation 1 (and output_padding 0) when not given
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    out, cache = conv2d_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    t_out, t_dx, t_dw, _ = _torch_conv(x, w, b, 1, 0, 1, dout)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(conv2d_naive(x, w, b), t_out, **TOL)
    ndx, ndw, ndb = conv2d_naive_backward(dout, x, w)
    np.testing.assert_allclose(ndx, t_dx, **TOL)
    np.testing.assert_allclose(ndw, t_dw, **TOL)
    np.testing.assert_allclose(ndb, dout.sum(axis=(0, 2, 3)), **TOL)

    cols = im2col(x, (3, 2))
    t_cols = F.unfold(torch.tensor(x), (3, 2))
    np.testing.assert_allclose(cols, t_cols.numpy(), **TOL)
    back = col2im(cols, x.shape, (3, 2))
    np.testing.assert_allclose(back, F.fold(t_cols, (6, 5), (3, 2)).numpy(), **TOL)

    wt = rng.standard_normal((3, 2, 3, 2))
    bt = rng.standard_normal(2)
    t_out, t_cache = conv_transpose2d_forward(x, wt, bt)
    ref = F.conv_transpose2d(torch.tensor(x), torch.tensor(wt), torch.tensor(bt))
    assert t_out.shape == (2, 2, 8, 6)
    np.testing.assert_allclose(t_out, ref.numpy(), **TOL)


def test_conv_transpose2d_output_of_one_pixel_is_allowed():
    # (H - 1) s - 2 p + d (k - 1) + output_padding + 1 = 1: the smallest valid output
    out, _ = conv_transpose2d_forward(np.full((1, 1, 1, 1), 3.0), np.full((1, 1, 1, 1), 2.0))
    np.testing.assert_array_equal(out, [[[[6.0]]]])
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 2, 1, 3))
    w = rng.standard_normal((2, 3, 1, 2))
    out, cache = conv_transpose2d_forward(x, w)
    ref = F.conv_transpose2d(torch.tensor(x), torch.tensor(w))
    assert out.shape == (2, 3, 1, 4)
    np.testing.assert_allclose(out, ref.numpy(), **TOL)
    # padding that crops all but one row
    x = rng.standard_normal((1, 2, 2, 3))
    w = rng.standard_normal((2, 1, 2, 2))
    out, _ = conv_transpose2d_forward(x, w, padding=(1, 0))
    ref = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), padding=(1, 0))
    assert out.shape == (1, 1, 1, 4)
    np.testing.assert_allclose(out, ref.numpy(), **TOL)


F32, F64 = np.float32, np.float64


@pytest.mark.parametrize(
    "dtypes, expected",
    [
        ((F32, F32, F32), F32),
        ((F64, F32, F32), F64),
        ((F32, F64, F32), F64),
        ((F32, F32, F64), F64),
        ((F32, F32, None), F32),
        ((F64, F32, None), F64),
        ((F32, F64, None), F64),
    ],
)
def test_conv_result_dtype_float64_wins_when_mixed(dtypes, expected):
    # float32 in, float32 out; any float64 among x, w, b makes the result float64, like NumPy
    rng = np.random.default_rng(16)
    x_dt, w_dt, b_dt = dtypes
    x = rng.standard_normal((2, 3, 5, 4)).astype(x_dt)
    w = rng.standard_normal((2, 3, 3, 2)).astype(w_dt)
    b = None if b_dt is None else rng.standard_normal(2).astype(b_dt)
    out, cache = conv2d_forward(x, w, b, padding=1)
    assert out.dtype == expected
    assert conv2d_naive(x, w, b, padding=1).dtype == expected
    dx, dw, db = conv2d_backward(np.ones(out.shape, dtype=expected), cache)
    assert dx.dtype == dw.dtype == expected
    wt = rng.standard_normal((3, 2, 3, 2)).astype(w_dt)
    t_out, t_cache = conv_transpose2d_forward(x, wt, b, stride=2)
    assert t_out.dtype == expected
    dx, dw, db = conv_transpose2d_backward(np.ones(t_out.shape, dtype=expected), t_cache)
    assert dx.dtype == dw.dtype == expected
    if b is not None:
        assert db.dtype == expected
    ref = F.conv_transpose2d(
        torch.tensor(x, dtype=torch.float64),
        torch.tensor(wt, dtype=torch.float64),
        None if b is None else torch.tensor(b, dtype=torch.float64),
        stride=2,
    )
    np.testing.assert_allclose(t_out, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_float32_gradients_stay_float32_for_float64_dout():
    # dout is cast to the forward pass's dtype, as torch's grads have the parameter's dtype
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    out, cache = conv_transpose2d_forward(x, w, b, stride=2, padding=1)
    dout = rng.standard_normal(out.shape)  # float64
    dx, dw, db = conv_transpose2d_backward(dout, cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    F.conv_transpose2d(xt, wt, torch.tensor(b, dtype=torch.float64), stride=2, padding=1).backward(
        torch.tensor(dout)
    )
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-4, atol=1e-4)
    c_out, c_cache = conv2d_forward(x, w.transpose(1, 0, 2, 3), b)
    dx, dw, db = conv2d_backward(rng.standard_normal(c_out.shape), c_cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32


def test_im2col_columns_never_write_through_to_x():
    # a 1x1 kernel's columns are x itself, reshaped: they may share x's memory, read-only
    x = np.random.default_rng(18).standard_normal((2, 3, 4, 5))
    before = x.copy()
    cols = im2col(x, 1)
    np.testing.assert_array_equal(cols, x.reshape(2, 3, 20))
    try:
        cols[...] = 7.0
    except ValueError:  # read-only
        pass
    np.testing.assert_array_equal(x, before)


def test_im2col_then_col2im_counts_overlaps():
    # col2im(im2col(ones)) counts how many receptive fields cover each pixel
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (3, 2), (2, 1), (1, 0), (1, 2)
    h, w = 5, 6
    x = np.ones((1, 2, h, w))
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    back = col2im(cols, x.shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    count = np.zeros((h + 2 * ph, w + 2 * pw))  # on the padded image
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    for i in range(ho):
        for j in range(wo):
            for p in range(kh):
                for q in range(kw):
                    count[i * sh + p * dh, j * sw + q * dw] += 1
    assert count.max() > 1  # the fields overlap
    for c in range(2):
        np.testing.assert_array_equal(back[0, c], count[ph : ph + h, pw : pw + w])


# ----------------------------------------------------------------------------
# big batches: the fast path works on a few images at a time
# ----------------------------------------------------------------------------

# Batches whose column matrices (C kh kw H_out W_out values per image) exceed 2 MiB in all,
# more than one cache-sized block, with a batch size that leaves a smaller last block.
# The first two put a 1 in each of kernel height, kernel width, H_out and W_out; the third
# is a large float32 kernel: 1.4 MB of columns from each 9 KB image.
BIG_BATCH_CASES = [
    ((9, 64, 512, 1), (3, 64, 1, 1), np.float64),  # kh = kw = W_out = 1
    ((9, 64, 1, 512), (3, 64, 1, 1), np.float64),  # H_out = 1
    ((24, 1, 48, 48), (2, 1, 24, 24), np.float32),  # 24x24 kernel, 25x25 outputs
]


@pytest.mark.parametrize("x_shape, w_shape, dtype", BIG_BATCH_CASES)
def test_conv2d_big_batch_matches_torch(x_shape, w_shape, dtype):
    rng = np.random.default_rng(19)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    out, cache = conv2d_forward(x, w, b)
    assert out.dtype == dtype
    dout = rng.standard_normal(out.shape).astype(dtype)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    t_out = F.conv2d(xt, wt, torch.tensor(b, dtype=torch.float64))
    t_out.backward(torch.tensor(dout, dtype=torch.float64))
    tol = TOL if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **tol)
    dx, dw, db = conv2d_backward(dout, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    # dw sums over every image of the batch, so it is larger: compare relative to its size
    scale = np.abs(wt.grad.numpy()).max()
    np.testing.assert_allclose(dw / scale, wt.grad.numpy() / scale, **tol)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3), dtype=np.float64), rtol=1e-4)


# ----------------------------------------------------------------------------
# layers: torch's defaults, repr and initialisation
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((2, 3, 3), {}),
        ((2, 3, (3, 2)), dict(stride=(2, 1), padding=(1, 0), bias=False)),
        ((2, 3, 3), dict(padding=(0, 1), dilation=(1, 2))),
        ((4, 1, (1, 5)), dict(padding=0, dilation=(2, 1))),
        ((2, 3, 3), dict(padding="same")),
        ((2, 3, 3), dict(padding="same", dilation=2, bias=False)),
    ],
)
def test_conv2d_repr_matches_torch(args, kwargs):
    assert repr(Conv2d(*args, **kwargs, rng=0)) == repr(torch.nn.Conv2d(*args, **kwargs))


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((2, 3, 3), {}),
        ((2, 3, (3, 2)), dict(stride=2, padding=(1, 0), output_padding=(0, 1), bias=False)),
        ((2, 3, 3), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 0))),
        ((3, 2, 2), dict(dilation=(1, 2))),
        ((3, 2, 2), dict(padding=1, dilation=(2, 1), bias=False)),
    ],
)
def test_conv_transpose2d_repr_matches_torch(args, kwargs):
    layer = ConvTranspose2d(*args, **kwargs, rng=0)
    assert repr(layer) == repr(torch.nn.ConvTranspose2d(*args, **kwargs))


def test_conv_transpose2d_repr_writes_dilation_before_output_padding_as_torch():
    kwargs = dict(stride=1, output_padding=1, dilation=2)
    assert repr(ConvTranspose2d(2, 3, 3, **kwargs, rng=0)) == repr(
        torch.nn.ConvTranspose2d(2, 3, 3, **kwargs)
    )


def _copy_params(layer, ref):
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.params["w"]))
        if "b" in layer.params:
            ref.bias.copy_(torch.tensor(layer.params["b"]))


def test_layers_with_default_arguments_match_torch():
    x = np.random.default_rng(20).standard_normal((2, 2, 5, 6))
    for layer, ref in [
        (Conv2d(2, 3, 3, rng=0), torch.nn.Conv2d(2, 3, 3)),
        (ConvTranspose2d(2, 3, 3, rng=0), torch.nn.ConvTranspose2d(2, 3, 3)),
    ]:
        ref = ref.double()
        _copy_params(layer, ref)
        out = layer(x)
        np.testing.assert_allclose(out, ref(torch.tensor(x)).detach().numpy(), **TOL)
        assert repr(layer) == repr(ref)
    assert Conv2d(2, 3, 3).padding == (0, 0) and Conv2d(2, 3, 3).stride == (1, 1)
    t = ConvTranspose2d(2, 3, 3)
    assert (t.stride, t.padding, t.output_padding, t.dilation) == ((1, 1), (0, 0), (0, 0), (1, 1))


def test_conv_transpose2d_layer_passes_every_option_to_torch():
    # stride, padding, output_padding and dilation all different, in both directions
    opts = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 0), dilation=(2, 1))
    layer = ConvTranspose2d(2, 3, (3, 2), **opts, rng=3)
    ref = torch.nn.ConvTranspose2d(2, 3, (3, 2), **opts).double()
    _copy_params(layer, ref)
    x = np.random.default_rng(21).standard_normal((2, 2, 4, 3))
    xt = torch.tensor(x, requires_grad=True)
    t_out = ref(xt)
    out = layer(x)
    assert out.shape == tuple(t_out.shape) == (2, 3, 10, 4)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL)
    dout = np.random.default_rng(22).standard_normal(out.shape)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.grads["w"], ref.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.grads["b"], ref.bias.grad.numpy(), **TOL)


def test_conv2d_same_padding_matches_torch():
    x = np.random.default_rng(23).standard_normal((1, 2, 7, 6))
    layer = Conv2d(2, 3, (5, 3), padding="same", dilation=(1, 2), rng=4)
    ref = torch.nn.Conv2d(2, 3, (5, 3), padding="same", dilation=(1, 2)).double()
    _copy_params(layer, ref)
    np.testing.assert_allclose(layer(x), ref(torch.tensor(x)).detach().numpy(), **TOL)
    assert layer.padding == (2, 2)


@pytest.mark.parametrize(
    "cls, args, fan_in",
    [
        (Conv2d, (16, 8, (2, 3)), 16 * 2 * 3),
        # torch's transposed conv takes fan_in from w.shape[1] = out_channels
        (ConvTranspose2d, (8, 16, (2, 3)), 16 * 2 * 3),
        (ConvTranspose2d, (6, 4, (3, 1)), 4 * 3 * 1),
    ],
)
def test_layer_init_is_torch_uniform_and_seeded(cls, args, fan_in):
    def make(rng):
        return cls(*args, rng=rng)

    layer = make(0)
    # torch's module of the same shape draws from the same range
    torch.manual_seed(0)
    ref = getattr(torch.nn, cls.__name__)(*args)
    t_max = ref.weight.detach().abs().max().item()
    assert 0.9 / np.sqrt(fan_in) < t_max <= 1 / np.sqrt(fan_in)
    bound = 1 / np.sqrt(fan_in)
    w, b = layer.params["w"], layer.params["b"]
    # U(-bound, bound): nothing outside, the extremes near both ends
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.min() < -0.9 * bound and w.max() > 0.9 * bound
    assert b.min() < 0 < b.max()
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound
    np.testing.assert_array_equal(make(0).params["w"], w)
    np.testing.assert_array_equal(make(0).params["b"], b)
    assert not np.array_equal(make(1).params["w"], w)
    gen = np.random.default_rng(0)
    np.testing.assert_array_equal(make(gen).params["w"], w)  # a Generator works like its seed


def test_conv_transpose2d_layer_gradcheck():
    layer = ConvTranspose2d(2, 3, (3, 2), stride=2, padding=(1, 0), output_padding=1, rng=5)
    x = np.random.default_rng(24).standard_normal((2, 2, 3, 2))
    errors = check_layer(layer, x)
    assert set(errors) == {"x", "w", "b"}
    assert max(errors.values()) < 1e-7
    no_bias = ConvTranspose2d(2, 3, 2, dilation=2, bias=False, rng=6)
    errors = check_layer(no_bias, x)
    assert set(errors) == {"x", "w"} and "b" not in no_bias.grads
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("case", CONV_CASES[-2:])
def test_naive_conv_equals_vectorised_when_kernel_fills_the_input(case):
    # a 1x1 output, and a dilated kernel that only fits thanks to the padding
    x, w, b, s, p, d = _case_arrays(case, seed=25)
    out, cache = conv2d_forward(x, w, b, stride=s, padding=p, dilation=d)
    np.testing.assert_allclose(conv2d_naive(x, w, b, s, p, d), out, **TOL)
    dout = np.random.default_rng(26).standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    ndx, ndw, ndb = conv2d_naive_backward(dout, x, w, s, p, d)
    np.testing.assert_allclose(ndx, dx, **TOL)
    np.testing.assert_allclose(ndw, dw, **TOL)
    np.testing.assert_allclose(ndb, db, **TOL)


@pytest.mark.parametrize(
    "x_dtype, w_dtype, dout_dtype",
    [(np.float32, np.float64, np.float32), (np.float32, np.float32, np.float64),
     (np.float64, np.float32, np.float32), (np.float32, np.float32, np.float32)],
)  # fmt: skip
def test_naive_backward_dtypes_follow_the_fast_path(x_dtype, w_dtype, dout_dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 2, 5, 5)).astype(x_dtype)
    w = rng.standard_normal((3, 2, 3, 3)).astype(w_dtype)
    dout = rng.standard_normal((2, 3, 3, 3)).astype(dout_dtype)
    naive = conv2d_naive_backward(dout, x, w)
    fast = conv2d_backward(dout, conv2d_forward(x, w, np.zeros(3, dtype=w_dtype))[1])
    for a, b in zip(naive, fast, strict=True):
        assert a.dtype == b.dtype == np.result_type(x_dtype, w_dtype)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_without_a_known_blas_the_blocks_run_on_one_thread(monkeypatch):
    """A NumPy whose BLAS threadpoolctl cannot see (none listed): one thread, no pool."""
    import coursekit.conv as conv

    class NoBlas:
        def info(self):
            return []

    monkeypatch.setattr(conv, "_blas", lambda: NoBlas())
    assert conv._blas_threads() == 1
    x = np.random.default_rng(4).standard_normal((3, 2, 5, 5))
    w = np.random.default_rng(5).standard_normal((4, 2, 3, 3))
    out, cache = conv2d_forward(x, w, None, padding=1)
    ref = _torch_conv(x, w, None, 1, 1, 1, np.ones_like(out))
    np.testing.assert_allclose(out, ref[0], **TOL)
    np.testing.assert_allclose(conv2d_backward(np.ones_like(out), cache)[1], ref[2], **TOL)


@pytest.mark.parametrize("stride", [1, 2])  # shifted rows; window columns
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_zero_batch_gives_empty_outputs_and_zero_weight_gradients(dtype, stride):
    """As torch: no images, an empty output, dx empty, dw and db zero."""
    x = np.zeros((0, 2, 5, 5), dtype=dtype)
    w = np.random.default_rng(6).standard_normal((3, 2, 3, 3)).astype(dtype)
    out, cache = conv2d_forward(x, w, np.ones(3, dtype=dtype), stride=stride, padding=1)
    side = 5 if stride == 1 else 3
    assert out.shape == (0, 3, side, side) and out.dtype == dtype
    dx, dw, db = conv2d_backward(np.zeros((0, 3, side, side), dtype=dtype), cache)
    assert dx.shape == (0, 2, 5, 5) and dx.dtype == dtype
    assert dw.shape == w.shape and dw.dtype == dtype and not dw.any()
    assert db.shape == (3,) and not db.any()


# ---------------------------------------------------------------------------
# stride 1: shifted rows of the flattened image
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kernel, dilation", [((3, 3), (1, 1)), ((2, 3), (2, 1)), ((1, 4), (1, 2))])
def test_shifted_columns_are_im2col_at_the_pixels_and_sum_shifted_is_their_adjoint(
    kernel, dilation
):
    from coursekit.conv import _shift_geometry, _shifted_columns, _sum_shifted

    rng = np.random.default_rng(7)
    xp = rng.standard_normal((2, 3, 6, 8))  # already padded
    kh, kw = kernel
    ho, wo = 6 - dilation[0] * (kh - 1), 8 - dilation[1] * (kw - 1)
    lw, shifts = _shift_geometry(6, 8, kernel, dilation)
    assert lw == (ho - 1) * 8 + wo
    cols = _shifted_columns(xp, dilation, np.empty((2, 3, kh, kw, lw)))
    # position t = i * 8 + j is output pixel (i, j) when j < W_out
    pixels = np.pad(cols, ((0, 0), (0, 0), (0, ho * 8 - lw))).reshape(2, -1, ho, 8)[..., :wo]
    np.testing.assert_array_equal(
        pixels.reshape(2, -1, ho * wo), im2col(xp, kernel, dilation=dilation)
    )
    # adjoint: <shifted(xp), g> = <xp, add_shifted(g)> for g that is zero off the pixels
    g = np.zeros((2, 3 * kh * kw, ho * 8))
    g.reshape(2, -1, ho, 8)[..., :wo] = rng.standard_normal((2, 3 * kh * kw, ho, wo))
    g = g[:, :, :lw]
    # the column gradient on whole frames, in (p, q, c) order as conv2d_backward makes it
    frames = np.zeros((2, kh * kw, 3, 48))
    frames[..., :lw] = g.reshape(2, 3, kh * kw, lw).transpose(0, 2, 1, 3)
    dxf = np.full((2, 3 * 48), np.nan)  # overwritten, not added to
    _sum_shifted(frames.reshape(2, kh * kw, 3 * 48), shifts, out=dxf)
    assert np.vdot(cols, g) == pytest.approx(np.vdot(xp.reshape(2, -1), dxf), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "where", ["inf in x at the border", "nan in x", "inf in w", "sum of x overflows"]
)
def test_stride_one_with_non_finite_inputs_matches_torch(where, dtype):
    """The thrown-away positions meet zeros of dout; 0 * inf would put nan where torch has none.

    So a non-finite x or w takes the window path: every gradient as torch's, nan for nan.
    """
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 2, 5, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    if where == "inf in x at the border":
        x[0, 1, 2, 0] = np.inf  # read by a thrown-away position of the row above
    elif where == "nan in x":
        x[1, 0, 4, 5] = np.nan
    elif where == "inf in w":
        w[1, 0, 0, 2] = -np.inf
    else:  # every number finite, their sum not: a false alarm, and still exact
        big = np.finfo(dtype).max / 30  # 60 of them overflow; an output or a gradient does not
        x, w = np.where(x > 0, big, -big / 10), w / 100
    x, w = x.astype(dtype), w.astype(dtype)
    dout = (rng.standard_normal((2, 3, 5, 6)) / 100).astype(dtype)
    with np.errstate(all="ignore"):
        out, cache = conv2d_forward(x, w, None, padding=1)
        dx, dw, _ = conv2d_backward(dout, cache)
    ref = _torch_conv(x, w, None, 1, 1, 1, dout)
    if where == "inf in w":
        # torch never multiplies the padding: its border pixels are +-inf where an im2col
        # convolution has 0 * inf = nan; the pixels inside agree
        out, ref = out[:, :, 1:-1, 1:-1], (ref[0][:, :, 1:-1, 1:-1], *ref[1:])
    for mine, theirs in zip((out, dx, dw), ref, strict=False):
        assert mine.dtype == dtype
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
        np.testing.assert_allclose(mine, theirs, rtol=1e-4 if dtype == np.float32 else 1e-10)
    # the gradient that the non-finite number reaches is not finite (none in the false alarm)
    reached = dx if where == "inf in w" else dw
    assert np.isfinite(reached).all() == (where == "sum of x overflows")


def test_blocks_go_to_whichever_thread_is_free_and_come_back_in_order(monkeypatch):
    import threading

    from threadpoolctl import threadpool_limits

    from coursekit.conv import _map_blocks

    ran = []
    last_done = threading.Event()

    def fn(start, stop, scratch):
        if start == 0:
            # the first block's thread is slow: it finishes only once the other thread has
            # run the last block (an event, not a sleep, so a busy machine cannot reorder it)
            assert last_done.wait(timeout=60)
        buf = scratch.setdefault("buf", [])
        buf.append(start)
        ran.append((start, threading.get_ident()))
        if start == 9:
            last_done.set()
        return start, stop, len(buf)

    with threadpool_limits(limits=2, user_api="blas"):
        results = _map_blocks(fn, 10, 3)
    assert [r[:2] for r in results] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    by_thread = {}
    for start, ident in ran:
        by_thread.setdefault(ident, []).append(start)
    assert sorted(by_thread.values()) == [[0], [3, 6, 9]]
    assert results[3][2] == 3  # the scratch dict is the thread's own, kept between its blocks


def test_stride_one_without_padding_keeps_a_contiguous_x_itself():
    """No padding and a contiguous x: the backward pass reads x, as the docstring warns."""
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 2, 3))
    out, cache = conv2d_forward(x, w)
    assert any(part is x for part in cache)  # no copy of the input is made
    padded_out, padded_cache = conv2d_forward(x, w, padding=1)
    assert not any(part is x for part in padded_cache)
    dout = rng.standard_normal(out.shape)
    ref = _torch_conv(x, w, None, 1, 0, 1, dout)
    for mine, theirs in zip((out, *conv2d_backward(dout, cache)[:2]), ref, strict=False):
        np.testing.assert_allclose(mine, theirs, **TOL)


def test_finite_inputs_take_the_shifted_path_and_others_the_window_path(monkeypatch):
    import coursekit.conv as conv

    taken = []
    shifted = conv._conv2d_backward_shifted
    monkeypatch.setattr(
        conv, "_conv2d_backward_shifted", lambda *a: taken.append("shifted") or shifted(*a)
    )
    rng = np.random.default_rng(10)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    w_inf = np.where(w > 1, np.inf, w)
    for stride, x_in, w_in in [
        (1, x, w),
        (2, x, w),
        (1, np.where(x > 1, np.inf, x), w),
        (1, x, w_inf),
    ]:
        with np.errstate(invalid="ignore"):  # inf * 0 at the padding
            out, cache = conv2d_forward(x_in, w_in, None, stride=stride, padding=1)
            conv2d_backward(np.ones_like(out), cache)
    assert taken == ["shifted"]  # finite and stride 1 only


@pytest.mark.parametrize("bias", [True, False])
def test_stride_one_blocks_hold_as_many_images_as_fit(monkeypatch, bias):
    """The block size counts the columns of an image: C kh kw (+ 1 for the bias row) by Lw."""
    import coursekit.conv as conv

    sizes = []
    real = conv._map_blocks
    monkeypatch.setattr(
        conv, "_map_blocks", lambda fn, n, size, *a: sizes.append(size) or real(fn, n, size, *a)
    )
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((7, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4) if bias else None
    lw = (6 - 1) * 7 + 6  # padded 8 x 7, output 6 x 6
    forward_rows, backward_rows = 3 * 3 * 2 + bias, 3 * 3 * 2
    for images in (1, 2, 3):
        sizes.clear()
        monkeypatch.setattr(conv, "_BLOCK_BYTES", images * forward_rows * lw * 8)
        out, cache = conv2d_forward(x, w, b, padding=1)
        monkeypatch.setattr(conv, "_BLOCK_BYTES", images * backward_rows * lw * 8)
        conv2d_backward(np.ones_like(out), cache)
        assert sizes == [images, images]
