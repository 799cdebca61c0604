"""coursekit.conv_arithmetic: the curriculum's worked examples and torch's output shapes."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit.conv_arithmetic import (
    conv_output_size,
    conv_params,
    conv_transpose_output_size,
    explain_conv_output,
    fits_exactly,
    linear_params,
    pool_output_size,
    receptive_field,
    receptive_field_table,
    same_padding,
    trace_shapes,
)

# --- worked examples ------------------------------------------------------


def test_7x7_input_3x3_filter():
    assert conv_output_size(7, 3, stride=1) == 5  # erratum: the Lab 6 handout says 4
    assert conv_output_size(7, 3, stride=2) == 3
    assert conv_output_size(7, 3, stride=1, padding=1) == 7
    assert fits_exactly(7, 3, 1) and fits_exactly(7, 3, 2)
    assert not fits_exactly(7, 3, 3)
    assert conv_output_size(7, 3, stride=3) == 2  # the floor drops the last column


def test_stride_3_does_not_fit_and_says_why():
    msg = (
        r"\(7 \+ 2\*0 - 3\)/3 \+ 1 = 2\.33 is not an integer: stride 3 does not fit a 3x3 "
        r"kernel exactly on a 7x7 input; the last 1 column\(s\) would be dropped\. Try padding=1"
    )
    with pytest.raises(ValueError, match=msg):
        conv_output_size(7, 3, stride=3, strict=True)
    assert conv_output_size(7, 3, stride=3, padding=1, strict=True) == 3  # the suggested fix
    assert conv_output_size(7, 3, stride=2, strict=True) == 3


def test_explain_conv_output_shows_the_numbers():
    assert explain_conv_output(7, 3, stride=2) == (
        "floor((7 + 2*0 - 3)/2) + 1 = floor(2) + 1 = 3 (fits exactly)"
    )
    assert explain_conv_output(7, 3, stride=3) == (
        "floor((7 + 2*0 - 3)/3) + 1 = floor(1.33) + 1 = 2 "
        "(not exact: the last 1 column(s) are dropped)"
    )
    assert explain_conv_output(9, 3, stride=1, padding=0, dilation=2).startswith(
        "floor((9 + 2*0 - 2*(3-1) - 1)/1) + 1 = floor(4) + 1 = 5"
    )


def test_formula_is_plus_one_not_minus_one():
    # erratum: the slides' floor((J + 2P - M)/S - 1) would give 3 here, not 5
    n, k, s, p = 7, 3, 1, 0
    assert conv_output_size(n, k, s, p) == (n + 2 * p - k) // s + 1 == 5


def test_same_padding():
    assert [same_padding(f) for f in (3, 5, 7)] == [1, 2, 3]
    for f in (3, 5, 7):
        assert conv_output_size(32, f, 1, same_padding(f)) == 32
    assert same_padding(3, dilation=2) == 2
    with pytest.raises(ValueError, match="kernel_size must be odd .* got 4: \\(F - 1\\)/2 = 1.5"):
        same_padding(4)


def test_32_input_shrinks_by_4_per_5x5_layer():
    sizes = [32]
    for _ in range(3):
        sizes.append(conv_output_size(sizes[-1], 5))
    assert sizes == [32, 28, 24, 20]


def test_channels_and_parameter_counts():
    # 32x32x3 input, ten 5x5 filters, stride 1, pad 2 -> 32x32x10 and 760 parameters
    assert conv_output_size(32, 5, 1, 2) == 32
    assert conv_params(3, 10, 5) == 760 == 10 * (5 * 5 * 3 + 1)
    # six 5x5x3 filters on 32x32x3 -> 28x28x6
    assert conv_output_size(32, 5) == 28 and conv_params(3, 6, 5) == 456
    assert conv_params(3, 10, (5, 3), bias=False) == 10 * 3 * 5 * 3
    assert conv_params(4, 8, 3, groups=2) == 8 * 2 * 9 + 8
    with pytest.raises(ValueError, match=r"must both be divisible by groups, got groups=3"):
        conv_params(4, 8, 3, groups=3)


def test_fully_connected_on_images_is_expensive():
    assert linear_params(200 * 200, 500, bias=False) == 20_000_000
    assert linear_params(200 * 200, 500) == 20_000_500


def test_transposed_conv_3_to_5():
    assert conv_transpose_output_size(3, 3, stride=2, padding=1) == 5
    assert conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1) == 6
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        conv_transpose_output_size(3, 3, stride=2, output_padding=2)


def test_receptive_fields_and_vgg_argument():
    assert [receptive_field([(3, 1)] * n) for n in (1, 2, 3)] == [3, 5, 7]
    assert receptive_field([(7, 1)]) == 7
    c = 64
    three_3x3 = 3 * conv_params(c, c, 3, bias=False)
    one_7x7 = conv_params(c, c, 7, bias=False)
    assert (three_3x3, one_7x7) == (27 * c * c, 49 * c * c)
    table = receptive_field_table([(3, 2), (3, 1), (3, 1, 2)])
    assert [r["jump"] for r in table] == [2, 2, 2]
    assert [r["receptive_field"] for r in table] == [3, 7, 15]
    assert table[0] == {
        "layer": 1,
        "kernel": 3,
        "stride": 2,
        "dilation": 1,
        "jump": 2,
        "receptive_field": 3,
    }
    with pytest.raises(ValueError, match=r"layers\[0\] must be \(kernel, stride\)"):
        receptive_field([(3,)])


def test_lenet_trace():
    layers = [
        ("conv", 6, 5),
        ("relu",),
        ("pool", 2),
        ("conv", 16, 5),
        ("relu",),
        ("pool", 2),
        ("flatten",),
        ("linear", 120),
        ("linear", 84),
        ("linear", 10),
    ]
    rows = trace_shapes((3, 32, 32), layers)
    shapes = [r["shape"] for r in rows if r["layer"] != "relu"]
    assert shapes == [
        (3, 32, 32),
        (6, 28, 28),
        (6, 14, 14),
        (16, 10, 10),
        (16, 5, 5),
        (400,),
        (120,),
        (84,),
        (10,),
    ]
    assert sum(r["params"] for r in rows) == 62_006
    assert rows[1] == {"layer": "conv 3->6 5x5 s1 p0", "shape": (6, 28, 28), "params": 456}
    with pytest.raises(
        ValueError, match=r"layers\[0\] is linear but its input has shape \(3, 32, 32\)"
    ):
        trace_shapes((3, 32, 32), [("linear", 10)])
    with pytest.raises(ValueError, match=r"layers\[0\]\[0\] must be one of"):
        trace_shapes((3, 32, 32), [("dense", 10)])


def test_argument_errors():
    with pytest.raises(
        ValueError, match=r"kernel of size 5x5 is larger than the padded input: 2 \+ 2\*1 = 4 < 5"
    ):
        conv_output_size(2, 5, padding=1)
    with pytest.raises(ValueError, match="effective 7x7"):
        conv_output_size(5, 4, dilation=2)
    with pytest.raises(ValueError, match="stride must be an integer >= 1, got 0"):
        conv_output_size(7, 3, stride=0)
    with pytest.raises(TypeError, match=r"n must be an integer >= 1, got 7.5 \(float\)"):
        conv_output_size(7.5, 3)
    with pytest.raises(ValueError, match="padding must be an integer >= 0, got -1"):
        conv_output_size(7, 3, padding=-1)
    with pytest.raises(ValueError, match="padding must be at most half the kernel size"):
        pool_output_size(7, 2, padding=2)


# --- properties against torch's shapes --------------------------------------

sizes = st.integers(1, 12)
kernels = st.integers(1, 5)


@settings(max_examples=60, deadline=None)
@given(n=sizes, k=kernels, s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_output_size_matches_torch(n, k, s, p, d):
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_output_size(n, k, s, p, d)
        return
    conv = torch.nn.Conv2d(1, 1, k, s, p, d, bias=False)
    out = conv(torch.zeros(1, 1, n, n)).shape[-1]
    assert conv_output_size(n, k, s, p, d) == out
    assert fits_exactly(n, k, s, p, d) == ((n + 2 * p - d * (k - 1) - 1) % s == 0)


@settings(max_examples=60, deadline=None)
@given(
    n=sizes,
    k=kernels,
    s=st.integers(1, 4),
    p=st.integers(0, 3),
    op=st.integers(0, 3),
    d=st.integers(1, 3),
)
def test_conv_transpose_output_size_matches_torch(n, k, s, p, op, d):
    if op >= s and op >= d:
        with pytest.raises(ValueError, match="output_padding must be smaller"):
            conv_transpose_output_size(n, k, s, p, op, d)
        return
    expected = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if expected < 1:
        with pytest.raises(ValueError, match="padding=.* is too large"):
            conv_transpose_output_size(n, k, s, p, op, d)
        return
    conv = torch.nn.ConvTranspose2d(1, 1, k, s, p, op, dilation=d, bias=False)
    assert conv_transpose_output_size(n, k, s, p, op, d) == conv(torch.zeros(1, 1, n, n)).shape[-1]


def _torch_pool_size(kind: str, n: int, k: int, s, p: int, d: int, ceil: bool) -> int | None:
    """Output size of torch's pooling layer, or None when torch refuses the configuration."""
    if kind == "max":
        pool = torch.nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil)
    else:
        pool = torch.nn.AvgPool2d(k, s, p, ceil_mode=ceil)
    try:
        return pool(torch.zeros(1, 1, n, n)).shape[-1]
    except RuntimeError:
        return None


