"""2-D convolution in NumPy: the loop definition, im2col, and fast layers.

Convolution here is cross-correlation, exactly like ``torch.nn.functional.conv2d``:

    out[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q]
                              * xpad[n, c, i*sh + p*dh, j*sw + q*dw]

Three implementations, from the readable to the fast:

1. ``conv2d_naive`` / ``conv2d_naive_backward``: the formula above as loops.
2. ``im2col`` / ``col2im``: every receptive field becomes one column, so the
   convolution is a single matrix product with the reshaped weights.
3. ``conv2d_forward`` / ``conv2d_backward``: im2col built from a strided *view*
   (no Python loops over pixels), copied a cache-sized block of images at a
   time, so the forward pass and both gradients are large matrix products on
   data that is still in cache; the blocks are shared among threads, and the
   input gradient is accumulated with one strided add per kernel offset.
   With stride 1 the columns are *shifted rows* of the flattened padded image
   (see ``_shifted_columns``), which makes every copy and add a long contiguous
   one.

Column layout of ``im2col``: ``cols`` has shape ``(N, C * kh * kw, H_out * W_out)``;
row ``c * kh * kw + p * kw + q`` holds input channel ``c`` at kernel offset
``(p, q)`` (the order of ``w.reshape(C_out, -1)``), and column ``i * W_out + j``
is output pixel ``(i, j)``. So ``w.reshape(C_out, -1) @ cols`` is the output.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import ThreadpoolController

from coursekit._validate import (
    as_float_array,
    check_bool,
    check_int_pair,
    check_ndim,
    check_positive_int,
    check_rng,
    check_shape,
)
from coursekit.base import Layer

__all__ = [
    "conv2d_naive",
    "conv2d_naive_backward",
    "im2col",
    "col2im",
    "conv2d_forward",
    "conv2d_backward",
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "Conv2d",
    "ConvTranspose2d",
]

Pair = tuple[int, int]


# ----------------------------------------------------------------------------
# shared helpers (also used by coursekit.pooling)
# ----------------------------------------------------------------------------


def _hyper(stride: Any, padding: Any, dilation: Any) -> tuple[Pair, Pair, Pair]:
    """Validate and normalise stride/padding/dilation to pairs of ints."""
    return (
        check_int_pair(stride, "stride", minimum=1),
        check_int_pair(padding, "padding", minimum=0),
        check_int_pair(dilation, "dilation", minimum=1),
    )


def _output_hw(
    hw: Pair, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, what: str = "kernel"
) -> Pair:
    """Output height and width of a sliding window; raise if the window does not fit."""
    out = []
    for n, k, s, p, d in zip(hw, kernel, stride, padding, dilation, strict=True):
        span = d * (k - 1) + 1  # the extent of a dilated kernel
        if span > n + 2 * p:
            raise ValueError(
                f"{what} of size {kernel[0]}x{kernel[1]} (dilation {dilation[0]}x{dilation[1]}, "
                f"effective size {dilation[0] * (kernel[0] - 1) + 1}x"
                f"{dilation[1] * (kernel[1] - 1) + 1}) is larger than the padded input "
                f"{hw[0] + 2 * padding[0]}x{hw[1] + 2 * padding[1]} "
                f"(input {hw[0]}x{hw[1]}, padding {padding[0]}x{padding[1]})"
            )
        out.append((n + 2 * p - span) // s + 1)
    return out[0], out[1]


def _pad(x: np.ndarray, padding: Pair, value: float = 0.0) -> np.ndarray:
    """Pad the last two axes of ``x`` (N, C, H, W) by ``padding`` on both sides."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    return xp


def _windows(
    xp: np.ndarray, kernel: Pair, out_hw: Pair, stride: Pair, dilation: Pair
) -> np.ndarray:
    """Read-only strided view of all receptive fields, shape (N, C, kh, kw, H_out, W_out).

    No data is copied: element ``[n, c, p, q, i, j]`` is
    ``xp[n, c, i*sh + p*dh, j*sw + q*dw]``.
    """
    # byte strides of the padded input: moving one row down is `row` bytes, etc.
    sn, sc, row, col = xp.strides
    shape = (xp.shape[0], xp.shape[1], kernel[0], kernel[1], out_hw[0], out_hw[1])
    strides = (sn, sc, row * dilation[0], col * dilation[1], row * stride[0], col * stride[1])
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def _crop(xp: np.ndarray, padding: Pair, hw: Pair) -> np.ndarray:
    ph, pw = padding
    return xp[:, :, ph : ph + hw[0], pw : pw + hw[1]]


def _add_windows(dxp: np.ndarray, dwin: np.ndarray, stride: Pair, dilation: Pair) -> None:
    """Add window values back onto the padded array ``dxp`` in place: the adjoint of ``_windows``.

    dwin : ndarray of shape (N, C, kh, kw, H_out, W_out)
    Overlapping windows add up. We loop over the ``kh * kw`` kernel offsets, each
    a strided slice add over the whole batch, which is much faster than
    ``np.add.at`` (one Python-level add per offset instead of one per pixel).
    """
    _, _, kh, kw, ho, wo = dwin.shape
    (sh, sw), (dh, dw) = stride, dilation
    for p in range(kh):
        for q in range(kw):
            # the input pixels that kernel offset (p, q) touched, one per output pixel
            rows = slice(p * dh, p * dh + sh * (ho - 1) + 1, sh)
            cols = slice(q * dw, q * dw + sw * (wo - 1) + 1, sw)
            dxp[:, :, rows, cols] += dwin[:, :, p, q]


