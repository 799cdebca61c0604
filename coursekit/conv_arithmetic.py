"""Convolution arithmetic with plain Python ints (notebook 06).

One spatial dimension at a time (apply twice for H and W). The output size of
a convolution with input size N, kernel F, padding P, stride S, dilation D is

    floor((N + 2P - D(F - 1) - 1) / S) + 1,   which is   floor((N + 2P - F) / S) + 1  for D = 1.

(Erratum: some slides write floor((N + 2P - F)/S - 1); the "+ 1" counts the
first window position, which is always there.) These functions answer the
notebook's worked examples and power its widget, so they explain themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from coursekit._validate import (
    check_bool,
    check_in,
    check_int_pair,
    check_nonneg_int,
    check_positive_int,
)

__all__ = [
    "conv_output_size",
    "fits_exactly",
    "explain_conv_output",
    "pool_output_size",
    "conv_transpose_output_size",
    "same_padding",
    "linear_params",
    "conv_params",
    "receptive_field",
    "receptive_field_table",
    "trace_shapes",
]


def _args(
    n: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, must_fit: bool = True
) -> tuple[int, ...]:
    n = check_positive_int(n, "n")
    k = check_positive_int(kernel_size, "kernel_size")
    s = check_positive_int(stride, "stride")
    p = check_nonneg_int(padding, "padding")
    d = check_positive_int(dilation, "dilation")
    span = d * (k - 1) + 1
    if must_fit and span > n + 2 * p:
        size = f"{k}x{k}" if d == 1 else f"{k}x{k} with dilation {d} (effective {span}x{span})"
        raise ValueError(
            f"kernel of size {size} is larger than the padded input: "
            f"{n} + 2*{p} = {n + 2 * p} < {span}"
        )
    return n, k, s, p, d, span


def _numerator(n: int, k: int, p: int, d: int) -> str:
    if d == 1:
        return f"({n} + 2*{p} - {k})"
    return f"({n} + 2*{p} - {d}*({k}-1) - 1)"


def _fmt(v: float) -> str:
    return f"{v:.0f}" if v == int(v) else f"{v:.2f}"


def conv_output_size(
    n: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    strict: bool = False,
) -> int:
    """Output size ``floor((n + 2p - d(k - 1) - 1) / s) + 1`` of a convolution.

    Parameters
    ----------
    n : int, input size (height or width)
    kernel_size, stride, padding, dilation : int
    strict : bool
        If True, raise ``ValueError`` with an explanation when the kernel does not
        fit exactly (the floor would silently drop the last rows/columns).

    Returns
    -------
    int

    Examples
    --------
    >>> conv_output_size(7, 3, stride=2)
    3
    """
    n, k, s, p, d, span = _args(n, kernel_size, stride, padding, dilation)
    strict = check_bool(strict, "strict")
    covered = n + 2 * p - span
    if strict and covered % s:
        dropped = covered % s
        exact = covered / s + 1
        fixes = [
            f"padding={q} (output {(n + 2 * q - span) // s + 1})"
            for q in range(p + 1, p + s + 1)
            if (n + 2 * q - span) % s == 0
        ][:1]
        fixes += [
            f"stride={t} (output {covered // t + 1})"
            for t in sorted(range(1, covered + 1), key=lambda t: (abs(t - s), t))
            if covered % t == 0
        ][:1]
        raise ValueError(
            f"{_numerator(n, k, p, d)}/{s} + 1 = {exact:.2f} is not an integer: stride {s} does "
            f"not fit a {k}x{k} kernel exactly on a {n}x{n} input"
            f"{f' with padding {p}' if p else ''}; the last {dropped} column(s) would be "
            f"dropped. Try {' or '.join(fixes)}."
        )
    return covered // s + 1


def fits_exactly(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> bool:
    """True when the windows tile the padded input with nothing left over."""
    n, k, s, p, d, span = _args(n, kernel_size, stride, padding, dilation)
    return (n + 2 * p - span) % s == 0


def explain_conv_output(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> str:
    """The output-size formula with the numbers filled in, for printing in a notebook.

    >>> print(explain_conv_output(7, 3, stride=3))
    floor((7 + 2*0 - 3)/3) + 1 = floor(1.33) + 1 = 2 (not exact: the last 1 column(s) are dropped)
    """
    n, k, s, p, d, span = _args(n, kernel_size, stride, padding, dilation)
    covered = n + 2 * p - span
    out = covered // s + 1
    text = f"floor({_numerator(n, k, p, d)}/{s}) + 1 = floor({_fmt(covered / s)}) + 1 = {out}"
    if covered % s:
        return text + f" (not exact: the last {covered % s} column(s) are dropped)"
    return text + " (fits exactly)"


def pool_output_size(
    n: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output size of max/avg pooling with torch's rules.

    ``stride`` defaults to ``kernel_size``; padding may be at most half the
    kernel. The size is ``floor((n + 2p - d(k - 1) - 1) / s) + 1``, rounded up
    instead with ``ceil_mode``, but the last window must start inside the input
    or the left padding (not in the right padding). With ``ceil_mode`` a window
    may therefore hang over the edge: ``pool_output_size(1, 2, ceil_mode=True)``
    is 1, as for ``torch.nn.MaxPool2d(2, ceil_mode=True)``. A size below 1 is an
    error, as in torch.

    Parameters
    ----------
    n : int, input size (height or width)
    kernel_size : int
    stride : int or None (= kernel_size)
    padding : int, at most kernel_size // 2
    dilation : int
    ceil_mode : bool

    Returns
    -------
    int
    """
    stride = kernel_size if stride is None else stride
    n, k, s, p, d, span = _args(n, kernel_size, stride, padding, dilation, must_fit=False)
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    if p > k // 2:
        raise ValueError(
            f"padding must be at most half the kernel size, got padding={p}, kernel_size={k}"
        )
    covered = n + 2 * p - span  # negative when the window is wider than the padded input
    # floor division rounds towards -inf, like torch's div_rtn; s - 1 more turns it into ceil
    out = (covered + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    if out < 1:
        raise ValueError(
            f"pooling window of size {k} (dilation {d}, effective size {span}) leaves no output "
            f"on an input of size {n} with padding {p} and stride {s}: the output size would be "
            f"{out}; use a smaller kernel, more padding or ceil_mode=True"
        )
    return out


def conv_transpose_output_size(
    n: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output size ``(n - 1) s - 2p + d(k - 1) + output_padding + 1`` of a transposed conv.

    >>> conv_transpose_output_size(3, 3, stride=2, padding=1)
    5
    """
    n = check_positive_int(n, "n")
    k = check_positive_int(kernel_size, "kernel_size")
    s = check_positive_int(stride, "stride")
    p = check_nonneg_int(padding, "padding")
    op = check_nonneg_int(output_padding, "output_padding")
    d = check_positive_int(dilation, "dilation")
    if op >= s and op >= d:
        raise ValueError(
            f"output_padding must be smaller than either stride or dilation, got "
            f"output_padding={op}, stride={s}, dilation={d}"
        )
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(
            f"padding={p} is too large: (n-1)*s - 2p + d(k-1) + output_padding + 1 = "
            f"({n}-1)*{s} - 2*{p} + {d}*({k}-1) + {op} + 1 = {out} < 1"
        )
    return out


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding P = d(F - 1)/2 that keeps the size at stride 1 (odd F only).

    >>> [same_padding(f) for f in (3, 5, 7)]
    [1, 2, 3]
    """
    k = check_positive_int(kernel_size, "kernel_size")
    d = check_positive_int(dilation, "dilation")
    if k % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd for symmetric 'same' padding, got {k}: "
            f"(F - 1)/2 = {(k - 1) / 2} is not an integer"
        )
    return d * (k - 1) // 2


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Parameters of a fully connected layer: in * out weights (+ out biases).

    >>> linear_params(200 * 200, 500, bias=False)
    20000000
    """
    i = check_positive_int(in_features, "in_features")
    o = check_positive_int(out_features, "out_features")
    return i * o + (o if check_bool(bias, "bias") else 0)


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    bias: bool = True,
    groups: int = 1,
) -> int:
    """Parameters of a convolution: C_out * (C_in/groups * kh * kw) (+ C_out biases).

    >>> conv_params(3, 10, 5)
    760
    """
    c_in = check_positive_int(in_channels, "in_channels")
    c_out = check_positive_int(out_channels, "out_channels")
    kh, kw = check_int_pair(kernel_size, "kernel_size", minimum=1)
    g = check_positive_int(groups, "groups")
    if c_in % g or c_out % g:
        raise ValueError(
            f"in_channels ({c_in}) and out_channels ({c_out}) must both be divisible by "
            f"groups, got groups={g}"
        )
    return c_out * (c_in // g) * kh * kw + (c_out if check_bool(bias, "bias") else 0)


def _rf_layers(layers: Sequence[Sequence[int]]) -> list[tuple[int, int, int]]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a list of (kernel, stride[, dilation]) tuples, got {layers!r}"
        )
    out = []
    for i, spec in enumerate(layers):
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise ValueError(
                f"layers[{i}] must be (kernel, stride) or (kernel, stride, dilation), got {spec!r}"
            )
        k = check_positive_int(spec[0], f"layers[{i}] kernel")
        s = check_positive_int(spec[1], f"layers[{i}] stride")
        d = check_positive_int(spec[2], f"layers[{i}] dilation") if len(spec) == 3 else 1
        out.append((k, s, d))
    return out


def receptive_field_table(layers: Sequence[Sequence[int]]) -> list[dict[str, int]]:
    """Receptive field layer by layer.

    ``jump`` is the distance, in input pixels, between neighbouring outputs of a
    layer (the product of the strides so far); each layer widens the receptive
    field by ``d (k - 1)`` times the jump of its input.

    Parameters
    ----------
    layers : list of (kernel, stride) or (kernel, stride, dilation)

    Returns
    -------
    list of dict with keys "layer" (1-based), "kernel", "stride", "dilation", "jump",
    "receptive_field"
    """
    rows = []
    rf, jump = 1, 1
    for i, (k, s, d) in enumerate(_rf_layers(layers), start=1):
        rf += d * (k - 1) * jump
        jump *= s
        rows.append(
            {
                "layer": i,
                "kernel": k,
                "stride": s,
                "dilation": d,
                "jump": jump,
                "receptive_field": rf,
            }
        )
    return rows


def receptive_field(layers: Sequence[Sequence[int]]) -> int:
    """Receptive field (in input pixels, one dimension) of a stack of layers.

    >>> receptive_field([(3, 1), (3, 1), (3, 1)])
    7
    """
    rows = receptive_field_table(layers)
    return rows[-1]["receptive_field"] if rows else 1


def trace_shapes(
    input_shape: Sequence[int], layers: Sequence[Sequence[Any]]
) -> list[dict[str, Any]]:
    """Shapes and parameter counts through a stack of layers, without building it.

    Parameters
    ----------
    input_shape : (C, H, W)
    layers : list of layer specs:
        ("conv", out_channels, k[, stride=1[, padding=0]]),
        ("pool", k[, stride=k])  (also "maxpool" / "avgpool"),
        ("relu",) (any activation name: shape and params unchanged),
        ("flatten",), ("linear", out_features)

    Returns
    -------
    list of dict with keys "layer" (a description), "shape" (tuple) and "params" (int);
    the first row is the input.

    Examples
    --------
    >>> rows = trace_shapes((3, 32, 32), [("conv", 6, 5), ("pool", 2), ("flatten",)])
    >>> [r["shape"] for r in rows]
    [(3, 32, 32), (6, 28, 28), (6, 14, 14), (1176,)]
    """
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"input_shape must be a tuple (C, H, W), got {input_shape!r}")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a list of layer specs such as ('conv', 6, 5), got {layers!r}"
        )
    shape: tuple[int, ...] = tuple(check_positive_int(v, "input_shape") for v in input_shape)
    rows: list[dict[str, Any]] = [{"layer": "input", "shape": shape, "params": 0}]
    for i, spec in enumerate(layers):
        if not isinstance(spec, (tuple, list)) or not spec:
            raise ValueError(f"layers[{i}] must be a tuple such as ('conv', 6, 5), got {spec!r}")
        kind = spec[0]
        check_in(
            kind,
            ["conv", "pool", "maxpool", "avgpool", "flatten", "linear", "relu", "sigmoid", "tanh"],
            f"layers[{i}][0]",
        )
        if kind in ("linear",) and len(shape) != 1:
            raise ValueError(
                f"layers[{i}] is linear but its input has shape {shape}; add ('flatten',) first"
            )
        if kind in ("conv", "pool", "maxpool", "avgpool") and len(shape) != 3:
            raise ValueError(f"layers[{i}] ({kind}) needs a (C, H, W) input, got shape {shape}")
        if kind == "conv":
            if len(spec) not in (3, 4, 5):
                raise ValueError(
                    f"layers[{i}] must be ('conv', out_channels, k[, stride[, padding]]), "
                    f"got {spec!r}"
                )
            c_out, k = spec[1], spec[2]
            s = spec[3] if len(spec) > 3 else 1
            p = spec[4] if len(spec) > 4 else 0
            h = conv_output_size(shape[1], k, s, p)
            w = conv_output_size(shape[2], k, s, p)
            params = conv_params(shape[0], c_out, k)
            desc = f"conv {shape[0]}->{c_out} {k}x{k} s{s} p{p}"
            shape = (c_out, h, w)
        elif kind in ("pool", "maxpool", "avgpool"):
            if len(spec) not in (2, 3):
                raise ValueError(f"layers[{i}] must be ('{kind}', k[, stride]), got {spec!r}")
            k = spec[1]
            s = spec[2] if len(spec) > 2 else k
            shape = (shape[0], pool_output_size(shape[1], k, s), pool_output_size(shape[2], k, s))
            params, desc = 0, f"{kind} {k}x{k} s{s}"
        elif kind == "flatten":
            if len(spec) != 1:
                raise ValueError(f"layers[{i}] must be ('flatten',), got {spec!r}")
            shape = (math.prod(shape),)
            params, desc = 0, "flatten"
        elif kind == "linear":
            if len(spec) != 2:
                raise ValueError(f"layers[{i}] must be ('linear', out_features), got {spec!r}")
            params = linear_params(shape[0], spec[1])
            desc = f"linear {shape[0]}->{spec[1]}"
            shape = (spec[1],)
        else:
            if len(spec) != 1:
                raise ValueError(f"layers[{i}] must be ('{kind}',) with no arguments, got {spec!r}")
            params, desc = 0, kind
        rows.append({"layer": desc, "shape": shape, "params": params})
    return rows