def test_pool_output_size_matches_torch_on_a_grid():
    """Every configuration of a small grid, windows wider than the input included."""
    mismatches = []
    for kind, n, k, s, p, d, ceil in itertools.product(
        ["max", "avg"], range(1, 7), range(1, 5), [None, 1, 2, 3], range(3), [1, 2], [False, True]
    ):
        if kind == "avg" and d > 1:
            continue  # AvgPool2d has no dilation
        expected = _torch_pool_size(kind, n, k, s, p, d, ceil)
        try:
            got = pool_output_size(n, k, s, p, d, ceil)
        except ValueError:
            got = None
        if got != expected:
            mismatches.append((kind, n, k, s, p, d, ceil, got, expected))
    assert not mismatches, f"{len(mismatches)} differ from torch, e.g. {mismatches[:5]}"


def test_pool_output_size_ceil_mode_lets_a_window_hang_over_the_edge():
    # torch.nn.MaxPool2d(2, ceil_mode=True) maps a 1x1 input to 1x1
    assert pool_output_size(1, 2, ceil_mode=True) == 1
    assert pool_output_size(2, 2, dilation=2, ceil_mode=True) == 1
    with pytest.raises(ValueError, match="output size would be 0; use a smaller kernel"):
        pool_output_size(1, 2)
    with pytest.raises(TypeError, match="ceil_mode must be a bool, got 'True'"):
        pool_output_size(4, 2, ceil_mode="True")