def _scatter_windows(
    dwin: np.ndarray, hw: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> np.ndarray:
    """Adjoint of ``_windows(_pad(x, padding), ...)``: sum window values back onto ``x``.

    dwin : ndarray of shape (N, C, kh, kw, H_out, W_out)
    hw : (H, W), the size of ``x`` before padding
    Returns a contiguous ndarray of shape (N, C, H, W); what lands in the padding is dropped.
    """
    n, c = dwin.shape[:2]
    dxp = np.zeros((n, c, hw[0] + 2 * padding[0], hw[1] + 2 * padding[1]), dtype=dwin.dtype)
    _add_windows(dxp, dwin, stride, dilation)
    return np.ascontiguousarray(_crop(dxp, padding, hw))


# Bytes of column matrix per block in conv2d_forward/backward: about the size of a
# core's L2 cache (2 MiB on the machine the benchmarks ran on; 1-2 MiB is common).
_BLOCK_BYTES = 1 << 21

T = TypeVar("T")


@functools.cache
def _blas() -> ThreadpoolController:
    """NumPy's BLAS libraries, to read and limit their thread count (found on first use)."""
    return ThreadpoolController().select(user_api="blas")


def _blas_threads() -> int:
    """How many threads NumPy's BLAS uses (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else the cores)."""
    return max((info["num_threads"] for info in _blas().info()), default=1)


def _map_blocks(fn: Callable[[int, int, dict], T], n: int, size: int) -> list[T]:
    """Call ``fn(start, stop, scratch)`` for each block of ``size`` images; results in order.

    ``fn`` handles images ``start:stop`` and may write only to those images of an
    output (blocks never share an image); it returns what the caller sums up, such
    as its part of the weight gradient. ``scratch`` is a dict that belongs to the
    calling thread, for buffers that the blocks reuse (see ``_buffer``).

    Why threads: blocks are independent, so they are shared out among as many
    threads as NumPy's BLAS would use, each running its products on a single BLAS
    thread (and its copies and adds, which BLAS never parallelised, at the same
    time). Left to BLAS, each small per-image product is split between its threads,
    which wait for each other at the end of every call: on a busy machine, where one
    of them is often not running, conv 16->32 ran 13x slower than torch
    (docs/benchmarks.md).
    """
    starts = range(0, n, size)
    workers = min(_blas_threads(), len(starts))
    todo = iter(enumerate(starts))
    lock = threading.Lock()

    def run() -> list[tuple[int, T]]:
        # each thread takes the next block when it is done with one, so a thread that
        # runs slower (sharing its core with another program) takes fewer blocks
        scratch: dict = {}
        done = []
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return done
            i, start = item
            done.append((i, fn(start, min(start + size, n), scratch)))

    if workers <= 1:
        return [result for _, result in run()]
    with _blas().limit(limits=1), ThreadPoolExecutor(workers) as pool:
        threads = [pool.submit(run) for _ in range(workers)]
        done = [pair for thread in threads for pair in thread.result()]
    # in block order, whichever thread ran a block: sums of the results come out the same
    return [result for _, result in sorted(done, key=lambda pair: pair[0])]


def _block_size(n: int, per_image: int) -> int:
    """Images per block: as many as fit ``_BLOCK_BYTES`` (at least 1, at most n)."""
    return max(1, min(n, _BLOCK_BYTES // max(per_image, 1)))


def _buffer(
    scratch: dict,
    name: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    init: Callable[[np.ndarray], object] | None = None,
) -> np.ndarray:
    """A buffer kept in ``scratch`` under ``name``, made on first use: zeros, then ``init(buf)``.

    Blocks reuse it, so whatever a block leaves in it stays there: the callers
    rely on that to keep the parts they never write as they were made.
    """
    if name not in scratch:
        scratch[name] = np.zeros(shape, dtype=dtype)
        if init is not None:
            init(scratch[name])
    return scratch[name]


def _map_column_blocks(fn: Callable[[int, np.ndarray], T], win: np.ndarray) -> list[T]:
    """Call ``fn(first image, columns)`` for every block of images; return the results in order.

    win is the window view (N, C, kh, kw, H_out, W_out); ``columns`` has shape (B, K, L)
    with K = C kh kw and L = H_out W_out: the receptive fields of B images, copied.
    ``fn`` may write only to its own B images of an output, as in ``_map_blocks``.

    Why blocks: for a whole batch the column matrix is 9x the input (38 MB for
    64x16x32x32 with a 3x3 kernel), far more than the CPU caches hold. Written
    at once, it goes out to main memory and every matrix product reads it back
    from there, and memory, not arithmetic, sets the pace (measured: the same
    products ran 3-4x slower on the whole batch than on cache-sized pieces). A
    block of a few images is copied into a reused buffer and consumed by the
    matrix products while it is still in cache.
    """
    n, c, kh, kw, ho, wo = win.shape
    size = _block_size(n, c * kh * kw * ho * wo * win.itemsize)

    def block(start: int, stop: int, scratch: dict) -> T:
        buf = _buffer(scratch, "cols", (size, c, kh, kw, ho, wo), win.dtype)
        blk = buf[: stop - start]
        blk[...] = win[start:stop]  # the im2col copy of this block
        return fn(start, blk.reshape(stop - start, c * kh * kw, ho * wo))

    return _map_blocks(block, n, size)


# ----------------------------------------------------------------------------
# stride 1: columns as shifted rows of the flattened image
# ----------------------------------------------------------------------------
#
# Flatten each padded channel, F = Hp * Wp numbers, and put output pixel (i, j)
# at flat position t = i * Wp + j. Kernel offset (p, q) reads the input at
# t + p*dh*Wp + q*dw: the same shift for every pixel. So the row of the column
# matrix for (c, p, q) is one contiguous slice of channel c, and the column
# gradient goes back with one contiguous add per offset. The price: positions
# with j >= W_out (the last Wp - W_out of every image row) are computed too and
# thrown away, about 6 % more arithmetic for 32x32 images with a 3x3 kernel.
# In return the copies and adds run over long contiguous slices instead of rows
# of W_out numbers, each of which costs NumPy a loop: for conv 16->32 the scatter
# of the column gradient took about a third of the time (docs/benchmarks.md).


def _shift_geometry(hp: int, wp: int, kernel: Pair, dilation: Pair) -> tuple[int, list[int]]:
    """(Lw, shifts): flat positions 0 .. Lw-1 cover every output pixel; one shift per offset.

    The last output pixel is at (H_out - 1) * Wp + W_out - 1, so Lw = (H_out - 1) Wp + W_out;
    offset (p, q) reads ``shift = p dh Wp + q dw`` further on. Position Lw - 1 plus the
    largest shift is Hp Wp - 1, the last number of the channel: no read leaves it.
    """
    (kh, kw), (dh, dw) = kernel, dilation
    ho, wo = hp - dh * (kh - 1), wp - dw * (kw - 1)
    return (ho - 1) * wp + wo, [p * dh * wp + q * dw for p in range(kh) for q in range(kw)]


def _shifted_columns(xp: np.ndarray, dilation: Pair, out: np.ndarray) -> np.ndarray:
    """The columns of stride-1 im2col at flat positions, copied into ``out``.

    xp : contiguous ndarray of shape (B, C, Hp, Wp), the padded images
    out : ndarray of shape (B, C, kh, kw, Lw) (Lw from ``_shift_geometry``); its shape
        gives the kernel size
    Returns out reshaped to (B, C kh kw, Lw): row ``c kh kw + p kw + q`` (the order of
    ``w.reshape(C_out, -1)``) is channel c shifted by offset (p, q). Positions whose
    column ``t % Wp`` is W_out or more hold numbers that belong to no output pixel.
    """
    b, c, hp, wp = xp.shape
    lw = out.shape[-1]
    sn, sc, row, col = xp.strides
    # element [n, c, p, q, t] is the flat channel's number t + p dh Wp + q dw
    view = as_strided(
        xp,
        shape=out.shape,
        strides=(sn, sc, row * dilation[0], col * dilation[1], col),
        writeable=False,
    )
    out[...] = view
    return out.reshape(b, -1, lw)


def _sum_shifted(dcols: np.ndarray, shifts: list[int], out: np.ndarray) -> np.ndarray:
    """The adjoint of ``_shifted_columns``: each offset's slice added back, shifted, into ``out``.

    dcols : ndarray of shape (B, kh * kw, C * F): for each kernel offset, the column
        gradient of every channel on its whole F = Hp Wp frame, zero at every
        position that is no output pixel
    shifts : one per offset, from ``_shift_geometry`` (the first is 0)
    out : ndarray of shape (B, C * F), overwritten: the padded input gradient
    One add per offset over all channels at once: a number of channel c lands
    in channel c's frame (see ``_shift_geometry``), and the zeros that cross into
    the next frame add nothing.
    """
    span = out.shape[1]
    out[...] = dcols[:, 0]  # offset (0, 0): no shift
    for k, shift in enumerate(shifts[1:], start=1):
        out[:, shift:] += dcols[:, k, : span - shift]
    return out


def _forward_rows(w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """w (C_out, C, kh, kw) as the forward product's matrix (C_out, C kh kw [+ 1]).

    With a bias, b (C_out,) is one more column, against a row of ones under the
    columns: the product adds it, where adding it to every pixel afterwards costs a pass.
    """
    rows = w.reshape(w.shape[0], -1)
    return rows if b is None else np.concatenate([rows, b[:, None]], axis=1)


def _backward_rows(w: np.ndarray) -> np.ndarray:
    """w (C_out, C, kh, kw) as the column-gradient matrix (kh kw C, C_out).

    Its rows are in (p, q, c) order: each kernel offset's column gradient, for all
    channels, is then one contiguous slab, which ``_sum_shifted`` adds back with one shift.
    """
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0]))


def _dout_on_frames(d: np.ndarray, wp: int, out: np.ndarray) -> np.ndarray:
    """dout (B, C_out, H_out, W_out) written at its flat positions i Wp + j of ``out``.

    out : ndarray of shape (B, C_out, F) with F >= H_out Wp. Only the pixels are
    written: the thrown-away positions keep what ``out`` held (zero, in the buffers
    that use this). Returns ``out[:, :, :Lw]``, dout as the products read it.
    """
    b, c_out, ho, wo = d.shape
    out[:, :, : ho * wp].reshape(b, c_out, ho, wp)[:, :, :, :wo] = d
    return out[:, :, : (ho - 1) * wp + wo]


def _conv2d_forward_shifted(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    out: np.ndarray,
    padding: Pair,
    dilation: Pair,
) -> tuple[np.ndarray, bool]:
    """Stride-1 convolution of x (N, C, H, W), written into out (N, C_out, H_out, W_out).

    w : (C_out, C, kh, kw); b : (C_out,) or None
    Returns the padded input xp (N, C, Hp, Wp) for the backward pass, filled block by
    block, and whether every number of x and w is finite (the backward pass needs to know).
    """
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = out.shape[2:]
    (ph, pw) = padding
    hp, wp = h + 2 * ph, wd + 2 * pw
    lw, _ = _shift_geometry(hp, wp, (kh, kw), dilation)
    k = c * kh * kw
    w_mat = _forward_rows(w, b)
    rows = w_mat.shape[1]
    size = _block_size(n, rows * lw * w.itemsize)
    in_place = padding == (0, 0) and x.flags.c_contiguous
    xp = x if in_place else np.zeros((n, c, hp, wp), dtype=w.dtype)  # zero border

    def block(start: int, stop: int, scratch: dict) -> bool:
        m = stop - start
        if not in_place:
            xp[start:stop, :, ph : ph + h, pw : pw + wd] = x[start:stop]
        cols = _buffer(
            scratch, "cols", (size, rows, lw), w.dtype, init=lambda buf: buf[:, k:].fill(1)
        )[:m]
        _shifted_columns(xp[start:stop], dilation, cols[:, :k].reshape(m, c, kh, kw, lw))
        wide = _buffer(scratch, "wide", (size, c_out, ho * wp), w.dtype)[:m]
        np.matmul(w_mat, cols, out=wide[:, :, :lw])
        out[start:stop] = wide.reshape(m, c_out, ho, wp)[:, :, :, :wo]  # drop the thrown-away
        # sum() is inf or nan exactly when an element is, or (rarely) when it overflows;
        # then the backward pass takes the window path, which is exact too
        return bool(np.isfinite(xp[start:stop].sum()))

    return xp, all(_map_blocks(block, n, size)) and bool(np.isfinite(w.sum()))


def _conv2d_backward_shifted(
    d: np.ndarray, xp: np.ndarray, w: np.ndarray, padding: Pair, dilation: Pair
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of a stride-1 convolution; xp (N, C, Hp, Wp) is its padded input.

    d is dout (N, C_out, H_out, W_out). Exact only when xp and w are finite: the
    thrown-away positions of the columns meet zeros of the output gradient, and
    0 * inf is nan (the caller checks).
    """
    n, c, hp, wp = xp.shape
    c_out, _, kh, kw = w.shape
    (ph, pw) = padding
    h, wd = hp - 2 * ph, wp - 2 * pw
    frame = hp * wp
    lw, shifts = _shift_geometry(hp, wp, (kh, kw), dilation)
    k = c * kh * kw
    w_pqc = _backward_rows(w)
    size = _block_size(n, k * lw * w.itemsize)
    dx = np.empty((n, c, h, wd), dtype=w.dtype)

    def block(start: int, stop: int, scratch: dict) -> tuple[np.ndarray, np.ndarray]:
        m = stop - start
        # one buffer for the columns and then their gradient, each row on a whole frame:
        # positions Lw.. of a row hold no output pixel, are never written and stay zero
        frames = _buffer(scratch, "frames", (size, k, frame), w.dtype)[:m]
        cols = frames.reshape(m, c, kh, kw, frame)[:, :, :, :, :lw]
        cols = _shifted_columns(xp[start:stop], dilation, cols)
        # dout on the flat frame; the thrown-away positions are never written: zero
        dframe = _buffer(scratch, "dframe", (size, c_out, frame), w.dtype)[:m]
        d_flat = _dout_on_frames(d[start:stop], wp, dframe)
        # (B, K, Lw) @ (B, Lw, C_out) summed over the block: its share of dw, transposed
        dw_t = np.matmul(cols, d_flat.transpose(0, 2, 1)).sum(axis=0)
        # the column gradient overwrites the columns, rows now in (p, q, c) order
        np.matmul(w_pqc, d_flat, out=frames[:, :, :lw])
        dxf = _buffer(scratch, "dxf", (size, c * frame), w.dtype)[:m]
        _sum_shifted(frames.reshape(m, kh * kw, c * frame), shifts, out=dxf)
        dx[start:stop] = dxf.reshape(m, c, hp, wp)[:, :, ph : ph + h, pw : pw + wd]
        return dw_t, dframe.sum(axis=(0, 2))

    parts = _map_blocks(block, n, size)
    dw_t = sum((p[0] for p in parts), np.zeros((k, c_out), dtype=w.dtype))
    db = sum((p[1] for p in parts), np.zeros(c_out, dtype=w.dtype))
    return dx, dw_t.T.reshape(w.shape), db


def _check_conv_args(
    x: Any, w: Any, b: Any, in_axis: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Convert and check x (N, C, H, W), w (4-D) and b; ``in_axis`` is w's input-channel axis."""
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    layout = "(C_out, C_in, kh, kw)" if in_axis == 1 else "(C_in, C_out, kh, kw)"
    check_ndim(w, 4, "w", layout)
    if 0 in w.shape:
        # torch refuses these too; a 0-row kernel would make the output taller than the input
        raise ValueError(f"w must have no zero-size dimension (layout {layout}), got {w.shape}")
    if x.shape[1] != w.shape[in_axis]:
        raise ValueError(
            f"x has {x.shape[1]} channels but w expects {w.shape[in_axis]} input channels "
            f"(w must have layout {layout}, got shape {w.shape})"
        )
    if b is not None:
        b = as_float_array(b, "b")
        check_shape(b, (w.shape[1 - in_axis],), "b")
    return x, w, b


def _result_dtype(*arrays: np.ndarray | None) -> np.dtype:
    # float32 in -> float32 out; float64 wins when mixed, like NumPy itself.
    return np.result_type(*[a for a in arrays if a is not None])


# ----------------------------------------------------------------------------
# 1. the definition, with loops
# ----------------------------------------------------------------------------


def conv2d_naive(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> np.ndarray:
    """Convolution (cross-correlation) as four explicit loops: slow but readable.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
    w : ndarray of shape (C_out, C_in, kh, kw)
    b : ndarray of shape (C_out,) or None
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    out : ndarray of shape (N, C_out, H_out, W_out)
        ``H_out = floor((H + 2 p - d (kh - 1) - 1) / s) + 1``, same for W.
    """
    x, w, b = _check_conv_args(x, w, b)
    stride, padding, dilation = _hyper(stride, padding, dilation)
    n_batch, _, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = _output_hw((h, wd), (kh, kw), stride, padding, dilation)
    (sh, sw), (dh, dw) = stride, dilation
    xp = _pad(x, padding)
    out = np.zeros((n_batch, c_out, ho, wo), dtype=_result_dtype(x, w, b))
    for n in range(n_batch):
        for f in range(c_out):
            for i in range(ho):
                for j in range(wo):
                    # the receptive field of output pixel (i, j): every dh-th row from i*sh
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    field = xp[n, :, rows, cols]
                    out[n, f, i, j] = np.sum(field * w[f]) + (b[f] if b is not None else 0.0)
    return out


def conv2d_naive_backward(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``conv2d_naive`` with the same four loops.

    Each output pixel received ``sum(field * w[f])``, so it sends
    ``dout * w[f]`` back to its field and ``dout * field`` to ``w[f]``.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, H_out, W_out)
    x : ndarray of shape (N, C_in, H, W)
    w : ndarray of shape (C_out, C_in, kh, kw)

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_out, C_in, kh, kw)
    db : ndarray of shape (C_out,)
    """
    x, w, _ = _check_conv_args(x, w, None)
    stride, padding, dilation = _hyper(stride, padding, dilation)
    n_batch, _, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = _output_hw((h, wd), (kh, kw), stride, padding, dilation)
    dout = as_float_array(dout, "dout")
    check_shape(dout, (n_batch, c_out, ho, wo), "dout")
    # gradients in the forward pass's dtype (float64 if x or w is), as conv2d_backward
    dtype = _result_dtype(x, w)
    x, w, dout = (a.astype(dtype, copy=False) for a in (x, w, dout))
    (sh, sw), (dh, dw) = stride, dilation
    xp = _pad(x, padding)
    dxp = np.zeros_like(xp)
    dw_ = np.zeros_like(w)
    for n in range(n_batch):
        for f in range(c_out):
            for i in range(ho):
                for j in range(wo):
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    dw_[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
    db = dout.sum(axis=(0, 2, 3))
    return _crop(dxp, padding, (h, wd)).copy(), dw_, db


# ----------------------------------------------------------------------------
# 2. im2col / col2im
# ----------------------------------------------------------------------------


def im2col(
    x: np.ndarray,
    kernel_size: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> np.ndarray:
    """Unfold every receptive field of ``x`` into a column (like ``torch.nn.functional.unfold``).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding, dilation : int or (int, int)

    Returns
    -------
    cols : ndarray of shape (N, C * kh * kw, H_out * W_out)
        Row ``c * kh * kw + p * kw + q`` is channel ``c`` at kernel offset ``(p, q)``;
        column ``i * W_out + j`` is output pixel ``(i, j)``.
    """
    x = as_float_array(x, "x")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    kernel = check_int_pair(kernel_size, "kernel_size", minimum=1)
    stride, padding, dilation = _hyper(stride, padding, dilation)
    n, c, h, wd = x.shape
    ho, wo = _output_hw((h, wd), kernel, stride, padding, dilation)
    win = _windows(_pad(x, padding), kernel, (ho, wo), stride, dilation)
    # reshape of a strided view copies: this is where the memory is spent
    return win.reshape(n, c * kernel[0] * kernel[1], ho * wo)


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> np.ndarray:
    """Fold columns back into an image, summing where receptive fields overlap.

    The adjoint of ``im2col`` (like ``torch.nn.functional.fold``); not its inverse.

    Parameters
    ----------
    cols : ndarray of shape (N, C * kh * kw, H_out * W_out)
    x_shape : (N, C, H, W), the shape of the image ``im2col`` was applied to

    Returns
    -------
    x : ndarray of shape (N, C, H, W)
    """
    cols = as_float_array(cols, "cols")
    check_ndim(cols, 3, "cols", "(N, C * kh * kw, H_out * W_out)")
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W), got {x_shape!r}")
    n, c, h, wd = (check_positive_int(v, "x_shape entries") for v in x_shape)
    kernel = check_int_pair(kernel_size, "kernel_size", minimum=1)
    stride, padding, dilation = _hyper(stride, padding, dilation)
    ho, wo = _output_hw((h, wd), kernel, stride, padding, dilation)
    check_shape(cols, (n, c * kernel[0] * kernel[1], ho * wo), "cols")
    dwin = cols.reshape(n, c, kernel[0], kernel[1], ho, wo)
    return _scatter_windows(dwin, (h, wd), stride, padding, dilation)


# ----------------------------------------------------------------------------
# 3. fast convolution: strided view + one batched matmul
# ----------------------------------------------------------------------------


def _conv2d_forward_windows(
    xp: np.ndarray, w: np.ndarray, out_hw: Pair, stride: Pair, dilation: Pair
) -> np.ndarray:
    """Convolution of the padded xp (N, C, Hp, Wp) through window columns: (N, C_out, H_out, W_out)."""
    n, c_in = xp.shape[:2]
    c_out, _, kh, kw = w.shape
    win = _windows(xp, (kh, kw), out_hw, stride, dilation)
    out = np.empty((n, c_out, out_hw[0] * out_hw[1]), dtype=xp.dtype)
    w_mat = w.reshape(c_out, c_in * kh * kw)

    def block(start: int, cols: np.ndarray) -> None:
        # (C_out, K) @ (B, K, L) -> (B, C_out, L): one matrix product per image, NCHW directly
        np.matmul(w_mat, cols, out=out[start : start + len(cols)])

    _map_column_blocks(block, win)
    return out.reshape(n, c_out, *out_hw)


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> tuple[np.ndarray, tuple]:
    """Vectorised convolution, matching ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
    w : ndarray of shape (C_out, C_in, kh, kw)
    b : ndarray of shape (C_out,) or None
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    out : ndarray of shape (N, C_out, H_out, W_out)
    cache : tuple for ``conv2d_backward``
    """
    x, w, b = _check_conv_args(x, w, b)
    stride, padding, dilation = _hyper(stride, padding, dilation)
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = _output_hw((h, wd), (kh, kw), stride, padding, dilation)
    dtype = _result_dtype(x, w, b)
    x = x.astype(dtype, copy=False)
    w = w.astype(dtype, copy=False)
    b_ = None if b is None else b.astype(dtype, copy=False)
    finite = None  # whether x and w are finite: known, and needed, on the stride-1 path only
    if stride == (1, 1):
        out = np.empty((n, c_out, ho, wo), dtype=dtype)
        xp, finite = _conv2d_forward_shifted(x, w, b_, out, padding, dilation)
    else:
        xp = _pad(x, padding)
        out = _conv2d_forward_windows(xp, w, (ho, wo), stride, dilation)
        if b_ is not None:
            out += b_[:, None, None]
    # keep the padded input, not the columns: the backward pass rebuilds them block by
    # block, which costs less than writing 9x the input to memory and reading it back.
    # Without padding xp may be x itself, so x must not change before the backward pass
    # (torch's autograd has the same rule for saved inputs).
    cache = (x.shape, w, b is not None, xp, stride, padding, dilation, finite)
    return out, cache


def conv2d_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of ``conv2d_forward``.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, H_out, W_out)
    cache : from ``conv2d_forward``

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_out, C_in, kh, kw)
    db : ndarray of shape (C_out,), or None when the forward pass had no bias
    """
    x_shape, w, has_bias, xp, stride, padding, dilation, finite = cache
    n, c_in, h, wd = x_shape
    c_out, _, kh, kw = w.shape
    ho, wo = _output_hw((h, wd), (kh, kw), stride, padding, dilation)
    dout = as_float_array(dout, "dout")
    check_shape(dout, (n, c_out, ho, wo), "dout")
    d = dout.astype(w.dtype, copy=False)
    if finite:  # the stride-1 path, exact for finite x and w
        dx, dw, db = _conv2d_backward_shifted(d, xp, w, padding, dilation)
        return dx, dw, db if has_bias else None
    db = d.sum(axis=(0, 2, 3)) if has_bias else None
    d = d.reshape(n, c_out, ho * wo)
    w_mat = w.reshape(c_out, -1)
    dxp = np.zeros_like(xp)
    win = _windows(xp, (kh, kw), (ho, wo), stride, dilation)

    def block(start: int, cols: np.ndarray) -> np.ndarray:
        d_blk = d[start : start + len(cols)]
        # (K, C_out) @ (B, C_out, L): what each column element sent to the output
        dcols = np.matmul(w_mat.T, d_blk).reshape(len(cols), c_in, kh, kw, ho, wo)
        _add_windows(dxp[start : start + len(cols)], dcols, stride, dilation)
        # (B, K, L) @ (B, L, C_out) summed over the block's images: its share of dw,
        # transposed. The same product as (B, C_out, L) @ (B, L, K), in the orientation
        # OpenBLAS runs faster for these shapes (docs/benchmarks.md).
        return np.matmul(cols, d_blk.transpose(0, 2, 1)).sum(axis=0)

    dw_t = sum(_map_column_blocks(block, win), np.zeros_like(w_mat.T))
    dx = np.ascontiguousarray(_crop(dxp, padding, (h, wd)))
    return dx, dw_t.T.reshape(w.shape), db


# ----------------------------------------------------------------------------
# transposed convolution: the backward pass of a convolution, run forwards
# ----------------------------------------------------------------------------


def _transpose_hyper(
    stride: Any, padding: Any, output_padding: Any, dilation: Any
) -> tuple[Pair, Pair, Pair, Pair]:
    stride, padding, dilation = _hyper(stride, padding, dilation)
    op = check_int_pair(output_padding, "output_padding", minimum=0)
    for o, s, d in zip(op, stride, dilation, strict=True):
        if o >= s and o >= d:
            raise ValueError(
                f"output_padding must be smaller than either stride or dilation, got "
                f"output_padding={op}, stride={stride}, dilation={dilation}"
            )
    return stride, padding, op, dilation


def _transpose_out_hw(
    hw: Pair, kernel: Pair, stride: Pair, padding: Pair, op: Pair, dilation: Pair
) -> Pair:
    out = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + o + 1
        for n, k, s, p, o, d in zip(hw, kernel, stride, padding, op, dilation, strict=True)
    )
    if min(out) < 1:
        raise ValueError(
            f"padding {padding} is too large for a transposed convolution of a "
            f"{hw[0]}x{hw[1]} input with kernel {kernel[0]}x{kernel[1]} and stride {stride}: "
            f"the output would be {out[0]}x{out[1]}"
        )
    return out  # type: ignore[return-value]


def conv_transpose2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> tuple[np.ndarray, tuple]:
    """Transposed convolution, matching ``torch.nn.functional.conv_transpose2d``.

    Every input pixel stamps a copy of the kernel, scaled by its value, onto the
    output at ``stride`` spacing; overlaps add. This is exactly the input
    gradient of a convolution with the same ``w``, so it reuses the same pieces.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
    w : ndarray of shape (C_in, C_out, kh, kw)  (torch layout for transposed conv)
    b : ndarray of shape (C_out,) or None
    stride, padding, output_padding, dilation : int or (int, int)

    Returns
    -------
    out : ndarray of shape (N, C_out, H_out, W_out) with
        ``H_out = (H - 1) s - 2 p + d (kh - 1) + output_padding + 1``
    cache : tuple for ``conv_transpose2d_backward``
    """
    x, w, b = _check_conv_args(x, w, b, in_axis=0)
    stride, padding, op, dilation = _transpose_hyper(stride, padding, output_padding, dilation)
    n, c_in, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    ho, wo = _transpose_out_hw((h, wd), (kh, kw), stride, padding, op, dilation)
    dtype = _result_dtype(x, w, b)
    x = x.astype(dtype, copy=False)
    w = w.astype(dtype, copy=False)
    # (C_out*kh*kw, C_in) @ (N, C_in, H*W): each input pixel's stamp, then scatter-add
    stamps = (w.reshape(c_in, -1).T @ x.reshape(n, c_in, h * wd)).reshape(n, c_out, kh, kw, h, wd)
    # padding crops the stamped canvas; (ho, wo) already counts output_padding's extra rows
    out = _scatter_windows(stamps, (ho, wo), stride, padding, dilation)
    if b is not None:
        out += b.astype(dtype, copy=False)[:, None, None]
    cache = (x, w, b is not None, stride, padding, op, dilation)
    return out, cache


def conv_transpose2d_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of ``conv_transpose2d_forward``.

    The input gradient of a transposed convolution is an ordinary convolution
    of ``dout`` with the same ``w``.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, H_out, W_out)
    cache : from ``conv_transpose2d_forward``

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_in, C_out, kh, kw)
    db : ndarray of shape (C_out,), or None when the forward pass had no bias
    """
    x, w, has_bias, stride, padding, op, dilation = cache
    n, c_in, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    ho, wo = _transpose_out_hw((h, wd), (kh, kw), stride, padding, op, dilation)
    dout = as_float_array(dout, "dout")
    check_shape(dout, (n, c_out, ho, wo), "dout")
    dout = dout.astype(w.dtype, copy=False)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    # put dout back on the un-cropped canvas and read every stamp's footprint
    dfull = _pad(dout, padding)
    cols = _windows(dfull, (kh, kw), (h, wd), stride, dilation).reshape(n, c_out * kh * kw, h * wd)
    dx = (w.reshape(c_in, -1) @ cols).reshape(n, c_in, h, wd)
    dw = (x.reshape(n, c_in, h * wd) @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    return dx, dw, db


# ----------------------------------------------------------------------------
# layer classes
# ----------------------------------------------------------------------------


def _same_padding(kernel: Pair, dilation: Pair, stride: Pair) -> Pair:
    if stride != (1, 1):
        raise ValueError(f"padding='same' needs stride 1, got stride={stride}")
    pad = []
    for k, d in zip(kernel, dilation, strict=True):
        span = d * (k - 1)
        if span % 2:
            raise ValueError(
                f"padding='same' needs an odd effective kernel size, got kernel_size={kernel} "
                f"with dilation={dilation} (effective size {span + 1})"
            )
        pad.append(span // 2)
    return pad[0], pad[1]


class _ConvLayer(Layer):
    """What the two convolution layers share: weights, backward pass, repr."""

    _backward: Any = None  # the functional backward pass, set by each subclass

    def _init_weights(self, w_shape: tuple[int, ...], fan_in: int, bias: bool, rng: Any) -> None:
        # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for w and b, as torch initialises them.
        gen = check_rng(rng)
        check_bool(bias, "bias")
        bound = 1.0 / np.sqrt(fan_in)
        self.params["w"] = gen.uniform(-bound, bound, w_shape)
        if bias:
            self.params["b"] = gen.uniform(-bound, bound, self.out_channels)
        self._init_grads()

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout : (N, C_out, H_out, W_out) -> dx : (N, C_in, H, W); fills ``grads``."""
        dx, dw, db = self._backward(dout, self._require_cache())
        self.grads["w"] = dw
        if db is not None:
            self.grads["b"] = db
        return dx

    def _repr(self, *options: str) -> str:
        """torch-style repr: channels, kernel, stride, then the non-default options."""
        parts = [
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}",
            f"stride={self.stride}",
            *[o for o in options if o],
        ]
        if "b" not in self.params:
            parts.append("bias=False")
        return ", ".join(parts)


class Conv2d(_ConvLayer):
    """2-D convolution layer, like ``torch.nn.Conv2d`` (groups=1).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride, dilation : int or (int, int)
    padding : int, (int, int) or "same" (stride 1, odd effective kernel)
    bias : bool
    rng : seed or numpy Generator for the initial weights

    ``params["w"]`` has shape (out_channels, in_channels, kh, kw) and ``params["b"]``
    shape (out_channels,); both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like torch
    (kaiming-uniform with a = sqrt(5)), fan_in = in_channels * kh * kw.
    """

    _backward = staticmethod(conv2d_backward)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair | str = 0,
        dilation: int | Pair = 1,
        bias: bool = True,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = check_int_pair(kernel_size, "kernel_size", minimum=1)
        self.stride = check_int_pair(stride, "stride", minimum=1)
        self.dilation = check_int_pair(dilation, "dilation", minimum=1)
        if isinstance(padding, str):
            if padding != "same":
                raise ValueError(
                    f"padding must be an int, a pair of ints or 'same', got {padding!r}"
                )
            self.padding = _same_padding(self.kernel_size, self.dilation, self.stride)
        else:
            self.padding = check_int_pair(padding, "padding", minimum=0)
        self._padding_arg = padding
        kh, kw = self.kernel_size
        self._init_weights(
            (self.out_channels, self.in_channels, kh, kw), self.in_channels * kh * kw, bias, rng
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x : (N, C_in, H, W) -> out : (N, C_out, H_out, W_out)."""
        out, self._cache = conv2d_forward(
            x, self.params["w"], self.params.get("b"), self.stride, self.padding, self.dilation
        )
        return out

    def extra_repr(self) -> str:
        if self._padding_arg == "same":
            padding = "padding=same"
        else:
            padding = f"padding={self.padding}" if self.padding != (0, 0) else ""
        dilation = f"dilation={self.dilation}" if self.dilation != (1, 1) else ""
        return self._repr(padding, dilation)


class ConvTranspose2d(_ConvLayer):
    """2-D transposed convolution layer, like ``torch.nn.ConvTranspose2d`` (groups=1).

    ``params["w"]`` has shape (in_channels, out_channels, kh, kw) (torch's layout)
    and ``params["b"]`` shape (out_channels,); torch's default initialisation
    (bound 1/sqrt(out_channels * kh * kw)).
    """

    _backward = staticmethod(conv_transpose2d_backward)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair = 0,
        output_padding: int | Pair = 0,
        dilation: int | Pair = 1,
        bias: bool = True,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = check_int_pair(kernel_size, "kernel_size", minimum=1)
        self.stride, self.padding, self.output_padding, self.dilation = _transpose_hyper(
            stride, padding, output_padding, dilation
        )
        kh, kw = self.kernel_size
        # torch computes fan_in from w.shape[1] * kh * kw for transposed convs
        self._init_weights(
            (self.in_channels, self.out_channels, kh, kw), self.out_channels * kh * kw, bias, rng
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x : (N, C_in, H, W) -> out : (N, C_out, H_out, W_out)."""
        out, self._cache = conv_transpose2d_forward(
            x,
            self.params["w"],
            self.params.get("b"),
            self.stride,
            self.padding,
            self.output_padding,
            self.dilation,
        )
        return out

    def extra_repr(self) -> str:
        return self._repr(
            f"padding={self.padding}" if self.padding != (0, 0) else "",
            f"dilation={self.dilation}" if self.dilation != (1, 1) else "",
            f"output_padding={self.output_padding}" if self.output_padding != (0, 0) else "",
        )
